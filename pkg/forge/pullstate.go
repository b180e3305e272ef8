package forge

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// ClosePull closes a pull request without merging it.
func (c *Client) ClosePull(ctx context.Context, repo string, number int) error {
	return c.setPullState(ctx, repo, number, "closed")
}

// ReopenPull reopens a closed, unmerged pull request.
func (c *Client) ReopenPull(ctx context.Context, repo string, number int) error {
	return c.setPullState(ctx, repo, number, "open")
}

func (c *Client) setPullState(ctx context.Context, repo string, number int, state string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	if _, _, err := c.gh.PullRequests.Edit(ctx, owner, name, number, &github.PullRequest{State: github.String(state)}); err != nil {
		return wrap(fmt.Sprintf("set pull request #%d of %s %s", number, repo, state), err)
	}
	return nil
}

// ClosedBy returns who last closed an issue or pull request, from its
// events ("" when it was never closed).
func (c *Client) ClosedBy(ctx context.Context, repo string, number int) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	opt := &github.ListOptions{PerPage: 100}
	who := ""
	for {
		evs, resp, err := c.gh.Issues.ListIssueEvents(ctx, owner, name, number, opt)
		if err != nil {
			return "", wrap(fmt.Sprintf("list events of #%d in %s", number, repo), err)
		}
		for _, ev := range evs {
			if ev.GetEvent() == "closed" {
				who = ev.GetActor().GetLogin()
			}
		}
		if resp.NextPage == 0 {
			return who, nil
		}
		opt.Page = resp.NextPage
	}
}
