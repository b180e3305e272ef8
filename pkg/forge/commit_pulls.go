package forge

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// CommitPulls lists the pull requests GitHub associates with a commit
// (GET commits/{sha}/pulls): for a commit on the default branch, the merged
// pull request that brought it (its merge commit, its squash commit, or
// one of the commits a rebase merge wrote); otherwise the open pull
// requests that contain it. The lists carry no mergeability.
func (c *Client) CommitPulls(ctx context.Context, repo, sha string) ([]*PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListOptions{PerPage: 100}
	var out []*PullRequest
	for {
		prs, resp, err := c.gh.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, strings.ToLower(sha), opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("pull requests of commit %.12s in %s", sha, repo), err)
		}
		for _, pr := range prs {
			out = append(out, pullOf(pr))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}
