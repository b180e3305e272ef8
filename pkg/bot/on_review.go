package bot

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// reviewHandler takes pull_request_review events: a review submitted,
// dismissed or edited re-evaluates the pull request's gate. The payload is
// only a trigger: the gate reads the reviews from GitHub.
type reviewHandler struct{ b *Bot }

func (h *reviewHandler) Events() []string { return []string{"pull_request_review"} }

func (h *reviewHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	ev, err := decode[github.PullRequestReviewEvent](d)
	if err != nil {
		return err
	}
	switch ev.GetAction() {
	case "submitted", "dismissed", "edited":
	default:
		return nil
	}
	n := ev.GetPullRequest().GetNumber()
	if n <= 0 || d.Repository == "" {
		return nil
	}
	return h.b.enqueueGate(ctx, d.Repository, n, "pull_request_review."+ev.GetAction()+" by "+ev.GetSender().GetLogin())
}
