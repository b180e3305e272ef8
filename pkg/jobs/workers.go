package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Permanent marks a handler error as final: the job is cancelled instead of
// retried. Use it for input that can never succeed (an unknown event shape, a
// request that fails validation).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return river.JobCancel(err)
}

// deliveryWorker runs Handlers.Delivery with the payload from the delivery
// log, then marks the delivery processed there (dropping the payload). A job
// that runs again after that, because the process died before River recorded
// its completion, finds the mark and does nothing.
type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	q *Queue
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	return w.q.observe(job.JobRow, func() error {
		release, ok, err := w.q.be.lockDelivery(ctx, job.Args.ID)
		if err != nil {
			return err
		}
		if !ok {
			return river.JobSnooze(w.q.cfg.LockRetry)
		}
		defer release()
		payload, processed, err := w.q.be.deliveryPayload(ctx, job.Args.ID)
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
		if err := w.q.handlers.Load().Delivery(ctx, d); err != nil {
			return err
		}
		return w.q.be.markProcessed(ctx, job.Args.ID)
	})
}

// requestWorker runs Handlers.Request for one key at a time and makes sure an
// enqueue that arrived while it ran is not lost:
//
//  1. take the key's lock (in-process for SQLite, a Postgres advisory lock
//     otherwise); if another job holds it, snooze for LockRetry;
//  2. read the key's request counter;
//  3. run the handler;
//  4. in one transaction: complete the job and, if the counter moved while
//     the handler ran, insert the follow-up job.
//
// While this job runs, an enqueue for the same key is skipped by River's unique
// constraint (running is one of the unique states River requires), but it
// still increments the counter, so step 4 sees it. The unique constraint is
// what normally keeps two jobs for a key from existing at all; the lock covers
// the one case it cannot: a job handed to another worker (River's stuck-job
// rescuer, or crash recovery) while the first is somehow still running.
type requestWorker struct {
	river.WorkerDefaults[RequestArgs]
	q *Queue
}

func (w *requestWorker) Work(ctx context.Context, job *river.Job[RequestArgs]) error {
	return w.q.observe(job.JobRow, func() error {
		be := w.q.be
		release, ok, err := be.tryLock(ctx, lockKey(job.Args.Repo, job.Args.Key))
		if err != nil {
			return err
		}
		if !ok {
			return river.JobSnooze(w.q.cfg.LockRetry)
		}
		defer release()
		seen, err := be.requested(ctx, job.Args.request())
		if err != nil {
			return err
		}
		if err := w.q.handlers.Load().Request(ctx, job.Args.request()); err != nil {
			return err
		}
		return be.finishRequest(ctx, job, seen)
	})
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	q *Queue
}

func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	return w.q.observe(job.JobRow, func() error { return w.q.handlers.Load().Reconcile(ctx) })
}

type pruneWorker struct {
	river.WorkerDefaults[pruneArgs]
	q *Queue
}

func (w *pruneWorker) Work(ctx context.Context, job *river.Job[pruneArgs]) error {
	return w.q.observe(job.JobRow, func() error {
		n, err := w.q.be.prune(ctx, time.Now().Add(-w.q.cfg.DeliveryRetention))
		if err == nil && n > 0 {
			w.q.log.InfoContext(ctx, "jobs: pruned old delivery ids and request counters", "rows", n, "retention", w.q.cfg.DeliveryRetention)
		}
		return err
	})
}

// observe runs fn, classifies its result and reports it to the Observer and
// the log.
func (q *Queue) observe(job *rivertype.JobRow, fn func() error) error {
	start := time.Now()
	err := fn()
	elapsed := time.Since(start)
	outcome := OutcomeCompleted
	var cancel *rivertype.JobCancelError
	var snooze *rivertype.JobSnoozeError
	switch {
	case err == nil:
	case errors.As(err, &snooze):
		outcome = OutcomeSnoozed
	case errors.As(err, &cancel):
		outcome = OutcomeCancelled
	case job.Attempt >= job.MaxAttempts:
		outcome = OutcomeDiscarded
	default:
		outcome = OutcomeRetry
	}
	if q.cfg.Observer != nil {
		q.cfg.Observer.JobDone(job.Kind, outcome, elapsed)
	}
	if err != nil && outcome != OutcomeSnoozed {
		q.log.Warn("jobs: job failed", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "outcome", string(outcome), "error", err.Error())
	}
	return err
}

// retryPolicy adapts Config.RetryDelay to River.
type retryPolicy struct {
	delay func(attempt int) time.Duration
}

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.delay(job.Attempt))
}
