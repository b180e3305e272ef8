package bot

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
)

// Reconcile repairs what lost webhooks left behind. It asks GitHub to
// redeliver deliveries that failed for a reason a redelivery can fix, a
// bounded number of times each, and gives every open request issue of every
// installed repository a request job (a request already where it should be
// costs a few reads and no write).
func (b *Bot) Reconcile(ctx context.Context) error {
	var errs []error
	if err := b.redeliverFailed(ctx); err != nil {
		errs = append(errs, err)
	}
	repos, err := b.app.Repositories(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range repos {
		c, err := b.app.Installation(ctx, r.Installation)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rc, err := b.loadRepo(ctx, c, r.Repo, b.maxAge)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		issues, err := c.ListIssues(ctx, r.Repo, forge.IssueFilter{State: "open", Labels: []string{rc.config().Labels.Request}})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, is := range issues {
			if is.IsPR {
				continue
			}
			if err := b.enqueue(ctx, r.Repo, is.Number, "reconcile"); err != nil {
				errs = append(errs, err)
			}
		}
		if err := b.reconcileRollouts(ctx, c, rc, r.Repo); err != nil {
			errs = append(errs, err)
		}
		if err := b.reconcilePlans(ctx, c, rc, r.Repo); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// reconcileRollouts compares each environment's catalog on the base branch
// with what was applied: an entry still on its way (pending after a merge,
// approved, applying, provisioning, decommissioning) gets its merge
// re-checked when that record is missing (a lost pull_request webhook) and
// its environment's rollout started again (a crash, a lost job). A rollout
// with nothing left to do costs a few reads.
func (b *Bot) reconcileRollouts(ctx context.Context, c *forge.Client, rc *repoContext, repo string) error {
	if b.rollout.Off {
		return nil
	}
	var errs []error
	for _, env := range rc.planner.Schema.Request.Fields["environment"].Enum {
		f, _, err := b.readCatalog(ctx, c, rc, env, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		inflight := false
		for _, e := range f.Entries() {
			if !slices.Contains(inFlight, e.Metadata.Status) {
				continue
			}
			inflight = true
			if e.Metadata.Status != lifecycle.Pending {
				continue
			}
			n, ok := strings.CutPrefix(e.Metadata.RequestID, "RDS-")
			issue, err := strconv.Atoi(n)
			if !ok || err != nil {
				continue
			}
			pr, err := b.mergedPull(ctx, c, repo, issue)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if pr != nil {
				errs = append(errs, b.afterMerge(ctx, c, rc, repo, pr))
			}
		}
		if inflight {
			errs = append(errs, b.enqueueApply(ctx, repo, env, "reconcile"))
		}
	}
	return errors.Join(errs...)
}

// redeliverable reports whether a failed delivery may succeed when sent
// again: the server failed (5xx) or never answered (status 0: a timeout or
// a refused connection). A 4xx means rdsbot refused the delivery itself
// (a bad signature, a body too large), and it would refuse it again.
func redeliverable(d forge.HookDelivery) bool {
	return d.StatusCode == 0 || d.StatusCode >= 500
}

func (b *Bot) redeliverFailed(ctx context.Context) error {
	deliveries, err := b.app.HookDeliveries(ctx, b.now().Add(-b.since))
	if err != nil {
		return err
	}
	delivered := map[string]bool{}
	for _, d := range deliveries {
		if !d.Failed() {
			delivered[d.GUID] = true
		}
	}
	var errs []error
	asked := map[string]bool{}
	for _, d := range deliveries {
		if !d.Failed() || delivered[d.GUID] || asked[d.GUID] || !redeliverable(d) {
			continue
		}
		asked[d.GUID] = true
		n, err := b.ledger.Count(ctx, "redelivery", d.GUID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n >= b.maxRedel {
			continue
		}
		if _, err := b.ledger.Bump(ctx, "redelivery", d.GUID); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := b.app.Redeliver(ctx, d.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		b.log.InfoContext(ctx, "asked GitHub to redeliver a failed delivery", "delivery", d.GUID, "event", d.Event,
			"status", d.StatusCode, "attempt", n+1, "of", b.maxRedel)
	}
	if _, err := b.ledger.Prune(ctx, "redelivery", b.now().Add(-b.since-24*time.Hour)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reconcilePlans asks for the plan of every open request pull request of
// the App whose head has no rdsbot/plan check (its webhook was lost, or
// the job was): one read per pull request when nothing is missing.
func (b *Bot) reconcilePlans(ctx context.Context, c *forge.Client, rc *repoContext, repo string) error {
	if b.rollout.Off {
		return nil
	}
	cfg := rc.config()
	pulls, err := c.ListPulls(ctx, repo, forge.PullFilter{State: "open", Base: cfg.BaseBranch, Labels: []string{cfg.Labels.PullRequest}})
	if err != nil {
		return err
	}
	var errs []error
	for _, pr := range pulls {
		if !strings.EqualFold(pr.User, c.BotLogin()) {
			continue
		}
		runs, err := c.CheckRuns(ctx, repo, pr.HeadSHA, forge.CheckRunFilter{Name: PlanCheck, AppID: c.AppID()})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(runs) == 0 {
			errs = append(errs, b.enqueuePlan(ctx, repo, pr.Number, "reconcile: no plan on the head"))
		}
	}
	return errors.Join(errs...)
}
