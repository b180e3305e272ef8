package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/policy"
)

// The rdsbot/plan check on merge groups. A merge group's head is the base
// branch's tip the queue started from with the queued pull requests merged
// onto it, one group per entry, each built on the one ahead of it. Its
// plan runs at that head, in every environment whose terraform inputs the
// head changes against that tip (not only against the group it was built
// on: with the HEADGREEN strategy only the last group's checks decide).
//
// A plan runs the commit's code, so rdsbot plans a group only when it
// would plan every pull request in it by itself: its own request pull
// request at a head it wrote, or a head a member of the command teams
// named with `/rds plan <sha>`. Any other group gets a neutral check that
// says which pull request is why, as such a pull request does; neutral
// passes a required check, so the queue never waits for rdsbot. A group
// that changes no terraform input gets success at once, from the
// merge_group webhook itself, without waiting for the plan queue.

// mergeGroupGoneScope is the ledger scope of merge group heads GitHub
// destroyed (merged, dequeued, invalidated): their plans are not written.
const mergeGroupGoneScope = "merge-group-gone"

func mergeGroupKey(repo, sha string) string {
	return strings.ToLower(repo) + "@" + strings.ToLower(sha)
}

// mergeGroupPlan is merge_group checks_requested for the plan check: a
// group that changes no terraform input gets success now, any other a
// plan job (coalesced per group head). A redelivery finds the finished
// check and does nothing.
func (b *Bot) mergeGroupPlan(ctx context.Context, c *forge.Client, rc *repoContext, repo, headRef, headSHA, reason string) error {
	if b.rollout.Off {
		return nil
	}
	if done, err := b.planDone(ctx, c, repo, headSHA); err != nil || done {
		return err
	}
	_, targets, err := b.groupPlanTargets(ctx, c, rc, repo, headRef, headSHA)
	switch {
	case errors.Is(err, forge.ErrNotFound):
		return nil // the group is gone
	case errors.Is(err, forge.ErrTooManyFiles):
		// The job writes the failure (and its retries) like any other.
	case err != nil:
		return err
	case len(targets) == 0:
		_, err := c.SetCheck(ctx, repo, nothingToPlanInGroup(headSHA))
		return err
	}
	return b.queue.Enqueue(ctx, PlanArgs{Repo: repo, Group: headSHA, GroupRef: headRef, Reason: reason})
}

func nothingToPlanInGroup(headSHA string) forge.Check {
	return forge.Check{Name: PlanCheck, HeadSHA: headSHA, Status: policy.StatusCompleted, Conclusion: policy.ConclusionOK,
		Title: "Nothing to plan: no terraform inputs changed", Summary: "No pull request of this merge group changes a terraform input of an environment."}
}

// planDone reports whether the App's plan check on a commit is finished.
func (b *Bot) planDone(ctx context.Context, c *forge.Client, repo, sha string) (bool, error) {
	runs, err := c.CheckRuns(ctx, repo, sha, forge.CheckRunFilter{Name: PlanCheck, AppID: c.AppID()})
	if err != nil {
		return false, err
	}
	for _, r := range runs {
		if r.Status == policy.StatusCompleted {
			return true, nil
		}
	}
	return false, nil
}

// groupPlanTargets returns a merge group's chain (first queued first) and
// what its head changes against the base tip the chain was built on.
func (b *Bot) groupPlanTargets(ctx context.Context, c *forge.Client, rc *repoContext, repo, headRef, headSHA string) ([]forge.QueueGroup, []planTarget, error) {
	chain, err := c.MergeGroupChain(ctx, repo, headRef, headSHA)
	if err != nil {
		return nil, nil, err
	}
	if len(chain) == 0 {
		return nil, nil, fmt.Errorf("merge group %.12s of %s: %w", headSHA, repo, forge.ErrNotFound)
	}
	cmp, err := c.Compare(ctx, repo, chain[0].BuiltOn, headSHA)
	if err != nil {
		return chain, nil, err
	}
	return chain, planTargets(rc.config(), rc.planner.Schema.Request.Fields["environment"].Enum, cmp.Files), nil
}

// groupPlan is a merge group's plan running in this process.
type groupPlan struct{ cancel context.CancelFunc }

// mergeGroupGone reports whether GitHub destroyed a merge group.
func (b *Bot) mergeGroupGone(ctx context.Context, repo, sha string) (bool, error) {
	n, err := b.ledger.Count(ctx, mergeGroupGoneScope, mergeGroupKey(repo, sha))
	return n > 0, err
}

// mergeGroupDestroyed is merge_group destroyed: the group's plan, waiting
// or running in this process, is dropped and its result never written.
func (b *Bot) mergeGroupDestroyed(ctx context.Context, repo, sha string) error {
	if _, err := b.ledger.Bump(ctx, mergeGroupGoneScope, mergeGroupKey(repo, sha)); err != nil {
		return err
	}
	if running, ok := b.groupPlans.LoadAndDelete(mergeGroupKey(repo, sha)); ok {
		running.(*groupPlan).cancel()
		b.log.InfoContext(ctx, "merge group destroyed: its plan stopped", "repository", repo, "sha", sha)
	}
	// A group lives minutes to hours; a week covers late deliveries.
	_, err := b.ledger.Prune(ctx, mergeGroupGoneScope, b.now().Add(-7*24*time.Hour))
	return err
}

// groupTrust decides whether rdsbot plans a merge group: every pull
// request in it must be one it plans by itself (planTrust), and the group
// must hold that pull request's head (a merge group's commit has the head
// as its second parent; a squashed group has one parent, and GitHub takes
// a pull request whose head moves out of the queue). It returns each pull
// request with its request issue (0: none), and why not, one line each.
func (b *Bot) groupTrust(ctx context.Context, c *forge.Client, repo string, chain []forge.QueueGroup) ([]*forge.PullRequest, []int, []string, error) {
	var prs []*forge.PullRequest
	var issues []int
	var why []string
	for _, g := range chain {
		pr, err := c.GetPull(ctx, repo, g.Pull)
		if err != nil {
			return nil, nil, nil, err
		}
		if pr.State != "open" {
			why = append(why, fmt.Sprintf("- #%d is not open.", g.Pull))
			continue
		}
		issue, w, err := b.planTrust(ctx, c, repo, pr)
		if err != nil {
			return nil, nil, nil, err
		}
		if w != "" {
			why = append(why, fmt.Sprintf("- #%d: %s (head %s).", g.Pull, md.Text(w), md.Code(shortSHA(pr.HeadSHA))))
			continue
		}
		parents, err := c.CommitParents(ctx, repo, g.HeadSHA)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(parents) == 2 && !strings.EqualFold(parents[1], pr.HeadSHA) {
			why = append(why, fmt.Sprintf("- #%d: the group holds %s, not its head %s.", g.Pull, md.Code(shortSHA(parents[1])), md.Code(shortSHA(pr.HeadSHA))))
			continue
		}
		prs, issues = append(prs, pr), append(issues, issue)
	}
	return prs, issues, why, nil
}

// handleGroupPlan is the plan job of a merge group's head.
func (b *Bot) handleGroupPlan(ctx context.Context, a PlanArgs) error {
	log := b.log.With("repository", a.Repo, "merge_group", a.Group, "reason", a.Reason)
	if gone, err := b.mergeGroupGone(ctx, a.Repo, a.Group); err != nil || gone {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	key, running := mergeGroupKey(a.Repo, a.Group), &groupPlan{cancel: cancel}
	b.groupPlans.Store(key, running)
	defer func() {
		b.groupPlans.CompareAndDelete(key, running)
		cancel()
	}()
	c, err := b.client(ctx, nil, a.Repo)
	if err != nil {
		return err
	}
	if done, err := b.planDone(ctx, c, a.Repo, a.Group); err != nil || done {
		return err // a redelivery: the group's head, and so its plan, cannot change
	}
	rc, err := b.loadRepo(ctx, c, a.Repo, b.maxAge)
	if err != nil {
		return err
	}
	check := func(ch forge.Check) error {
		// A group destroyed meanwhile gets no more writes.
		if gone, err := b.mergeGroupGone(ctx, a.Repo, a.Group); err != nil || gone {
			return err
		}
		ch.Name, ch.HeadSHA = PlanCheck, a.Group
		if _, err := c.SetCheck(ctx, a.Repo, ch); err != nil {
			return fmt.Errorf("set %s on merge group %.12s: %w", PlanCheck, a.Group, err)
		}
		return nil
	}
	chain, targets, err := b.groupPlanTargets(ctx, c, rc, a.Repo, a.GroupRef, a.Group)
	switch {
	case errors.Is(err, forge.ErrNotFound):
		return nil
	case errors.Is(err, forge.ErrTooManyFiles):
		return check(forge.Check{Conclusion: "failure", Title: "Too many files to plan",
			Summary: "This merge group changes more files than GitHub lists, so rdsbot cannot tell which terraform roots it changes."})
	case err != nil:
		return err
	case len(targets) == 0:
		return check(nothingToPlanInGroup(a.Group))
	}
	prs, issues, why, err := b.groupTrust(ctx, c, a.Repo, chain)
	if err != nil {
		return err
	}
	if len(why) > 0 {
		sum := "Not planned: rdsbot plans a merge group only when it would plan each of its pull requests by itself, " +
			"since a plan runs the group's code with the runner's credentials.\n\n" + strings.Join(why, "\n") + "\n"
		if teams := rc.config().Permissions.CommandTeams; len(teams) > 0 {
			sum += fmt.Sprintf("\nA member of %s can comment `/rds plan <sha>` on a pull request to allow its head; the groups built with it after that are planned.\n",
				md.Text(strings.Join(teams, " or ")))
		}
		return check(forge.Check{Conclusion: "neutral", Title: "Not planned", Summary: md.Cap(sum, 60000, "More pull requests were left out.")})
	}
	var ids, pulls []string
	for i, pr := range prs {
		pulls = append(pulls, fmt.Sprintf("#%d", pr.Number))
		if issues[i] > 0 {
			ids = append(ids, contract.RequestID(issues[i]))
		}
	}
	note := fmt.Sprintf("Merge group of %s on %s: the plan is of the group's head, what merging it would apply.\n\n",
		strings.Join(pulls, ", "), md.Code(shortSHA(chain[0].BuiltOn)))
	err = b.runPlans(ctx, c, rc, planRun{repo: a.Repo, ref: strings.TrimPrefix(a.GroupRef, "refs/heads/"), at: a.Group,
		note: note, targets: targets, ids: ids, allow: func(env string) ([]string, error) {
			var out []string
			for i, pr := range prs {
				addrs, err := b.planAllowDestroy(ctx, c, rc, a.Repo, issues[i], pr, env)
				if err != nil {
					return nil, err
				}
				out = append(out, addrs...)
			}
			return out, nil
		}}, check, log)
	if err != nil {
		if gone, gerr := b.mergeGroupGone(context.WithoutCancel(ctx), a.Repo, a.Group); gerr == nil && gone {
			log.InfoContext(ctx, "merge group destroyed while it was planned", "err", err)
			return nil
		}
	}
	return err
}

// groupPlanDiscarded ends a merge group's plan check left unfinished, so
// the queue takes the group out instead of waiting for its timeout.
func (b *Bot) groupPlanDiscarded(ctx context.Context, c *forge.Client, a PlanArgs, attempt int, id int64) error {
	if gone, err := b.mergeGroupGone(ctx, a.Repo, a.Group); err != nil || gone {
		return err
	}
	if _, err := c.MergeGroupChain(ctx, a.Repo, a.GroupRef, a.Group); forge.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	_, err := c.SetCheck(ctx, a.Repo, forge.Check{Name: PlanCheck, HeadSHA: a.Group, Status: policy.StatusCompleted, Conclusion: "failure",
		Title: "rdsbot could not run the plan",
		Summary: fmt.Sprintf("rdsbot gave up after %d attempts (job %d); the operators have the error in their logs. "+
			"Adding the pull requests to the queue again builds a new group, which is planned again.", attempt, id)})
	return err
}
