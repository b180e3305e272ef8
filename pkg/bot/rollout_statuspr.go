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
)

// Status pull requests (status_commits: pull_request): where the base
// branch refuses the App's pushes, a status change is a commit on
// rdsbot/status/<env>, one pull request per environment that the App opens
// (forge.Propose) and merges itself by compare-and-swap on the head it
// wrote. The gate lets such a pull request through only when GitHub and the
// ledger say the App made it and its diff is a status change (statusPull);
// its merge starts no rollout (afterMerge) and its push re-plans nothing
// (statusPush: the merge commit is recorded as the App's).

// statusMergeWait is the first pause before merging a status pull request
// again, doubled each try: checks of other sources may still be running.
const statusMergeWait = 500 * time.Millisecond

// transitionByPull writes a status change through the environment's status
// pull request. A base that moved is planned again (Propose rebuilds the
// branch on it); a merge refused while checks run, or because the base moved
// under it, is tried again, at most statusCommitTries times.
func (r *rollout) transitionByPull(ctx context.Context, names []string, ts []transition, at time.Time, auditLines []string) error {
	base := r.rc.config().BaseBranch
	wait := statusMergeWait
	for try := 0; ; try++ {
		var sc statusChange
		res, err := r.c.Propose(ctx, forge.Proposal{Repo: r.repo, Base: base,
			Plan: func(ctx context.Context, snap fs.FS, _ string) (*gitops.Plan, error) {
				var err error
				if sc, err = r.statusChange(snap, names, ts, at, auditLines); err != nil {
					return nil, err
				}
				return r.statusPlan(sc), nil
			}})
		if err != nil {
			return fmt.Errorf("status pull request of %s: %w", r.env, err)
		}
		if res.Empty || sc.empty() {
			return nil // the base holds the change already
		}
		pr := res.PR
		if pr.State != "open" {
			// Closed by a person while it already held this change.
			if err := r.c.ReopenPull(ctx, r.repo, pr.Number); err != nil {
				return err
			}
		}
		// The gate's checks on the head, now rather than when the webhook
		// comes: the merge needs them.
		if err := r.b.handleGate(ctx, RequestArgs{Repo: r.repo, Key: gateKey(pr.Number), Reason: "status pull request of the rollout"}, pr.Number); err != nil {
			return err
		}
		title, _, _ := strings.Cut(sc.message, "\n")
		sha, err := r.c.MergePull(ctx, r.repo, pr.Number, forge.MergeOptions{SHA: res.Head, Method: "merge", Record: true,
			Title: title, Message: fmt.Sprintf("Merge pull request #%d from %s\n\nApplied commit: %s", pr.Number, pr.Head, r.target.SHA)})
		if err == nil {
			r.b.log.InfoContext(ctx, "status pull request merged", "repository", r.repo, "env", r.env, "pull", pr.Number,
				"commit", sha, "changes", strings.Join(sc.moved, ", "))
			return nil
		}
		if !errors.Is(err, forge.ErrNotMergeable) && !errors.Is(err, forge.ErrConflict) {
			return err
		}
		if try >= statusCommitTries {
			return fmt.Errorf("status pull request #%d into %s not merged after %d tries: the App must be able to merge it "+
				"(required reviews need the App as a bypass actor; every required check must report on it): %w", pr.Number, base, try+1, err)
		}
		r.b.log.InfoContext(ctx, "status pull request not merged yet", "repository", r.repo, "pull", pr.Number, "reason", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// statusPlan is the pull request of a status change.
func (r *rollout) statusPlan(sc statusChange) *gitops.Plan {
	p := &gitops.Plan{Environment: r.env, Branch: config.StatusBranch(r.env), Changes: sc.changes, CommitMessage: sc.message,
		Title: fmt.Sprintf("rds(%s): status %s", r.env, strings.Join(sc.moved, ", "))}
	if sc.empty() {
		return p
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rdsbot's rollout of %s in `%s` records its progress in the catalog:\n\n", r.target.SHA, r.env)
	for _, m := range sc.moved {
		fmt.Fprintf(&b, "- %s\n", m)
	}
	fmt.Fprintf(&b, "\nThe base branch takes no direct pushes (`status_commits: %s`), so the change comes as this pull request, "+
		"which rdsbot merges itself. It changes only the status and status history of catalog entries and appends to the audit trail; "+
		"the approval check passes it for that reason alone, and its merge starts no rollout.\n", config.StatusPullRequest)
	p.Body = b.String()
	return p
}

// statusPull reports whether a pull request is one of rdsbot's status pull
// requests, whose change (cmp: against the base it was compared with; head:
// the commit compared) the gate passes without approvals. All must hold:
// GitHub says the App opened it, from a status branch of a known
// environment; the ledger says the App wrote its head; and it changes only
// that environment's catalog, in status and status history alone (compared
// parsed, field by field), and appends to its audit trail. Anything else is
// gated like any pull request.
func (b *Bot) statusPull(ctx context.Context, c *forge.Client, rc *repoContext, repo string, pr *forge.PullRequest, cmp *forge.Comparison, head string) (bool, error) {
	env, ok := strings.CutPrefix(pr.Head, config.StatusBranchPrefix)
	if !ok || !strings.EqualFold(pr.User, c.BotLogin()) || len(cmp.Files) == 0 ||
		!slices.Contains(rc.planner.Schema.Request.Fields["environment"].Enum, env) {
		return false, nil
	}
	own, err := b.ledger.OwnCommit(ctx, repo, pr.HeadSHA)
	if err != nil || !own {
		return false, err
	}
	before, err := c.SnapshotAt(ctx, repo, cmp.MergeBase)
	if err != nil {
		return false, err
	}
	after, err := c.SnapshotAt(ctx, repo, head)
	if err != nil {
		return false, err
	}
	read := func(s *forge.Snapshot, p string) ([]byte, error) {
		data, err := s.WithContext(ctx).ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return data, err
	}
	cfg := rc.config()
	for _, f := range cmp.Files {
		if f.PreviousPath != "" && f.PreviousPath != f.Path {
			return false, nil
		}
		old, err := read(before, f.Path)
		if err != nil {
			return false, err
		}
		now, err := read(after, f.Path)
		if err != nil {
			return false, err
		}
		var why string
		switch f.Path {
		case cfg.CatalogPath(env):
			if old == nil || now == nil {
				why = "adds or removes the catalog"
			} else if ok, w, err := catalog.StatusOnly(old, now); err != nil || !ok {
				why = w
				if err != nil {
					why = err.Error()
				}
			}
		case auditPath(env):
			if now == nil || !bytes.HasPrefix(now, old) {
				why = "rewrites the audit trail"
			}
		default:
			if ce, ok := contractEnv(rc, f.Path); !ok || ce != env || old == nil || now == nil || !rc.planner.ContractStatusOnly(f.Path, old, now) {
				why = "changes " + f.Path
			}
		}
		if why != "" {
			b.log.WarnContext(ctx, "a pull request from a status branch is not a status change; gated as any other",
				"repository", repo, "pull", pr.Number, "why", why)
			return false, nil
		}
	}
	return true, nil
}

// mergedStatusPull reports whether a merged pull request is a status pull
// request, judged on what it merged as a whole (mergedRange).
func (b *Bot) mergedStatusPull(ctx context.Context, c *forge.Client, rc *repoContext, repo string, pr *forge.PullRequest) (bool, error) {
	if !strings.HasPrefix(pr.Head, config.StatusBranchPrefix) || pr.MergeCommitSHA == "" {
		return false, nil
	}
	rng, err := b.mergedRange(ctx, c, repo, pr)
	if err != nil || rng.base == "" {
		return false, err
	}
	cmp, err := c.Compare(ctx, repo, rng.base, pr.MergeCommitSHA)
	if err != nil {
		return false, err
	}
	return b.statusPull(ctx, c, rc, repo, pr, cmp, pr.MergeCommitSHA)
}
