package forge

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Readers of the facts an approval gate needs, all paginated and read
// through the ETag cache (a repeated read of an unchanged list is a free
// 304): issue events (gate_events.go), reviews (gate_reviews.go), team
// memberships (gate_teams.go), pull request commits (gate_commits.go),
// check runs, commit statuses and required checks (gate_checks.go).

// IssueEvent is one entry of an issue's or pull request's event log: what
// GitHub itself recorded about who did what and when, which webhook
// payloads and editable text cannot forge.
type IssueEvent struct {
	ID    int64
	Event string // labeled, unlabeled, review_requested, review_dismissed, ready_for_review, convert_to_draft, base_ref_changed, head_ref_force_pushed, added_to_merge_queue, removed_from_merge_queue, closed, reopened, merged, ...
	Actor string // login ("" when GitHub reports no actor, e.g. a deleted account)
	// ActorBot: the actor is a bot account (an App or a machine user GitHub types as Bot).
	ActorBot bool
	// App is the slug of the App that acted on the actor's behalf, if any.
	App      string
	At       time.Time
	Label    string // labeled, unlabeled
	CommitID string // merged, closed by a commit, head_ref_force_pushed
	// Review requests: who asked, and which user or team (slug).
	Requester         string
	RequestedReviewer string
	RequestedTeam     string
	// Dismissed is set for review_dismissed.
	Dismissed *DismissedReview
}

// DismissedReview is the review a review_dismissed event dismissed.
type DismissedReview struct {
	ReviewID int64
	State    string // the review's state before, upper case (APPROVED, CHANGES_REQUESTED)
	Message  string
}

// IssueEvents lists an issue's or pull request's events, oldest first (all pages).
func (c *Client) IssueEvents(ctx context.Context, repo string, number int) ([]IssueEvent, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListOptions{PerPage: 100}
	var out []IssueEvent
	for {
		evs, resp, err := c.gh.Issues.ListIssueEvents(ctx, owner, name, number, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list events of #%d in %s", number, repo), err)
		}
		for _, ev := range evs {
			out = append(out, issueEventOf(ev))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

func issueEventOf(ev *github.IssueEvent) IssueEvent {
	out := IssueEvent{ID: ev.GetID(), Event: ev.GetEvent(), Actor: ev.GetActor().GetLogin(),
		ActorBot: ev.GetActor().GetType() == "Bot", App: ev.GetPerformedViaGithubApp().GetSlug(),
		At: ev.GetCreatedAt().Time, Label: ev.GetLabel().GetName(), CommitID: ev.GetCommitID(),
		Requester: ev.GetReviewRequester().GetLogin(), RequestedReviewer: ev.GetRequestedReviewer().GetLogin(),
		RequestedTeam: ev.GetRequestedTeam().GetSlug()}
	if d := ev.DismissedReview; d != nil {
		out.Dismissed = &DismissedReview{ReviewID: d.GetReviewID(), State: NormalizeReviewState(d.GetState()),
			Message: d.GetDismissalMessage()}
	}
	return out
}

// CurrentLabels replays labeled and unlabeled events and returns, for each
// label still on the issue, the event that last added it (who and when),
// sorted by label. GitHub's label names are case-insensitive; the name is
// the one in that event.
func CurrentLabels(events []IssueEvent) []IssueEvent {
	on := map[string]IssueEvent{}
	for _, ev := range events {
		key := strings.ToLower(ev.Label)
		switch ev.Event {
		case "labeled":
			on[key] = ev
		case "unlabeled":
			delete(on, key)
		}
	}
	out := make([]IssueEvent, 0, len(on))
	for _, ev := range on {
		out = append(out, ev)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Label) < strings.ToLower(out[j].Label) })
	return out
}
