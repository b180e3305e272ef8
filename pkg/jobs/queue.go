package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// ErrClosed is returned by a Queue that has been closed.
var ErrClosed = errors.New("jobs: queue closed")

// Queue is the durable job queue. It is a webhook.Store (Accept), takes jobs
// (Enqueue), hands out locks (Lock, TryLock), and once started with a
// Registry works the jobs.
type Queue struct {
	cfg    Config
	log    *slog.Logger
	id     string // River client id of the working client: the name of this process in attempts and leases
	be     backend
	intake *intake
	reg    atomic.Pointer[Registry]

	state   atomic.Int32 // queueOpen → queueStarted → queueStopped; queueClosed from any
	startMu sync.Mutex   // serialises Start and Close; never held while waiting for jobs
	alive   aliveCache
}

const (
	queueOpen int32 = iota
	queueStarted
	queueStopped
	queueClosed
)

var _ webhook.Store = (*Queue)(nil)

// backend is what a database brings: SQLite or Postgres.
type backend interface {
	// acceptBatch writes the delivery log in one transaction: a row for
	// each of ds (with the payload) and, for a delivery seen for the first
	// time that is not a no-op, its job (Postgres: in the same transaction;
	// SQLite: by the forwarder, soon after); and the processed mark of each
	// of processed (dropping its payload). dup[i] reports that ds[i]'s id
	// was already logged.
	acceptBatch(ctx context.Context, ds []webhook.Delivery, processed []string) (dup []bool, err error)
	// loggedDeliveries reads deliveries from the log (with their payloads
	// unless processed); ids not in the log are missing from the map.
	loggedDeliveries(ctx context.Context, ids []string) (map[string]loggedDelivery, error)
	// lockDelivery serialises jobs for one delivery id, where a backend can
	// create two at once (the SQLite forwarder after a crash).
	lockDelivery(ctx context.Context, id string) (release func(), ok bool, err error)
	// insert inserts one job through River; insertMany several.
	insert(ctx context.Context, args river.JobArgs) (*rivertype.JobInsertResult, error)
	insertMany(ctx context.Context, params []river.InsertManyParams) error
	// enqueueCoalesced bumps the key's counter and makes sure a job will
	// run (see coalesce.go).
	enqueueCoalesced(ctx context.Context, kind, key string, args river.JobArgs, encoded []byte) error
	// coalesceSeen reads the key's counter.
	coalesceSeen(ctx context.Context, kind, key string) (int64, error)
	// finishCoalesced completes the job (complete) and, if the counter has
	// moved past seen, inserts the follow-up job, in one transaction.
	finishCoalesced(ctx context.Context, kind, key string, seen int64, complete func(tx any) error, followUp func([]byte) (river.JobArgs, error)) error
	// lock takes a named lock, waiting for it when wait is set; ErrLocked
	// otherwise.
	lock(ctx context.Context, key string, wait bool) (*Lease, error)
	// alive reports whether the process with this River client id was
	// heard from within RecoverAfter (always false for SQLite, whose lock
	// file proves every other process gone).
	alive(ctx context.Context, clientID string) (bool, error)
	// redriveCandidates lists unprocessed deliveries received after after
	// (by received_at and id) and last (re)driven before before, up to limit.
	redriveCandidates(ctx context.Context, before time.Time, after redriveCandidate, limit int) ([]redriveCandidate, error)
	// liveDeliveryJobs reports which of ids have a job that may still run.
	liveDeliveryJobs(ctx context.Context, ids []string) (map[string]bool, error)
	// redriven inserts new delivery jobs for ids and counts a redrive for
	// each; abandon marks deliveries given up.
	redriven(ctx context.Context, ids []string) error
	abandon(ctx context.Context, ids []string) error
	// listDiscarded lists discarded jobs finalized after cursor.
	listDiscarded(ctx context.Context, after *river.JobListCursor, limit int) ([]*rivertype.JobRow, *river.JobListCursor, error)
	getJob(ctx context.Context, id int64) (*rivertype.JobRow, error)
	// cursor reads and writes a named point in time (the reporter's).
	cursor(ctx context.Context, name string) (time.Time, error)
	setCursor(ctx context.Context, name string, at time.Time) error
	prune(ctx context.Context, before time.Time) (int64, error)
	stats(ctx context.Context) (Stats, error)
	// start creates the working River client from rc and starts it.
	start(ctx context.Context, rc *river.Config) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	close() error
	// writers is the number of concurrent intake transactions worth running.
	writers() int
}

// Open opens (creating and migrating if needed) the job store named by cfg.
// The Queue accepts deliveries and jobs at once; Start begins working them.
// A Queue that is never started is an intake: it stores deliveries for
// another process (Postgres) or for its next start.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, log: cfg.Logger, id: clientID()}
	if cfg.SQLitePath != "" {
		q.be, err = openSQLite(ctx, cfg, q)
	} else {
		q.be, err = openPostgres(ctx, cfg, q)
	}
	if err != nil {
		return nil, err
	}
	q.intake = newIntake(q.be.writers(), q.be.acceptBatch, cfg.Observer)
	return q, nil
}

// Accept stores a webhook delivery durably, deduplicated by its id, and sees
// to it that a job will process it (none for a no-op). It returns once the
// delivery is committed. It implements webhook.Store.
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

// Enqueue inserts a job. Args that are Coalesced coalesce with the key's
// waiting or running job (see Coalesced); if that job waits for a retry or a
// snooze, it is made to run at once (except while it waits out a
// RetryAfter). Other args are inserted as they are, with their InsertOpts.
func (q *Queue) Enqueue(ctx context.Context, args river.JobArgs) error {
	if q.state.Load() == queueClosed {
		return ErrClosed
	}
	kind := args.Kind()
	if reg := q.reg.Load(); reg != nil && reg.kinds[kind] == nil {
		return fmt.Errorf("jobs: enqueue %s: kind not registered", kind)
	}
	c, ok := args.(Coalesced)
	if !ok {
		if _, err := q.be.insert(ctx, args); err != nil {
			return fmt.Errorf("jobs: enqueue %s: %w", kind, err)
		}
		return nil
	}
	key := c.CoalesceKey()
	if key == "" {
		return fmt.Errorf("jobs: enqueue %s: CoalesceKey: required", kind)
	}
	encoded, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", kind, err)
	}
	if err := q.be.enqueueCoalesced(ctx, kind, key, args, encoded); err != nil {
		return fmt.Errorf("jobs: enqueue %s %s: %w", kind, key, err)
	}
	return nil
}

// Start begins working jobs with the kinds of reg. ctx is only used while
// starting; stop the queue with Stop. A Queue starts once.
func (q *Queue) Start(ctx context.Context, reg *Registry) error {
	q.startMu.Lock()
	defer q.startMu.Unlock()
	switch q.state.Load() {
	case queueClosed:
		return ErrClosed
	case queueStarted, queueStopped:
		return errors.New("jobs: queue already started")
	}
	if reg == nil {
		return errors.New("jobs: Start: a Registry is required")
	}
	if err := reg.check(); err != nil {
		return err
	}
	if !reg.q.CompareAndSwap(nil, q) {
		return errors.New("jobs: Start: the Registry is in use by another queue")
	}
	q.reg.Store(reg)
	reg.Periodic(time.Hour, func() river.JobArgs { return pruneArgs{} })
	reg.Periodic(q.cfg.ReportEvery, func() river.JobArgs { return reportArgs{} })
	if q.cfg.RedriveEvery > 0 {
		reg.Periodic(q.cfg.RedriveEvery, func() river.JobArgs { return redriveArgs{} })
	}
	queues := map[string]river.QueueConfig{}
	for name, n := range reg.queues {
		if n == 0 {
			n = q.cfg.Workers
		}
		qc := river.QueueConfig{MaxWorkers: n}
		if name == QueueIntake {
			// River fetches at most once per cooldown, which caps a queue
			// at MaxWorkers jobs per cooldown; deliveries are many and short.
			qc.FetchCooldown = 20 * time.Millisecond
		}
		queues[name] = qc
	}
	rc := &river.Config{
		ID:          q.id,
		Logger:      q.log,
		MaxAttempts: q.cfg.MaxAttempts,
		// Every registered worker states its timeout (see worker.Timeout), so
		// River's own default is unused; it only has to stay below
		// RescueStuckJobsAfter.
		JobTimeout: rescueAfter,
		// River's rescuer looks at running jobs older than this and asks
		// their worker's Timeout whether they overran; a job of a process
		// that is gone has, at once (see worker.Timeout).
		RescueStuckJobsAfter: rescueAfter,
		Queues:               queues,
		Workers:              reg.workers,
		PeriodicJobs:         reg.periodic,
	}
	if q.cfg.RetryDelay != nil {
		rc.RetryPolicy = retryPolicy{q.cfg.RetryDelay}
	}
	if err := q.be.start(context.WithoutCancel(ctx), rc); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	q.state.Store(queueStarted)
	return nil
}

// rescueAfter is how long a job must have been running before River's
// rescuer considers it; only jobs of dead processes, or ones that overran
// their kind's timeout, are rescued.
const rescueAfter = 5 * time.Second

// Stop stops fetching jobs and waits for running ones to finish; shortly
// before ctx ends it cancels those still running, which go back to the
// queue without using an attempt, and it returns when ctx ends at the
// latest. Deliveries and jobs are still accepted after Stop.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.state.CompareAndSwap(queueStarted, queueStopped) {
		return nil
	}
	soft := ctx
	if deadline, ok := ctx.Deadline(); ok {
		// Keep a part of the grace for the cancelled jobs to return.
		reserve := min(time.Until(deadline)/4, 2*time.Second)
		var cancel context.CancelFunc
		soft, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		defer cancel()
	}
	err := q.be.stop(soft)
	if err == nil {
		return nil
	}
	if soft.Err() == nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	q.log.Warn("jobs: running jobs did not finish in time; cancelling them, they go back to the queue")
	if err := q.be.stopAndCancel(ctx); err != nil {
		return fmt.Errorf("jobs: stop: jobs still running after the grace (they will be rescued once this process is gone): %w", err)
	}
	return nil
}

// Close stops the queue (if it is still running, as Stop with a 10-second
// grace) and releases the database. Accept, Enqueue and Lock fail with
// ErrClosed afterwards.
func (q *Queue) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopErr := q.Stop(ctx)
	q.startMu.Lock()
	defer q.startMu.Unlock()
	if q.state.Swap(queueClosed) == queueClosed {
		return nil
	}
	q.intake.close()
	return errors.Join(stopErr, q.be.close())
}

// Kinds lists the registered job kinds (none before Start).
func (q *Queue) Kinds() []string {
	if reg := q.reg.Load(); reg != nil {
		return reg.sortedKinds()
	}
	return nil
}

// Stats describes the queue for metrics and readiness checks.
type Stats struct {
	// Kinds holds one entry per job kind that has unfinished jobs.
	Kinds map[string]KindStats
}

// KindStats counts one kind's unfinished jobs (for KindDelivery, the
// deliveries in them).
type KindStats struct {
	Available int64 // ready to run now (or snoozed/retrying with a due time)
	Running   int64
	Retryable int64 // failed, waiting for their retry
	Scheduled int64 // waiting for a future time (snoozed included)
	// OldestAvailable is how long the oldest job that could run has been
	// waiting: the age of the queue's head, zero when none is waiting.
	OldestAvailable time.Duration
}

// Stats reads queue depth and the age of the oldest runnable job, by kind.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	if q.state.Load() == queueClosed {
		return Stats{}, ErrClosed
	}
	s, err := q.be.stats(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("jobs: stats: %w", err)
	}
	return s, nil
}

// settle classifies a worker's result, turns a RetryAfter error into a
// snooze, and reports the attempt to the Observer and the log.
func (q *Queue) settle(ctx context.Context, job *rivertype.JobRow, start time.Time, err error) error {
	elapsed := time.Since(start)
	outcome := OutcomeCompleted
	var (
		cancel *rivertype.JobCancelError
		snooze *rivertype.JobSnoozeError
		ra     RetryAfter
	)
	switch {
	case err == nil:
	case errors.As(err, &snooze):
		outcome = OutcomeSnoozed
	case errors.As(err, &cancel):
		outcome = OutcomeCancelled
	case errors.As(err, &ra) && ra.RetryAfter() > 0 && retryAftersOf(job) < q.cfg.MaxRetryAfters:
		outcome = OutcomeRetryAfter
		wait := min(ra.RetryAfter(), q.cfg.MaxRetryAfter)
		_ = river.MetadataSet(ctx, metaRetryAfters, retryAftersOf(job)+1)
		_ = river.MetadataSet(ctx, metaHoldUntil, time.Now().Add(wait).UTC())
		q.log.Info("jobs: waiting as asked", "kind", job.Kind, "job", job.ID, "wait", wait, "error", err.Error())
		err = river.JobSnooze(wait)
	case job.Attempt >= job.MaxAttempts:
		outcome = OutcomeDiscarded
	default:
		outcome = OutcomeRetry
	}
	if q.cfg.Observer != nil {
		q.cfg.Observer.JobDone(job.Kind, outcome, elapsed)
	}
	switch outcome {
	case OutcomeRetry, OutcomeCancelled:
		q.log.Warn("jobs: job failed", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "outcome", string(outcome), "error", err.Error())
	case OutcomeDiscarded:
		q.log.Error("jobs: job failed on its last attempt; discarded", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "error", err.Error())
	}
	return err
}

// Metadata keys this package keeps on jobs.
const (
	metaRetryAfters = "rdsbot_retry_afters" // RetryAfter snoozes taken
	metaHoldUntil   = "rdsbot_hold_until"   // end of the current RetryAfter wait
)

func retryAftersOf(job *rivertype.JobRow) int {
	var m struct {
		N int `json:"rdsbot_retry_afters"`
	}
	_ = json.Unmarshal(job.Metadata, &m)
	return m.N
}

// heldUntil is the end of the RetryAfter wait a job is in, zero if none.
func heldUntil(job *rivertype.JobRow) time.Time {
	var m struct {
		At time.Time `json:"rdsbot_hold_until"`
	}
	_ = json.Unmarshal(job.Metadata, &m)
	return m.At
}

// retryDelay is Config.RetryDelay when set, otherwise def.
func (q *Queue) retryDelay(job *rivertype.JobRow, def func(int) time.Duration) time.Duration {
	if q.cfg.RetryDelay != nil {
		return q.cfg.RetryDelay(job.Attempt)
	}
	return def(job.Attempt)
}

// retryPolicy adapts Config.RetryDelay to River.
type retryPolicy struct {
	delay func(attempt int) time.Duration
}

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.delay(job.Attempt))
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
