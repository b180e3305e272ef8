package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/jobs"
)

// QueueWork is the queue of the bot's request, gate and reconcile jobs.
const QueueWork = "rdsbot_work"

// Register adds the bot's work to the job registry: webhook deliveries,
// request and gate jobs (coalesced per request issue and per pull request),
// plan jobs (coalesced per pull request) and the periodic reconcile.
func (b *Bot) Register(reg *jobs.Registry) {
	reg.HandleDeliveries(b.HandleDelivery)
	reg.Queue(QueueWork, b.workers)
	jobs.AddWorker(reg, &requestWorker{b: b})
	reg.Queue(QueuePlan, planWorkers)
	jobs.AddWorker(reg, &planWorker{b: b})
	jobs.AddWorker(reg, &reconcileWorker{b: b})
	reg.Queue(QueueApply, 2)
	jobs.AddWorker(reg, &applyWorker{b: b})
	if b.reconcile > 0 {
		reg.Periodic(b.reconcile, func() river.JobArgs { return ReconcileArgs{} })
	}
}

// RequestArgs are the arguments of the job that works on one request
// (Key "issue/<n>") or evaluates one pull request's gate (Key "pull/<n>").
// Jobs coalesce per Repo and Key: while one waits or runs, another enqueue
// only makes it run (again) after it; the latest Reason goes with the
// follow-up.
type RequestArgs struct {
	Repo   string `json:"repo"`
	Key    string `json:"key"`
	Reason string `json:"reason,omitempty"`
}

// Kind implements river.JobArgs.
func (RequestArgs) Kind() string { return "rdsbot_request" }

// CoalesceKey implements jobs.Coalesced.
func (a RequestArgs) CoalesceKey() string { return a.Repo + "#" + a.Key }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (RequestArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueWork} }

type requestWorker struct {
	river.WorkerDefaults[RequestArgs]
	b *Bot
}

func (w *requestWorker) Work(ctx context.Context, job *river.Job[RequestArgs]) error {
	return w.b.HandleRequest(ctx, job.Args)
}

func (w *requestWorker) NextRetry(job *river.Job[RequestArgs]) time.Time {
	return time.Now().Add(w.b.retry(job.Attempt))
}

// Discarded tells the requester that the bot gave up on the request for
// now (the error itself goes to the logs: it may quote user text).
func (w *requestWorker) Discarded(ctx context.Context, job *river.Job[RequestArgs], _ error) error {
	n, err := parseKey(job.Args.Key)
	if err != nil {
		return nil // a gate job: the next event on the pull request evaluates it again
	}
	c, err := w.b.client(ctx, nil, job.Args.Repo)
	if err != nil {
		return err
	}
	body := fmt.Sprintf("rdsbot could not finish its work on this request after %d attempts; the operators have it in their logs and metrics (job %d). "+
		"It tries again on the next change to this issue or at the next reconcile; comment `/rds retry` to try now.", job.Attempt, job.ID)
	_, _, err = c.UpsertComment(ctx, job.Args.Repo, n, forge.Marker("gave-up"), body)
	return err
}

// ReconcileArgs are the arguments of the periodic reconcile: one at a time;
// a period that comes while one waits or runs is skipped.
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "rdsbot_reconcile" }

// InsertOpts implements river.JobArgsWithInsertOpts. The next period tries
// again anyway, so a failing reconcile is tried only a few times.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWork, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	b *Bot
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	return w.b.Reconcile(ctx)
}
