package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/provision/audit"
)

// transition moves an entry whose status is one of from to to.
type transition struct {
	from   []lifecycle.State
	to     lifecycle.State
	reason lifecycle.Reason
	note   string
}

// statusCommitTries bounds the compare-and-swap loop of a status commit:
// each try reads the branch afresh, so only a branch moving faster than
// rdsbot can write exhausts it (the job then retries).
const statusCommitTries = 6

// readCatalog reads env's catalog at ref (the base branch when ""), and
// returns the snapshot it came from.
func (b *Bot) readCatalog(ctx context.Context, c *forge.Client, rc *repoContext, env, ref string) (*catalog.File, *forge.Snapshot, error) {
	cfg := rc.config()
	if ref == "" {
		ref = cfg.BaseBranch
	}
	snap, err := c.Snapshot(ctx, rc.repo, ref)
	if err != nil {
		return nil, nil, err
	}
	f, err := parseCatalog(snap.WithContext(ctx), cfg, env)
	return f, snap, err
}

func parseCatalog(repo fs.FS, cfg *config.Config, env string) (*catalog.File, error) {
	layout, err := catalog.ParseLayout(cfg.Catalog.Layout)
	if err != nil {
		return nil, err
	}
	path := cfg.CatalogPath(env)
	src, err := fs.ReadFile(repo, path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return catalog.Parse(src, catalog.Options{Layout: layout, Environment: env, Filename: path})
}

// transition writes the status transitions of the named entries to the
// base branch as one commit, with the audit rows, by compare-and-swap: when
// the catalog (or, for a two-file commit, the branch) moved, it reads the
// branch again and redoes the change. An entry already in the target state
// is left alone, so a replayed step writes nothing. How the commit reaches
// the base is the repository's status_commits: pushed directly (direct), or
// through a pull request the App merges itself (pull_request, see
// transitionByPull). A direct push that branch protection refuses fails the
// step with an error that says what to allow.
func (r *rollout) transition(ctx context.Context, names []string, ts []transition, at time.Time, auditLines []string) error {
	cfg := r.rc.config()
	at = at.UTC().Truncate(time.Second)
	if cfg.StatusCommits == config.StatusPullRequest {
		return r.transitionByPull(ctx, names, ts, at, auditLines)
	}
	base := cfg.BaseBranch
	for try := 0; ; try++ {
		head, err := r.c.ResolveRef(ctx, r.repo, base)
		if err != nil {
			return err
		}
		snap, err := r.c.SnapshotAt(ctx, r.repo, head)
		if err != nil {
			return err
		}
		sc, err := r.statusChange(snap.WithContext(ctx), names, ts, at, auditLines)
		if err != nil || sc.empty() {
			return err
		}
		sha, err := r.commitStatus(ctx, base, head, sc)
		if err == nil {
			r.b.log.InfoContext(ctx, "status commit", "repository", r.repo, "env", r.env, "commit", sha, "changes", strings.Join(sc.moved, ", "))
			return nil
		}
		switch {
		case errors.Is(err, forge.ErrProtected):
			return fmt.Errorf("status commit to %s refused by branch protection: let the App push to %s (a bypass actor), or set status_commits: %s in %s: %w",
				base, base, config.StatusPullRequest, config.FileName, err)
		case errors.Is(err, forge.ErrFileMoved):
		case errors.Is(err, forge.ErrRefMoved):
			if now, rerr := r.c.ResolveRef(ctx, r.repo, base); rerr == nil && now == head {
				// Not moved: refused, by a rule forge could not name.
				return fmt.Errorf("status commit to %s refused (branch protection?): let the App push to %s, or set status_commits: %s in %s: %w",
					base, base, config.StatusPullRequest, config.FileName, err)
			}
		default:
			return err
		}
		if try >= statusCommitTries {
			return fmt.Errorf("status commit to %s: the branch kept moving: %w", base, err)
		}
	}
}

// statusChange is one status commit: the files it changes, what moved, and
// its message.
type statusChange struct {
	changes []gitops.Change
	moved   []string // "<db> <from> → <to>"
	message string
}

func (sc statusChange) empty() bool { return len(sc.moved) == 0 }

// statusChange applies the transitions to the catalog of repo (a snapshot
// of the base branch), with the audit rows the trail lacks.
func (r *rollout) statusChange(repo fs.FS, names []string, ts []transition, at time.Time, auditLines []string) (statusChange, error) {
	cfg := r.rc.config()
	path := cfg.CatalogPath(r.env)
	old, err := fs.ReadFile(repo, path)
	if err != nil {
		return statusChange{}, fmt.Errorf("status of %s: %w", r.env, err)
	}
	f, err := parseCatalog(repo, cfg, r.env)
	if err != nil {
		return statusChange{}, err
	}
	var sc statusChange
	var contracts []gitops.Change
	for _, n := range names {
		e, ok := f.Get(n, r.env)
		if !ok {
			continue
		}
		for _, t := range ts {
			if e.Metadata.Status == t.to || !slices.Contains(t.from, e.Metadata.Status) {
				continue
			}
			if err := f.Apply(n, r.env, catalog.Change{To: t.to, At: at, Reason: t.reason, Note: t.note, Commit: r.target.SHA}); err != nil {
				return statusChange{}, err
			}
			sc.moved = append(sc.moved, fmt.Sprintf("%s %s → %s", n, e.Metadata.Status, t.to))
			// In the contract mode the request's contract follows.
			if ch, ok, err := r.rc.planner.ContractStatus(repo, r.env, n, t.to); err != nil {
				return statusChange{}, err
			} else if ok {
				contracts = append(contracts, ch)
			}
			break
		}
	}
	if sc.empty() {
		return sc, nil
	}
	out, err := f.Bytes()
	if err != nil {
		return statusChange{}, err
	}
	sc.changes = append([]gitops.Change{{Path: path, Old: old, New: out}}, contracts...)
	if ch, ok, err := auditChange(repo, r.env, auditLines); err != nil {
		return statusChange{}, err
	} else if ok {
		sc.changes = append(sc.changes, ch)
	}
	sc.message = fmt.Sprintf("rds(%s): %s [skip ci]\n\nApplied commit: %s\n", r.env, strings.Join(sc.moved, ", "), r.target.SHA)
	return sc, nil
}

// commitStatus writes a status commit on the base branch: one file with
// the Contents API (one write: ErrFileMoved when the file changed since it
// was read), two (the audit rows too) with the Git Data API (three writes:
// ErrRefMoved when the branch moved). Either fails with ErrProtected when
// branch protection refuses the App.
func (r *rollout) commitStatus(ctx context.Context, base, head string, sc statusChange) (string, error) {
	if len(sc.changes) == 1 && sc.changes[0].Old != nil && sc.changes[0].New != nil {
		ch := sc.changes[0]
		return r.c.PutFile(ctx, r.repo, base, ch.Path, ch.New, forge.BlobSHA(ch.Old), sc.message)
	}
	sha, _, err := r.c.CommitChangeSet(ctx, r.repo, forge.ChangeSet{Branch: base, Base: head, Head: head, Message: sc.message, Changes: sc.changes})
	return sha, err
}

// auditChange appends to env's audit CSV the records it does not hold
// yet (a record carries its time and duration, so an equal one is the same
// row written by an earlier commit of this rollout).
func auditChange(repo fs.FS, env string, records []string) (gitops.Change, bool, error) {
	path := auditPath(env)
	old, err := fs.ReadFile(repo, path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return gitops.Change{}, false, err
	}
	var buf bytes.Buffer
	if len(old) == 0 {
		buf.WriteString(audit.Header + "\n")
	} else {
		buf.Write(old)
		if old[len(old)-1] != '\n' {
			buf.WriteByte('\n')
		}
	}
	added := false
	for _, rec := range records {
		if bytes.Contains(old, []byte(rec)) {
			continue
		}
		buf.WriteString(rec)
		added = true
	}
	if !added {
		return gitops.Change{}, false, nil
	}
	ch := gitops.Change{Path: path, New: buf.Bytes()}
	if old != nil {
		ch.Old = old
	}
	return ch, true, nil
}

// auditPath is env's audit trail on the base branch.
func auditPath(env string) string { return "governance/" + env + "/rds_provision_audit.csv" }

// auditRecords encodes audit rows as CSV records, one string each (with
// its line end).
func auditRecords(rows []audit.Row) ([]string, error) {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		var b bytes.Buffer
		if err := audit.Encode(&b, []audit.Row{r}); err != nil {
			return nil, err
		}
		out = append(out, b.String())
	}
	return out, nil
}

// ledgerAudit keeps a rollout's audit rows in the ledger as provisioning
// writes them.
type ledgerAudit struct {
	ctx context.Context
	r   *rollout
}

func (a ledgerAudit) Write(rows []audit.Row) error {
	recs, err := auditRecords(rows)
	if err != nil {
		return err
	}
	return a.r.b.ledger.AppendAudit(a.ctx, a.r.repo, a.r.env, a.r.target.SHA, recs)
}
