package forge

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// MaxPullCommits is how many commits GitHub lists for a pull request.
const MaxPullCommits = 250

// ErrTooManyCommits: a pull request has more commits than GitHub lists, so
// its commit authors cannot all be known (a gate must fail closed).
var ErrTooManyCommits = errors.New("pull request has more commits than GitHub lists")

// PullCommit is a commit of a pull request with its authors. Author and
// Committer are the GitHub accounts GitHub linked to the commit's emails;
// "" when it linked none (an unknown or unverified email), which a gate
// cannot attribute to anyone. The names and emails are whatever the commit
// says and prove nothing.
type PullCommit struct {
	SHA       string
	Parents   []string
	Message   string
	Author    string
	AuthorBot bool
	Committer string
	// Git's own author and committer lines.
	AuthorName, AuthorEmail       string
	CommitterName, CommitterEmail string
	// Verified: GitHub verified the commit's signature.
	Verified bool
}

// Linked reports whether GitHub linked the commit's author to an account.
func (p PullCommit) Linked() bool { return p.Author != "" }

// PullCommits lists a pull request's commits, oldest first (all pages).
// When the pull request has more than GitHub lists (MaxPullCommits) it
// returns ErrTooManyCommits.
func (c *Client) PullCommits(ctx context.Context, repo string, number int) ([]PullCommit, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListOptions{PerPage: 100}
	var out []PullCommit
	for {
		list, resp, err := c.gh.PullRequests.ListCommits(ctx, owner, name, number, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list commits of #%d in %s", number, repo), err)
		}
		for _, rc := range list {
			out = append(out, pullCommitOf(rc))
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if len(out) >= MaxPullCommits {
		pr, _, err := c.gh.PullRequests.Get(ctx, owner, name, number)
		if err != nil {
			return nil, wrap(fmt.Sprintf("get pull request #%d of %s", number, repo), err)
		}
		if pr.GetCommits() > len(out) {
			return nil, fmt.Errorf("forge: commits of #%d in %s: %d listed of %d: %w", number, repo, len(out), pr.GetCommits(), ErrTooManyCommits)
		}
	}
	return out, nil
}

func pullCommitOf(rc *github.RepositoryCommit) PullCommit {
	cm := rc.GetCommit()
	out := PullCommit{SHA: rc.GetSHA(), Message: cm.GetMessage(),
		Author: rc.GetAuthor().GetLogin(), AuthorBot: rc.GetAuthor().GetType() == "Bot", Committer: rc.GetCommitter().GetLogin(),
		AuthorName: cm.GetAuthor().GetName(), AuthorEmail: cm.GetAuthor().GetEmail(),
		CommitterName: cm.GetCommitter().GetName(), CommitterEmail: cm.GetCommitter().GetEmail(),
		Verified: cm.GetVerification().GetVerified()}
	for _, p := range rc.Parents {
		out.Parents = append(out.Parents, p.GetSHA())
	}
	return out
}
