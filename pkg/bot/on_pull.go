package bot

import (
	"context"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// pullHandler takes pull_request events of the App's request pull
// requests: closed (merged or not), reopened, edited (a retarget, or an edit
// of the bot's text), synchronize (a push), and the rest, all of which may
// change the request's status.
type pullHandler struct{ b *Bot }

func (h *pullHandler) Events() []string { return []string{"pull_request"} }

func (h *pullHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	ev, err := decode[github.PullRequestEvent](d)
	if err != nil {
		return err
	}
	pr := ev.GetPullRequest()
	n, branch, ok, err := b.ledger.PullIssue(ctx, d.Repository, pr.GetNumber())
	if err != nil || !ok {
		return err // not a pull request the App opened for a request
	}
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	// GitHub says who opened it and from which branch: both must still be
	// what the ledger recorded.
	if !strings.EqualFold(pr.GetUser().GetLogin(), c.BotLogin()) || pr.GetHead().GetRef() != branch {
		return nil
	}
	sender := ev.GetSender().GetLogin()
	if strings.EqualFold(sender, c.BotLogin()) && ev.GetAction() != "closed" {
		return nil // the bot's own edit
	}
	return b.enqueue(ctx, d.Repository, n, "pull_request."+ev.GetAction()+" by "+sender)
}
