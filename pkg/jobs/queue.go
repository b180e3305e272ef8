package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Queue is the durable job queue. It is a webhook.Store (Accept), accepts
// request work (EnqueueRequest), and once started works the jobs with the
// caller's Handlers.
type Queue struct {
	cfg      Config
	log      *slog.Logger
	be       backend
	intake   *intake
	handlers atomic.Pointer[Handlers]

	mu      sync.Mutex
	started bool
	stopped bool
	closed  bool
}

var _ webhook.Store = (*Queue)(nil)

// backend is what a database brings: SQLite or Postgres.
type backend interface {
	// acceptBatch stores deliveries in one transaction: a delivery log row
	// each (with the payload) and, for a delivery seen for the first time
	// that is not a no-op, its job (Postgres: in the same transaction;
	// SQLite: by the forwarder, soon after). dup[i] reports that ds[i]'s id
	// was already logged.
	acceptBatch(ctx context.Context, ds []webhook.Delivery) (dup []bool, err error)
	// deliveryPayload reads a logged delivery's payload, or reports that it
	// was processed already; errNotLogged when the id is not in the log.
	deliveryPayload(ctx context.Context, id string) (payload []byte, processed bool, err error)
	// markProcessed records that a delivery's handler succeeded and drops
	// its payload.
	markProcessed(ctx context.Context, id string) error
	// enqueueRequest bumps the key's request counter and inserts its job,
	// unless one is already waiting or running.
	enqueueRequest(ctx context.Context, r Request) error
	// tryLock takes a request key's lock without waiting.
	tryLock(ctx context.Context, key string) (release func(), ok bool, err error)
	// lockDelivery serialises jobs for one delivery id, where a backend can
	// create two (the SQLite forwarder after a crash).
	lockDelivery(ctx context.Context, id string) (release func(), ok bool, err error)
	// requested reads the key's request counter.
	requested(ctx context.Context, r Request) (int64, error)
	// finishRequest completes job and, if the counter has moved past seen,
	// inserts the follow-up job, in one transaction.
	finishRequest(ctx context.Context, job *river.Job[RequestArgs], seen int64) error
	prune(ctx context.Context, before time.Time) (int64, error)
	stats(ctx context.Context) (Stats, error)
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	close() error
	// writers is the number of concurrent intake transactions worth running.
	writers() int
}

// Open opens (creating and migrating if needed) the job store named by cfg.
// The Queue accepts deliveries and requests at once; Start begins working
// them.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, log: cfg.Logger}

	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{q: q})
	river.AddWorker(workers, &requestWorker{q: q})
	river.AddWorker(workers, &reconcileWorker{q: q})
	river.AddWorker(workers, &pruneWorker{q: q})

	rc := &river.Config{
		ID:          clientID(),
		Logger:      cfg.Logger,
		MaxAttempts: cfg.MaxAttempts,
		JobTimeout:  cfg.JobTimeout,
		Queues: map[string]river.QueueConfig{
			// River fetches at most once per cooldown, which caps a queue at
			// MaxWorkers jobs per cooldown; deliveries are many and short.
			QueueIntake: {MaxWorkers: cfg.Workers, FetchCooldown: 20 * time.Millisecond},
			QueueWork:   {MaxWorkers: cfg.Workers},
		},
		Workers: workers,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return pruneArgs{}, nil },
				&river.PeriodicJobOpts{ID: KindPrune, RunOnStart: true}),
		},
	}
	if cfg.ReconcileEvery > 0 {
		rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(cfg.ReconcileEvery),
			func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
			&river.PeriodicJobOpts{ID: KindReconcile, RunOnStart: true}))
	}
	if cfg.RetryDelay != nil {
		rc.RetryPolicy = retryPolicy{cfg.RetryDelay}
	}

	if cfg.SQLitePath != "" {
		q.be, err = openSQLite(ctx, cfg, rc)
	} else {
		q.be, err = openPostgres(ctx, cfg, rc)
	}
	if err != nil {
		return nil, err
	}
	q.intake = newIntake(q.be.writers(), q.be.acceptBatch, cfg.Observer)
	return q, nil
}

// Accept stores a webhook delivery durably, deduplicated by its id, and sees
// to it that a job will process it (none for a no-op such as ping). It returns
// once the delivery is committed. It implements webhook.Store.
func (q *Queue) Accept(ctx context.Context, d webhook.Delivery) (duplicate bool, err error) {
	var errs []error
	if d.ID == "" {
		errs = append(errs, errors.New("jobs: Delivery.ID: required"))
	}
	if d.Event == "" {
		errs = append(errs, errors.New("jobs: Delivery.Event: required"))
	}
	if len(errs) > 0 {
		return false, errors.Join(errs...)
	}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = time.Now()
	}
	if len(d.Payload) == 0 {
		d.Payload = []byte("{}")
	}
	return q.intake.accept(ctx, d)
}

// EnqueueRequest asks for r's work to be done. It is coalesced: while a job for
// the same Repo and Key is waiting, nothing new is queued; while one is
// running, exactly one more run follows it.
func (q *Queue) EnqueueRequest(ctx context.Context, r Request) error {
	if err := r.validate(); err != nil {
		return err
	}
	if q.isClosed() {
		return ErrClosed
	}
	if err := q.be.enqueueRequest(ctx, r); err != nil {
		return fmt.Errorf("jobs: enqueue request %s %s: %w", r.Repo, r.Key, err)
	}
	return nil
}

// Start begins working jobs with h. ctx is only used while starting; stop
// the queue with Stop. A Queue starts once.
func (q *Queue) Start(ctx context.Context, h Handlers) error {
	if err := h.validate(q.cfg.ReconcileEvery > 0); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return ErrClosed
	case q.started:
		return errors.New("jobs: queue already started")
	}
	q.handlers.Store(&h)
	if err := q.be.start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	q.started = true
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish until ctx is
// done; then it cancels those still running, which go back to the queue to be
// retried. Deliveries and requests are still accepted after Stop.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started || q.stopped {
		return nil
	}
	q.stopped = true
	err := q.be.stop(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	q.log.Warn("jobs: running jobs did not finish in time; cancelling them, they will be retried")
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.be.stopAndCancel(cctx); err != nil {
		return fmt.Errorf("jobs: stop and cancel: %w", err)
	}
	return nil
}

// Close stops the queue (if it is still running, as Stop with a 30-second
// grace) and releases the database. Accept and EnqueueRequest fail with
// ErrClosed afterwards.
func (q *Queue) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopErr := q.Stop(ctx)
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	q.intake.close()
	return errors.Join(stopErr, q.be.close())
}

func (q *Queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Stats describes the queue for metrics and readiness checks.
type Stats struct {
	// Kinds holds one entry per job kind that has unfinished jobs.
	Kinds map[string]KindStats
}

// KindStats counts one kind's unfinished jobs.
type KindStats struct {
	Available int64 // ready to run now (or snoozed/retrying with a due time)
	Running   int64
	Retryable int64 // failed, waiting for their retry
	Scheduled int64 // waiting for a future time
	// OldestAvailable is how long the oldest job that could run has been
	// waiting: the age of the queue's head, zero when none is waiting.
	OldestAvailable time.Duration
}

// Stats reads queue depth and the age of the oldest runnable job, by kind.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	if q.isClosed() {
		return Stats{}, ErrClosed
	}
	s, err := q.be.stats(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("jobs: stats: %w", err)
	}
	return s, nil
}

// clientID names this process in River (attempted_by, leader election) and in
// crash recovery: host, pid and a random suffix, unique per Open.
func clientID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "rdsbot-" + host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

func (s *Stats) add(kind, state string, n int64, age time.Duration) {
	k := s.Kinds[kind]
	switch state {
	case "available":
		k.Available = n
		k.OldestAvailable = max(age, 0)
	case "running":
		k.Running = n
	case "retryable":
		k.Retryable = n
	case "scheduled":
		k.Scheduled = n
	}
	s.Kinds[kind] = k
}
