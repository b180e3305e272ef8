package forge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	WorkflowID   int64
	Path         string // the workflow file (.github/workflows/x.yml); set from webhooks only
	Attempt      int    // run_attempt: 1, then one more per re-run
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func runOf(r *github.WorkflowRun) WorkflowRun {
	return WorkflowRun{ID: r.GetID(), Name: r.GetName(), DisplayTitle: r.GetDisplayTitle(), Event: r.GetEvent(),
		Status: r.GetStatus(), Conclusion: r.GetConclusion(), HeadBranch: r.GetHeadBranch(), HeadSHA: r.GetHeadSHA(),
		Actor: r.GetActor().GetLogin(), URL: r.GetHTMLURL(), WorkflowID: r.GetWorkflowID(), Attempt: max(r.GetRunAttempt(), 1), CreatedAt: r.GetCreatedAt().Time, UpdatedAt: r.GetUpdatedAt().Time}
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

// The Actions routes this file calls that routes.go does not list, counted
// under their templates like every other endpoint.
func init() {
	routeTemplates = append(routeTemplates, compileRoutes([]string{
		"POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun",
		"POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs",
	})...)
}

// DispatchedRun is the run a dispatch started, as GitHub reports it.
type DispatchedRun struct {
	// ID is 0 when the server started a run without saying which: GitHub
	// Enterprise Server versions without return_run_details answer 204.
	ID      int64
	RunURL  string // API
	HTMLURL string
}

// DispatchWorkflowRun dispatches like DispatchWorkflow and asks GitHub for
// the run it started (return_run_details, which go-github v60 does not
// know, so the request is built here): GitHub answers 200 with
// workflow_run_id, run_url and html_url. A server that ignores the
// parameter answers 204 (ID 0: find the run another way); one that refuses
// it answers 422 naming it, which starts nothing, so the dispatch is sent
// once more without it (again ID 0).
//
// As DispatchWorkflow, it is not repeated blindly: an unknown outcome
// wraps ErrUncertain.
func (c *Client) DispatchWorkflowRun(ctx context.Context, repo, workflow, ref string, inputs map[string]any) (DispatchedRun, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return DispatchedRun{}, err
	}
	u := fmt.Sprintf("repos/%s/%s/actions/workflows/%s/dispatches", owner, name, url.PathEscape(workflow))
	body := map[string]any{"ref": ref, "inputs": inputs, "return_run_details": true}
	req, err := c.gh.NewRequest(http.MethodPost, u, body)
	if err != nil {
		return DispatchedRun{}, err
	}
	var out struct {
		ID      int64  `json:"workflow_run_id"`
		RunURL  string `json:"run_url"`
		HTMLURL string `json:"html_url"`
	}
	_, err = c.gh.Do(notRepeatable(ctx), req, &out)
	if ae := apiError(err); ae != nil && ae.Status == http.StatusUnprocessableEntity && ae.has("return_run_details") {
		return DispatchedRun{}, c.DispatchWorkflow(ctx, repo, workflow, ref, inputs)
	}
	if uncertain(ctx, err) {
		return DispatchedRun{}, fmt.Errorf("forge: dispatch %s at %s: %w: %w", workflow, ref, ErrUncertain, wrap("dispatch", err))
	}
	if err != nil {
		return DispatchedRun{}, wrap(fmt.Sprintf("dispatch %s at %s in %s", workflow, ref, repo), err)
	}
	return DispatchedRun{ID: out.ID, RunURL: out.RunURL, HTMLURL: out.HTMLURL}, nil
}

// RerunWorkflow re-runs a completed run (all its jobs, or only the failed
// ones): the same run id with the next run_attempt. Not repeated blindly: a
// second re-run would be refused or start another attempt; an unknown
// outcome wraps ErrUncertain (read the run's attempt to find out).
func (c *Client) RerunWorkflow(ctx context.Context, repo string, id int64, failedOnly bool) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	if failedOnly {
		_, err = c.gh.Actions.RerunFailedJobsByID(notRepeatable(ctx), owner, name, id)
	} else {
		_, err = c.gh.Actions.RerunWorkflowByID(notRepeatable(ctx), owner, name, id)
	}
	if uncertain(ctx, err) {
		return fmt.Errorf("forge: re-run %d of %s: %w: %w", id, repo, ErrUncertain, wrap("re-run", err))
	}
	return wrap(fmt.Sprintf("re-run %d of %s", id, repo), err)
}

// RunFromEvent reads a workflow_run webhook payload: the repository
// (owner/name), the action (requested, in_progress, completed) and the run.
func RunFromEvent(payload []byte) (repo, action string, run WorkflowRun, err error) {
	var ev github.WorkflowRunEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "", "", WorkflowRun{}, fmt.Errorf("forge: workflow_run payload: %w", err)
	}
	if ev.WorkflowRun == nil || ev.GetRepo().GetFullName() == "" {
		return "", "", WorkflowRun{}, fmt.Errorf("forge: workflow_run payload without a run or a repository")
	}
	run = runOf(ev.WorkflowRun)
	run.Path = ev.GetWorkflow().GetPath()
	return ev.GetRepo().GetFullName(), ev.GetAction(), run, nil
}
