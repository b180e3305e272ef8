package forge

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// SetGateCheck is SetCheck for a check that may go back from done to not
// done (an approval that stopped counting): GitHub keeps a completed run's
// conclusion, so a run that is no longer complete is a new run of the same
// name, which becomes the latest one (the one required checks read).
// Otherwise it is SetCheck.
func (c *Client) SetGateCheck(ctx context.Context, repo string, ch Check) (int64, error) {
	if ch.Status == "" || ch.Status == "completed" || ch.Conclusion != "" {
		return c.SetCheck(ctx, repo, ch)
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	if ch.Name == "" || ch.HeadSHA == "" {
		return 0, fmt.Errorf("forge: set check: name and head sha are required")
	}
	unlock := c.locks.lock(fmt.Sprintf("check:%s@%s:%s", repo, ch.HeadSHA, ch.Name))
	run, err := c.findCheck(ctx, owner, name, ch)
	if err != nil || run == nil || run.GetStatus() != "completed" {
		unlock()
		if err != nil {
			return 0, err
		}
		return c.SetCheck(ctx, repo, ch)
	}
	defer unlock()
	opts := github.CreateCheckRunOptions{Name: ch.Name, HeadSHA: ch.HeadSHA, Status: github.String(ch.Status), Output: output(ch, nil)}
	if ch.DetailsURL != "" {
		opts.DetailsURL = github.String(ch.DetailsURL)
	}
	// Not repeated blindly: a run created twice is harmless (the latest
	// counts) but a retry loop is not needed for it.
	created, _, err := c.gh.Checks.CreateCheckRun(notRepeatable(ctx), owner, name, opts)
	if err != nil {
		return 0, wrap(fmt.Sprintf("create check run %q", ch.Name), err)
	}
	return created.GetID(), nil
}
