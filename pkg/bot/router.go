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

// handled are the events (and, where it matters, actions) the bot's
// handlers act on. The intake records every other delivery as a no-op: its
// id is kept (deduplication), its payload is not, and no job runs. A test
// checks that every handler's events are here.
var handled = map[string]func(action string) bool{
	"issues":              anyAction,
	"issue_comment":       func(a string) bool { return a == "created" },
	"workflow_dispatch":   anyAction,
	"repository_dispatch": anyAction,
	"push":                anyAction,
	"pull_request":        anyAction,
	"pull_request_review": anyAction,
	"merge_group":         func(a string) bool { return a == "checks_requested" || a == "destroyed" },
	"membership":          anyAction,
	"team":                anyAction,
	"organization":        anyAction,
	"workflow_run":        func(a string) bool { return a == "completed" },
}

func anyAction(string) bool { return true }

// Handles reports whether the bot acts on a delivery of event and action.
// It needs no Bot: an intake-only server routes with it too.
func Handles(event, action string) bool {
	f, ok := handled[event]
	return ok && f(action)
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
