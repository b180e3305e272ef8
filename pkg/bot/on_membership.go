package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// membershipHandler takes organisation events that can change who may
// approve (membership added or removed, a team created, moved or deleted,
// a member invited, added or removed): every open pull request the gate
// covers in the installation's repositories is evaluated again. The gate
// reads memberships from GitHub at every evaluation, so the payload is
// only a trigger.
type membershipHandler struct{ b *Bot }

func (h *membershipHandler) Events() []string { return []string{"membership", "team", "organization"} }

func (h *membershipHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	if d.InstallationID == 0 {
		return nil
	}
	repos, err := b.app.Repositories(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range repos {
		if r.Installation != d.InstallationID {
			continue
		}
		if err := b.regate(ctx, r.Repo, fmt.Sprintf("%s.%s", d.Event, d.Action)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// regate enqueues a gate job for every open pull request of repo the gate
// has evaluated before.
func (b *Bot) regate(ctx context.Context, repo, reason string) error {
	gated, err := b.ledger.GatedPulls(ctx, repo)
	if err != nil || len(gated) == 0 {
		return err
	}
	c, err := b.client(ctx, nil, repo)
	if err != nil {
		return err
	}
	open, err := c.ListPulls(ctx, repo, forge.PullFilter{State: "open"})
	if err != nil {
		return err
	}
	for _, pr := range open {
		if !slices.Contains(gated, pr.Number) {
			continue
		}
		if err := b.enqueueGate(ctx, repo, pr.Number, reason); err != nil {
			return err
		}
	}
	return nil
}
