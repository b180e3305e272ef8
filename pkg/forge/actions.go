package forge

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
)

// DispatchWorkflow runs a workflow_dispatch of the workflow file (its name
// under .github/workflows, e.g. "rds-apply.yml") at ref with inputs.
//
// A dispatch is not safe to repeat (it would start a second run), so it is
// retried only when GitHub refused it for a rate limit. When the outcome is
// unknown (5xx, timeout) the error wraps ErrUncertain: look for the run with
// ListWorkflowRuns (event workflow_dispatch, created since before the call)
// before dispatching again.
func (c *Client) DispatchWorkflow(ctx context.Context, repo, workflow, ref string, inputs map[string]any) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	_, err = c.gh.Actions.CreateWorkflowDispatchEventByFileName(notRepeatable(ctx), owner, name, workflow,
		github.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: inputs})
	if uncertain(ctx, err) {
		return fmt.Errorf("forge: dispatch %s at %s: %w: %w", workflow, ref, ErrUncertain, wrap("dispatch", err))
	}
	return wrap(fmt.Sprintf("dispatch %s at %s in %s", workflow, ref, repo), err)
}

// WorkflowRun is a run of a workflow.
type WorkflowRun struct {
	ID           int64
	Name         string
	DisplayTitle string
	Event        string
	Status       string // queued, in_progress, completed, ...
	Conclusion   string // success, failure, cancelled, ...
	HeadBranch   string
	HeadSHA      string
	Actor        string
	URL          string // html
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func runOf(r *github.WorkflowRun) WorkflowRun {
	return WorkflowRun{ID: r.GetID(), Name: r.GetName(), DisplayTitle: r.GetDisplayTitle(), Event: r.GetEvent(),
		Status: r.GetStatus(), Conclusion: r.GetConclusion(), HeadBranch: r.GetHeadBranch(), HeadSHA: r.GetHeadSHA(),
		Actor: r.GetActor().GetLogin(), URL: r.GetHTMLURL(), CreatedAt: r.GetCreatedAt().Time, UpdatedAt: r.GetUpdatedAt().Time}
}

// RunFilter selects workflow runs.
type RunFilter struct {
	Branch  string
	Event   string // workflow_dispatch, push, ...
	Status  string
	HeadSHA string
	Since   time.Time // created at or after
	Limit   int       // most recent first; default 100
}

// ListWorkflowRuns lists a workflow's runs (workflow: file name), newest first.
func (c *Client) ListWorkflowRuns(ctx context.Context, repo, workflow string, f RunFilter) ([]WorkflowRun, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	opt := &github.ListWorkflowRunsOptions{Branch: f.Branch, Event: f.Event, Status: f.Status, HeadSHA: f.HeadSHA,
		ListOptions: github.ListOptions{PerPage: min(limit, 100)}}
	if !f.Since.IsZero() {
		opt.Created = ">=" + f.Since.UTC().Format(time.RFC3339)
	}
	var out []WorkflowRun
	for len(out) < limit {
		runs, resp, err := c.gh.Actions.ListWorkflowRunsByFileName(ctx, owner, name, workflow, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list runs of %s in %s", workflow, repo), err)
		}
		for _, r := range runs.WorkflowRuns {
			if !f.Since.IsZero() && r.GetCreatedAt().Time.Before(f.Since.Truncate(time.Second)) {
				continue
			}
			out = append(out, runOf(r))
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// GetWorkflowRun returns a run by id.
func (c *Client) GetWorkflowRun(ctx context.Context, repo string, id int64) (*WorkflowRun, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	r, _, err := c.gh.Actions.GetWorkflowRunByID(ctx, owner, name, id)
	if err != nil {
		return nil, wrap(fmt.Sprintf("get run %d of %s", id, repo), err)
	}
	run := runOf(r)
	return &run, nil
}
