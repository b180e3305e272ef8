package githubfake

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Actions workflows, runs, workflow_dispatch and repository_dispatch.

func (f *Fake) listWorkflows(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	f.scanWorkflows(r)
	var list []*workflow
	for _, wf := range r.workflows {
		list = append(list, wf)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	out := []obj{}
	for _, wf := range paginate(c, list) {
		out = append(out, f.workflowJSON(r, wf))
	}
	c.json(http.StatusOK, obj{"total_count": len(list), "workflows": out})
}

// workflowByParam resolves {workflow_id}: a numeric id or a file name.
func (f *Fake) workflowByParam(c *call, r *repo) (*workflow, string) {
	f.scanWorkflows(r)
	id := c.param("workflow_id")
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		for _, wf := range r.workflows {
			if wf.ID == n {
				return wf, wf.Path
			}
		}
		return nil, ""
	}
	p := ".github/workflows/" + id
	return r.workflows[p], p
}

func (f *Fake) getWorkflow(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	wf, _ := f.workflowByParam(c, r)
	if wf == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, f.workflowJSON(r, wf))
}

// dispatchWorkflow answers POST workflows/{id}/dispatches: the workflow file
// must exist at ref with a workflow_dispatch trigger, inputs must match its
// declarations. 204, or 200 with the run when return_run_details is true.
func (f *Fake) dispatchWorkflow(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		Ref              string         `json:"ref"`
		Inputs           map[string]any `json:"inputs"`
		ReturnRunDetails bool           `json:"return_run_details"`
	}
	if !c.decode(&req) {
		return
	}
	wf, p := f.workflowByParam(c, r)
	if wf == nil && p == "" {
		c.notFound()
		return
	}
	if req.Ref == "" {
		c.invalid("Invalid request.\n\n\"ref\" wasn't supplied.")
		return
	}
	mode := RunDetailsMode(f.runDetails.Load())
	if req.ReturnRunDetails && mode == RunDetailsRefused {
		c.invalid("Invalid request.\n\n\"return_run_details\" is not a permitted key.")
		return
	}
	run, err := f.dispatch(r, c.p.user, p, req.Ref, req.Inputs)
	if err != nil {
		c.answer(err)
		return
	}
	if req.ReturnRunDetails && mode == RunDetailsReturned {
		c.json(http.StatusOK, obj{
			"workflow_run_id": run.ID,
			"run_url":         fmt.Sprintf("%s/actions/runs/%d", f.repoAPI(r), run.ID),
			"html_url":        fmt.Sprintf("%s/%s/actions/runs/%d", f.baseURL, r.fullName(), run.ID),
		})
		return
	}
	c.noContent()
}

// dispatch validates and starts a workflow_dispatch run. Callers hold f.mu.
func (f *Fake) dispatch(r *repo, actor *User, wfPath, ref string, given map[string]any) (*WorkflowRun, error) {
	sha, found := r.resolve(ref)
	if found && strings.HasPrefix(sha, strings.ToLower(ref)) && r.refs[ref] == "" && r.refs["refs/heads/"+ref] == "" && r.refs["refs/tags/"+ref] == "" {
		found = false // a commit id: GitHub dispatches on branches and tags only
	}
	if !found {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "No ref found for: " + ref}
	}
	fe, found := f.commitFiles(r, sha)[wfPath]
	if !found {
		if r.workflows[wfPath] == nil {
			return nil, notFoundErr()
		}
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: fmt.Sprintf("Workflow does not exist at ref '%s'", ref)}
	}
	o, _ := r.objects.get(fe.SHA)
	spec, err := parseWorkflow(wfPath, o.data)
	if err != nil {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: err.Error()}
	}
	if !spec.Dispatch {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Workflow does not have 'workflow_dispatch' trigger"}
	}
	inputs, msg := checkDispatchInputs(spec, given)
	if msg != "" {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: msg}
	}
	wf := f.workflowFor(r, wfPath, spec.Name)
	fullRef := ref
	if !strings.HasPrefix(ref, "refs/") {
		if r.refs["refs/tags/"+ref] != "" {
			fullRef = "refs/tags/" + ref
		} else {
			fullRef = "refs/heads/" + ref
		}
	}
	branch := strings.TrimPrefix(strings.TrimPrefix(fullRef, "refs/heads/"), "refs/tags/")
	f.emit(r, "workflow_dispatch", "", actor, obj{"inputs": inputs, "ref": fullRef, "workflow": wfPath})
	run := f.startRun(r, wf, "workflow_dispatch", branch, sha, actor, inputs)
	run.DisplayTitle = evalRunName(spec, runContext{inputs: inputs, actor: actor.Login, event: "workflow_dispatch", ref: branch, sha: sha})
	f.emitWorkflowRun(r, run, "requested", actor)
	return run, nil
}

// startRun records a queued run; the caller sets its title and sends
// workflow_run requested.
func (f *Fake) startRun(r *repo, wf *workflow, event, branch, sha string, actor *User, inputs map[string]any) *WorkflowRun {
	number := 1
	for _, run := range r.runs {
		if run.WorkflowID == wf.ID {
			number++
		}
	}
	now := f.now()
	run := &WorkflowRun{ID: f.id(), WorkflowID: wf.ID, WorkflowPath: wf.Path, Name: wf.Name, RunNumber: number,
		Event: event, Status: "queued", HeadBranch: branch, HeadSHA: sha, Actor: actor.Login, Inputs: inputs,
		CreatedAt: now, UpdatedAt: now}
	f.id() // the run's check suite id (run.ID+1)
	r.runs = append(r.runs, run)
	return run
}

func (f *Fake) listRuns(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var wfID int64
	if c.param("workflow_id") != "" {
		wf, _ := f.workflowByParam(c, r)
		if wf == nil {
			c.notFound()
			return
		}
		wfID = wf.ID
	}
	q := c.r.URL.Query()
	var list []*WorkflowRun
	for i := len(r.runs) - 1; i >= 0; i-- {
		run := r.runs[i]
		switch {
		case wfID != 0 && run.WorkflowID != wfID,
			q.Get("event") != "" && run.Event != q.Get("event"),
			q.Get("branch") != "" && run.HeadBranch != q.Get("branch"),
			q.Get("head_sha") != "" && run.HeadSHA != q.Get("head_sha"),
			q.Get("actor") != "" && !strings.EqualFold(run.Actor, q.Get("actor")),
			q.Get("status") != "" && run.Status != q.Get("status") && run.Conclusion != q.Get("status"):
			continue
		}
		list = append(list, run)
	}
	out := []obj{}
	for _, run := range paginate(c, list) {
		out = append(out, f.runJSON(r, run, false))
	}
	c.json(http.StatusOK, obj{"total_count": len(list), "workflow_runs": out})
}

func (f *Fake) getRun(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	id, ok := c.number("run_id")
	if !ok {
		return
	}
	for _, run := range r.runs {
		if run.ID == id {
			c.json(http.StatusOK, f.runJSON(r, run, false))
			return
		}
	}
	c.notFound()
}

// repositoryDispatch answers POST dispatches: repository_dispatch, and a run
// of every default-branch workflow that listens for it.
func (f *Fake) repositoryDispatch(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		EventType     string         `json:"event_type"`
		ClientPayload map[string]any `json:"client_payload"`
	}
	if !c.decode(&req) {
		return
	}
	if err := f.repoDispatch(r, c.p.user, req.EventType, req.ClientPayload); err != nil {
		c.answer(err)
		return
	}
	c.noContent()
}

func (f *Fake) repoDispatch(r *repo, actor *User, eventType string, payload map[string]any) error {
	if strings.TrimSpace(eventType) == "" {
		return missingField("RepositoryDispatch", "event_type")
	}
	if len(eventType) > 100 {
		return invalidField("RepositoryDispatch", "event_type")
	}
	if payload == nil {
		payload = map[string]any{}
	}
	f.emit(r, "repository_dispatch", eventType, actor, obj{"branch": r.defaultBranch, "client_payload": payload})
	sha := r.branchSHA(r.defaultBranch)
	files := f.commitFiles(r, sha)
	var paths []string
	for p := range files {
		if path.Dir(p) == ".github/workflows" {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		o, _ := r.objects.get(files[p].SHA)
		if spec, err := parseWorkflow(p, o.data); err == nil && spec.Repository {
			run := f.startRun(r, f.workflowFor(r, p, spec.Name), "repository_dispatch", r.defaultBranch, sha, actor, nil)
			run.DisplayTitle = evalRunName(spec, runContext{actor: actor.Login, event: "repository_dispatch", ref: r.defaultBranch, sha: sha})
			f.emitWorkflowRun(r, run, "requested", actor)
		}
	}
	return nil
}

// rerunRun answers POST runs/{run_id}/rerun and rerun-failed-jobs: a
// completed run starts its next attempt (same id, run_attempt + 1, queued,
// workflow_run requested). A run still going is refused (403), and so is
// re-running only the failed jobs of a run that has none.
func (f *Fake) rerunRun(failedOnly bool) func(c *call) {
	return func(c *call) {
		r, ok := c.repo()
		if !ok {
			return
		}
		id, ok := c.number("run_id")
		if !ok {
			return
		}
		var run *WorkflowRun
		for _, x := range r.runs {
			if x.ID == id {
				run = x
			}
		}
		if run == nil {
			c.notFound()
			return
		}
		if err := f.rerun(r, run, c.p.user, failedOnly); err != nil {
			c.answer(err)
			return
		}
		c.json(http.StatusCreated, obj{})
	}
}

// rerun starts a run's next attempt. Callers hold f.mu.
func (f *Fake) rerun(r *repo, run *WorkflowRun, actor *User, failedOnly bool) error {
	switch {
	case run.Status != "completed":
		return &apiError{status: http.StatusForbidden, msg: "This workflow is already running"}
	case failedOnly && !slices.Contains([]string{"failure", "cancelled", "timed_out", "startup_failure"}, run.Conclusion),
		run.attempt() >= maxRunAttempts:
		return &apiError{status: http.StatusForbidden, msg: "This workflow run cannot be retried"}
	}
	now := f.now()
	run.Attempt = run.attempt() + 1
	run.Status, run.Conclusion, run.UpdatedAt, run.StartedAt = "queued", "", now, now
	f.emitWorkflowRun(r, run, "requested", actor)
	return nil
}
