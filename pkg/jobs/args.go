package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rdsbot/rdsbot/pkg/webhook"
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

// DeliveryArgs are the arguments of a job that processes one webhook delivery:
// its identity and routing fields. The payload stays in the delivery log
// (rdsbot_delivery.payload), written once as bytes in the same transaction;
// carrying it in the job would put it through River's JSON encoding and the
// database's JSON parser several times on the intake path.
type DeliveryArgs struct {
	ID             string    `json:"id"`
	Event          string    `json:"event"`
	Action         string    `json:"action,omitempty"`
	InstallationID int64     `json:"installation_id,omitempty"`
	Repository     string    `json:"repository,omitempty"`
	ReceivedAt     time.Time `json:"received_at"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return KindDelivery }

// InsertOpts implements river.JobArgsWithInsertOpts. Deliveries are not River
// unique jobs: the delivery log, written in the same transaction, is what
// deduplicates them.
func (DeliveryArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueIntake} }

func deliveryArgs(d webhook.Delivery) DeliveryArgs {
	return DeliveryArgs{
		ID:             d.ID,
		Event:          d.Event,
		Action:         d.Action,
		InstallationID: d.InstallationID,
		Repository:     d.Repository,
		ReceivedAt:     d.ReceivedAt.UTC(),
	}
}

// Delivery turns the arguments back into the delivery they came from, less
// its payload.
func (a DeliveryArgs) Delivery() webhook.Delivery {
	return webhook.Delivery{
		ID:             a.ID,
		Event:          a.Event,
		Action:         a.Action,
		InstallationID: a.InstallationID,
		Repository:     a.Repository,
		ReceivedAt:     a.ReceivedAt,
	}
}

// deliveryBackoff spaces the retries of a failing delivery: its work is
// mostly turning events into other jobs, so a failure is GitHub being
// unavailable (rate limits snooze instead, see RetryAfter).
var deliveryBackoff = Backoff(time.Second, 5*time.Minute)

// deliveryWorker runs the registered delivery handler with the payload from
// the delivery log, then marks the delivery processed there (dropping the
// payload). A job that runs again after that, because the process died before
// River recorded its completion, finds the mark and does nothing.
type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	r *Registry
}

func (w *deliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	return time.Now().Add(w.r.q.Load().retryDelay(job.JobRow, deliveryBackoff))
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	q := w.r.q.Load()
	release, ok, err := q.be.lockDelivery(ctx, job.Args.ID)
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(q.cfg.LockRetry)
	}
	defer release()
	payload, processed, err := q.be.deliveryPayload(ctx, job.Args.ID)
	switch {
	case errors.Is(err, errNotLogged):
		return Permanent(fmt.Errorf("delivery %s is no longer in the delivery log (older than the retention period)", job.Args.ID))
	case err != nil:
		return err
	case processed:
		return nil
	}
	d := job.Args.Delivery()
	d.Payload = payload
	if err := w.r.deliveries(ctx, d); err != nil {
		return err
	}
	return q.intake.markProcessed(ctx, job.Args.ID)
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
