package bot

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
)

// What the bot trusts about a request, and where it comes from:
//
//   - that an issue is a request: its author opened it with the request
//     label or added the label themselves (the webhook's sender, which
//     GitHub signs; or the issue events' actor), or the App opened it for a
//     dispatch. Recorded as the request's Origin in the ledger.
//   - who asked: the issue author, or the `user` of the dispatch as the
//     delivery carried it. Never a line of the issue body.
//   - what was asked: the text the requester (or a team allowed to edit
//     requests) last wrote, as the signed `issues` webhook carried it, kept
//     in the ledger. An edit by anyone else is not applied.
//   - which pull request is the request's: one the App opened (GitHub says
//     who opened it) on the request's branch, recorded in the ledger when it
//     was opened. Never a line of the pull request body.

// SourceIssueForm is the origin source of a request opened as an issue.
const SourceIssueForm = string(contract.SourceIssue)

// requestFacts are the trusted facts of one request issue.
type requestFacts struct {
	origin ledger.Origin
	text   ledger.Text
	// textDiffers: the issue body is not the accepted text (someone not
	// allowed to change the request edited it).
	textDiffers bool
}

// requester is who asked for the request.
func (f *requestFacts) requester() string { return f.origin.Requester }

// fromDispatch reports whether the App opened the request's issue.
func (f *requestFacts) fromDispatch() bool { return f.origin.Source != SourceIssueForm }

// startFormRequest records that an issue's author made it a request, with
// the text they wrote at that moment.
func (b *Bot) startFormRequest(ctx context.Context, repo string, issue int, author, body, delivery string, at time.Time) error {
	if err := b.ledger.RecordOrigin(ctx, ledger.Origin{Repo: repo, Issue: issue, Source: SourceIssueForm,
		Delivery: delivery, Requester: author, Sender: author}); err != nil {
		return err
	}
	return b.ledger.AcceptText(ctx, repo, issue, ledger.Text{Body: body, Editor: author, At: at})
}

// facts loads what the bot trusts about issue is. ok is false when the
// issue is not a request: nobody entitled to made it one.
//
// A request whose start the bot never saw (its webhook was lost and the
// reconcile found the issue) is recognised from the issue events: the
// author added the request label. Its text is then the issue body as it is
// now; this is the one case where the bot cannot tell who wrote the body,
// and the status comment says so.
func (b *Bot) facts(ctx context.Context, c *forge.Client, repo string, is *forge.Issue, cfg *config.Config) (*requestFacts, bool, error) {
	o, ok, err := b.ledger.Origin(ctx, repo, is.Number)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		if is.User == c.BotLogin() || !slices.Contains(is.Labels, cfg.Labels.Request) {
			// An issue of the bot without an origin is mid-way through being
			// opened by its dispatch job, which records it.
			return nil, false, nil
		}
		started, err := labelledByAuthor(ctx, c, repo, is, cfg.Labels.Request)
		if err != nil || !started {
			return nil, false, err
		}
		if err := b.startFormRequest(ctx, repo, is.Number, is.User, is.Body, "reconcile", is.CreatedAt); err != nil {
			return nil, false, err
		}
		if o, _, err = b.ledger.Origin(ctx, repo, is.Number); err != nil {
			return nil, false, err
		}
	}
	f := &requestFacts{origin: o}
	t, ok, err := b.ledger.AcceptedText(ctx, repo, is.Number)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		// The origin was recorded and the process stopped before the text
		// was: the text is the one of that moment, which GitHub still shows
		// unless someone edited it since.
		editor := o.Requester
		if f.fromDispatch() {
			editor = c.BotLogin()
		}
		t = ledger.Text{Body: is.Body, Editor: editor, At: is.CreatedAt}
		if err := b.ledger.AcceptText(ctx, repo, is.Number, t); err != nil {
			return nil, false, err
		}
	}
	f.text = t
	f.textDiffers = normalizeBody(t.Body) != normalizeBody(is.Body)
	return f, true, nil
}

// labelledByAuthor reports whether the request label on is was put there by
// its author: the last time the label was added, the author added it.
func labelledByAuthor(ctx context.Context, c *forge.Client, repo string, is *forge.Issue, label string) (bool, error) {
	evs, err := c.LabelEvents(ctx, repo, is.Number)
	if err != nil {
		return false, err
	}
	by := ""
	for _, ev := range evs {
		if strings.EqualFold(ev.Label, label) && ev.Action == "labeled" {
			by = ev.Actor
		}
	}
	return by != "" && strings.EqualFold(by, is.User), nil
}

// mayEdit reports whether login may change the request: its requester, or a
// member of a team the configuration allows.
func mayEdit(ctx context.Context, c *forge.Client, repo string, cfg *config.Config, f *requestFacts, login string) (bool, error) {
	if strings.EqualFold(login, f.requester()) {
		return true, nil
	}
	return inTeams(ctx, c, repo, login, cfg.Permissions.EditTeams)
}

// normalizeBody compares bodies as GitHub stores them (line endings and
// trailing space differ between the web editor and the API).
func normalizeBody(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}
