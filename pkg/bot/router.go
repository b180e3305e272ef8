package bot

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// EventHandler handles the deliveries of one or more webhook events, in the
// style of palantir/go-githubapp: one small handler per event kind. A
// handler does little I/O itself: the work for a request runs in its
// request job, serialised per request.
type EventHandler interface {
	// Events are the X-GitHub-Event names the handler takes.
	Events() []string
	// Handle processes one delivery of one of those events.
	Handle(ctx context.Context, d webhook.Delivery) error
}

// Handles reports whether the bot acts on deliveries of event; the intake
// records every other event as a no-op, without its payload and without a
// job.
func (b *Bot) Handles(event string) bool {
	_, ok := b.handlers[event]
	return ok
}

// HandleDelivery routes one webhook delivery to its event's handler.
func (b *Bot) HandleDelivery(ctx context.Context, d webhook.Delivery) error {
	h, ok := b.handlers[d.Event]
	if !ok {
		return nil
	}
	return h.Handle(ctx, d)
}

// decode reads a delivery's payload into an event of go-github; a payload
// that does not decode can never succeed.
func decode[T any](d webhook.Delivery) (*T, error) {
	var ev T
	if err := json.Unmarshal(d.Payload, &ev); err != nil {
		return nil, jobs.Permanent(fmt.Errorf("decode %s event: %w", d.Event, err))
	}
	return &ev, nil
}
