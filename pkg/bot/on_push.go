package bot

import (
	"context"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// pushHandler takes pushes: to a request's branch (someone else's commit
// blocks the request), and to a base branch (request pull requests whose
// files the push touched are re-planned, so they never conflict).
type pushHandler struct{ b *Bot }

func (h *pushHandler) Events() []string { return []string{"push"} }

func (h *pushHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	ev, err := decode[github.PushEvent](d)
	if err != nil {
		return err
	}
	branch, ok := strings.CutPrefix(ev.GetRef(), "refs/heads/")
	if !ok {
		return nil
	}
	if n, ok, err := b.ledger.BranchIssue(ctx, d.Repository, branch); err != nil {
		return err
	} else if ok {
		// A push to a request's own branch: the bot's own (nothing to do)
		// or someone else's (the request job finds it and blocks).
		c, err := b.client(ctx, &d, d.Repository)
		if err != nil {
			return err
		}
		if strings.EqualFold(ev.GetSender().GetLogin(), c.BotLogin()) {
			return nil
		}
		return b.enqueue(ctx, d.Repository, n, "push to its branch by "+ev.GetSender().GetLogin())
	}
	if ev.GetDeleted() {
		return nil
	}
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, d.Repository, b.maxAge)
	if err != nil {
		return err
	}
	pulls, err := c.ListPulls(ctx, d.Repository, forge.PullFilter{State: "open", Base: branch, Labels: []string{rc.config().Labels.PullRequest}})
	if err != nil {
		return err
	}
	touched, complete := pushedFiles(ev)
	for _, pr := range pulls {
		if pr.User != c.BotLogin() {
			continue
		}
		n, recorded, ok, err := b.ledger.PullIssue(ctx, d.Repository, pr.Number)
		if err != nil {
			return err
		}
		if !ok || recorded != pr.Head {
			continue
		}
		if complete {
			files, err := c.PullFiles(ctx, d.Repository, pr.Number)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(files, func(f forge.PullFile) bool {
				return touched[f.Path] || (f.PreviousPath != "" && touched[f.PreviousPath])
			}) {
				continue
			}
		}
		if err := b.enqueue(ctx, d.Repository, n, "base "+branch+" moved"); err != nil {
			return err
		}
	}
	return nil
}

// pushedFiles lists the paths a push changed. complete is false when the
// payload cannot tell (a forced push, or more commits than GitHub lists).
func pushedFiles(ev *github.PushEvent) (map[string]bool, bool) {
	const listed = 20 // GitHub puts at most 20 commits in a push payload
	if ev.GetForced() || len(ev.Commits) == 0 || len(ev.Commits) >= listed {
		return nil, false
	}
	out := map[string]bool{}
	for _, cm := range ev.Commits {
		for _, list := range [][]string{cm.Added, cm.Modified, cm.Removed} {
			for _, p := range list {
				out[p] = true
			}
		}
	}
	return out, true
}
