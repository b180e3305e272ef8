package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/md"
)

// The rollout's guard. An apply applies the whole tree at its target
// commit, so everything the base branch took since the environment's last
// apply goes out with it. The guard walks the target's first-parent
// history back to that apply and finds each commit that changed a file the
// gate covers for the environment without a reviewed merge: such a commit
// holds the environment (nothing is applied, in-flight requests fail with
// MergedWithoutApproval) until a break-glass approver releases it with
// `/rds release <sha> <reason>`, or until it is no longer between the last
// apply and the target (never, once merged: a revert does not release it).
//
// A commit passes when the ledger says so: a merge the merge-time re-check
// recorded for this environment, or a commit such a merge wrote before its
// last (a rebase merge's; any verdict: a failed one holds through the
// merge hold), a commit rdsbot wrote, a release; or when GitHub says it
// was brought by a pull request opened by the App whose every commit
// rdsbot wrote. Nothing a commit says about itself (author, message)
// counts.
//
// Where the walk starts for an environment never applied: the commit the
// base branch was at when rdsbot first saw a push touching the environment
// (recorded by the push handler), else the first parent of the oldest
// recorded merge. A change before that is taken as the state rdsbot found.

// guardDepth bounds the walk; past it the guard fails closed.
const guardDepth = 200

// ApplyStatus is the commit status an unreviewed commit gets.
const ApplyStatus = "rdsbot/apply"

// unreviewedCommit is a commit that changed an environment past review.
type unreviewedCommit struct {
	sha   string
	files []string
	why   string // what happened, for the note
}

// guard returns the unreviewed commits between the environment's last
// apply and target, oldest first. report: no merge is being applied (a
// push started the rollout), so a merge whose re-check has not run yet is
// left to it instead of being reported.
func (r *rollout) guard(ctx context.Context, target string, report bool) ([]unreviewedCommit, error) {
	b, c := r.b, r.c
	stop, err := r.guardStart(ctx)
	if err != nil {
		return nil, err
	}
	limit := guardDepth
	if stop == "" {
		limit = 1 // nothing to start from: the target alone
	}
	// A walk that cannot reach the start fails closed, unless a
	// break-glass approver released the target itself.
	cannot := func(why string) ([]unreviewedCommit, error) {
		if _, ok, err := b.ledger.Released(ctx, r.repo, r.env, target); err != nil || ok {
			return nil, err
		}
		return []unreviewedCommit{{sha: strings.ToLower(target), why: why}}, nil
	}
	type link struct{ sha, parent string }
	var chain []link
	for sha := strings.ToLower(target); sha != stop; {
		if len(chain) == limit {
			if stop == "" {
				break
			}
			return cannot(fmt.Sprintf("the history of %.12s does not reach the last applied commit %.12s within %d commits, so what an apply would bring cannot be checked",
				target, stop, guardDepth))
		}
		parents, err := c.CommitParents(ctx, r.repo, sha)
		if err != nil {
			return nil, err
		}
		l := link{sha: sha}
		if len(parents) > 0 {
			l.parent = strings.ToLower(parents[0])
		}
		chain = append(chain, l)
		if l.parent == "" {
			if stop != "" {
				return cannot(fmt.Sprintf("the history of %.12s does not contain the last applied commit %.12s, so what an apply would bring cannot be checked", target, stop))
			}
			break
		}
		sha = l.parent
	}
	merges, err := b.ledger.Merges(ctx, r.repo, r.env)
	if err != nil {
		return nil, err
	}
	parts, err := b.ledger.MergeParts(ctx, r.repo, r.env)
	if err != nil {
		return nil, err
	}
	recorded := map[string]bool{}
	for _, m := range merges {
		recorded[m.SHA] = true
	}
	for _, p := range parts {
		recorded[p.SHA] = true // checked with its (rebase) merge
	}
	var out []unreviewedCommit
	for _, l := range chain {
		if recorded[l.sha] || l.parent == "" {
			continue
		}
		if ok, err := b.ledger.OwnCommit(ctx, r.repo, l.sha); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		if _, ok, err := b.ledger.Released(ctx, r.repo, r.env, l.sha); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		files, envless, err := r.touches(ctx, l.parent, l.sha)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			continue
		}
		if ok, err := r.pushedByApp(ctx, l.sha); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		if envless {
			// Only files of no one environment (a single-file catalog): a
			// merge re-checked for any environment was checked for them.
			if ok, err := b.ledger.MergeRecorded(ctx, r.repo, l.sha); err != nil || ok {
				if err != nil {
					return nil, err
				}
				continue
			}
			if ok, err := b.ledger.PartRecorded(ctx, r.repo, l.sha); err != nil || ok {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		why, pass, err := r.pullVerdict(ctx, l.sha, report)
		if err != nil {
			return nil, err
		}
		if pass {
			continue
		}
		out = append(out, unreviewedCommit{sha: l.sha, files: files, why: why})
	}
	slices.Reverse(out)
	return out, nil
}

// pushedByApp reports whether GitHub said the App itself pushed a commit
// (the push event's sender, as recorded): a status commit of rdsbot's own
// that a crash kept out of the commit ledger (PutFile records it after
// GitHub answers). Only the App's own tokens make the App the sender.
func (r *rollout) pushedByApp(ctx context.Context, sha string) (bool, error) {
	who, ok, err := r.b.ledger.Pusher(ctx, r.repo, sha)
	if err != nil || !ok {
		return false, err
	}
	return strings.EqualFold(who, r.c.BotLogin()), nil
}

// guardStart is the commit the walk stops at ("" when there is none).
func (r *rollout) guardStart(ctx context.Context) (string, error) {
	last, err := r.b.ledger.LastApplied(ctx, r.repo, r.env)
	if err != nil || last != "" {
		return strings.ToLower(last), err
	}
	base, err := r.b.ledger.Baseline(ctx, r.repo, r.env)
	if err != nil || base != "" {
		return strings.ToLower(base), err
	}
	merges, err := r.b.ledger.Merges(ctx, r.repo, r.env)
	if err != nil || len(merges) == 0 {
		return "", err
	}
	first := merges[0].SHA
	parts, err := r.b.ledger.MergeParts(ctx, r.repo, r.env)
	if err != nil {
		return "", err
	}
	if i := slices.IndexFunc(parts, func(p ledger.MergePart) bool { return p.MergeSHA == first }); i >= 0 {
		first = parts[i].SHA // a rebase merge starts at its first commit
	}
	parents, err := r.c.CommitParents(ctx, r.repo, first)
	if err != nil || len(parents) == 0 {
		return "", err
	}
	return strings.ToLower(parents[0]), nil
}

// touches lists the files a commit changed against its first parent that
// the gate covers for this environment. envless: all of them belong to no
// one environment.
func (r *rollout) touches(ctx context.Context, parent, sha string) ([]string, bool, error) {
	cmp, err := r.c.Compare(ctx, r.repo, parent, sha)
	if errors.Is(err, forge.ErrTooManyFiles) {
		return []string{fmt.Sprintf("(more than %d files)", forge.MaxCompareFiles)}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	g := newGatePaths(r.rc.config())
	var files []string
	envless := true
	for _, f := range cmp.Files {
		for _, p := range []string{f.Path, f.PreviousPath} {
			if p == "" || !g.covers(p) || slices.Contains(files, p) {
				continue
			}
			switch g.envOf(p) {
			case r.env:
				envless = false
			case "":
			default:
				continue
			}
			files = append(files, p)
		}
	}
	slices.Sort(files)
	return files, envless, nil
}

// pullVerdict asks GitHub which merged pull request brought a commit that
// the ledger does not account for: the App's own status pull requests
// pass; a merge whose re-check has not run yet passes in report mode (the
// re-check comes with its own webhook); anything else says why it holds.
func (r *rollout) pullVerdict(ctx context.Context, sha string, report bool) (string, bool, error) {
	b, c := r.b, r.c
	why := "pushed to " + r.rc.config().BaseBranch + " without a reviewed pull request"
	prs, err := c.CommitPulls(ctx, r.repo, sha)
	if err != nil {
		return "", false, err
	}
	for _, pr := range prs {
		if !pr.Merged || pr.Base != r.rc.config().BaseBranch {
			continue
		}
		// Not its merge commit: a commit its rebase merge wrote (or one
		// of its commits pushed to the base branch by hand), which the
		// re-check records as a part of the merge when it brought it.
		part := !strings.EqualFold(pr.MergeCommitSHA, sha)
		if report {
			return "", true, nil
		}
		if strings.EqualFold(pr.User, c.BotLogin()) {
			own, err := r.allOwn(ctx, pr.Number)
			if err != nil || own {
				return "", own, err
			}
		}
		_, done, err := b.ledger.MergeCheckOf(ctx, r.repo, pr.Number)
		switch {
		case err != nil:
			return "", false, err
		case !done:
			why = fmt.Sprintf("merged in #%d, whose merge rdsbot never re-checked (its webhook was lost)", pr.Number)
		case part:
			why = fmt.Sprintf("brought by #%d, whose re-checked merge did not include this commit for %s", pr.Number, r.env)
		default:
			why = fmt.Sprintf("merged in #%d, whose re-checked merge did not list %s", pr.Number, r.env)
		}
	}
	return why, false, nil
}

// allOwn reports whether rdsbot wrote every commit of a pull request.
func (r *rollout) allOwn(ctx context.Context, pull int) (bool, error) {
	commits, err := r.c.PullCommits(ctx, r.repo, pull)
	if err != nil || len(commits) == 0 {
		return false, err
	}
	for _, pc := range commits {
		if own, err := r.b.ledger.OwnCommit(ctx, r.repo, pc.SHA); err != nil || !own {
			return false, err
		}
	}
	return true, nil
}

// holdUnreviewed fails the in-flight entries because unreviewed commits
// would go out with the target, and marks those commits.
func (r *rollout) holdUnreviewed(ctx context.Context, names []string) error {
	if err := r.flagUnreviewed(ctx, r.unreviewed); err != nil {
		return err
	}
	u := r.unreviewed[0]
	note := fmt.Sprintf("not applied: commit %.12s changed %s: %s, and commit %.12s contains it. A member of the break-glass teams who did not push it can release it with /rds release %.12s <reason>",
		u.sha, filesText(u.files), u.why, r.target.SHA, u.sha)
	if len(u.files) == 0 {
		note = fmt.Sprintf("not applied: %s. A member of the break-glass teams can accept commit %.12s as it is with /rds release %.12s <reason>", u.why, u.sha, u.sha)
	}
	if more := len(r.unreviewed) - 1; more > 0 {
		note += fmt.Sprintf(" (%d more unreviewed commit(s) follow it)", more)
	}
	if err := r.fail(ctx, names, ledger.StepApply, lifecycle.MergedWithoutApproval, note, "", ""); err != nil {
		return err
	}
	return r.notify(ctx, names)
}

// flagUnreviewed logs the unreviewed commits and, once per commit and
// environment, records them and sets a failed rdsbot/apply status on them.
func (r *rollout) flagUnreviewed(ctx context.Context, list []unreviewedCommit) error {
	for _, u := range list {
		r.b.log.WarnContext(ctx, "unreviewed change holds the environment", "repository", r.repo, "env", r.env,
			"commit", u.sha, "files", strings.Join(u.files, ","), "why", u.why)
		known, err := r.b.ledger.FindUnreviewed(ctx, r.repo, r.env, u.sha)
		if err != nil {
			return err
		}
		if len(known) > 0 {
			continue
		}
		desc := fmt.Sprintf("not applied to %s: %s changed without review; /rds release %.12s <reason> to accept", r.env, filesText(u.files), u.sha)
		if len(u.files) == 0 {
			desc = fmt.Sprintf("not applied to %s: %s", r.env, u.why)
		}
		if err := r.c.SetStatus(ctx, r.repo, u.sha, forge.Status{Context: ApplyStatus, State: "failure", Description: md.Truncate(desc, 140)}); err != nil {
			return err
		}
		if _, err := r.b.ledger.RecordUnreviewed(ctx, ledger.Unreviewed{Repo: r.repo, Env: r.env, SHA: u.sha, Files: u.files}); err != nil {
			return err
		}
	}
	return nil
}

// reportUnreviewed is a rollout with nothing to apply (a push started it):
// it reports unreviewed commits on the base branch since the last apply
// and writes nothing when there are none.
func (b *Bot) reportUnreviewed(ctx context.Context, c *forge.Client, rc *repoContext, repo, env string) error {
	tip, err := c.ResolveRef(ctx, repo, rc.config().BaseBranch)
	if err != nil {
		return err
	}
	r := &rollout{b: b, c: c, rc: rc, repo: repo, env: env}
	list, err := r.guard(ctx, tip, true)
	if err != nil || len(list) == 0 {
		return err
	}
	return r.flagUnreviewed(ctx, list)
}

// filesText names up to three files.
func filesText(files []string) string {
	if len(files) <= 3 {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(files[:3], ", "), len(files)-3)
}

// pushRollouts starts the rollout of each environment whose inputs a push
// to the base branch changed (every environment when the payload cannot
// tell), so a change pushed past review is reported even when no merge
// follows; it records who pushed (the push's sender, as GitHub signs it)
// and, for an environment never seen, where the guard starts.
func (b *Bot) pushRollouts(ctx context.Context, repo, branch string, ev *github.PushEvent, rc *repoContext, touched map[string]bool, complete bool) error {
	cfg := rc.config()
	if b.rollout.Off || branch != cfg.BaseBranch || ev.GetDeleted() {
		return nil
	}
	all := rc.planner.Schema.Request.Fields["environment"].Enum
	var envs []string
	if complete {
		g := newGatePaths(cfg)
		for p := range touched {
			if !g.covers(p) {
				continue
			}
			env := g.envOf(p)
			if env == "" {
				envs = all
				break
			}
			if !slices.Contains(envs, env) {
				envs = append(envs, env)
			}
		}
	} else {
		envs = all
	}
	if len(envs) == 0 {
		return nil
	}
	slices.Sort(envs)
	sender := ev.GetSender().GetLogin()
	var shas []string
	for _, cm := range ev.Commits {
		shas = append(shas, cm.GetID())
	}
	if id := ev.GetHeadCommit().GetID(); id != "" && !slices.Contains(shas, id) {
		shas = append(shas, id)
	}
	if err := b.ledger.RecordPush(ctx, repo, sender, shas); err != nil {
		return err
	}
	before := ev.GetBefore()
	for _, env := range envs {
		if strings.Trim(before, "0") != "" {
			if err := b.ledger.RecordBaseline(ctx, repo, env, before); err != nil {
				return err
			}
		}
		if err := b.enqueueApply(ctx, repo, env, "push to "+branch+" by "+sender); err != nil {
			return err
		}
	}
	return nil
}
