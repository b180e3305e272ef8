package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// HandleDelivery turns one webhook delivery into request jobs (or handles a
// comment command). It does little I/O of its own: the work for a request
// happens in its request job, serialised per request.
func (b *Bot) HandleDelivery(ctx context.Context, d webhook.Delivery) error {
	log := b.log.With("delivery", d.ID, "event", d.Event, "action", d.Action, "repository", d.Repository)
	switch d.Event {
	case "issues":
		var ev github.IssuesEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			return jobs.Permanent(fmt.Errorf("decode issues event: %w", err))
		}
		return b.onIssue(ctx, d, &ev)
	case "issue_comment":
		var ev github.IssueCommentEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			return jobs.Permanent(fmt.Errorf("decode issue_comment event: %w", err))
		}
		return b.onComment(ctx, d, &ev)
	case "workflow_dispatch":
		var ev github.WorkflowDispatchEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			return jobs.Permanent(fmt.Errorf("decode workflow_dispatch event: %w", err))
		}
		if path.Base(ev.GetWorkflow()) != path.Base(b.defaults.Generated.DispatchWorkflow) {
			log.DebugContext(ctx, "dispatch of another workflow ignored", "workflow", ev.GetWorkflow())
			return nil
		}
		var inputs map[string]any
		if len(ev.Inputs) > 0 {
			if err := json.Unmarshal(ev.Inputs, &inputs); err != nil {
				return jobs.Permanent(fmt.Errorf("decode dispatch inputs: %w", err))
			}
		}
		return b.openRequestIssue(ctx, d, contract.SourceDispatch, inputs, ev.GetSender().GetLogin())
	case "repository_dispatch":
		var ev github.RepositoryDispatchEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			return jobs.Permanent(fmt.Errorf("decode repository_dispatch event: %w", err))
		}
		if ev.GetAction() != b.dispatch {
			return nil
		}
		var inputs map[string]any
		if len(ev.ClientPayload) > 0 {
			if err := json.Unmarshal(ev.ClientPayload, &inputs); err != nil {
				return jobs.Permanent(fmt.Errorf("decode client_payload: %w", err))
			}
		}
		return b.openRequestIssue(ctx, d, contract.SourceRepositoryDispatch, inputs, ev.GetSender().GetLogin())
	case "push":
		var ev github.PushEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			return jobs.Permanent(fmt.Errorf("decode push event: %w", err))
		}
		return b.onPush(ctx, d, &ev)
	case "pull_request":
		var ev github.PullRequestEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			return jobs.Permanent(fmt.Errorf("decode pull_request event: %w", err))
		}
		return b.onPull(ctx, d, &ev)
	}
	return nil
}

func hasLabel(labels []*github.Label, name string) bool {
	return slices.ContainsFunc(labels, func(l *github.Label) bool { return l.GetName() == name })
}

func (b *Bot) onIssue(ctx context.Context, d webhook.Delivery, ev *github.IssuesEvent) error {
	is := ev.GetIssue()
	if is.IsPullRequest() || !hasLabel(is.Labels, b.defaults.Labels.Request) {
		return nil
	}
	switch ev.GetAction() {
	case "opened", "edited", "reopened", "closed":
	case "labeled":
		if ev.GetLabel().GetName() != b.defaults.Labels.Request {
			return nil // another label: nothing about the request changed
		}
	default:
		return nil
	}
	bot, err := b.app.BotLogin(ctx)
	if err != nil {
		return err
	}
	if ev.GetSender().GetLogin() == bot && ev.GetAction() != "opened" {
		return nil // the bot's own edit
	}
	return b.enqueue(ctx, d.Repository, is.GetNumber(), "issues."+ev.GetAction())
}

// openRequestIssue opens the request issue of a dispatch, once per
// delivery: a retried job finds the issue by its delivery marker.
func (b *Bot) openRequestIssue(ctx context.Context, d webhook.Delivery, src contract.Source, inputs map[string]any, sender string) error {
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, d.Repository)
	if err != nil {
		return err
	}
	s := rc.planner.Schema.Request
	raw, probs := contract.FromInputs(s, src, inputs)
	requester := raw.Values["requester"].Text
	title, body := IssueFromRaw(s, raw, probs, Origin{Source: src, Delivery: d.ID, Requester: requester, Sender: sender})
	is, created, err := c.CreateIssue(ctx, d.Repository, forge.NewIssue{
		Title: title, Body: body, Labels: []string{rc.planner.Config.Labels.Request},
		Marker: forge.Marker("dispatch:" + d.ID),
	})
	if err != nil {
		return err
	}
	b.log.InfoContext(ctx, "request issue for a dispatch", "delivery", d.ID, "repository", d.Repository,
		"issue", is.Number, "created", created, "source", string(src))
	return b.enqueue(ctx, d.Repository, is.Number, string(src))
}

// onPush re-plans the open request pull requests on a base branch that
// moved under them, so requests never conflict with each other in tfvars.
// Only pull requests that share a file with the push are re-planned (the
// push lists its files); the others still merge cleanly and keep their
// commits, so their reviews stay on the current content.
func (b *Bot) onPush(ctx context.Context, d webhook.Delivery, ev *github.PushEvent) error {
	branch, ok := strings.CutPrefix(ev.GetRef(), "refs/heads/")
	if !ok || ev.GetDeleted() {
		return nil
	}
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	pulls, err := c.ListPulls(ctx, d.Repository, forge.PullFilter{State: "open", Base: branch, Labels: []string{b.defaults.Labels.PullRequest}})
	if err != nil {
		return err
	}
	touched, complete := pushedFiles(ev)
	for _, pr := range pulls {
		n, ok := RequestIssueOf(pr.Body)
		if !ok || pr.User != c.BotLogin() {
			continue
		}
		if complete {
			files, err := c.PullFiles(ctx, d.Repository, pr.Number)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(files, func(f forge.PullFile) bool {
				return touched[f.Path] || (f.PreviousPath != "" && touched[f.PreviousPath])
			}) {
				continue
			}
		}
		if err := b.enqueue(ctx, d.Repository, n, "base "+branch+" moved"); err != nil {
			return err
		}
	}
	return nil
}

// pushedFiles lists the paths a push changed. complete is false when the
// payload cannot tell (a forced push, or more commits than GitHub lists).
func pushedFiles(ev *github.PushEvent) (map[string]bool, bool) {
	const listed = 20 // GitHub puts at most 20 commits in a push payload
	if ev.GetForced() || len(ev.Commits) == 0 || len(ev.Commits) >= listed {
		return nil, false
	}
	out := map[string]bool{}
	for _, cm := range ev.Commits {
		for _, list := range [][]string{cm.Added, cm.Modified, cm.Removed} {
			for _, p := range list {
				out[p] = true
			}
		}
	}
	return out, true
}

func (b *Bot) onPull(ctx context.Context, d webhook.Delivery, ev *github.PullRequestEvent) error {
	pr := ev.GetPullRequest()
	if ev.GetAction() != "closed" || !hasLabel(pr.Labels, b.defaults.Labels.PullRequest) {
		return nil
	}
	n, ok := RequestIssueOf(pr.GetBody())
	if !ok {
		return nil
	}
	return b.enqueue(ctx, d.Repository, n, "pull request closed")
}

// requestLinkPattern reads the link from a request pull request to its issue.
var requestLinkPattern = regexp.MustCompile(`(?m)^Request: #([0-9]+)\s*$`)

// RequestLink is the line of a pull request body naming its request issue.
// It is deliberately not a closing keyword: the issue stays open until the
// database is active.
func RequestLink(issue int) string { return fmt.Sprintf("Request: #%d", issue) }

// RequestIssueOf reads the request issue number from a pull request body.
func RequestIssueOf(body string) (int, bool) {
	m := requestLinkPattern.FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil && n > 0
}
