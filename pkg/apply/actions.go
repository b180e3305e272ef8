package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
)

// Run is a workflow run of the apply workflow.
type Run struct {
	Repo string
	ID   int64
	// Attempt is the run_attempt followed: 1, then one more per re-run.
	Attempt int
	URL     string // html
	Key     string // the idempotency key in the run's name
}

// RunUpdate is a workflow_run webhook about the apply workflow.
type RunUpdate struct {
	Repo   string
	Action string // requested, in_progress, completed
	Run    forge.WorkflowRun
	// Key is the idempotency key read from the run's name.
	Key string
}

// Actions applies through GitHub Actions: it dispatches the apply workflow
// (config apply.actions.workflow) on the request's branch with the commit,
// the environment, the request ids and the run key as inputs, and follows
// the run to its end: by workflow_run webhooks fed to Observe, and by
// reading the run every apply.actions.poll_every when none comes.
type Actions struct {
	cfg   config.Apply
	repos Repos
	opts  Options

	// FindTimeout bounds the search for a dispatched run by its key, where
	// GitHub does not return the run id (default 2 minutes).
	FindTimeout time.Duration

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

// NewActions returns the actions runner.
func NewActions(cfg config.Apply, repos Repos, opts Options) *Actions {
	return &Actions{cfg: cfg, repos: repos, opts: opts.withDefaults(), FindTimeout: 2 * time.Minute,
		waiters: map[string]map[chan struct{}]struct{}{}}
}

// Kind is config.RunnerActions.
func (a *Actions) Kind() string { return config.RunnerActions }

var keyRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// runNameKey finds the key in a run's name: the last "[key]".
var runNameKey = regexp.MustCompile(`\[([A-Za-z0-9._-]{1,64})\]\s*$`)

// KeyOf is the idempotency key in a run's display title ("" when none).
func KeyOf(displayTitle string) string {
	if m := runNameKey.FindStringSubmatch(displayTitle); m != nil {
		return m[1]
	}
	return ""
}

// Inputs are the workflow_dispatch inputs of an apply. The workflow
// compares allow_destroy with addresses exactly: patterns with '*' allow
// nothing there.
func Inputs(req Request) map[string]any {
	allow := req.AllowDestroy
	if allow == nil {
		allow = []string{}
	}
	allowJSON, _ := json.Marshal(allow)
	return map[string]any{
		"environment":   req.Env,
		"commit":        req.SHA,
		"request_ids":   strings.Join(req.RequestIDs, ","),
		"run_key":       req.RunKey(),
		"allow_destroy": string(allowJSON),
	}
}

// Apply starts the run (or finds the one already started for the same
// key) and waits for its end: the newest attempt of the run, so a re-run a
// person started is followed too. With req.Rerun, a run of the key that
// ended without success has its failed jobs run again first (req.Failed,
// when given, is that run: an attempt newer than the failed one is
// followed instead).
func (a *Actions) Apply(ctx context.Context, req Request) (*Outcome, error) {
	var run Run
	if req.Rerun && req.Failed != nil && req.Failed.ID != 0 {
		run = *req.Failed
		run.Repo = req.Repo
		if run.Key == "" {
			run.Key = req.RunKey()
		}
	} else {
		var err error
		if run, err = a.Start(ctx, req); err != nil {
			return nil, err
		}
	}
	for fresh := 0; req.Rerun; fresh++ {
		next, refused, err := a.rerunFailed(ctx, run)
		if err != nil {
			return nil, err
		}
		if refused == "" {
			run = next
			break
		}
		if fresh == maxFreshRuns {
			now := a.opts.Now()
			return &Outcome{Status: Failed, Run: &run, Started: now, Finished: now, Reason: refused}, nil
		}
		// GitHub re-runs a run only for a while and a number of attempts:
		// past that, a new run of the same commit, keyed after the refused
		// one, so that a repeated Apply finds it instead of dispatching again.
		a.opts.Logger.Info("apply: GitHub refused to re-run; dispatching a new run", "repo", run.Repo, "run", run.ID, "why", refused)
		again := req
		again.Key = req.RunKey() + freshKeyInfix + strconv.FormatInt(run.ID, 10)
		if run, err = a.Start(ctx, again); err != nil {
			return nil, err
		}
		if req.Failed != nil {
			break // the new run is this retry's own, found or dispatched now
		}
	}
	return a.Wait(ctx, run)
}

// maxFreshRuns bounds the new runs one Apply dispatches for runs GitHub
// refuses to re-run: more means something else is wrong.
const maxFreshRuns = 2

// freshKeyInfix joins a request's key and the id of the run it replaces.
const freshKeyInfix = "-after-"

// OwnsKey reports whether a run key is the request's: its own, or that of
// a new run dispatched when GitHub refused to re-run one of its runs.
func (r Request) OwnsKey(key string) bool {
	k := r.RunKey()
	if key == k {
		return true
	}
	id, ok := strings.CutPrefix(key, k+freshKeyInfix)
	_, err := strconv.ParseInt(id, 10, 64)
	return ok && err == nil
}

// rerunFailed re-runs the failed jobs of run when its newest attempt ended
// without success and is no newer than run.Attempt, and returns the run to
// follow. refused is why GitHub
// would not re-run it (too old, too many attempts): that ends the apply.
func (a *Actions) rerunFailed(ctx context.Context, run Run) (next Run, refused string, err error) {
	c, err := a.repos(ctx, run.Repo)
	if err != nil {
		return Run{}, "", errorf("GitHub client for %s: %w", run.Repo, err)
	}
	cur, err := c.GetWorkflowRun(ctx, run.Repo, run.ID)
	if err != nil {
		return Run{}, "", errorf("run %d: %w", run.ID, err)
	}
	if cur.Status != "completed" || cur.Conclusion == "success" || cur.Attempt > run.Attempt {
		// Going, done, or re-run already since the attempt known to fail.
		run.Attempt, run.URL = max(run.Attempt, cur.Attempt), cur.URL
		return run, "", nil
	}
	next, err = a.Rerun(ctx, Run{Repo: run.Repo, ID: run.ID, Attempt: cur.Attempt, URL: cur.URL, Key: run.Key}, true)
	if errors.Is(err, forge.ErrForbidden) || errors.Is(err, forge.ErrValidation) {
		return Run{}, fmt.Sprintf("workflow run %d (attempt %d) concluded %s and GitHub refused to re-run it (%v): %s",
			cur.ID, cur.Attempt, cur.Conclusion, err, cur.URL), nil
	}
	if err != nil {
		return Run{}, "", err
	}
	a.opts.Logger.Info("apply: re-running the failed jobs", "repo", run.Repo, "run", run.ID, "attempt", next.Attempt, "key", run.Key)
	return next, "", nil
}

// Start dispatches the apply workflow for the request and returns its run.
// A run already started with the same key (a retried job, a crash after
// the dispatch) is returned instead of dispatching again. GitHub is asked
// for the run id (return_run_details); where it does not give it, the run
// is found by the key in its name. An error wrapping forge.ErrUncertain
// means the dispatch may have happened and its run was not found yet:
// Start again with the same key later, which looks first.
func (a *Actions) Start(ctx context.Context, req Request) (Run, error) {
	key := req.RunKey()
	switch {
	case req.Repo == "" || req.Env == "" || req.SHA == "" || req.Ref == "":
		return Run{}, errorf("request needs Repo, Env, SHA and Ref, got %q %q %q %q", req.Repo, req.Env, req.SHA, req.Ref)
	case !keyRE.MatchString(key):
		return Run{}, errorf("run key %q: use 1 to 64 letters, digits, '.', '_' or '-'", key)
	}
	c, err := a.repos(ctx, req.Repo)
	if err != nil {
		return Run{}, errorf("GitHub client for %s: %w", req.Repo, err)
	}
	log := a.opts.Logger.With("repo", req.Repo, "env", req.Env, "sha", req.SHA, "key", key)
	since := a.opts.Now().Add(-7 * 24 * time.Hour)
	if run, ok, err := a.find(ctx, c, req, key, since); err != nil {
		return Run{}, err
	} else if ok {
		log.Info("apply: run already dispatched", "run", run.ID, "attempt", run.Attempt)
		return run, nil
	}
	before := a.opts.Now().Add(-time.Minute) // GitHub's clock may differ a little
	d, err := c.DispatchWorkflowRun(ctx, req.Repo, a.cfg.Actions.Workflow, req.Ref, Inputs(req))
	switch {
	case err == nil && d.ID != 0:
		log.Info("apply: dispatched", "run", d.ID)
		return Run{Repo: req.Repo, ID: d.ID, Attempt: 1, URL: d.HTMLURL, Key: key}, nil
	case err != nil && !errors.Is(err, forge.ErrUncertain):
		return Run{}, errorf("dispatch %s: %w", a.cfg.Actions.Workflow, err)
	}
	// Dispatched without a run id, or maybe dispatched: look for the key.
	log.Info("apply: dispatched without a run id; finding the run by its name", "uncertain", err != nil)
	deadline := a.opts.Now().Add(a.FindTimeout)
	wait := 500 * time.Millisecond
	for {
		run, ok, ferr := a.find(ctx, c, req, key, before)
		if ferr != nil {
			return Run{}, ferr
		}
		if ok {
			return run, nil
		}
		if a.opts.Now().After(deadline) {
			if err != nil {
				return Run{}, errorf("dispatch %s: no run named [%s] appeared: %w", a.cfg.Actions.Workflow, key, err)
			}
			return Run{}, errorf("dispatch %s: no run named [%s] appeared within %s: %w", a.cfg.Actions.Workflow, key, a.FindTimeout, forge.ErrUncertain)
		}
		if err := sleep(ctx, wait); err != nil {
			return Run{}, err
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// find looks for the newest run of the workflow on the branch whose name
// carries the key.
func (a *Actions) find(ctx context.Context, c *forge.Client, req Request, key string, since time.Time) (Run, bool, error) {
	runs, err := c.ListWorkflowRuns(ctx, req.Repo, a.cfg.Actions.Workflow,
		forge.RunFilter{Event: "workflow_dispatch", Branch: req.Ref, Since: since, Limit: 100})
	if err != nil {
		if forge.IsNotFound(err) { // the workflow has never run
			return Run{}, false, nil
		}
		return Run{}, false, errorf("list runs of %s: %w", a.cfg.Actions.Workflow, err)
	}
	for _, r := range runs {
		if KeyOf(r.DisplayTitle) == key {
			return Run{Repo: req.Repo, ID: r.ID, Attempt: r.Attempt, URL: r.URL, Key: key}, true, nil
		}
	}
	return Run{}, false, nil
}

// Wait follows a run until an attempt at least run.Attempt completes, and
// reports it. It listens to Observe and reads the run every
// apply.actions.poll_every; after apply.actions.timeout it reports
// TimedOut (the run itself is left alone).
func (a *Actions) Wait(ctx context.Context, run Run) (*Outcome, error) {
	c, err := a.repos(ctx, run.Repo)
	if err != nil {
		return nil, errorf("GitHub client for %s: %w", run.Repo, err)
	}
	o := &Outcome{Started: a.opts.Now(), Run: &run}
	updates := a.subscribe(run)
	defer a.unsubscribe(run, updates)
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Actions.Timeout)
	defer cancel()
	tick := time.NewTicker(a.cfg.Actions.PollEvery)
	defer tick.Stop()
	poll := func() (*forge.WorkflowRun, error) {
		r, err := c.GetWorkflowRun(ctx, run.Repo, run.ID)
		if err != nil && ctx.Err() == nil {
			if forge.IsNotFound(err) {
				return nil, errorf("run %d of %s: %w", run.ID, run.Repo, err)
			}
			a.opts.Logger.Warn("apply: reading the run failed; will read it again", "run", run.ID, "err", err)
			return nil, nil
		}
		return r, nil
	}
	check := func(r *forge.WorkflowRun) bool {
		if r == nil || r.Status != "completed" || r.Attempt < run.Attempt {
			return false
		}
		run.Attempt, run.URL = r.Attempt, r.URL
		o.Status, o.Reason = conclusionStatus(r.Conclusion), fmt.Sprintf("workflow run %d (attempt %d) concluded %s: %s", r.ID, r.Attempt, r.Conclusion, r.URL)
		o.Finished = a.opts.Now()
		return true
	}
	r, err := poll()
	if err != nil {
		return nil, err
	}
	if check(r) {
		return o, nil
	}
	for {
		select {
		case <-ctx.Done():
			o.Status, o.Finished = ctxStatus(ctx), a.opts.Now()
			o.Reason = fmt.Sprintf("stopped following workflow run %d (attempt %d): %v", run.ID, run.Attempt, ctx.Err())
			if o.Status == TimedOut {
				o.Reason = fmt.Sprintf("workflow run %d (attempt %d) did not complete within %s: %s", run.ID, run.Attempt, a.cfg.Actions.Timeout, run.URL)
			}
			return o, nil
		case <-updates:
			// A webhook only wakes the wait: the run is read from the API.
			r, err := poll()
			if err != nil {
				return nil, err
			}
			if check(r) {
				return o, nil
			}
		case <-tick.C:
			r, err := poll()
			if err != nil {
				return nil, err
			}
			if check(r) {
				return o, nil
			}
		}
	}
}

func conclusionStatus(c string) Status {
	switch c {
	case "success":
		return Succeeded
	case "cancelled":
		return Cancelled
	case "timed_out":
		return TimedOut
	}
	return Failed // failure, startup_failure, action_required, neutral, skipped, stale
}

// Rerun starts the next attempt of a completed run (every job, or only the
// failed ones) and returns the run to Wait for.
func (a *Actions) Rerun(ctx context.Context, run Run, failedOnly bool) (Run, error) {
	c, err := a.repos(ctx, run.Repo)
	if err != nil {
		return Run{}, errorf("GitHub client for %s: %w", run.Repo, err)
	}
	cur, err := c.GetWorkflowRun(ctx, run.Repo, run.ID)
	if err != nil {
		return Run{}, errorf("run %d: %w", run.ID, err)
	}
	if err := c.RerunWorkflow(ctx, run.Repo, run.ID, failedOnly); err != nil {
		if !errors.Is(err, forge.ErrUncertain) {
			return Run{}, errorf("re-run %d: %w", run.ID, err)
		}
		now, rerr := c.GetWorkflowRun(ctx, run.Repo, run.ID)
		if rerr != nil || now.Attempt <= cur.Attempt {
			return Run{}, errorf("re-run %d: %w", run.ID, err)
		}
	}
	run.Attempt = cur.Attempt + 1
	return run, nil
}

// Observe takes a workflow_run webhook payload (already verified by the
// webhook handler). It wakes whoever waits for that run, who then reads
// the run from the API: nothing in the payload decides an outcome. It
// reports the update when the run belongs to the apply workflow (nil
// otherwise), so the caller can match it to the apply it recorded (by run
// id or Key) and notice re-runs it did not start (a person's "Re-run
// jobs"); the caller too should read the run before acting on it.
func (a *Actions) Observe(payload []byte) (*RunUpdate, error) {
	repo, action, r, err := forge.RunFromEvent(payload)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	for ch := range a.waiters[waitKey(repo, r.ID)] {
		select { // one pending wake-up is enough
		case ch <- struct{}{}:
		default:
		}
	}
	a.mu.Unlock()
	if r.Path != "" && r.Path != ".github/workflows/"+a.cfg.Actions.Workflow {
		return nil, nil
	}
	return &RunUpdate{Repo: repo, Action: action, Run: r, Key: KeyOf(r.DisplayTitle)}, nil
}

func waitKey(repo string, id int64) string { return fmt.Sprintf("%s#%d", strings.ToLower(repo), id) }

func (a *Actions) subscribe(run Run) chan struct{} {
	ch := make(chan struct{}, 1)
	a.mu.Lock()
	defer a.mu.Unlock()
	k := waitKey(run.Repo, run.ID)
	if a.waiters[k] == nil {
		a.waiters[k] = map[chan struct{}]struct{}{}
	}
	a.waiters[k][ch] = struct{}{}
	return ch
}

func (a *Actions) unsubscribe(run Run, ch chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := waitKey(run.Repo, run.ID)
	delete(a.waiters[k], ch)
	if len(a.waiters[k]) == 0 {
		delete(a.waiters, k)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
