package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// issuesHandler takes `issues` deliveries: requests start, change, close
// and reopen.
type issuesHandler struct{ b *Bot }

func (h *issuesHandler) Events() []string { return []string{"issues"} }

func (h *issuesHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	ev, err := decode[github.IssuesEvent](d)
	if err != nil {
		return err
	}
	is := ev.GetIssue()
	if is.IsPullRequest() {
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
	cfg := rc.config()
	n, author, sender := is.GetNumber(), is.GetUser().GetLogin(), ev.GetSender().GetLogin()
	bot := c.BotLogin()
	requestLabel := cfg.Labels.Request
	switch ev.GetAction() {
	case "opened":
		if !hasLabel(is.Labels, requestLabel) {
			return nil
		}
		if author != bot {
			// The author opened it with the label (the issue form adds it).
			if err := b.startFormRequest(ctx, d.Repository, n, author, is.GetBody(), d.ID, is.GetCreatedAt().Time); err != nil {
				return err
			}
		}
		return b.enqueue(ctx, d.Repository, n, "issues.opened")
	case "labeled":
		if !strings.EqualFold(ev.GetLabel().GetName(), requestLabel) || sender == bot {
			return nil
		}
		if _, started, err := b.ledger.Origin(ctx, d.Repository, n); err != nil || started {
			return err
		}
		if !strings.EqualFold(sender, author) {
			// Labelling someone else's issue does not make it a request in
			// their name. Nothing is written.
			b.log.InfoContext(ctx, "request label added to someone else's issue: not a request",
				"repository", d.Repository, "issue", n, "sender", sender, "author", author)
			return nil
		}
		if err := b.startFormRequest(ctx, d.Repository, n, author, is.GetBody(), d.ID, is.GetUpdatedAt().Time); err != nil {
			return err
		}
		return b.enqueue(ctx, d.Repository, n, "labelled by its author")
	case "edited":
		if sender == bot || ev.GetChanges().GetBody() == nil {
			return nil // the bot's own edit, or a title change: the title is not part of the request
		}
		return h.edited(ctx, c, d, ev)
	case "closed", "reopened":
		if _, started, err := b.ledger.Origin(ctx, d.Repository, n); err != nil || !started {
			return err
		}
		return b.enqueue(ctx, d.Repository, n, fmt.Sprintf("issues.%s by %s", ev.GetAction(), sender))
	}
	return nil
}

// edited applies an edit of a request's text when its author may change the
// request; any other edit is not applied, and its author is told once.
func (h *issuesHandler) edited(ctx context.Context, c *forge.Client, d webhook.Delivery, ev *github.IssuesEvent) error {
	b := h.b
	is := ev.GetIssue()
	n, sender := is.GetNumber(), ev.GetSender().GetLogin()
	origin, started, err := b.ledger.Origin(ctx, d.Repository, n)
	if err != nil || !started {
		return err
	}
	rc, err := b.loadRepo(ctx, c, d.Repository, b.maxAge)
	if err != nil {
		return err
	}
	f := &requestFacts{origin: origin}
	allowed, err := mayEdit(ctx, c, d.Repository, rc.config(), f, sender)
	if err != nil {
		return err
	}
	if merged, err := b.mergedPull(ctx, c, d.Repository, n); err != nil {
		return err
	} else if merged != nil {
		return b.noticeOnce(ctx, c, d.Repository, n, "edit-after-merge", fmt.Sprintf(
			"@%s: this request was merged in #%d, so editing it changes nothing. To change the database, open a new request; to remove it, ask for a decommission.",
			sender, merged.Number))
	}
	if !allowed {
		b.log.InfoContext(ctx, "edit of a request by someone who may not change it: not applied",
			"repository", d.Repository, "issue", n, "sender", sender, "requester", origin.Requester)
		who := "its requester"
		if validLogin(origin.Requester) {
			who = "its requester (@" + origin.Requester + ")"
		}
		if err := b.noticeOnce(ctx, c, d.Repository, n, "edit-refused:"+strings.ToLower(sender), fmt.Sprintf(
			"@%s: your edit was not applied. Only %s and members of %s may change this request; rdsbot keeps using the last text they wrote.",
			sender, who, teamList(rc.config().Permissions.EditTeams))); err != nil {
			return err
		}
		return b.enqueue(ctx, d.Repository, n, "edit refused")
	}
	if err := b.ledger.AcceptText(ctx, d.Repository, n, ledger.Text{Body: is.GetBody(), Editor: sender, At: is.GetUpdatedAt().Time}); err != nil {
		return err
	}
	return b.enqueue(ctx, d.Repository, n, "edited by "+sender)
}

// noticeOnce posts a comment the first time a notice (key) is due on an
// issue, and never again: neither a replayed delivery nor the same event a
// second time repeats it.
func (b *Bot) noticeOnce(ctx context.Context, c *forge.Client, repo string, n int, key, text string) error {
	scoped := fmt.Sprintf("%s#%d:%s", strings.ToLower(repo), n, key)
	if given, err := b.ledger.Count(ctx, "notice", scoped); err != nil || given > 0 {
		return err
	}
	// The marker makes a retry after a lost answer edit, not duplicate.
	if _, _, err := c.UpsertComment(ctx, repo, n, forge.Marker("notice:"+key), text); err != nil {
		return err
	}
	_, err := b.ledger.Once(ctx, "notice", scoped)
	return err
}

func hasLabel(labels []*github.Label, name string) bool {
	for _, l := range labels {
		if strings.EqualFold(l.GetName(), name) {
			return true
		}
	}
	return false
}

// teamList names teams for a sentence: "@acme/platform-team" style is
// avoided on purpose (it would notify the team); team slugs are shown as
// code.
func teamList(teams []string) string {
	if len(teams) == 0 {
		return "no team"
	}
	parts := make([]string, len(teams))
	for i, t := range teams {
		parts[i] = md.Code(t)
	}
	return strings.Join(parts, ", ")
}
