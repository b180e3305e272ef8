package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// The package's own job kinds, as stored in river_job.kind and reported to
// an Observer.
const (
	KindDelivery = "rdsbot_delivery"
	KindPrune    = "rdsbot_prune"
	KindRedrive  = "rdsbot_redrive"
	KindReport   = "rdsbot_report"
	KindDiscard  = "rdsbot_discarded"
)

// The package's own queues. Deliveries have a queue of their own so that slow
// work never delays the processing of new deliveries; upkeep (pruning,
// redriving, reporting) another.
const (
	QueueIntake = "rdsbot_intake"
	QueueUpkeep = "rdsbot_upkeep"

	upkeepWorkers = 2
)

// unfinished are the states in which a job may still run: the states of
// River's unique jobs that keep a periodic job from stacking.
var unfinished = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRunning,
	rivertype.JobStateRetryable,
	rivertype.JobStateScheduled,
}

// pruneArgs are the arguments of the hourly job that forgets delivery ids
// older than Config.DeliveryRetention, and coalescing counters as old.
type pruneArgs struct{}

func (pruneArgs) Kind() string { return KindPrune }

func (pruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueUpkeep, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: unfinished}}
}

type pruneWorker struct {
	river.WorkerDefaults[pruneArgs]
	r *Registry
}

func (w *pruneWorker) Work(ctx context.Context, _ *river.Job[pruneArgs]) error {
	q := w.r.q.Load()
	n, err := q.be.prune(ctx, time.Now().Add(-q.cfg.DeliveryRetention))
	if err == nil && n > 0 {
		q.log.InfoContext(ctx, "jobs: pruned old delivery ids and coalescing counters", "rows", n, "retention", q.cfg.DeliveryRetention)
	}
	return err
}

// redriveArgs are the arguments of the periodic Redrive.
type redriveArgs struct{}

func (redriveArgs) Kind() string { return KindRedrive }

func (redriveArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueUpkeep, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: unfinished}}
}

type redriveWorker struct {
	river.WorkerDefaults[redriveArgs]
	r *Registry
}

func (w *redriveWorker) Work(ctx context.Context, _ *river.Job[redriveArgs]) error {
	q := w.r.q.Load()
	_, err := q.Redrive(ctx, q.cfg.RedriveAfter)
	return err
}

// reportArgs are the arguments of the periodic job that finds discarded
// jobs (see report.go).
type reportArgs struct{}

func (reportArgs) Kind() string { return KindReport }

func (reportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueUpkeep, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: unfinished}}
}

type reportWorker struct {
	river.WorkerDefaults[reportArgs]
	r *Registry
}

func (w *reportWorker) Work(ctx context.Context, _ *river.Job[reportArgs]) error {
	return w.r.q.Load().reportDiscards(ctx)
}

// discardArgs are the arguments of the job that reports one discarded job:
// counted once (River's unique jobs, over every state), and given to its
// kind's Discarder.
type discardArgs struct {
	JobID  int64  `json:"job_id" river:"unique"`
	OfKind string `json:"kind"`
}

func (discardArgs) Kind() string { return KindDiscard }

func (discardArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueUpkeep, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: rivertype.JobStates()}}
}

type discardWorker struct {
	river.WorkerDefaults[discardArgs]
	r *Registry
}

func (w *discardWorker) NextRetry(job *river.Job[discardArgs]) time.Time {
	return time.Now().Add(Backoff(10*time.Second, 10*time.Minute)(job.Attempt))
}

func (w *discardWorker) Work(ctx context.Context, job *river.Job[discardArgs]) error {
	return w.r.q.Load().reportDiscard(ctx, job.Args.JobID)
}
