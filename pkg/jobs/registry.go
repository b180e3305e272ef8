package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Registry collects the job kinds, queues and periodic jobs of the packages
// that own them. It is given to Queue.Start, once.
type Registry struct {
	workers    *river.Workers
	kinds      map[string]*kindInfo
	queues     map[string]int
	periodic   []*river.PeriodicJob
	periodicID map[string]bool
	deliveries func(ctx context.Context, d webhook.Delivery) error
	errs       []error

	q atomic.Pointer[Queue] // set by Start
}

// kindInfo is what the queue knows about a registered kind.
type kindInfo struct {
	name      string
	queue     string
	discarded func(ctx context.Context, row *rivertype.JobRow, err error) error // nil: no hook
}

// NewRegistry returns a registry holding the package's own kinds (webhook
// deliveries and upkeep); the caller adds its own.
func NewRegistry() *Registry {
	r := &Registry{
		workers:    river.NewWorkers(),
		kinds:      map[string]*kindInfo{},
		queues:     map[string]int{},
		periodicID: map[string]bool{},
	}
	r.queues[QueueIntake] = 0
	r.queues[QueueUpkeep] = upkeepWorkers
	AddWorker(r, &deliveryWorker{r: r})
	AddWorker(r, &pruneWorker{r: r})
	AddWorker(r, &redriveWorker{r: r})
	AddWorker(r, &reportWorker{r: r})
	AddWorker(r, &discardWorker{r: r})
	return r
}

// AddWorker registers the worker of one job kind (its args' Kind). The
// kind's queue, attempts and uniqueness come from its args' InsertOpts; its
// timeout and retry delay from the worker's Timeout and NextRetry (zero
// values: Config.JobTimeout and Config.RetryDelay). The worker is wrapped:
// every attempt is measured and reported per kind, a RetryAfter error
// snoozes the job, args that are Locked or Coalesced run under their lock,
// and a worker that implements Discarder hears about given-up jobs.
// Registration problems are reported by Queue.Start, all at once; adding a
// worker to a registry whose queue has started panics.
func AddWorker[T river.JobArgs](r *Registry, w river.Worker[T]) {
	var args T
	kind := args.Kind()
	if r.q.Load() != nil {
		panic(fmt.Sprintf("jobs: kind %q: registered after the queue started", kind))
	}
	opts := insertOptsOf(args)
	wrapped := &worker[T]{inner: w, r: r, kind: kind}
	if err := river.AddWorkerSafely[T](r.workers, wrapped); err != nil {
		r.errs = append(r.errs, fmt.Errorf("jobs: kind %q: %w", kind, err))
		return
	}
	info := &kindInfo{name: kind, queue: cmpOr(opts.Queue, river.QueueDefault)}
	if d, ok := w.(Discarder[T]); ok {
		info.discarded = func(ctx context.Context, row *rivertype.JobRow, err error) error {
			var a T
			if uerr := json.Unmarshal(row.EncodedArgs, &a); uerr != nil {
				return Permanent(fmt.Errorf("decode the args of job %d (%s): %w", row.ID, row.Kind, uerr))
			}
			return d.Discarded(ctx, &river.Job[T]{JobRow: row, Args: a}, err)
		}
	}
	r.kinds[kind] = info
}

// Queue declares a queue and how many of its jobs run at once per process
// (0: Config.Workers). Every queue a registered kind names must be declared.
func (r *Registry) Queue(name string, maxWorkers int) {
	if maxWorkers < 0 {
		r.errs = append(r.errs, fmt.Errorf("jobs: queue %q: %d workers", name, maxWorkers))
		return
	}
	r.queues[name] = maxWorkers
}

// Periodic runs a job every period, one at a time across replicas (the
// River leader inserts it; make its args unique over unfinished states so
// that a slow run is not stacked). The first run is when a leader starts.
func (r *Registry) Periodic(every time.Duration, args func() river.JobArgs) {
	kind := args().Kind()
	switch {
	case every < time.Second:
		r.errs = append(r.errs, fmt.Errorf("jobs: periodic %q: %s is below River's minimum period of one second", kind, every))
		return
	case r.periodicID[kind]:
		r.errs = append(r.errs, fmt.Errorf("jobs: periodic %q registered twice", kind))
		return
	}
	r.periodicID[kind] = true
	r.periodic = append(r.periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return args(), nil },
		&river.PeriodicJobOpts{ID: kind, RunOnStart: true}))
}

// HandleDeliveries sets the function that processes webhook deliveries
// (kind KindDelivery). Required.
func (r *Registry) HandleDeliveries(h func(ctx context.Context, d webhook.Delivery) error) {
	r.deliveries = h
}

// check reports registration problems, all at once.
func (r *Registry) check() error {
	errs := slices.Clone(r.errs)
	if r.deliveries == nil {
		errs = append(errs, errors.New("jobs: Registry.HandleDeliveries: a delivery handler is required"))
	}
	for _, k := range r.sortedKinds() {
		if _, ok := r.queues[r.kinds[k].queue]; !ok {
			errs = append(errs, fmt.Errorf("jobs: kind %q: its queue %q is not declared (Registry.Queue)", k, r.kinds[k].queue))
		}
	}
	return errors.Join(errs...)
}

func (r *Registry) sortedKinds() []string {
	ks := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// worker wraps every registered worker: measures, locks, coalesces, turns
// RetryAfter errors into snoozes, and recognises the jobs of dead processes
// for River's rescuer.
type worker[T river.JobArgs] struct {
	inner river.Worker[T]
	r     *Registry
	kind  string
}

func (w *worker[T]) Middleware(job *rivertype.JobRow) []rivertype.WorkerMiddleware {
	return w.inner.Middleware(job)
}

// Timeout is the inner worker's (or Config.JobTimeout), except for a job
// whose attempt belongs to a process that is gone: River's rescuer asks the
// worker's Timeout whether a running job has overrun, and for such a job the
// answer is yes at once. This is how crash recovery works without writing
// into River's tables.
func (w *worker[T]) Timeout(job *river.Job[T]) time.Duration {
	q := w.r.q.Load()
	if q != nil && q.orphaned(job.JobRow) {
		return time.Nanosecond
	}
	if t := w.inner.Timeout(job); t != 0 {
		return t
	}
	if q != nil {
		return q.cfg.JobTimeout
	}
	return JobTimeoutDefault
}

// NextRetry is the inner worker's, except that a job rescued from a dead
// process runs again at once: its attempt did not fail, it was cut short.
func (w *worker[T]) NextRetry(job *river.Job[T]) time.Time {
	if q := w.r.q.Load(); q != nil && q.orphaned(job.JobRow) {
		return time.Now()
	}
	return w.inner.NextRetry(job)
}

func (w *worker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	q := w.r.q.Load()
	start := time.Now()
	err := w.work(ctx, q, job)
	return q.settle(ctx, job.JobRow, start, err)
}

func (w *worker[T]) work(ctx context.Context, q *Queue, job *river.Job[T]) error {
	var (
		coalesced, isCoalesced = any(job.Args).(Coalesced)
		ckey                   string
	)
	if isCoalesced {
		ckey = coalesced.CoalesceKey()
	}
	lockKey := ""
	if l, ok := any(job.Args).(Locked); ok {
		lockKey = l.LockKey()
	} else if isCoalesced {
		lockKey = "coalesce/" + w.kind + "/" + ckey
	}
	if lockKey != "" {
		lease, err := q.TryLock(ctx, lockKey)
		if errors.Is(err, ErrLocked) {
			return river.JobSnooze(q.cfg.LockRetry)
		}
		if err != nil {
			return err
		}
		defer lease.Release()
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		stop := context.AfterFunc(lease.Context(), func() { cancel(context.Cause(lease.Context())) })
		defer stop()
	}
	if !isCoalesced {
		return w.inner.Work(ctx, job)
	}
	seen, err := q.be.coalesceSeen(ctx, w.kind, ckey)
	if err != nil {
		return fmt.Errorf("jobs: read coalescing counter: %w", err)
	}
	if err := w.inner.Work(ctx, job); err != nil {
		return err
	}
	return q.be.finishCoalesced(ctx, w.kind, ckey, seen,
		func(tx any) error { return completeTx(ctx, tx, job) },
		func(encoded []byte) (river.JobArgs, error) {
			var a T
			err := json.Unmarshal(encoded, &a)
			return a, err
		})
}

// insertOptsOf is the InsertOpts args ask for, if any.
func insertOptsOf(args river.JobArgs) river.InsertOpts {
	if a, ok := args.(river.JobArgsWithInsertOpts); ok {
		return a.InsertOpts()
	}
	return river.InsertOpts{}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
