package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Delivery jobs.
//
// A delivery job processes a batch of deliveries: those that one intake
// commit stored (Postgres) or one forwarder pass moved (SQLite), up to
// deliveryBatch. River's costs per job (an insert, a fetch, a completion)
// are then paid once per batch rather than once per delivery, which at a
// thousand deliveries a second is most of the CPU a delivery costs. Each
// delivery's handler runs on its own; the job marks the ones that succeeded
// processed (one group-committed write), and gives every one that failed a
// job of its own, which then has River's retries, RetryAfter snoozes,
// cancellation and discards like any job (the failed call in the batch is
// not counted as one of its attempts). A job of one delivery returns that
// delivery's error.

// deliveryBatch bounds the deliveries of one job, deliveryParallel how many
// of them are handled at once.
const (
	deliveryBatch    = 64
	deliveryParallel = 4
)

// DeliveryArgs are the arguments of a job that processes webhook deliveries:
// their ids. Everything else (routing fields and payload) stays in the
// delivery log, written once on the intake path.
type DeliveryArgs struct {
	IDs []string `json:"ids"`
	// ID is the one delivery of a job queued by an earlier version.
	ID string `json:"id,omitempty"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return KindDelivery }

// InsertOpts implements river.JobArgsWithInsertOpts. Deliveries are not River
// unique jobs: the delivery log is what deduplicates them.
func (DeliveryArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueIntake} }

func (a DeliveryArgs) ids() []string {
	if len(a.IDs) == 0 && a.ID != "" {
		return []string{a.ID}
	}
	return a.IDs
}

// deliveryJobs are the jobs for ids, deliveryBatch at most each.
func deliveryJobs(ids []string) []river.InsertManyParams {
	var out []river.InsertManyParams
	for len(ids) > 0 {
		n := min(len(ids), deliveryBatch)
		out = append(out, river.InsertManyParams{Args: DeliveryArgs{IDs: ids[:n:n]}})
		ids = ids[n:]
	}
	return out
}

// loggedDelivery is a delivery as the log holds it.
type loggedDelivery struct {
	webhook.Delivery
	processed bool
}

// deliveryBackoff spaces the retries of a failing delivery: its work is
// mostly turning events into other jobs, so a failure is GitHub being
// unavailable (rate limits snooze instead, see RetryAfter).
var deliveryBackoff = Backoff(time.Second, 5*time.Minute)

// deliveryWorker runs the registered delivery handler for each delivery of
// its job with the payload from the log, then marks the delivery processed
// there (dropping the payload). A job that runs again after that, because
// the process died before River recorded its completion, finds the marks and
// does nothing.
type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	r *Registry
}

func (w *deliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	return time.Now().Add(w.r.q.Load().retryDelay(job.JobRow, deliveryBackoff))
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	q := w.r.q.Load()
	ids := job.Args.ids()
	for _, id := range ids {
		release, ok, err := q.be.lockDelivery(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			return river.JobSnooze(q.cfg.LockRetry) // a duplicate job has it (SQLite, after a crash)
		}
		defer release()
	}
	logged, err := q.be.loggedDeliveries(ctx, ids)
	if err != nil {
		return err
	}
	var todo []webhook.Delivery
	for _, id := range ids {
		d, ok := logged[id]
		switch {
		case !ok:
			q.log.Warn("jobs: delivery no longer in the delivery log (older than the retention period)", "delivery", id)
		case !d.processed:
			todo = append(todo, d.Delivery)
		}
	}
	if len(todo) == 1 && len(ids) == 1 {
		if err := w.r.deliveries(ctx, todo[0]); err != nil {
			return err
		}
		return q.intake.markProcessed(ctx, todo[0].ID)
	}

	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, deliveryParallel)
	for i, d := range todo {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = w.r.deliveries(ctx, d)
		})
	}
	wg.Wait()
	var done []string
	var again []river.InsertManyParams
	for i, d := range todo {
		var ra RetryAfter
		switch err := errs[i]; {
		case err == nil:
			done = append(done, d.ID)
		case ctx.Err() != nil:
			// Stopping, or out of time: the job is tried again whole.
		default:
			// A job of its own, which then fares as an unbatched delivery:
			// River's retries, snoozes, discard or cancellation (a
			// Permanent error fails it again at once). After a RetryAfter,
			// no sooner than asked.
			opts := &river.InsertOpts{}
			if errors.As(err, &ra) && ra.RetryAfter() > 0 {
				opts.ScheduledAt = time.Now().Add(min(ra.RetryAfter(), q.cfg.MaxRetryAfter))
			}
			again = append(again, river.InsertManyParams{Args: DeliveryArgs{IDs: []string{d.ID}}, InsertOpts: opts})
			q.log.Info("jobs: delivery failed in a batch; it gets a job of its own", "delivery", d.ID, "event", d.Event, "error", err.Error())
		}
	}
	if err := q.intake.markProcessed(ctx, done...); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(again) > 0 {
		if err := q.be.insertMany(ctx, again); err != nil {
			return fmt.Errorf("jobs: give failed deliveries jobs of their own: %w", err)
		}
	}
	return nil
}
