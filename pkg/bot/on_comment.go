package bot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// commentHandler runs `/rds` commands given in a comment on a request issue
// or on its pull request.
type commentHandler struct{ b *Bot }

func (h *commentHandler) Events() []string { return []string{"issue_comment"} }

// Handle authorises first, from facts it already holds: the comment's author
// as GitHub signed it, the request's requester from the ledger, and (for an
// organisation member only) one team membership read per command team. An
// unauthorised command costs no more than that and writes nothing.
func (h *commentHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	ev, err := decode[github.IssueCommentEvent](d)
	if err != nil {
		return err
	}
	if ev.GetAction() != "created" {
		return nil
	}
	cmd, unknown, ok := ParseCommand(ev.GetComment().GetBody())
	if !ok {
		return nil
	}
	who := ev.GetComment().GetUser().GetLogin()
	if ev.GetComment().GetUser().GetType() == "Bot" || strings.HasSuffix(who, "[bot]") {
		return nil
	}
	on := ev.GetIssue().GetNumber()
	n := on
	if ev.GetIssue().IsPullRequest() {
		linked, _, ok, err := b.ledger.PullIssue(ctx, d.Repository, on)
		if err != nil {
			return err
		}
		if cmd == CmdPlan && (!ok || CommandArg(ev.GetComment().GetBody()) != "") {
			return b.planCommand(ctx, d, ev) // a plan of code rdsbot did not write
		}
		if !ok {
			return nil // not a pull request the App opened for a request
		}
		n = linked
	}
	origin, ok, err := b.ledger.Origin(ctx, d.Repository, n)
	if err != nil || !ok {
		return err // not a request
	}
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	allowed := strings.EqualFold(who, origin.Requester)
	if !allowed && isOrgMember(ev.GetComment().GetAuthorAssociation()) {
		rc, err := b.loadRepo(ctx, c, d.Repository, b.maxAge)
		if err != nil {
			return err
		}
		if allowed, err = inTeams(ctx, c, d.Repository, who, rc.config().Permissions.CommandTeams); err != nil {
			return err
		}
	}
	// A release is the policy's to decide (a break-glass member, who may
	// not command otherwise); only an organisation member can be one.
	release := cmd == CmdRelease && isOrgMember(ev.GetComment().GetAuthorAssociation())
	if !allowed && !release {
		b.log.InfoContext(ctx, "/rds command from someone who may not run it: ignored",
			"repository", d.Repository, "issue", n, "user", who, "association", ev.GetComment().GetAuthorAssociation())
		return nil
	}
	// Each command gets its own reply, keyed by the command's comment so a
	// replayed delivery edits that reply instead of adding another.
	marker := forge.Marker("reply:" + strconv.FormatInt(ev.GetComment().GetID(), 10))
	reply := func(text string) error {
		_, _, err := c.UpsertComment(ctx, d.Repository, on, marker, fmt.Sprintf("@%s: %s", who, text))
		return err
	}
	if unknown != "" {
		return reply(fmt.Sprintf("%s is not a command; use `/rds status`, `/rds plan`, `/rds retry`, `/rds decommission` or `/rds release`.", md.Code("/rds "+unknown)))
	}
	id := contract.RequestID(n)
	switch cmd {
	case CmdRetry:
		if dec, err := b.mayRetry(ctx, c, d.Repository, n, who); err != nil {
			return err
		} else if !dec.Allowed {
			return reply(fmt.Sprintf("%s was not retried: %s.", id, md.Text(dec.Reason)))
		}
		if step, err := b.retryRollout(ctx, c, d.Repository, n, who); err != nil {
			return err
		} else if step != "" {
			return reply(fmt.Sprintf("running the failed %s step of %s again now; the status comment on #%d follows it.", step, id, n))
		}
		if err := b.enqueue(ctx, d.Repository, n, reasonRetry+" by "+who); err != nil {
			return err
		}
		return reply(fmt.Sprintf("running %s again now; the status comment on #%d follows it.", id, n))
	case CmdDecommission:
		text, err := b.decommission(ctx, c, d.Repository, n, who, commandRest(ev.GetComment().GetBody()))
		if err != nil {
			return err
		}
		return reply(text)
	case CmdRelease:
		text, err := b.release(ctx, c, d.Repository, n, who, ev.GetComment().GetBody())
		if err != nil {
			return err
		}
		return reply(text)
	case CmdStatus:
		if err := b.enqueue(ctx, d.Repository, n, "/rds status by "+who); err != nil {
			return err
		}
		return reply(fmt.Sprintf("the status comment on #%d is being refreshed.", n))
	case CmdPlan:
		if err := b.enqueueRequestPlans(ctx, d.Repository, n, on, ev.GetIssue().IsPullRequest(), "/rds plan by "+who); err != nil {
			return err
		}
		rc, err := b.loadRepo(ctx, c, d.Repository, 0)
		if err != nil {
			return err
		}
		is, err := c.GetIssue(ctx, d.Repository, n)
		if err != nil {
			return err
		}
		f, ok, err := b.facts(ctx, c, d.Repository, is, rc.config())
		if err != nil || !ok {
			return err
		}
		text, err := b.planText(ctx, c, rc, is, f)
		if err != nil {
			return err
		}
		_, _, err = c.UpsertComment(ctx, d.Repository, on, marker, fmt.Sprintf("@%s: %s", who, text))
		return err
	}
	return nil
}

// reasonRetry starts the reason of a request job asked for by /rds retry.
const reasonRetry = "/rds retry"

// enqueueRequestPlans runs the rdsbot/plan check again: on the pull
// request the command was given on, or on every pull request of the request.
func (b *Bot) enqueueRequestPlans(ctx context.Context, repo string, issue, on int, onPull bool, reason string) error {
	pulls := []int{on}
	if !onPull {
		var err error
		if pulls, err = b.ledger.Pulls(ctx, repo, issue); err != nil {
			return err
		}
	}
	for _, p := range pulls {
		if err := b.enqueuePlan(ctx, repo, p, reason); err != nil {
			return err
		}
	}
	return nil
}

// isOrgMember reports whether a comment's author association can belong to
// an organisation team (only members and owners can).
func isOrgMember(association string) bool {
	return slices.Contains([]string{"MEMBER", "OWNER"}, strings.ToUpper(association))
}
