package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend is one job store under test.
type backend struct {
	name string
	// config returns a Config for a fresh, empty store.
	config func(t testing.TB) jobs.Config
}

var backends = []backend{
	{"sqlite", func(t testing.TB) jobs.Config {
		return jobs.Config{SQLitePath: filepath.Join(t.TempDir(), "jobs.db")}
	}},
	{"postgres", func(t testing.TB) jobs.Config {
		return jobs.Config{DatabaseURL: pgtest.New(t)}
	}},
}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// testLogger logs warnings and errors to the test, and stops when the test
// ends (River may log from its goroutines while a queue closes).
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

// open opens a queue on cfg with test-friendly settings and closes it at the
// end of the test.
func open(t testing.TB, cfg jobs.Config) *jobs.Queue {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = func(int) time.Duration { return 10 * time.Millisecond }
	}
	if cfg.RedriveEvery == 0 {
		cfg.RedriveEvery = -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := jobs.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return q
}

// workArgs are a test kind that coalesces per Key, like the bot's request
// jobs.
type workArgs struct {
	Key    string `json:"key"`
	Reason string `json:"reason,omitempty"`
}

const (
	kindWork  = "test_work"
	queueWork = "test_work"
)

func (workArgs) Kind() string                 { return kindWork }
func (a workArgs) CoalesceKey() string        { return a.Key }
func (workArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: queueWork} }
func enqueue(t testing.TB, q *jobs.Queue, key, reason string) {
	t.Helper()
	if err := q.Enqueue(context.Background(), workArgs{Key: key, Reason: reason}); err != nil {
		t.Fatalf("Enqueue(%s, %s): %v", key, reason, err)
	}
}

// funcWorker is a worker whose behaviour a test sets.
type funcWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	work      func(ctx context.Context, job *river.Job[T]) error
	timeout   time.Duration
	nextRetry func(job *river.Job[T]) time.Time
	discarded func(ctx context.Context, job *river.Job[T], err error) error
}

func (w *funcWorker[T]) Work(ctx context.Context, job *river.Job[T]) error { return w.work(ctx, job) }
func (w *funcWorker[T]) Timeout(*river.Job[T]) time.Duration               { return w.timeout }
func (w *funcWorker[T]) NextRetry(job *river.Job[T]) time.Time {
	if w.nextRetry != nil {
		return w.nextRetry(job)
	}
	return time.Time{}
}

// discardingWorker is a funcWorker that also implements jobs.Discarder.
type discardingWorker[T river.JobArgs] struct{ *funcWorker[T] }

func (w discardingWorker[T]) Discarded(ctx context.Context, job *river.Job[T], err error) error {
	return w.discarded(ctx, job, err)
}

// recorder collects what the handlers saw.
type recorder struct {
	mu         sync.Mutex
	deliveries []webhook.Delivery
	works      []workArgs
}

func newRecorder() *recorder { return &recorder{} }

// registry registers the recorder's delivery handler and work kind; deliver
// and work, when set, replace the recording.
func (r *recorder) registry(deliver func(context.Context, webhook.Delivery) error, work func(context.Context, workArgs) error) *jobs.Registry {
	reg := jobs.NewRegistry()
	reg.HandleDeliveries(func(ctx context.Context, d webhook.Delivery) error {
		if deliver != nil {
			return deliver(ctx, d)
		}
		r.mu.Lock()
		r.deliveries = append(r.deliveries, d)
		r.mu.Unlock()
		return nil
	})
	reg.Queue(queueWork, 0)
	jobs.AddWorker(reg, &funcWorker[workArgs]{work: func(ctx context.Context, job *river.Job[workArgs]) error {
		if work != nil {
			return work(ctx, job.Args)
		}
		r.mu.Lock()
		r.works = append(r.works, job.Args)
		r.mu.Unlock()
		return nil
	}})
	return reg
}

func (r *recorder) deliveryCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.deliveries)
}

// waitFor polls cond until it holds or a generous deadline passes. It is a
// liveness bound, not a timing assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, 30*time.Second, what, cond)
}

func waitForWithin(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func delivery(id, event string) webhook.Delivery {
	return webhook.Delivery{
		ID:             id,
		Event:          event,
		Action:         "opened",
		InstallationID: 42,
		Repository:     "acme/infra",
		Payload:        []byte(fmt.Sprintf(`{"action":"opened","delivery":%q,"installation":{"id":42},"repository":{"full_name":"acme/infra"}}`, id)),
		ReceivedAt:     time.Now(),
		NoOp:           event == "ping",
	}
}

func accept(t testing.TB, q *jobs.Queue, d webhook.Delivery) bool {
	t.Helper()
	dup, err := q.Accept(context.Background(), d)
	if err != nil {
		t.Fatalf("Accept(%s): %v", d.ID, err)
	}
	return dup
}

func start(t testing.TB, q *jobs.Queue, reg *jobs.Registry) {
	t.Helper()
	if err := q.Start(context.Background(), reg); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// drained reports that no job of kind is waiting, running or due again.
func drained(q *jobs.Queue, kind string) func() bool {
	return func() bool {
		st, err := q.Stats(context.Background())
		return err == nil && st.Kinds[kind] == (jobs.KindStats{})
	}
}

// observer records job outcomes and losses.
type observer struct {
	mu        sync.Mutex
	outcomes  map[string][]jobs.Outcome
	commits   int
	stored    int
	discarded map[string]int
	redriven  int
	abandoned int
}

func (o *observer) JobDone(kind string, outcome jobs.Outcome, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.outcomes == nil {
		o.outcomes = map[string][]jobs.Outcome{}
	}
	o.outcomes[kind] = append(o.outcomes[kind], outcome)
}

func (o *observer) IntakeCommitted(n int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commits++
	o.stored += n
}

func (o *observer) JobDiscarded(kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.discarded == nil {
		o.discarded = map[string]int{}
	}
	o.discarded[kind]++
}

func (o *observer) DeliveriesRedriven(redriven, abandoned int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.redriven += redriven
	o.abandoned += abandoned
}

func (o *observer) of(kind string) []jobs.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]jobs.Outcome(nil), o.outcomes[kind]...)
}

func (o *observer) discards(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.discarded[kind]
}

func (o *observer) redrives() (redriven, abandoned int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.redriven, o.abandoned
}
