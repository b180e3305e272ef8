package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/provision"
)

// provision runs after a successful local apply: the new databases of the
// rollout are provisioned from the target commit's tfvars, the
// decommissioned ones disabled (their entries are gone from the tfvars, so
// they come from the catalog), and the catalog moves to active or
// decommissioned with the audit rows in the same commit.
func (r *rollout) provision(ctx context.Context, names []string, runURL string) error {
	b, sha, cfg := r.b, r.target.SHA, r.rc.config()
	f, _, err := b.readCatalog(ctx, r.c, r.rc, r.env, "")
	if err != nil {
		return err
	}
	var creates []string
	var decoms []provision.Entry
	for _, n := range names {
		e, ok := f.Get(n, r.env)
		switch {
		case !ok:
		case e.Metadata.Status == lifecycle.Decommissioning:
			decoms = append(decoms, provision.Entry{Key: n, Database: n, Username: e.Configuration.Username, Access: provision.Owner})
		default:
			creates = append(creates, n)
		}
	}
	if err := r.transition(ctx, creates, []transition{{
		from: []lifecycle.State{lifecycle.Approved, lifecycle.Applying, lifecycle.Failed}, to: lifecycle.Provisioning,
		reason: lifecycle.ProvisionStarted, note: "creating roles, databases and grants",
	}}, b.now(), nil); err != nil {
		return err
	}
	if err := r.notify(ctx, names); err != nil {
		return err
	}
	if err := b.ledger.StartApply(ctx, r.repo, r.env, sha, ledger.StepProvision); err != nil {
		return err
	}
	opts := provision.Options{
		Environment: r.env, Secrets: b.rollout.Secrets, SecretPrefix: cfg.Secrets.Prefix, Admin: b.rollout.Admin,
		// The merge-time re-check passed for every merge up to the target
		// (a merge past it holds the environment before this point).
		Approved: true, DryRun: b.rollout.DryRun, GenerateMissing: b.rollout.GenerateMissing,
		BuildID: sha[:min(12, len(sha))], RunID: "rdsbot-" + r.env + "-" + sha[:min(12, len(sha))], Logger: b.log,
	}
	// Rows go to the ledger as each database finishes, so a run that dies
	// before the status commit loses none of them.
	opts.Audit = ledgerAudit{ctx: context.WithoutCancel(ctx), r: r}
	var errs []error
	if b.rollout.Secrets == nil && !b.rollout.DryRun && len(creates)+len(decoms) > 0 {
		errs = append(errs, errors.New("rdsbot has no secret store configured (serve --secrets), so it cannot log in to the instance"))
	} else {
		if len(creates) > 0 {
			entries, err := r.entriesAt(ctx, creates)
			if err != nil {
				errs = append(errs, err)
			} else {
				o := opts
				o.Entries = entries
				if _, err := provision.Run(ctx, o); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if len(decoms) > 0 {
			o := opts
			o.Entries = decoms
			if _, err := provision.Decommission(ctx, o); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err // stopping: the next run provisions again (it is idempotent)
	}
	rows, err := b.ledger.AuditLines(ctx, r.repo, r.env, sha)
	if err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		why := oneLine(err.Error())
		b.log.WarnContext(ctx, "provisioning failed", "repository", r.repo, "env", r.env, "commit", sha, "error", why)
		if err := b.ledger.FinishApply(ctx, ledger.Apply{Repo: r.repo, Env: r.env, SHA: sha, State: ledger.ApplyFailed,
			Step: ledger.StepProvision, Reason: "provisioning failed", Excerpt: err.Error()}); err != nil {
			return err
		}
		return r.transition(ctx, names, []transition{{from: slices.Clone(inFlight), to: lifecycle.Failed,
			reason: lifecycle.ProvisionFailed, note: cut(why, 300)}}, b.now(), rows)
	}
	if err := b.ledger.FinishApply(ctx, ledger.Apply{Repo: r.repo, Env: r.env, SHA: sha, State: ledger.ApplySucceeded,
		Step: ledger.StepDone, Reason: r.skipped}); err != nil {
		return err
	}
	return r.finishWith(ctx, names, runURL, rows)
}

// entriesAt are the application_databases entries of the named databases
// at the target commit.
func (r *rollout) entriesAt(ctx context.Context, names []string) ([]provision.Entry, error) {
	snap, err := r.c.SnapshotAt(ctx, r.repo, r.target.SHA)
	if err != nil {
		return nil, err
	}
	all, _, where, err := provision.LoadEnvironment(snap.WithContext(ctx), r.rc.config(), r.env, provision.ModeAuto)
	if err != nil {
		return nil, err
	}
	var out []provision.Entry
	for _, e := range all {
		if slices.Contains(names, e.Database) || slices.Contains(names, e.Key) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no entry for %s at %.12s", where, strings.Join(names, ", "), r.target.SHA)
	}
	return out, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
