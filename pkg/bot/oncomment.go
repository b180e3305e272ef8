package bot

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/diff"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Markers of the bot's command replies: one comment each per issue, edited
// on every command.
var (
	ReplyMarker = forge.Marker("reply")
	PlanMarker  = forge.Marker("plan")
)

// onComment runs a `/rds` command from an authorised user. Commands on a
// request pull request act on its request issue.
func (b *Bot) onComment(ctx context.Context, d webhook.Delivery, ev *github.IssueCommentEvent) error {
	if ev.GetAction() != "created" {
		return nil
	}
	cmd, unknown, ok := ParseCommand(ev.GetComment().GetBody())
	if !ok {
		return nil
	}
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	who := ev.GetComment().GetUser().GetLogin()
	if who == c.BotLogin() || ev.GetComment().GetUser().GetType() == "Bot" {
		return nil
	}
	n := ev.GetIssue().GetNumber()
	replyOn := n
	if ev.GetIssue().IsPullRequest() {
		linked, ok := RequestIssueOf(ev.GetIssue().GetBody())
		if !ok {
			return nil // not a request pull request
		}
		n = linked
	}
	issue, err := c.GetIssue(ctx, d.Repository, n)
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, d.Repository)
	if err != nil {
		return err
	}
	cfg := rc.planner.Config
	if !slices.Contains(issue.Labels, cfg.Labels.Request) {
		return nil
	}
	allowed, err := b.authorised(ctx, c, d.Repository, issue, who, cfg.Teams)
	if err != nil {
		return err
	}
	reply := func(text string) error {
		_, _, err := c.UpsertComment(ctx, d.Repository, replyOn, ReplyMarker, fmt.Sprintf("@%s: %s", who, text))
		return err
	}
	switch {
	case !allowed:
		b.log.InfoContext(ctx, "command from an unauthorised user ignored", "user", who, "issue", n)
		return reply("only the requester and members of the reviewer teams may run `/rds` commands here.")
	case unknown != "":
		return reply(fmt.Sprintf("`/rds %s` is not a command; use `/rds status`, `/rds plan` or `/rds retry`.", unknown))
	}
	switch cmd {
	case CmdRetry, CmdStatus:
		if err := b.enqueue(ctx, d.Repository, n, fmt.Sprintf("/rds %s by %s", cmd, who)); err != nil {
			return err
		}
		if cmd == CmdRetry {
			return reply(fmt.Sprintf("running %s again; the status comment on #%d follows it.", contract.RequestID(n), n))
		}
		return reply(fmt.Sprintf("the status comment on #%d is being refreshed.", n))
	case CmdPlan:
		return b.showPlan(ctx, c, rc, d.Repository, issue, replyOn)
	}
	return nil
}

// authorised: the requester, and members of the teams that approve.
func (b *Bot) authorised(ctx context.Context, c *forge.Client, repo string, issue *forge.Issue, who string, teams map[string]string) (bool, error) {
	if who == issue.User {
		return true, nil
	}
	if o, ok := ParseOrigin(issue.Body); ok && issue.User == c.BotLogin() && o.Requester == who {
		return true, nil
	}
	org, _, _ := strings.Cut(repo, "/")
	for _, team := range sortedValues(teams) {
		member, err := c.IsTeamMember(ctx, org, team, who)
		if err != nil && !forge.IsNotFound(err) {
			return false, err
		}
		if member {
			return true, nil
		}
	}
	return false, nil
}

// showPlan posts the change set the request would make on the current base
// as a diff, without committing anything.
func (b *Bot) showPlan(ctx context.Context, c *forge.Client, rc *repoContext, repo string, issue *forge.Issue, replyOn int) error {
	raw, probs := RawFromIssue(rc.planner.Schema.Request, issue.Body, issue.User, c.BotLogin())
	req, vprobs := contract.Validate(rc.planner.Schema, raw)
	probs = append(probs, vprobs...)
	var body strings.Builder
	fmt.Fprintf(&body, "### Plan for %s\n\n", contract.RequestID(issue.Number))
	if err := probs.Err(); err != nil {
		fmt.Fprintf(&body, "The request is invalid, so there is no plan:\n\n```\n%s\n```\n", err)
		_, _, err := c.UpsertComment(ctx, repo, replyOn, PlanMarker, body.String())
		return err
	}
	base, err := rc.planner.Config.BaseFor(req.BaseBranch)
	if err != nil {
		base = rc.planner.Config.BaseBranch
	}
	snap, err := c.Snapshot(ctx, repo, base)
	if err != nil {
		return err
	}
	plan, err := planAt(snap.WithContext(ctx), raw, contract.RequestID(issue.Number), issue.Number, issue)
	if err != nil {
		fmt.Fprintf(&body, "The request cannot be planned on `%s`:\n\n```\n%s\n```\n", base, err)
	} else if plan.Empty() {
		fmt.Fprintf(&body, "`%s` at `%.7s` already holds this request: nothing to change.\n", base, snap.SHA)
	} else {
		fmt.Fprintf(&body, "On `%s` at `%.7s`, branch `%s` would change %d file(s):\n\n```diff\n", base, snap.SHA, plan.Branch, len(plan.Changes))
		for _, ch := range plan.Changes {
			body.WriteString(diff.Unified(ch.Path, ch.Old, ch.New))
		}
		body.WriteString("```\n")
	}
	_, _, err = c.UpsertComment(ctx, repo, replyOn, PlanMarker, body.String())
	return err
}

func sortedValues(m map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range m {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
