package bot

import (
	"context"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// gatePullHandler takes pull_request events for the gate and hands each
// delivery on to the request handler too (one handler per event kind).
type gatePullHandler struct {
	b       *Bot
	request EventHandler
}

func (h *gatePullHandler) Events() []string { return []string{"pull_request"} }

// gateActions re-evaluate a pull request's gate.
var gateActions = map[string]bool{
	"opened": true, "synchronize": true, "labeled": true, "unlabeled": true, "edited": true,
	"reopened": true, "ready_for_review": true, "converted_to_draft": true, "closed": true,
}

func (h *gatePullHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	if err := h.request.Handle(ctx, d); err != nil {
		return err
	}
	ev, err := decode[github.PullRequestEvent](d)
	if err != nil {
		return err
	}
	action, pr := ev.GetAction(), ev.GetPullRequest()
	if !gateActions[action] || pr.GetNumber() <= 0 || d.Repository == "" {
		return nil
	}
	if action == "closed" && !pr.GetMerged() {
		return nil // nothing merged: nothing to re-check
	}
	sender := ev.GetSender().GetLogin()
	if strings.HasSuffix(sender, "[bot]") && h.b.isSelf(ctx, d, sender) {
		// The App's own labels and body edits change nothing the gate
		// reads; its pushes (synchronize) and retargets do.
		switch {
		case action == "labeled" || action == "unlabeled":
			return nil
		case action == "edited" && ev.GetChanges().GetBase() == nil:
			return nil
		}
	}
	if planActions[action] {
		if err := h.b.enqueuePlan(ctx, d.Repository, pr.GetNumber(), "pull_request."+action+" by "+sender); err != nil {
			return err
		}
	}
	return h.b.enqueueGate(ctx, d.Repository, pr.GetNumber(), "pull_request."+action+" by "+sender)
}

// isSelf reports whether login is the App's own bot account.
func (b *Bot) isSelf(ctx context.Context, d webhook.Delivery, login string) bool {
	c, err := b.client(ctx, &d, d.Repository)
	return err == nil && strings.EqualFold(c.BotLogin(), login)
}
