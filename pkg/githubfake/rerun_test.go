package githubfake

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

const applyWorkflow = `name: RDS apply
run-name: "apply ${{ inputs.environment }} by ${{ github.actor }} on ${{ github.ref_name }} [${{ inputs.run_key }}]${{ inputs.nope }}"
on:
  workflow_dispatch:
    inputs:
      environment: {required: true, type: string}
      run_key: {required: true, type: string}
      nope: {required: false, type: string}
`

// TestWorkflowRunsForApply covers what the apply runner relies on: run-name
// evaluated from inputs, return_run_details and the two older answers to
// it, dispatch refusing commit ids, and re-runs counted in run_attempt on
// the REST shape and in workflow_run webhooks.
func TestWorkflowRunsForApply(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, f := h.ctx, h.f
	alice := h.as("alice")
	head, err := f.As("pat").Push(repoName, "main", Change{Files: map[string]string{".github/workflows/rds-apply.yml": applyWorkflow}})
	if err != nil {
		t.Fatal(err)
	}
	dispatch := func(ref, key string, details bool) (*http.Response, map[string]any, error) {
		body := map[string]any{"ref": ref, "inputs": map[string]any{"environment": "dev", "run_key": key}}
		if details {
			body["return_run_details"] = true
		}
		req, _ := alice.NewRequest("POST", "repos/acme/infra/actions/workflows/rds-apply.yml/dispatches", body)
		out := map[string]any{}
		resp, err := alice.Do(ctx, req, &out)
		if resp == nil {
			return nil, nil, err
		}
		return resp.Response, out, err
	}
	resp, out, err := dispatch("main", "k1", true)
	if err != nil || resp.StatusCode != 200 || out["workflow_run_id"] == nil {
		t.Fatalf("return_run_details: %v %v %v", resp, out, err)
	}
	id := int64(out["workflow_run_id"].(float64))
	run, _, err := alice.Actions.GetWorkflowRunByID(ctx, "acme", "infra", id)
	if err != nil || run.GetDisplayTitle() != "apply dev by alice on main [k1]" || run.GetName() != "RDS apply" || run.GetRunAttempt() != 1 || run.GetHeadSHA() != head {
		t.Fatalf("run: %q %q %d %v", run.GetDisplayTitle(), run.GetName(), run.GetRunAttempt(), err)
	}

	f.SetRunDetails(RunDetailsIgnored)
	resp, out, err = dispatch("main", "k2", true)
	if err != nil || resp.StatusCode != 204 || len(out) != 0 {
		t.Fatalf("ignored: %v %v %v", resp, out, err)
	}
	f.SetRunDetails(RunDetailsRefused)
	before := len(f.WorkflowRuns(repoName))
	_, _, err = dispatch("main", "k3", true)
	wantErr(t, err, 422, "return_run_details")
	if len(f.WorkflowRuns(repoName)) != before {
		t.Fatal("a refused dispatch started a run")
	}
	if resp, _, err := dispatch("main", "k3", false); err != nil || resp.StatusCode != 204 {
		t.Fatalf("without the parameter: %v %v", resp, err)
	}
	f.SetRunDetails(RunDetailsReturned)
	_, _, err = dispatch(head, "k4", true)
	wantErr(t, err, 422, "No ref found for: "+head)

	runs, _, err := alice.Actions.ListWorkflowRunsByFileName(ctx, "acme", "infra", "rds-apply.yml", &github.ListWorkflowRunsOptions{Event: "workflow_dispatch", Branch: "main"})
	if err != nil || runs.GetTotalCount() != 3 || runs.WorkflowRuns[0].GetDisplayTitle() != "apply dev by alice on main [k3]" {
		t.Fatalf("runs: %v %v", runs, err)
	}

	// Re-runs. Earlier dispatches' webhooks are sent first.
	h.quiesce()
	from := len(h.hooks.all())
	if err := f.StartRun(repoName, id); err != nil {
		t.Fatal(err)
	}
	if err := f.CompleteRun(repoName, id, "failure"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Actions.RerunFailedJobsByID(ctx, "acme", "infra", id); err != nil {
		t.Fatal(err)
	}
	if err := f.CompleteRun(repoName, id, "success"); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Actions.RerunWorkflowByID(ctx, "acme", "infra", 999999)
	wantErr(t, err, 404, "Not Found")
	run, _, err = alice.Actions.GetWorkflowRunByID(ctx, "acme", "infra", id)
	if err != nil || run.GetRunAttempt() != 2 || run.GetConclusion() != "success" || run.GetPreviousAttemptURL() == "" {
		t.Fatalf("after re-run: attempt %d %s %q %v", run.GetRunAttempt(), run.GetConclusion(), run.GetPreviousAttemptURL(), err)
	}
	h.quiesce()
	var got []string
	for _, d := range h.hooks.all()[from:] {
		if d.Event != "workflow_run" {
			continue
		}
		var ev github.WorkflowRunEvent
		if err := json.Unmarshal(d.Body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.GetWorkflowRun().GetID() != id || ev.GetWorkflow().GetPath() != ".github/workflows/rds-apply.yml" {
			t.Fatalf("workflow_run for %d %q", ev.GetWorkflowRun().GetID(), ev.GetWorkflow().GetPath())
		}
		got = append(got, ev.GetAction()+"/"+string(rune('0'+ev.GetWorkflowRun().GetRunAttempt()))+"/"+ev.GetWorkflowRun().GetConclusion())
	}
	want := []string{"in_progress/1/", "completed/1/failure", "requested/2/", "completed/2/success"}
	if len(got) != len(want) {
		t.Fatalf("workflow_run webhooks %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("workflow_run webhooks %v, want %v", got, want)
		}
	}
	// Every response and webhook of this test matches GitHub's schemas
	// (checkConformance also wants every route exercised, which
	// TestEndpointsThroughGoGitHub does).
	sch := loadSchemas(t)
	for _, ex := range h.rec.exchanges() {
		rt, _, _ := h.f.router.match(ex.Method, strings.TrimPrefix(ex.Path, "/api/v3"))
		def := sch.operations[rt.key()][strconv.Itoa(ex.Status)]
		switch {
		case ex.Status == http.StatusUnprocessableEntity:
			sch.validate(t, openapiURL, "validation-error", ex.Path, ex.Body)
		case def != "":
			sch.validate(t, openapiURL, def, ex.Method+" "+ex.Path, ex.Body)
		case ex.Status >= 400:
			sch.validate(t, openapiURL, "basic-error", ex.Path, ex.Body)
		}
	}
	for _, d := range h.hooks.all() {
		def := d.Event + "$" + d.Action
		if d.Event == "push" || d.Event == "workflow_dispatch" {
			def = d.Event + "$event"
		}
		sch.validate(t, webhooksURL, def, "webhook "+d.Event+"."+d.Action, d.Body)
	}
}
