package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/ledger"
)

const applyWorkflowPath = ".github/workflows/rds-apply.yml"

// startActions starts a sandbox whose every environment applies through
// the actions runner: rds-apply.yml dispatched on the fake, whose runs the
// test completes. The workflow provisions, so no Postgres is needed.
func startActions(t *testing.T) *Sandbox {
	t.Helper()
	return start(t, Options{Rollout: &Rollout{Runner: "actions", Debounce: 300 * time.Millisecond}})
}

// applyRuns are the fake's runs of the apply workflow, oldest first.
func applyRuns(s *Sandbox) []githubfake.WorkflowRun {
	var out []githubfake.WorkflowRun
	for _, r := range s.Fake.WorkflowRuns(s.Repo) {
		if r.WorkflowPath == applyWorkflowPath {
			out = append(out, r)
		}
	}
	return out
}

// awaitRun waits until the apply workflow has one run in the given status
// at the given attempt, and returns it. The rollout job is blocked on that
// run meanwhile, so the sandbox never settles before it completes.
func awaitRun(t *testing.T, s *Sandbox, status string, attempt int) githubfake.WorkflowRun {
	t.Helper()
	var run githubfake.WorkflowRun
	waitFor(t, 30*time.Second, fmt.Sprintf("a %s run of rds-apply.yml at attempt %d", status, attempt), func() bool {
		runs := applyRuns(s)
		if len(runs) != 1 {
			return false
		}
		run = runs[0]
		return run.Status == status && max(run.Attempt, 1) == attempt
	})
	return run
}

// complete finishes a run as the workflow would, after it started.
func complete(t *testing.T, s *Sandbox, id int64, conclusion string) {
	t.Helper()
	if err := s.Fake.StartRun(s.Repo, id); err != nil {
		t.Fatal(err)
	}
	if err := s.Fake.CompleteRun(s.Repo, id, conclusion); err != nil {
		t.Fatal(err)
	}
}

// person is a go-github client with a user's own token.
func person(t *testing.T, s *Sandbox, login string) *github.Client {
	t.Helper()
	gh, err := github.NewClient(&http.Client{Timeout: 30 * time.Second}).WithAuthToken(s.Fake.UserToken(login)).
		WithEnterpriseURLs(s.GitHubURL+"/", s.GitHubURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	return gh
}

// mergedRequest opens the orders request, has it approved and merged, and
// returns the issue and the merge commit.
func mergedRequest(t *testing.T, s *Sandbox) (int, string) {
	t.Helper()
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := approveAndMerge(t, s, "rds/test/orders_service")
	var sha string
	waitFor(t, 10*time.Second, "the merge commit", func() bool {
		sha = pullByNumber(s, pr.Number).MergeCommitSHA
		return sha != ""
	})
	return n, sha
}

func statusHistory(e catalog.Entry) string {
	var seen []string
	for _, h := range e.Metadata.History {
		seen = append(seen, string(h.Status))
	}
	return strings.Join(seen, ",")
}

// Merge → rds-apply.yml dispatched on main with the merge commit, the
// request id and the run key in its name → the run succeeds (its
// workflow_run webhook wakes the waiting apply: the runner would otherwise
// read the run once a minute) → active on main, issue closed.
func TestActionsApplyToActive(t *testing.T) {
	s := startActions(t)
	n, sha := mergedRequest(t, s)
	run := awaitRun(t, s, "queued", 1)
	want := map[string]string{"environment": "test", "commit": sha, "request_ids": contract.RequestID(n)}
	for k, v := range want {
		if got := fmt.Sprint(run.Inputs[k]); got != v {
			t.Errorf("input %s = %q, want %q", k, got, v)
		}
	}
	key := fmt.Sprint(run.Inputs["run_key"])
	if run.HeadBranch != "main" || run.Event != "workflow_dispatch" || key == "" || !strings.HasSuffix(run.DisplayTitle, "["+key+"]") {
		t.Errorf("run %q on %q by %s, key %q", run.DisplayTitle, run.HeadBranch, run.Event, key)
	}
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusApplying {
		t.Errorf("while the run is queued the catalog says %s", e.Metadata.Status)
	}
	complete(t, s, run.ID, "success")
	settleRollout(t, s)

	e := catalogEntry(t, s, "test", "orders_service")
	if e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("status %s (history %s)\n%s", e.Metadata.Status, statusHistory(e), statusOf(s, n))
	}
	if got := statusHistory(e); !strings.HasSuffix(got, "approved,applying,active") {
		t.Errorf("history %s", got)
	}
	if last := e.Metadata.History[len(e.Metadata.History)-1]; last.Commit != sha || !strings.Contains(last.Note, fmt.Sprintf("/actions/runs/%d", run.ID)) {
		t.Errorf("last transition %+v, want commit %s and the run's link", last, sha)
	}
	if is, _ := s.Fake.Issue(s.Repo, n); is.State != "closed" {
		t.Errorf("issue is %s:\n%s", is.State, statusOf(s, n))
	}
	if len(applyRuns(s)) != 1 || len(applies(t, s)) != 0 {
		t.Errorf("%d workflow runs, %d local applies; want 1 and 0", len(applyRuns(s)), len(applies(t, s)))
	}
}

// A failed run → failed, the run's link in the status; a person re-runs its
// failed jobs in GitHub (attempt 2) and it succeeds → active, with no
// second dispatch.
func TestActionsFailedRunRerunByPerson(t *testing.T) {
	s := startActions(t)
	n, _ := mergedRequest(t, s)
	run := awaitRun(t, s, "queued", 1)
	complete(t, s, run.ID, "failure")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusFailed {
		t.Fatalf("status %s, want failed", e.Metadata.Status)
	}
	link := fmt.Sprintf("/%s/actions/runs/%d", s.Repo, run.ID)
	if st := statusOf(s, n); !strings.Contains(st, link) || !strings.Contains(st, "concluded failure") {
		t.Errorf("failure status without the run's link %s:\n%s", link, st)
	}

	owner, name, _ := strings.Cut(s.Repo, "/")
	if _, err := person(t, s, Platform).Actions.RerunFailedJobsByID(context.Background(), owner, name, run.ID); err != nil {
		t.Fatal(err)
	}
	run = awaitRun(t, s, "queued", 2)
	complete(t, s, run.ID, "success")
	settleRollout(t, s)
	e := catalogEntry(t, s, "test", "orders_service")
	if e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("after the re-run: %s (history %s)\n%s", e.Metadata.Status, statusHistory(e), statusOf(s, n))
	}
	if got := statusHistory(e); !strings.HasSuffix(got, "applying,failed,applying,active") {
		t.Errorf("history %s", got)
	}
	if is, _ := s.Fake.Issue(s.Repo, n); is.State != "closed" {
		t.Errorf("issue is %s", is.State)
	}
	if runs := applyRuns(s); len(runs) != 1 || runs[0].Attempt != 2 {
		t.Errorf("runs %+v, want the one run at attempt 2", runs)
	}
}

// /rds retry on a failed actions apply re-runs the run's failed jobs
// (attempt 2 of the same run) rather than dispatching another.
func TestActionsRetryCommandReruns(t *testing.T) {
	s := startActions(t)
	n, _ := mergedRequest(t, s)
	run := awaitRun(t, s, "queued", 1)
	complete(t, s, run.ID, "failure")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusFailed {
		t.Fatalf("status %s, want failed", e.Metadata.Status)
	}
	if _, err := s.Fake.As(Platform).Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	run = awaitRun(t, s, "queued", 2)
	complete(t, s, run.ID, "success")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("after /rds retry: %s\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if runs := applyRuns(s); len(runs) != 1 || runs[0].Actor != s.App.Slug+"[bot]" {
		t.Errorf("runs %+v, want the bot's one run", runs)
	}
}

// /rds retry, and the job dies after the ledger marked the apply running
// but before GitHub took the re-run (a 502 on the re-run, which may or may
// not have happened: the job fails and is retried). The retried job still
// owes the re-run: it re-runs the failed run (attempt 2) instead of
// reporting attempt 1's failure again, and the request ends active after
// exactly one re-run of the one run.
func TestActionsRetryInterruptedBeforeRerun(t *testing.T) {
	const rerun = "POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs"
	s := start(t, Options{Rollout: &Rollout{Runner: "actions", Debounce: 300 * time.Millisecond},
		JobRetryDelay: func(int) time.Duration { return 200 * time.Millisecond }})
	n, _ := mergedRequest(t, s)
	run := awaitRun(t, s, "queued", 1)
	complete(t, s, run.ID, "failure")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusFailed {
		t.Fatalf("status %s, want failed", e.Metadata.Status)
	}
	s.Fake.InjectFault(githubfake.Fault{Route: rerun, Status: 502, Count: 1})
	if _, err := s.Fake.As(Platform).Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	run = awaitRun(t, s, "queued", 2)
	complete(t, s, run.ID, "success")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("after the interrupted retry: %s (history %s)\n%s", e.Metadata.Status, statusHistory(e), statusOf(s, n))
	}
	byStatus := s.Fake.CallsByStatus()[rerun]
	if byStatus[502] != 1 || byStatus[201] != 1 || len(byStatus) != 2 {
		t.Errorf("re-run answers %v, want one 502 then one 201", byStatus)
	}
	if runs := applyRuns(s); len(runs) != 1 || runs[0].Attempt != 2 {
		t.Errorf("runs %+v, want the one run at attempt 2", runs)
	}
	if is, _ := s.Fake.Issue(s.Repo, n); is.State != "closed" {
		t.Errorf("issue is %s", is.State)
	}
}

// With the actions runner, a merge that changes only the catalog after the
// first request went active dispatches no workflow run (nothing is in
// flight for the workflow to provision); a tfvars change does.
func TestActionsSkipWhenInputsUnchanged(t *testing.T) {
	s := startActions(t)
	mergedRequest(t, s)
	run := awaitRun(t, s, "queued", 1)
	complete(t, s, run.ID, "success")
	settleRollout(t, s)
	catalogOnly := mergePersonsPull(t, s, "dave/catalog-note", map[string]string{"rds-catalog/test.yaml": "# reviewed\n"})
	settleRollout(t, s)
	if runs := applyRuns(s); len(runs) != 1 {
		t.Fatalf("%d workflow runs after a catalog-only merge, want 1", len(runs))
	}
	if a := applyRecord(t, s, catalogOnly); a.State != ledger.ApplySucceeded || a.Step != ledger.StepDone || a.Skipped == "" {
		t.Errorf("catalog-only apply %+v", a)
	}
	mergePersonsPull(t, s, "dave/tune", map[string]string{"envs/test-rds/terraform.tfvars": "\n# tuned\n"})
	waitFor(t, 30*time.Second, "a workflow run for the tfvars change", func() bool { return len(applyRuns(s)) == 2 })
	complete(t, s, applyRuns(s)[1].ID, "success")
	settleRollout(t, s)
}

// A server that refuses return_run_details (422 naming it): the dispatch is
// sent again without it and the run is found by the key in its name.
func TestActionsRunFoundByName(t *testing.T) {
	s := startActions(t)
	s.Fake.SetRunDetails(githubfake.RunDetailsRefused)
	n, _ := mergedRequest(t, s)
	run := awaitRun(t, s, "queued", 1)
	complete(t, s, run.ID, "success")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("status %s\n%s", e.Metadata.Status, statusOf(s, n))
	}
	byStatus := s.Fake.CallsByStatus()["POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"]
	if byStatus[422] != 1 || byStatus[204] != 1 || byStatus[200] != 0 {
		t.Errorf("dispatch answers %v, want one 422 then one 204", byStatus)
	}
	if len(applyRuns(s)) != 1 {
		t.Errorf("%d runs", len(applyRuns(s)))
	}
}
