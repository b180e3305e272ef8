package forge

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
)

// PullRequest is a pull request as the bot sees it.
type PullRequest struct {
	Number         int
	Title          string
	Body           string
	State          string // open, closed
	Merged         bool
	Draft          bool
	User           string
	Head           string // branch
	HeadSHA        string
	Base           string // branch
	BaseSHA        string
	Labels         []string
	URL            string // html
	MergeCommitSHA string
	Mergeable      *bool // nil while GitHub computes it (and in lists)
	MergeableState string
}

func pullOf(pr *github.PullRequest) *PullRequest {
	out := &PullRequest{Number: pr.GetNumber(), Title: pr.GetTitle(), Body: pr.GetBody(), State: pr.GetState(),
		Merged: pr.GetMerged() || pr.MergedAt != nil, Draft: pr.GetDraft(), User: pr.GetUser().GetLogin(),
		Head: pr.GetHead().GetRef(), HeadSHA: pr.GetHead().GetSHA(), Base: pr.GetBase().GetRef(),
		BaseSHA: pr.GetBase().GetSHA(), URL: pr.GetHTMLURL(), MergeCommitSHA: pr.GetMergeCommitSHA(),
		Mergeable: pr.Mergeable, MergeableState: pr.GetMergeableState(), Labels: []string{}}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// GetPull returns a pull request with its mergeability.
func (c *Client) GetPull(ctx context.Context, repo string, number int) (*PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	pr, _, err := c.gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return nil, wrap(fmt.Sprintf("get pull request #%d of %s", number, repo), err)
	}
	return pullOf(pr), nil
}

// PullFilter selects pull requests.
type PullFilter struct {
	State  string // open (default), closed, all
	Head   string // branch name (in the repository itself)
	Base   string
	Labels []string // all must be present (filtered here: the pulls API has no label filter)
}

// ListPulls lists pull requests, newest first, all pages.
func (c *Client) ListPulls(ctx context.Context, repo string, f PullFilter) ([]*PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.PullRequestListOptions{State: f.State, Base: f.Base, Sort: "created", Direction: "desc"}
	if f.Head != "" {
		opt.Head = owner + ":" + f.Head
	}
	prs, err := c.listPulls(ctx, owner, name, opt)
	if err != nil {
		return nil, err
	}
	out := prs[:0]
	for _, pr := range prs {
		keep := true
		for _, l := range f.Labels {
			keep = keep && containsFold(pr.Labels, l)
		}
		if keep {
			out = append(out, pr)
		}
	}
	return out, nil
}

func (c *Client) listPulls(ctx context.Context, owner, name string, opt *github.PullRequestListOptions) ([]*PullRequest, error) {
	opt.PerPage = 100
	var out []*PullRequest
	for {
		list, resp, err := c.gh.PullRequests.List(ctx, owner, name, opt)
		if err != nil {
			return nil, wrap("list pull requests of "+owner+"/"+name, err)
		}
		for _, pr := range list {
			out = append(out, pullOf(pr))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// PullFile is a file a pull request changes.
type PullFile struct {
	Path         string
	Status       string // added, modified, removed, renamed, ...
	PreviousPath string
	Additions    int
	Deletions    int
}

// PullFiles lists the files a pull request changes (all pages).
func (c *Client) PullFiles(ctx context.Context, repo string, number int) ([]PullFile, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListOptions{PerPage: 100}
	var out []PullFile
	for {
		files, resp, err := c.gh.PullRequests.ListFiles(ctx, owner, name, number, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list files of #%d in %s", number, repo), err)
		}
		for _, f := range files {
			out = append(out, PullFile{Path: f.GetFilename(), Status: f.GetStatus(), PreviousPath: f.GetPreviousFilename(),
				Additions: f.GetAdditions(), Deletions: f.GetDeletions()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// Review is a pull request review.
type Review struct {
	ID          int64
	User        string
	State       string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
	CommitID    string // the head the review was given on
	Body        string
	SubmittedAt time.Time
}

// Reviews lists a pull request's reviews, oldest first.
func (c *Client) Reviews(ctx context.Context, repo string, number int) ([]Review, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListOptions{PerPage: 100}
	var out []Review
	for {
		list, resp, err := c.gh.PullRequests.ListReviews(ctx, owner, name, number, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list reviews of #%d in %s", number, repo), err)
		}
		for _, r := range list {
			out = append(out, Review{ID: r.GetID(), User: r.GetUser().GetLogin(), State: r.GetState(),
				CommitID: r.GetCommitID(), Body: r.GetBody(), SubmittedAt: r.GetSubmittedAt().Time})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// MergeOptions is how to merge.
type MergeOptions struct {
	// SHA is the head the merge is for: a moved head is refused with
	// ErrConflict (409) instead of merging unreviewed commits.
	SHA     string
	Method  string // merge (default), squash, rebase
	Title   string
	Message string
	// Record puts the merge commit in the commit ledger, for a merge the App
	// makes of its own pull request (a status change): its push to the base
	// is then known as the App's. GitHub writes the commit, so it is recorded
	// after the answer; a crash in between is harmless (see PutFile).
	Record bool
}

// MergePull merges a pull request and returns the merge commit. Errors:
// ErrConflict when the head moved, ErrNotMergeable (405) when GitHub refuses.
func (c *Client) MergePull(ctx context.Context, repo string, number int, o MergeOptions) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	// A repeated merge that went through is refused (405), so the request is
	// not repeated blindly: after an uncertain failure the pull request says
	// whether it was merged.
	res, _, err := c.gh.PullRequests.Merge(notRepeatable(ctx), owner, name, number, o.Message,
		&github.PullRequestOptions{SHA: o.SHA, MergeMethod: o.Method, CommitTitle: o.Title})
	if uncertain(ctx, err) {
		if pr, gerr := c.GetPull(ctx, repo, number); gerr == nil && pr.Merged && (o.SHA == "" || pr.HeadSHA == o.SHA) {
			return pr.MergeCommitSHA, c.recordMerge(ctx, owner, name, pr.MergeCommitSHA, o.Record)
		}
		return "", fmt.Errorf("forge: merge #%d of %s: %w: %w", number, repo, ErrUncertain, wrap("merge", err))
	}
	if err != nil {
		return "", wrap(fmt.Sprintf("merge #%d of %s", number, repo), err)
	}
	return res.GetSHA(), c.recordMerge(ctx, owner, name, res.GetSHA(), o.Record)
}

func (c *Client) recordMerge(ctx context.Context, owner, name, sha string, record bool) error {
	if !record || sha == "" {
		return nil
	}
	return c.recordCommit(ctx, owner, name, sha)
}
