package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/apply"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
)

// QueueApply is the queue of applies: long jobs, kept apart so they never
// hold up request and gate work.
const QueueApply = "rdsbot_apply"

// ApplyArgs are the arguments of the job that rolls out one environment of
// a repository: apply the newest checked merge, provision, and write each
// status transition back to the catalog. Jobs coalesce per environment, so
// merges that arrive while one waits or runs make one more run at most.
type ApplyArgs struct {
	Repo   string `json:"repo"`
	Env    string `json:"env"`
	Reason string `json:"reason,omitempty"`
}

// Kind implements river.JobArgs.
func (ApplyArgs) Kind() string { return "rdsbot_apply" }

// CoalesceKey implements jobs.Coalesced.
func (a ApplyArgs) CoalesceKey() string { return a.Repo + "#apply/" + a.Env }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ApplyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueApply} }

type applyWorker struct {
	river.WorkerDefaults[ApplyArgs]
	b *Bot
}

func (w *applyWorker) Work(ctx context.Context, job *river.Job[ApplyArgs]) error {
	return w.b.rollOut(ctx, job.Args)
}

// Timeout: an apply is bounded by the runner's own timeouts (terraform's,
// the workflow's), not by the queue's.
func (w *applyWorker) Timeout(*river.Job[ApplyArgs]) time.Duration { return -1 }

func (w *applyWorker) NextRetry(job *river.Job[ApplyArgs]) time.Time {
	return time.Now().Add(w.b.retry(job.Attempt))
}

// enqueueApply starts (or coalesces into) the rollout of an environment.
func (b *Bot) enqueueApply(ctx context.Context, repo, env, reason string) error {
	return b.queue.Enqueue(ctx, ApplyArgs{Repo: repo, Env: env, Reason: reason})
}

// inFlight are the catalog states a rollout moves on.
var inFlight = []lifecycle.State{lifecycle.Pending, lifecycle.Approved, lifecycle.Applying, lifecycle.Provisioning, lifecycle.Decommissioning}

// rollout is one run of the rollout of an environment.
type rollout struct {
	b      *Bot
	c      *forge.Client
	rc     *repoContext
	repo   string
	env    string
	target ledger.Merge
	// held names a merge past the check that the target commit contains.
	held *ledger.Merge
	// retry: the target's failed step was asked to run again.
	retry bool
	// rerun: a retry still owes a re-run of the failed workflow run (the
	// ledger keeps it until the runner reports an outcome again), and
	// failed is that run as recorded.
	rerun  bool
	failed *apply.Run
	// skipped says why terraform did not run for the target ("" when it
	// ran).
	skipped string
	// unreviewed: commits the target contains that changed the
	// environment past review (rollout_guard.go); they hold it.
	unreviewed []unreviewedCommit
}

// rollOut applies the newest checked merge of an environment and carries
// its requests to active (or decommissioned), one status commit per
// transition. Every step reads where the last run stopped (the ledger's
// apply record, the catalog on the base branch), so a retried or restarted
// job carries on instead of starting over, and a commit is applied once.
func (b *Bot) rollOut(ctx context.Context, a ApplyArgs) error {
	c, err := b.client(ctx, nil, a.Repo)
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, a.Repo, 0)
	if err != nil {
		return err
	}
	merges, err := b.ledger.Merges(ctx, a.Repo, a.Env)
	if err != nil {
		return err
	}
	last, err := b.ledger.LastApplied(ctx, a.Repo, a.Env)
	if err != nil {
		return err
	}
	pending := merges
	if i := slices.IndexFunc(merges, func(m ledger.Merge) bool { return m.SHA == last }); i >= 0 {
		pending = merges[i+1:]
	}
	if len(pending) == 0 {
		return b.reportUnreviewed(ctx, c, rc, a.Repo, a.Env)
	}
	if wait := b.rollout.debounce() - b.now().Sub(pending[len(pending)-1].At); wait > 0 {
		// Merges close together make one apply of the newest.
		return river.JobSnooze(wait)
	}
	r := &rollout{b: b, c: c, rc: rc, repo: a.Repo, env: a.Env}
	ti := -1
	for i, m := range pending {
		if m.Proceed {
			ti = i
		}
	}
	if ti < 0 {
		// Only merges past the check: their requests say so.
		return b.reportUnreviewed(ctx, c, rc, a.Repo, a.Env)
	}
	r.target = pending[ti]
	for i := range pending[:ti] {
		if pending[i].Proceed {
			continue
		}
		held, err := r.stillHeld(ctx, pending[i])
		if err != nil {
			return err
		}
		if held {
			r.held = &pending[i]
			break
		}
	}
	if r.unreviewed, err = r.guard(ctx, r.target.SHA, false); err != nil {
		return err
	}
	if err := r.run(ctx); err != nil {
		return err
	}
	// The status commits moved the base branch (pushes of status commits
	// re-plan nothing themselves): open request pull requests of this
	// catalog that no longer merge cleanly are re-planned once, now.
	path := rc.config().CatalogPath(a.Env)
	return b.replanPulls(ctx, c, rc, a.Repo, rc.config().BaseBranch, map[string]bool{path: true}, true, "status of "+a.Env+" written")
}

func (r *rollout) run(ctx context.Context) error {
	b, sha := r.b, r.target.SHA
	rec, ok, err := b.ledger.ApplyOf(ctx, r.repo, r.env, sha)
	if err != nil {
		return err
	}
	if ok && rec.State == ledger.ApplyRetry {
		r.retry = true
	}
	if ok {
		r.rerun, r.skipped = rec.Rerun, rec.Skipped
		if rec.Run != 0 && rec.RunAttempt > 0 {
			r.failed = &apply.Run{Repo: r.repo, ID: rec.Run, Attempt: rec.RunAttempt, URL: rec.RunURL}
		}
	}
	names, err := r.entries(ctx)
	if err != nil {
		return err
	}
	if r.retry {
		if err := r.resumeDecommissions(ctx, names); err != nil {
			return err
		}
	}
	if r.held != nil {
		note := fmt.Sprintf("not applied: #%d was merged past the approval check (%s) and commit %.12s contains it", r.held.Pull, r.held.Reason, sha)
		if err := r.fail(ctx, names, ledger.StepApply, lifecycle.MergedWithoutApproval, note, "", ""); err != nil {
			return err
		}
		return r.notify(ctx, names)
	}
	if len(r.unreviewed) > 0 {
		return r.holdUnreviewed(ctx, names)
	}
	switch {
	case ok && rec.State == ledger.ApplySucceeded && rec.Step == ledger.StepDone:
		// Done before a crash or a replay: finish the catalog.
		if err := r.finish(ctx, names, rec.RunURL); err != nil {
			return err
		}
		return r.notify(ctx, names)
	case ok && rec.State == ledger.ApplyFailed:
		if err := r.fail(ctx, names, rec.Step, failReason(rec.Step), rec.Reason, rec.Excerpt, rec.RunURL); err != nil {
			return err
		}
		return r.notify(ctx, names)
	}
	step := ledger.StepApply
	if ok && rec.Step == ledger.StepProvision {
		step = ledger.StepProvision
	}
	runURL := rec.RunURL
	if step == ledger.StepApply {
		more, url, err := r.apply(ctx, names)
		if err != nil || !more {
			return err
		}
		runURL = url
	}
	if err := r.provision(ctx, names, runURL); err != nil {
		return err
	}
	return r.notify(ctx, names)
}

// entries are the catalog entries of the environment the rollout moves:
// those in flight, and on a retry those that failed.
func (r *rollout) entries(ctx context.Context) ([]string, error) {
	f, _, err := r.b.readCatalog(ctx, r.c, r.rc, r.env, "")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range f.Entries() {
		st := e.Metadata.Status
		if slices.Contains(inFlight, st) || (st == lifecycle.Failed && (r.retry || heldBack(e))) {
			names = append(names, e.Name)
		}
	}
	return names, nil
}

// heldBack reports whether an entry failed only because its environment
// was held by a merge past the check: it goes on once the hold is gone.
func heldBack(e catalog.Entry) bool {
	h := e.Metadata.History
	return len(h) > 0 && h[len(h)-1].Status == lifecycle.Failed && h[len(h)-1].Reason == lifecycle.MergedWithoutApproval
}

// apply runs the environment's runner on the target commit. It reports
// whether provisioning comes next (the local runner) and the run's link.
func (r *rollout) apply(ctx context.Context, names []string) (bool, string, error) {
	b, sha := r.b, r.target.SHA
	at := b.now()
	runner := b.runners(r.repo, r.rc.config().Apply).For(r.env)
	since, err := r.unchangedSince(ctx, names, runner.Kind())
	if err != nil {
		return false, "", err
	}
	applying := fmt.Sprintf("terraform apply of %s at %.12s", r.env, sha)
	if since != "" {
		applying = fmt.Sprintf("terraform inputs of %s at %.12s are those applied at %.12s: nothing to apply", r.env, sha, since)
	}
	merged := fmt.Sprintf("merged in #%d and checked", r.target.Pull)
	// One commit per transition: approved (at merge), then applying.
	for _, t := range []transition{
		{from: []lifecycle.State{lifecycle.Pending}, to: lifecycle.Approved, reason: lifecycle.Merged, note: merged},
		{from: []lifecycle.State{lifecycle.Approved, lifecycle.Failed}, to: lifecycle.Applying, reason: lifecycle.ApplyStarted, note: applying},
	} {
		if err := r.transition(ctx, names, []transition{t}, at, nil); err != nil {
			return false, "", err
		}
	}
	if err := r.notify(ctx, names); err != nil {
		return false, "", err
	}
	if err := b.ledger.StartApply(ctx, r.repo, r.env, sha, ledger.StepApply); err != nil {
		return false, "", err
	}
	if since != "" {
		return r.skipApply(ctx, names, runner.Kind(), since)
	}
	allow, err := r.allowDestroy(ctx, names)
	if err != nil {
		return false, "", err
	}
	req := apply.Request{Repo: r.repo, Env: r.env, Ref: r.rc.config().BaseBranch, SHA: sha,
		RequestIDs: r.requestIDs(ctx, names), AllowDestroy: allow, Rerun: r.retry || r.rerun}
	if req.Rerun {
		req.Failed = r.failed
	}
	b.log.InfoContext(ctx, "apply starts", "repository", r.repo, "env", r.env, "commit", sha, "runner", runner.Kind(),
		"requests", names, "rerun", req.Rerun)
	out, err := runner.Apply(ctx, req)
	if err != nil {
		return false, "", fmt.Errorf("apply %s at %.12s: %w", r.env, sha, err)
	}
	url, run, attempt := "", int64(0), 0
	if out.Run != nil {
		url, run, attempt = out.Run.URL, out.Run.ID, out.Run.Attempt
	}
	b.log.InfoContext(ctx, "apply ended", "repository", r.repo, "env", r.env, "commit", sha, "status", string(out.Status), "reason", out.Reason)
	if !out.OK() {
		if err := b.ledger.FinishApply(ctx, ledger.Apply{Repo: r.repo, Env: r.env, SHA: sha, State: ledger.ApplyFailed,
			Step: ledger.StepApply, Reason: out.Reason, Excerpt: out.Excerpt, RunURL: url, Run: run, RunAttempt: attempt}); err != nil {
			return false, "", err
		}
		return false, url, errors.Join(r.fail(ctx, names, ledger.StepApply, lifecycle.ApplyFailed, out.Reason, out.Excerpt, url), r.notify(ctx, names))
	}
	if runner.Kind() == config.RunnerActions {
		// The workflow provisions as its last step: its success is the end.
		if err := b.ledger.FinishApply(ctx, ledger.Apply{Repo: r.repo, Env: r.env, SHA: sha, State: ledger.ApplySucceeded,
			Step: ledger.StepDone, RunURL: url, Run: run, RunAttempt: attempt}); err != nil {
			return false, "", err
		}
		return false, url, errors.Join(r.finish(ctx, names, url), r.notify(ctx, names))
	}
	if err := b.ledger.FinishApply(ctx, ledger.Apply{Repo: r.repo, Env: r.env, SHA: sha, State: ledger.ApplyRunning,
		Step: ledger.StepProvision, RunURL: url}); err != nil {
		return false, "", err
	}
	return true, url, nil
}

// skipApply records the target's apply as done without terraform (its
// inputs are those applied at since): on to provisioning with the local
// runner, to the end with actions (which skips only with nothing to
// provision).
func (r *rollout) skipApply(ctx context.Context, names []string, runner, since string) (bool, string, error) {
	b, sha := r.b, r.target.SHA
	r.skipped = skipWhy(since)
	b.log.InfoContext(ctx, "apply skipped: terraform inputs unchanged", "repository", r.repo, "env", r.env, "commit", sha,
		"since", since, "runner", runner, "requests", names)
	if runner == config.RunnerActions {
		if err := b.ledger.FinishApply(ctx, ledger.Apply{Repo: r.repo, Env: r.env, SHA: sha, State: ledger.ApplySucceeded,
			Step: ledger.StepDone, Reason: r.skipped, Skipped: r.skipped}); err != nil {
			return false, "", err
		}
		return false, "", errors.Join(r.finish(ctx, names, ""), r.notify(ctx, names))
	}
	if err := b.ledger.FinishApply(ctx, ledger.Apply{Repo: r.repo, Env: r.env, SHA: sha, State: ledger.ApplyRunning,
		Step: ledger.StepProvision, Reason: r.skipped, Skipped: r.skipped}); err != nil {
		return false, "", err
	}
	return true, "", nil
}

func failReason(step string) lifecycle.Reason {
	if step == ledger.StepProvision {
		return lifecycle.ProvisionFailed
	}
	return lifecycle.ApplyFailed
}

// requestIDs are the request ids of the named catalog entries.
func (r *rollout) requestIDs(ctx context.Context, names []string) []string {
	f, _, err := r.b.readCatalog(ctx, r.c, r.rc, r.env, "")
	if err != nil {
		return nil
	}
	var ids []string
	for _, n := range names {
		if e, ok := f.Get(n, r.env); ok && e.Metadata.RequestID != "" {
			ids = append(ids, e.Metadata.RequestID)
		}
	}
	return ids
}

// fail moves the named entries to failed (those not there yet).
func (r *rollout) fail(ctx context.Context, names []string, step string, reason lifecycle.Reason, why, excerpt, url string) error {
	note := why
	if url != "" {
		note += " (" + url + ")"
	}
	from := slices.Clone(inFlight)
	return r.transition(ctx, names, []transition{{from: from, to: lifecycle.Failed, reason: reason, note: note}}, r.b.now(), nil)
}

// finish moves the named entries to their end: active, or decommissioned.
func (r *rollout) finish(ctx context.Context, names []string, url string) error {
	return r.finishWith(ctx, names, url, nil)
}

func (r *rollout) finishWith(ctx context.Context, names []string, url string, audit []string) error {
	note := fmt.Sprintf("applied and provisioned at %.12s", r.target.SHA)
	if r.skipped != "" {
		note = fmt.Sprintf("provisioned at %.12s; nothing to apply (%s)", r.target.SHA, r.skipped)
	}
	if url != "" {
		note += " (" + url + ")"
	}
	return r.transition(ctx, names, []transition{
		{from: []lifecycle.State{lifecycle.Pending, lifecycle.Approved, lifecycle.Applying, lifecycle.Provisioning, lifecycle.Failed},
			to: lifecycle.Active, reason: lifecycle.Provisioned, note: note},
		{from: []lifecycle.State{lifecycle.Decommissioning}, to: lifecycle.Decommissioned, reason: lifecycle.DecommissionDone,
			note: fmt.Sprintf("removed at %.12s; the role cannot log in and CONNECT is revoked; nothing was dropped", r.target.SHA)},
	}, r.b.now(), audit)
}

// notify has the request jobs of the named entries publish the new state.
func (r *rollout) notify(ctx context.Context, names []string) error {
	f, _, err := r.b.readCatalog(ctx, r.c, r.rc, r.env, "")
	if err != nil {
		return err
	}
	seen := map[int]bool{}
	for _, n := range names {
		e, ok := f.Get(n, r.env)
		if !ok {
			continue
		}
		issue, err := r.issueOf(ctx, e.Metadata.PRNumber, e.Metadata.RequestID)
		if err != nil {
			return err
		}
		if issue <= 0 || seen[issue] {
			continue
		}
		seen[issue] = true
		if err := r.b.enqueue(ctx, r.repo, issue, fmt.Sprintf("%s is %s", n, e.Metadata.Status)); err != nil {
			return err
		}
	}
	return nil
}

// stillHeld reports whether a merge made past the approval check still
// holds the environment: its request's entry is still pending in the
// catalog on the base branch. Reverting the merge (or removing the entry
// through an approved change) releases the hold. A merge rdsbot cannot tie
// to a request of its own holds for good.
func (r *rollout) stillHeld(ctx context.Context, m ledger.Merge) (bool, error) {
	issue, _, ok, err := r.b.ledger.PullIssue(ctx, r.repo, m.Pull)
	if err != nil || !ok {
		return true, err
	}
	f, _, err := r.b.readCatalog(ctx, r.c, r.rc, r.env, "")
	if err != nil {
		return true, err
	}
	id := contract.RequestID(issue)
	for _, e := range f.Entries() {
		if e.Metadata.RequestID == id && e.Metadata.Status != lifecycle.Decommissioned {
			return true, nil
		}
	}
	return false, nil
}

// issueOf is the request issue of a catalog entry: from the pull request
// it records (when the App opened it), else from its request id
// (RDS-<issue>). The request job it starts checks the rest itself.
func (r *rollout) issueOf(ctx context.Context, pull int, requestID string) (int, error) {
	if pull > 0 {
		issue, _, ok, err := r.b.ledger.PullIssue(ctx, r.repo, pull)
		if err != nil || ok {
			return issue, err
		}
	}
	if n, ok := strings.CutPrefix(requestID, "RDS-"); ok {
		if i, err := strconv.Atoi(n); err == nil && i > 0 {
			return i, nil
		}
	}
	return 0, nil
}

// mergedEnvs records a checked merge for each environment it changed, with
// the commits it wrote before its last (parts: a rebase merge's, never
// apply targets), and starts their rollouts.
func (b *Bot) mergedEnvs(ctx context.Context, c *forge.Client, rc *repoContext, repo string, pr *forge.PullRequest, m ledger.MergeCheck, parts []string) error {
	files, err := c.PullFiles(ctx, repo, pr.Number)
	if err != nil {
		return err
	}
	g := newGatePaths(rc.config())
	envs := map[string]bool{}
	for _, f := range files {
		for _, p := range []string{f.Path, f.PreviousPath} {
			if p != "" && g.covers(p) {
				if env := g.envOf(p); env != "" {
					envs[env] = true
				}
			}
		}
	}
	keys := make([]string, 0, len(envs))
	for env := range envs {
		keys = append(keys, env)
	}
	slices.Sort(keys)
	for _, env := range keys {
		if err := b.ledger.RecordMergeParts(ctx, repo, env, m.MergeSHA, parts); err != nil {
			return err
		}
		if err := b.ledger.RecordMerge(ctx, ledger.Merge{Repo: repo, Env: env, SHA: m.MergeSHA, Pull: pr.Number,
			Proceed: m.Proceed, Reason: m.Reason}); err != nil {
			return err
		}
		if b.rollout.Off {
			continue
		}
		if err := b.enqueueApply(ctx, repo, env, fmt.Sprintf("#%d merged", pr.Number)); err != nil {
			return err
		}
	}
	if len(keys) > 0 {
		b.log.InfoContext(ctx, "merge recorded for rollout", "repository", repo, "pull", pr.Number, "commit", m.MergeSHA,
			"environments", strings.Join(keys, ","), "proceed", m.Proceed)
	}
	return nil
}

// retryRollout runs the failed step of a merged request's rollout again
// (apply or provisioning). It returns the step, or "" when the request has
// no failed rollout.
func (b *Bot) retryRollout(ctx context.Context, c *forge.Client, repo string, n int, who string) (string, error) {
	merged, err := b.mergedPull(ctx, c, repo, n)
	if err != nil || merged == nil {
		return "", err
	}
	rc, err := b.loadRepo(ctx, c, repo, b.maxAge)
	if err != nil {
		return "", err
	}
	req, _, err := b.requestOf(ctx, rc, repo, n, c.BotLogin())
	if err != nil || req == nil {
		return "", err
	}
	rec, ok, err := b.ledger.FailedApply(ctx, repo, req.Environment)
	if err != nil || !ok {
		return "", err
	}
	if retried, err := b.ledger.RetryApply(ctx, repo, req.Environment, rec.SHA); err != nil || !retried {
		return "", err
	}
	b.log.InfoContext(ctx, "rollout retried", "repository", repo, "env", req.Environment, "commit", rec.SHA, "step", rec.Step, "by", who)
	return rec.Step, b.enqueueApply(ctx, repo, req.Environment, "/rds retry by "+who)
}
