package forge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// PullReview is a submitted pull request review as the approval gate reads it.
type PullReview struct {
	ID      int64
	User    string
	UserBot bool   // the reviewer is a bot account
	State   string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED (always upper case)
	// CommitID is the head the review was given on.
	CommitID    string
	SubmittedAt time.Time
	// AuthorAssociation is the reviewer's relation to the repository
	// (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ...).
	AuthorAssociation string
}

// Dismissed reports whether the review was dismissed (it approves nothing).
func (r PullReview) Dismissed() bool { return r.State == "DISMISSED" }

// NormalizeReviewState turns a review state from any source into the REST
// API's upper case: webhooks send "approved", "changes_requested",
// "commented", "dismissed"; the REST API "APPROVED", ... An unknown state
// is returned upper-cased, never as an approval.
func NormalizeReviewState(s string) string {
	return strings.ToUpper(strings.TrimSpace(s))
}

// PullReviews lists a pull request's submitted reviews, oldest first (all
// pages). Pending reviews (drafts only their author sees) are left out.
func (c *Client) PullReviews(ctx context.Context, repo string, number int) ([]PullReview, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListOptions{PerPage: 100}
	var out []PullReview
	for {
		list, resp, err := c.gh.PullRequests.ListReviews(ctx, owner, name, number, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list reviews of #%d in %s", number, repo), err)
		}
		for _, r := range list {
			state := NormalizeReviewState(r.GetState())
			if state == "PENDING" {
				continue
			}
			out = append(out, PullReview{ID: r.GetID(), User: r.GetUser().GetLogin(), UserBot: r.GetUser().GetType() == "Bot",
				State: state, CommitID: r.GetCommitID(), SubmittedAt: r.GetSubmittedAt().Time,
				AuthorAssociation: r.GetAuthorAssociation()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}
