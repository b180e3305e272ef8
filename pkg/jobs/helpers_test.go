package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

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
	if cfg.ReconcileEvery == 0 {
		cfg.ReconcileEvery = -1
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

// recorder collects what handlers saw.
type recorder struct {
	mu         sync.Mutex
	deliveries []webhook.Delivery
	requests   []jobs.Request
	reconciles int
	changed    chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) note(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) handlers() jobs.Handlers {
	return jobs.Handlers{
		Delivery: func(_ context.Context, d webhook.Delivery) error {
			r.note(func() { r.deliveries = append(r.deliveries, d) })
			return nil
		},
		Request: func(_ context.Context, req jobs.Request) error {
			r.note(func() { r.requests = append(r.requests, req) })
			return nil
		},
		Reconcile: func(context.Context) error {
			r.note(func() { r.reconciles++ })
			return nil
		},
	}
}

// waitFor polls cond until it holds or a generous deadline passes. It is a
// liveness bound, not a timing assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
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

func start(t testing.TB, q *jobs.Queue, h jobs.Handlers) {
	t.Helper()
	if err := q.Start(context.Background(), h); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// observer records job outcomes.
type observer struct {
	mu       sync.Mutex
	outcomes map[string][]jobs.Outcome
	commits  int
	stored   int
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

func (o *observer) of(kind string) []jobs.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]jobs.Outcome(nil), o.outcomes[kind]...)
}
