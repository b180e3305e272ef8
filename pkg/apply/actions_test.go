package apply_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/apply"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// actionsEnv is env plus the actions runner, fed workflow_run webhooks by
// a receiver the fake delivers to (as the bot will feed it).
type actionsEnv struct {
	*env
	a *apply.Actions

	mu       sync.Mutex
	payloads [][]byte // workflow_run deliveries, in order
	updates  []*apply.RunUpdate
}

func newActionsEnv(t *testing.T, webhooks bool) *actionsEnv {
	e := &actionsEnv{env: newEnv(t)}
	e.cfg.Actions.PollEvery = time.Hour // completion must come from webhooks, unless a test says otherwise
	e.cfg.Actions.Timeout = time.Minute
	e.a = apply.NewActions(e.cfg, e.repos, apply.Options{})
	if webhooks {
		var closing atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, rerr := io.ReadAll(r.Body)
			if r.Header.Get("X-GitHub-Event") == "workflow_run" {
				u, err := e.a.Observe(body)
				switch {
				case err == nil:
				case rerr != nil || closing.Load():
					// A delivery cut short as the test ends: not the runner's.
					t.Logf("observe at shutdown: %v (read: %v)", err, rerr)
					return
				default:
					t.Errorf("observe: %v", err)
				}
				e.mu.Lock()
				e.payloads = append(e.payloads, body)
				e.updates = append(e.updates, u)
				e.mu.Unlock()
			}
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { closing.Store(true) }) // runs first
		e.fake.AddWebhookURL(srv.URL)
	}
	return e
}

func (e *actionsEnv) request() apply.Request {
	return apply.Request{Repo: repo, Env: "dev", Ref: "main", SHA: e.base, RequestIDs: []string{"RDS-0042", "RDS-0043"}}
}

// waitAsync runs Wait and returns its result later; it returns once the
// runner has read the run (so it listens), which the fake's call count shows.
func (e *actionsEnv) waitAsync(t *testing.T, run apply.Run) <-chan *apply.Outcome {
	t.Helper()
	const getRun = "GET /repos/{owner}/{repo}/actions/runs/{run_id}"
	before := e.fake.CallCount(getRun)
	out := make(chan *apply.Outcome, 1)
	go func() {
		o, err := e.a.Wait(context.Background(), run)
		if err != nil {
			t.Errorf("wait: %v", err)
		}
		out <- o
	}()
	for deadline := time.Now().Add(10 * time.Second); e.fake.CallCount(getRun) == before; {
		if time.Now().After(deadline) {
			t.Fatal("Wait never read the run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return out
}

func (e *actionsEnv) runs() []githubfake.WorkflowRun {
	var out []githubfake.WorkflowRun
	for _, r := range e.fake.WorkflowRuns(repo) {
		if r.WorkflowPath == ".github/workflows/rds-apply.yml" {
			out = append(out, r)
		}
	}
	return out
}

// Dispatch with return_run_details, a second Start with the same key finds
// the run instead of dispatching again, completion arrives by webhook.
func TestActionsDispatchAndFollow(t *testing.T) {
	e := newActionsEnv(t, true)
	ctx := context.Background()
	req := e.request()
	run, err := e.a.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	runs := e.runs()
	if len(runs) != 1 || run.ID != runs[0].ID || run.Attempt != 1 || run.Key != req.RunKey() || run.URL == "" {
		t.Fatalf("run %+v, fake has %+v", run, runs)
	}
	got := runs[0]
	want := map[string]any{"environment": "dev", "commit": e.base, "request_ids": "RDS-0042,RDS-0043", "run_key": req.RunKey(), "allow_destroy": "[]"}
	for k, v := range want {
		if got.Inputs[k] != v {
			t.Errorf("input %s = %v, want %v", k, got.Inputs[k], v)
		}
	}
	if got.DisplayTitle != "RDS apply dev at "+e.base+" ["+req.RunKey()+"]" || got.HeadBranch != "main" {
		t.Errorf("run %q on %q", got.DisplayTitle, got.HeadBranch)
	}
	again, err := e.a.Start(ctx, req)
	if err != nil || again.ID != run.ID || len(e.runs()) != 1 {
		t.Fatalf("a second Start dispatched again: %+v %v (%d runs)", again, err, len(e.runs()))
	}

	done := e.waitAsync(t, run)
	if err := e.fake.StartRun(repo, run.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.CompleteRun(repo, run.ID, "success"); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.Status != apply.Succeeded || o.Run.ID != run.ID || o.Run.Attempt != 1 || !strings.Contains(o.Reason, "concluded success") {
		t.Fatalf("outcome %+v", o)
	}
	// Observe reported the apply workflow's events with the key.
	if err := e.fake.Quiesce(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var actions []string
	for _, u := range e.updates {
		if u == nil || u.Key != req.RunKey() || u.Run.ID != run.ID {
			t.Fatalf("update %+v", u)
		}
		actions = append(actions, u.Action)
	}
	if strings.Join(actions, ",") != "requested,in_progress,completed" {
		t.Errorf("updates %v", actions)
	}
}

// Servers without return_run_details: one that ignores it (204) and one that
// refuses it (422): the run is found by the key in its name, one run each.
func TestActionsFallbackToRunName(t *testing.T) {
	for _, mode := range []githubfake.RunDetailsMode{githubfake.RunDetailsIgnored, githubfake.RunDetailsRefused} {
		e := newActionsEnv(t, false)
		e.fake.SetRunDetails(mode)
		req := e.request()
		run, err := e.a.Start(context.Background(), req)
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		runs := e.runs()
		if len(runs) != 1 || runs[0].ID != run.ID || run.Key != req.RunKey() {
			t.Fatalf("mode %d: run %+v, fake %+v", mode, run, runs)
		}
		byStatus := e.fake.CallsByStatus()["POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"]
		if byStatus[204] != 1 || (mode == githubfake.RunDetailsRefused) != (byStatus[422] == 1) || byStatus[200] != 0 {
			t.Errorf("mode %d: dispatch answers %v", mode, byStatus)
		}
		if n := e.fake.CallCount("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"); n < 2 {
			t.Errorf("mode %d: the run was not looked up by name (%d lists)", mode, n)
		}
	}
}

// A dispatch whose answer is lost is not repeated blindly: Start looks for
// the run, reports the uncertainty, and the next Start dispatches once.
func TestActionsUncertainDispatch(t *testing.T) {
	e := newActionsEnv(t, false)
	e.a.FindTimeout = 300 * time.Millisecond
	e.fake.InjectFault(githubfake.Fault{Route: "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", Status: 502, Count: 1})
	_, err := e.a.Start(context.Background(), e.request())
	if !errors.Is(err, forge.ErrUncertain) {
		t.Fatalf("want an uncertain dispatch, got %v", err)
	}
	run, err := e.a.Start(context.Background(), e.request())
	if err != nil || len(e.runs()) != 1 || e.runs()[0].ID != run.ID {
		t.Fatalf("retry: %+v %v %d runs", run, err, len(e.runs()))
	}
}

// A failed run, re-run (failed jobs): the same run id, attempt 2, followed
// to its end; an old attempt's webhook does not end the new wait.
func TestActionsRerun(t *testing.T) {
	e := newActionsEnv(t, true)
	ctx := context.Background()
	run, err := e.a.Start(ctx, e.request())
	if err != nil {
		t.Fatal(err)
	}
	done := e.waitAsync(t, run)
	if err := e.fake.CompleteRun(repo, run.ID, "failure"); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.Status != apply.Failed || !strings.Contains(o.Reason, "attempt 1) concluded failure") {
		t.Fatalf("outcome %+v", o)
	}
	if err := e.fake.Quiesce(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	stale := e.payloads[len(e.payloads)-1] // attempt 1 completed
	e.mu.Unlock()

	run2, err := e.a.Rerun(ctx, run, true)
	if err != nil || run2.ID != run.ID || run2.Attempt != 2 {
		t.Fatalf("rerun %+v %v", run2, err)
	}
	done = e.waitAsync(t, run2)
	if _, err := e.a.Observe(stale); err != nil { // a redelivered old webhook
		t.Fatal(err)
	}
	if err := e.fake.CompleteRun(repo, run.ID, "success"); err != nil {
		t.Fatal(err)
	}
	o = <-done
	if o.Status != apply.Succeeded || o.Run.Attempt != 2 {
		t.Fatalf("after the re-run: %s attempt %d (%s)", o.Status, o.Run.Attempt, o.Reason)
	}
	// A person's "Re-run all jobs" shows up in Observe as attempt 3 of the same key.
	if _, err := e.a.Rerun(ctx, run2, true); err == nil {
		t.Error("re-running the failed jobs of a successful run was accepted")
	}
	run3, err := e.a.Rerun(ctx, run2, false)
	if err != nil || run3.Attempt != 3 {
		t.Fatalf("rerun all: %+v %v", run3, err)
	}
	if err := e.fake.Quiesce(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	last := e.updates[len(e.updates)-1]
	e.mu.Unlock()
	if last.Action != "requested" || last.Run.Attempt != 3 || last.Key != run.Key {
		t.Errorf("last update %+v", last)
	}
}

// Without webhooks the run is read every poll_every; past the timeout the
// wait ends as TimedOut with the run left alone.
func TestActionsPollingAndTimeout(t *testing.T) {
	e := newActionsEnv(t, false)
	e.cfg.Actions.PollEvery = 20 * time.Millisecond
	e.a = apply.NewActions(e.cfg, e.repos, apply.Options{})
	run, err := e.a.Start(context.Background(), e.request())
	if err != nil {
		t.Fatal(err)
	}
	done := e.waitAsync(t, run)
	if err := e.fake.CompleteRun(repo, run.ID, "cancelled"); err != nil {
		t.Fatal(err)
	}
	if o := <-done; o.Status != apply.Cancelled {
		t.Fatalf("polled outcome %+v", o)
	}

	e.cfg.Actions.Timeout = 300 * time.Millisecond
	e.a = apply.NewActions(e.cfg, e.repos, apply.Options{})
	req := e.request()
	req.Key = "second-apply"
	run, err = e.a.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.a.Wait(context.Background(), run)
	if err != nil || o.Status != apply.TimedOut || !strings.Contains(o.Reason, "did not complete within") {
		t.Fatalf("timeout: %+v %v", o, err)
	}
}

func TestActionsRejectsBadRequests(t *testing.T) {
	e := newActionsEnv(t, false)
	req := e.request()
	req.Ref = ""
	if _, err := e.a.Start(context.Background(), req); err == nil {
		t.Error("no branch accepted")
	}
	req = e.request()
	req.Key = "bad key]"
	if _, err := e.a.Start(context.Background(), req); err == nil {
		t.Error("a key that cannot sit in a run name was accepted")
	}
	if len(e.runs()) != 0 {
		t.Error("a bad request dispatched")
	}
}

func TestRunnerPerEnvironment(t *testing.T) {
	cfg := config.DefaultApply()
	cfg.Runners = map[string]string{"dev": config.RunnerLocal}
	cfg.Plan.Skip = []string{"prod"}
	s := apply.New(cfg, nil, apply.Options{})
	if s.For("dev").Kind() != config.RunnerLocal || s.For("prod").Kind() != config.RunnerActions {
		t.Errorf("dev %s prod %s", s.For("dev").Kind(), s.For("prod").Kind())
	}
	if s.Planner("prod") != nil || s.Planner("dev") == nil {
		t.Error("plan skip")
	}
	if apply.KeyOf("RDS apply dev at abc [rdsbot-12ab]") != "rdsbot-12ab" || apply.KeyOf("CI") != "" {
		t.Error("KeyOf")
	}
}

// Apply with Rerun: a run of the key that failed has its failed jobs run
// again and the new attempt is followed; a run a person already re-ran to
// success is reported as it is, without another attempt.
func TestActionsApplyRerun(t *testing.T) {
	e := newActionsEnv(t, true)
	ctx := context.Background()
	req := e.request()
	run, err := e.a.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.CompleteRun(repo, run.ID, "failure"); err != nil {
		t.Fatal(err)
	}
	// Without Rerun the failure is reported again, nothing is started.
	o, err := e.a.Apply(ctx, req)
	if err != nil || o.Status != apply.Failed || e.runs()[0].Attempt > 1 {
		t.Fatalf("apply without rerun: %+v %v (attempt %d)", o, err, e.runs()[0].Attempt)
	}

	req.Rerun = true
	done := make(chan *apply.Outcome, 1)
	go func() {
		o, err := e.a.Apply(ctx, req)
		if err != nil {
			t.Errorf("apply: %v", err)
		}
		done <- o
	}()
	for deadline := time.Now().Add(10 * time.Second); e.runs()[0].Status != "queued"; {
		if time.Now().After(deadline) {
			t.Fatal("the failed run was not re-run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.fake.CompleteRun(repo, run.ID, "success"); err != nil {
		t.Fatal(err)
	}
	o = <-done
	if o.Status != apply.Succeeded || o.Run.ID != run.ID || o.Run.Attempt != 2 || len(e.runs()) != 1 {
		t.Fatalf("after the re-run: %+v (%d runs)", o, len(e.runs()))
	}
	// Succeeded already: Rerun starts nothing.
	o, err = e.a.Apply(ctx, req)
	if err != nil || o.Status != apply.Succeeded || e.runs()[0].Attempt != 2 {
		t.Fatalf("rerun of a success: %+v %v (attempt %d)", o, err, e.runs()[0].Attempt)
	}
}

// Apply with Rerun and the failed run known (Request.Failed): a job that
// died after the re-run was started, re-run while it was down, finds the
// newer attempt (going, or already failed) and follows it; no second
// re-run is started. Without a newer attempt it re-runs once.
func TestActionsApplyRerunOfFailedRun(t *testing.T) {
	const rerun = "POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs"
	e := newActionsEnv(t, true)
	ctx := context.Background()
	req := e.request()
	run, err := e.a.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.CompleteRun(repo, run.ID, "failure"); err != nil {
		t.Fatal(err)
	}
	failed := run
	req.Rerun, req.Failed = true, &failed

	// Not re-run yet: one re-run, followed.
	done := make(chan *apply.Outcome, 1)
	go func() {
		o, err := e.a.Apply(ctx, req)
		if err != nil {
			t.Errorf("apply: %v", err)
		}
		done <- o
	}()
	for deadline := time.Now().Add(10 * time.Second); e.runs()[0].Status != "queued"; {
		if time.Now().After(deadline) {
			t.Fatal("the failed run was not re-run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The job "dies" here; the re-run fails while nobody follows it.
	if err := e.fake.CompleteRun(repo, run.ID, "failure"); err != nil {
		t.Fatal(err)
	}
	if o := <-done; o.Status != apply.Failed || o.Run.Attempt != 2 {
		t.Fatalf("first try: %+v", o)
	}
	// The restarted job owes the same re-run: attempt 2 is newer than the
	// failed attempt 1, so it is reported and nothing is re-run again.
	o, err := e.a.Apply(ctx, req)
	if err != nil || o.Status != apply.Failed || o.Run.Attempt != 2 || !strings.Contains(o.Reason, "attempt 2") {
		t.Fatalf("restarted: %+v %v", o, err)
	}
	if n := e.fake.CallCount(rerun); n != 1 || e.runs()[0].Attempt != 2 || len(e.runs()) != 1 {
		t.Fatalf("%d re-runs, attempt %d, %d runs; want 1, 2, 1", n, e.runs()[0].Attempt, len(e.runs()))
	}

	// The next retry is of attempt 2: attempt 3, once.
	failed.Attempt = 2
	go func() {
		o, err := e.a.Apply(ctx, req)
		if err != nil {
			t.Errorf("apply: %v", err)
		}
		done <- o
	}()
	for deadline := time.Now().Add(10 * time.Second); e.runs()[0].Attempt != 3; {
		if time.Now().After(deadline) {
			t.Fatal("attempt 2 was not re-run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.fake.CompleteRun(repo, run.ID, "success"); err != nil {
		t.Fatal(err)
	}
	if o := <-done; o.Status != apply.Succeeded || o.Run.Attempt != 3 || e.fake.CallCount(rerun) != 2 {
		t.Fatalf("second retry: %+v (%d re-runs)", o, e.fake.CallCount(rerun))
	}
}

// A run GitHub will not re-run (too old, too many attempts) is replaced by
// a new run of the same commit, keyed after it; a repeated Apply finds that
// run instead of dispatching another, and the bot's webhook handler
// recognises its key. When every new run is refused too, the apply fails,
// saying so.
func TestActionsApplyRerunRefused(t *testing.T) {
	const rerun = "POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs"
	e := newActionsEnv(t, true)
	ctx := context.Background()
	req := e.request()
	run, err := e.a.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.CompleteRun(repo, run.ID, "failure"); err != nil {
		t.Fatal(err)
	}
	e.fake.InjectFault(githubfake.Fault{Route: rerun, Status: 403, Count: 1})
	req.Rerun = true
	done := make(chan *apply.Outcome, 1)
	go func() {
		o, err := e.a.Apply(ctx, req)
		if err != nil {
			t.Errorf("apply: %v", err)
		}
		done <- o
	}()
	for deadline := time.Now().Add(10 * time.Second); len(e.runs()) < 2; {
		if time.Now().After(deadline) {
			t.Fatal("no new run after the refused re-run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fresh := e.runs()[1]
	wantKey := fmt.Sprintf("%s-after-%d", req.RunKey(), run.ID)
	if apply.KeyOf(fresh.DisplayTitle) != wantKey || !req.OwnsKey(wantKey) || req.OwnsKey(req.RunKey()+"-after-x") || req.OwnsKey("rdsbot-other") {
		t.Errorf("new run %q: want the key %s, owned by the request", fresh.DisplayTitle, wantKey)
	}
	if err := e.fake.CompleteRun(repo, fresh.ID, "success"); err != nil {
		t.Fatal(err)
	}
	if o := <-done; o.Status != apply.Succeeded || o.Run.ID != fresh.ID {
		t.Fatalf("after the new run: %+v", o)
	}

	// A retried job: the old run is refused again, the new run is found.
	e.fake.InjectFault(githubfake.Fault{Route: rerun, Status: 403, Count: 1})
	if o, err := e.a.Apply(ctx, req); err != nil || o.Status != apply.Succeeded || len(e.runs()) != 2 {
		t.Fatalf("repeated apply: %+v %v (%d runs)", o, err, len(e.runs()))
	}

	// Refused again and again: bounded, and said. The new runs exist
	// already (an earlier try dispatched them) and failed too.
	e2 := newActionsEnv(t, false)
	req2 := e2.request()
	prev, err := e2.a.Start(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := e2.fake.CompleteRun(repo, prev.ID, "failure"); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			break
		}
		next := req2
		next.Key = fmt.Sprintf("%s-after-%d", req2.RunKey(), prev.ID)
		if prev, err = e2.a.Start(ctx, next); err != nil {
			t.Fatal(err)
		}
	}
	e2.fake.InjectFault(githubfake.Fault{Route: rerun, Status: 403, Count: 100})
	req2.Rerun = true
	o, err := e2.a.Apply(ctx, req2)
	if err != nil || o.Status != apply.Failed || !strings.Contains(o.Reason, "refused to re-run") {
		t.Fatalf("refused every time: %+v %v", o, err)
	}
	if n := len(e2.runs()); n > 3 {
		t.Errorf("%d runs, want at most 3 (the first and two new ones)", n)
	}
}

// A webhook only wakes the wait: a payload that says "completed" for a run
// the API shows queued does not end it.
func TestActionsObserveDoesNotDecide(t *testing.T) {
	e := newActionsEnv(t, true)
	ctx := context.Background()
	run, err := e.a.Start(ctx, e.request())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Quiesce(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	requested := string(e.payloads[0])
	e.mu.Unlock()
	forged := strings.Replace(strings.Replace(requested, `"status":"queued"`, `"status":"completed"`, 1), `"conclusion":null`, `"conclusion":"success"`, 1)
	if !strings.Contains(forged, `"status":"completed"`) || !strings.Contains(forged, `"conclusion":"success"`) {
		t.Fatalf("payload shape changed:\n%s", requested)
	}
	done := e.waitAsync(t, run)
	getRun := "GET /repos/{owner}/{repo}/actions/runs/{run_id}"
	before := e.fake.CallCount(getRun)
	if _, err := e.a.Observe([]byte(forged)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); e.fake.CallCount(getRun) == before; {
		if time.Now().After(deadline) {
			t.Fatal("the wake-up did not read the run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case o := <-done:
		t.Fatalf("a payload decided the outcome: %+v", o)
	default:
	}
	if err := e.fake.CompleteRun(repo, run.ID, "failure"); err != nil {
		t.Fatal(err)
	}
	if o := <-done; o.Status != apply.Failed {
		t.Fatalf("outcome %+v", o)
	}
}
