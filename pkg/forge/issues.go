package forge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Issue is an issue (or a pull request's issue side).
type Issue struct {
	Number      int
	Title       string
	Body        string
	State       string // open, closed
	StateReason string
	User        string
	Labels      []string
	IsPR        bool
	URL         string // html
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func issueOf(is *github.Issue) *Issue {
	out := &Issue{Number: is.GetNumber(), Title: is.GetTitle(), Body: is.GetBody(), State: is.GetState(),
		StateReason: is.GetStateReason(), User: is.GetUser().GetLogin(), IsPR: is.IsPullRequest(),
		URL: is.GetHTMLURL(), CreatedAt: is.GetCreatedAt().Time, UpdatedAt: is.GetUpdatedAt().Time}
	for _, l := range is.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// GetIssue returns an issue.
func (c *Client) GetIssue(ctx context.Context, repo string, number int) (*Issue, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	is, _, err := c.gh.Issues.Get(ctx, owner, name, number)
	if err != nil {
		return nil, wrap(fmt.Sprintf("get issue #%d of %s", number, repo), err)
	}
	return issueOf(is), nil
}

// NewIssue is an issue to open.
type NewIssue struct {
	Title     string
	Body      string
	Labels    []string
	Assignees []string
	// Marker, when set, makes creation idempotent: it is put in the body
	// (use Marker("request:<id>")), and an issue of the bot that already
	// carries it is returned instead of opening another.
	Marker string
}

// CreateIssue opens an issue, or returns the bot's issue that already
// carries in.Marker (created reports which). Labels are created in the
// repository first when missing.
//
// Opening an issue is not safe to repeat, so the request is never retried
// blindly: after an answer that leaves the outcome unknown (5xx, timeout)
// forge looks for the marker again before trying once more.
func (c *Client) CreateIssue(ctx context.Context, repo string, in NewIssue) (*Issue, bool, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, false, err
	}
	if in.Marker != "" {
		defer c.locks.lock("issue:" + strings.ToLower(repo) + ":" + in.Marker)()
		if !strings.Contains(in.Body, in.Marker) {
			in.Body = in.Marker + "\n" + in.Body
		}
	}
	if err := c.ensureLabels(ctx, owner, name, in.Labels); err != nil {
		return nil, false, err
	}
	const rounds = 3
	for round := 1; ; round++ {
		if in.Marker != "" {
			found, err := c.findIssueByMarker(ctx, owner, name, in.Marker)
			if err != nil || found != nil {
				return found, false, err
			}
		}
		req := &github.IssueRequest{Title: github.String(in.Title), Body: github.String(in.Body)}
		if len(in.Labels) > 0 {
			req.Labels = &in.Labels
		}
		if len(in.Assignees) > 0 {
			req.Assignees = &in.Assignees
		}
		is, _, err := c.gh.Issues.Create(notRepeatable(ctx), owner, name, req)
		if err == nil {
			return issueOf(is), true, nil
		}
		if in.Marker == "" || !uncertain(ctx, err) || round == rounds {
			if uncertain(ctx, err) {
				return nil, false, fmt.Errorf("forge: open issue in %s: %w: %w", repo, ErrUncertain, wrap("create issue", err))
			}
			return nil, false, wrap("open issue in "+repo, err)
		}
		c.log.Warn("forge: issue creation uncertain, looking for it", "repo", repo, "marker", in.Marker, "err", err)
		if err := c.settle(ctx, round); err != nil {
			return nil, false, err
		}
	}
}

// findIssueByMarker looks through the bot's most recent issues (up to 300)
// for one whose body carries marker.
func (c *Client) findIssueByMarker(ctx context.Context, owner, name, marker string) (*Issue, error) {
	opt := &github.IssueListByRepoOptions{State: "all", Creator: c.bot, Sort: "created", Direction: "desc",
		ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < 3; page++ {
		list, resp, err := c.gh.Issues.ListByRepo(ctx, owner, name, opt)
		if err != nil {
			return nil, wrap("list issues of "+owner+"/"+name, err)
		}
		for _, is := range list {
			if !is.IsPullRequest() && strings.Contains(is.GetBody(), marker) {
				return issueOf(is), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return nil, nil
}

// IssueEdit changes an issue; nil fields stay as they are.
type IssueEdit struct {
	Title       *string
	Body        *string
	State       *string // open, closed
	StateReason *string // completed, not_planned, reopened
	Labels      *[]string
}

// EditIssue changes an issue. Labels, when set, replace all labels (created
// in the repository first when missing); prefer AddLabels and RemoveLabel,
// which leave other people's labels alone.
func (c *Client) EditIssue(ctx context.Context, repo string, number int, e IssueEdit) (*Issue, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	req := &github.IssueRequest{Title: e.Title, Body: e.Body, State: e.State, StateReason: e.StateReason, Labels: e.Labels}
	if e.Labels != nil {
		if err := c.ensureLabels(ctx, owner, name, *e.Labels); err != nil {
			return nil, err
		}
	}
	is, _, err := c.gh.Issues.Edit(ctx, owner, name, number, req)
	if err != nil {
		return nil, wrap(fmt.Sprintf("edit issue #%d of %s", number, repo), err)
	}
	return issueOf(is), nil
}

// IssueFilter selects issues; pull requests are included (Issue.IsPR).
type IssueFilter struct {
	State   string   // open (default), closed, all
	Labels  []string // all must be present
	Creator string
}

// ListIssues lists issues and pull requests, newest first, all pages.
func (c *Client) ListIssues(ctx context.Context, repo string, f IssueFilter) ([]*Issue, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.IssueListByRepoOptions{State: f.State, Labels: f.Labels, Creator: f.Creator,
		Sort: "created", Direction: "desc", ListOptions: github.ListOptions{PerPage: 100}}
	var out []*Issue
	for {
		list, resp, err := c.gh.Issues.ListByRepo(ctx, owner, name, opt)
		if err != nil {
			return nil, wrap("list issues of "+repo, err)
		}
		for _, is := range list {
			out = append(out, issueOf(is))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// LabelEvent is a label being added or removed, and by whom.
type LabelEvent struct {
	Label  string
	Action string // labeled, unlabeled
	Actor  string
	At     time.Time
}

// LabelEvents lists who added and removed which label, oldest first: what
// the policy needs to trust an approval label only from the right people.
func (c *Client) LabelEvents(ctx context.Context, repo string, number int) ([]LabelEvent, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListOptions{PerPage: 100}
	var out []LabelEvent
	for {
		evs, resp, err := c.gh.Issues.ListIssueEvents(ctx, owner, name, number, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list events of #%d in %s", number, repo), err)
		}
		for _, ev := range evs {
			if ev.GetEvent() == "labeled" || ev.GetEvent() == "unlabeled" {
				out = append(out, LabelEvent{Label: ev.GetLabel().GetName(), Action: ev.GetEvent(),
					Actor: ev.GetActor().GetLogin(), At: ev.GetCreatedAt().Time})
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}
