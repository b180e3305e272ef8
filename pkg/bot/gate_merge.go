package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/policy"
)

// MergeCheck is the merge-time re-check, for the apply pipeline: it
// evaluates the policy on what a merged pull request brought to its base
// branch as a whole (see mergedRange) with the facts as GitHub shows them
// now, and says whether anything may be applied: proceed (approved),
// proceed on break-glass (audit it), proceed in warn mode, or refuse with
// the reason. A pull request that changes no gated file proceeds. It
// writes nothing.
func (b *Bot) MergeCheck(ctx context.Context, repo string, pull int) (policy.MergeDecision, error) {
	c, err := b.client(ctx, nil, repo)
	if err != nil {
		return policy.MergeDecision{}, err
	}
	pr, err := c.GetPull(ctx, repo, pull)
	if err != nil {
		return policy.MergeDecision{}, err
	}
	rc, err := b.loadRepo(ctx, c, repo, b.maxAge)
	if err != nil {
		return policy.MergeDecision{}, err
	}
	rng, err := b.mergedRange(ctx, c, repo, pr)
	if err != nil {
		return policy.MergeDecision{}, err
	}
	return b.mergeCheck(ctx, c, rc, repo, pr, rng)
}

// merged is what a merged pull request brought to its base branch: the
// commit the base was at before (base; "" when it cannot be told) and the
// commits it wrote there before merge_commit_sha (parts, oldest first: a
// rebase merge's replayed commits; none for a merge or squash commit).
type merged struct {
	base  string
	parts []string
}

// mergedRange finds what a pull request merged, from what GitHub says: a
// merge commit's first parent is the base; a one-parent merge_commit_sha
// (squash or rebase) is preceded by the commits of a rebase merge, found
// by walking first parents while GitHub lists this pull request for the
// commit (commits/{sha}/pulls), at most the pull request's commit count,
// never through a merge commit. A commit the walk does not reach is not a
// part: the guard holds it (fail closed).
func (b *Bot) mergedRange(ctx context.Context, c *forge.Client, repo string, pr *forge.PullRequest) (merged, error) {
	if !pr.Merged || pr.MergeCommitSHA == "" {
		return merged{}, fmt.Errorf("bot: merge check of #%d in %s: not merged", pr.Number, repo)
	}
	parents, err := c.CommitParents(ctx, repo, pr.MergeCommitSHA)
	if err != nil || len(parents) == 0 {
		return merged{}, err
	}
	out := merged{base: strings.ToLower(parents[0])}
	if len(parents) > 1 {
		return out, nil
	}
	limit := -1 // the pull request's commit count less its last, read when needed
	for {
		ours, err := b.broughtBy(ctx, c, repo, pr, out.base)
		if err != nil || !ours {
			return out, err
		}
		if limit < 0 {
			commits, err := c.PullCommits(ctx, repo, pr.Number)
			switch {
			case errors.Is(err, forge.ErrTooManyCommits):
				limit = forge.MaxPullCommits - 1
			case err != nil:
				return merged{}, err
			default:
				limit = len(commits) - 1
			}
		}
		if len(out.parts) >= limit {
			return out, nil
		}
		ps, err := c.CommitParents(ctx, repo, out.base)
		if err != nil {
			return merged{}, err
		}
		if len(ps) != 1 {
			return out, nil
		}
		out.parts = append([]string{out.base}, out.parts...)
		out.base = strings.ToLower(ps[0])
	}
}

// broughtBy reports whether GitHub lists a merged pull request as one that
// brought a commit to its base branch.
func (b *Bot) broughtBy(ctx context.Context, c *forge.Client, repo string, pr *forge.PullRequest, sha string) (bool, error) {
	prs, err := c.CommitPulls(ctx, repo, sha)
	if err != nil {
		return false, err
	}
	for _, p := range prs {
		if p.Number == pr.Number && p.Merged && strings.EqualFold(p.MergeCommitSHA, pr.MergeCommitSHA) {
			return true, nil
		}
	}
	return false, nil
}

func (b *Bot) mergeCheck(ctx context.Context, c *forge.Client, rc *repoContext, repo string, pr *forge.PullRequest, rng merged) (policy.MergeDecision, error) {
	if rng.base == "" {
		return policy.MergeDecision{Reason: "the merge commit has no parent, so what merged cannot be told; nothing is applied"}, nil
	}
	g, err := b.evaluate(ctx, c, rc, repo, pr, evalTarget{compareBase: rng.base, head: pr.MergeCommitSHA, checksOn: pr.MergeCommitSHA})
	if errors.Is(err, forge.ErrTooManyFiles) {
		return policy.MergeDecision{Reason: "the merge changed more files than GitHub lists, so what merged cannot be checked; nothing is applied"}, nil
	}
	if err != nil {
		return policy.MergeDecision{}, err
	}
	return g.mergeDecision(), nil
}

// mergeDecision combines the evaluations: every one must proceed.
func (g *gateResult) mergeDecision() policy.MergeDecision {
	switch {
	case len(g.covered) == 0:
		return policy.MergeDecision{Proceed: true, Reason: "changes no file rdsbot gates"}
	case g.status:
		return policy.MergeDecision{Proceed: true, Reason: statusPassed}
	case g.failure != "":
		return policy.MergeDecision{Reason: "the approval policy cannot be evaluated, so nothing is applied: " + g.failure}
	}
	out := policy.MergeDecision{Proceed: true}
	var reasons, refused []string
	for _, e := range g.evals {
		d := e.res.Merge()
		prefix := ""
		if len(g.evals) > 1 {
			prefix = fmt.Sprintf("%s (%s): ", e.env, e.kind)
		}
		if !d.Proceed {
			refused = append(refused, prefix+d.Reason)
			continue
		}
		out.BreakGlass = out.BreakGlass || d.BreakGlass
		out.Warned = out.Warned || d.Warned
		reasons = append(reasons, prefix+d.Reason)
	}
	if len(refused) > 0 {
		return policy.MergeDecision{Reason: strings.Join(refused, " ")}
	}
	out.Reason = strings.Join(reasons, " ")
	return out
}

// afterMerge records the merge-time verdict of a merged pull request once
// and has its request's status say it. Nothing is applied here yet: the
// apply pipeline will ask MergeCheck itself.
func (b *Bot) afterMerge(ctx context.Context, c *forge.Client, rc *repoContext, repo string, pr *forge.PullRequest) error {
	if status, err := b.mergedStatusPull(ctx, c, rc, repo, pr); err != nil || status {
		// The rollout's own status change: nothing to check or roll out.
		return err
	}
	if m, done, err := b.ledger.MergeCheckOf(ctx, repo, pr.Number); err != nil {
		return err
	} else if done {
		// A crash between the verdict and the rollout record: record it now.
		if recorded, err := b.ledger.MergeRecorded(ctx, repo, m.MergeSHA); err != nil || recorded {
			return err
		}
		rng, err := b.mergedRange(ctx, c, repo, pr)
		if err != nil {
			return err
		}
		return b.mergedEnvs(ctx, c, rc, repo, pr, m, rng.parts)
	}
	rng, err := b.mergedRange(ctx, c, repo, pr)
	if err != nil {
		return err
	}
	d, err := b.mergeCheck(ctx, c, rc, repo, pr, rng)
	if err != nil {
		return err
	}
	m := ledger.MergeCheck{Repo: repo, Pull: pr.Number, MergeSHA: pr.MergeCommitSHA,
		Proceed: d.Proceed, BreakGlass: d.BreakGlass, Warned: d.Warned, Reason: d.Reason}
	if err := b.ledger.RecordMergeCheck(ctx, m); err != nil {
		return err
	}
	if err := b.mergedEnvs(ctx, c, rc, repo, pr, m, rng.parts); err != nil {
		return err
	}
	b.log.InfoContext(ctx, "merge-time re-check", "repository", repo, "pull", pr.Number, "proceed", d.Proceed,
		"break_glass", d.BreakGlass, "warned", d.Warned, "reason", d.Reason, "compared_with", rng.base, "rebased_commits", len(rng.parts)+1)
	if issue, branch, ok, err := b.ledger.PullIssue(ctx, repo, pr.Number); err != nil {
		return err
	} else if ok && pr.Head == branch && strings.EqualFold(pr.User, c.BotLogin()) {
		return b.enqueue(ctx, repo, issue, fmt.Sprintf("merge of #%d checked", pr.Number))
	}
	return nil
}
