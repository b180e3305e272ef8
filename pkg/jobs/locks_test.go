package jobs_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/jobs"
)

// TestLockIsExclusiveAcrossReplicas: one holder at a time, across every
// process sharing the store; Lock waits, TryLock does not.
func TestLockIsExclusiveAcrossReplicas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		a := open(t, cfg)
		other := a
		if cfg.DatabaseURL != "" {
			other = open(t, cfg) // a second replica
		}
		ctx := context.Background()
		l, err := a.Lock(ctx, "env/prod")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.TryLock(ctx, "env/prod"); !errors.Is(err, jobs.ErrLocked) {
			t.Fatalf("TryLock of a held lock: %v, want ErrLocked", err)
		}
		if l2, err := other.TryLock(ctx, "env/dev"); err != nil {
			t.Fatalf("TryLock of another key: %v", err)
		} else {
			l2.Release()
		}
		got := make(chan *jobs.Lease)
		go func() {
			l, err := other.Lock(ctx, "env/prod")
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		select {
		case <-got:
			t.Fatal("Lock returned while the lock was held")
		case <-time.After(300 * time.Millisecond):
		}
		l.Release()
		if context.Cause(l.Context()) != jobs.ErrLockReleased {
			t.Errorf("released lease's context: %v", context.Cause(l.Context()))
		}
		select {
		case l := <-got:
			l.Release()
		case <-time.After(30 * time.Second):
			t.Fatal("Lock never returned after the release")
		}
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		l, err = a.Lock(ctx, "env/prod")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		if _, err := other.Lock(wctx, "env/prod"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lock past its context: %v", err)
		}
	})
}

// terminateLockHolders ends the Postgres sessions holding advisory locks,
// as a server restart, a failover or a network partition would.
func terminateLockHolders(t *testing.T, url string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLostLockCancelsTheLease: when a lock's session ends, its holder learns
// it within a few heartbeats (its lease's context ends with ErrLockLost) and
// the lock can be taken again.
func TestLostLockCancelsTheLease(t *testing.T) {
	cfg := backends[1].config(t)
	q := open(t, cfg)
	l, err := q.Lock(context.Background(), "env/prod")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if n := terminateLockHolders(t, cfg.DatabaseURL); n != 1 {
		t.Fatalf("terminated %d sessions holding advisory locks, want 1", n)
	}
	select {
	case <-l.Context().Done():
		if cause := context.Cause(l.Context()); !errors.Is(cause, jobs.ErrLockLost) {
			t.Errorf("cause %v, want ErrLockLost", cause)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the lease never noticed its lock was gone")
	}
	l2, err := q.TryLock(context.Background(), "env/prod")
	if err != nil {
		t.Fatalf("TryLock after the loss: %v", err)
	}
	l2.Release()
}

// provisionArgs are a second kind under the same per-environment lock as
// onceArgs (apply then provision).
type provisionArgs struct {
	Env string `json:"env"`
	N   int    `json:"n"`
}

func (provisionArgs) Kind() string                 { return "test_provision" }
func (a provisionArgs) LockKey() string            { return "env/" + a.Env }
func (provisionArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: "test_once"} }

// TestLockedKindsNeverOverlap: jobs of two kinds that name one environment's
// lock never run at the same time, across replicas; the one that finds the
// lock taken waits without using an attempt.
func TestLockedKindsNeverOverlap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.LockRetry = 20 * time.Millisecond
		cfg.MaxAttempts = 1 // a wait for the lock must not count
		queues := []*jobs.Queue{open(t, cfg)}
		if cfg.DatabaseURL != "" {
			queues = append(queues, open(t, cfg))
		}
		var (
			running atomic.Int32
			overlap atomic.Int32
			done    atomic.Int32
		)
		run := func() error {
			if running.Add(1) > 1 {
				overlap.Add(1)
			}
			time.Sleep(30 * time.Millisecond)
			running.Add(-1)
			done.Add(1)
			return nil
		}
		for _, q := range queues {
			reg := newRecorder().registry(nil, nil)
			reg.Queue("test_once", 4)
			jobs.AddWorker(reg, &funcWorker[onceArgs]{work: func(ctx context.Context, _ *river.Job[onceArgs]) error { return run() }})
			jobs.AddWorker(reg, &funcWorker[provisionArgs]{work: func(ctx context.Context, _ *river.Job[provisionArgs]) error { return run() }})
			start(t, q, reg)
		}
		for i := range 10 {
			q := queues[i%len(queues)]
			if err := q.Enqueue(context.Background(), onceArgs{Env: "prod", Commit: string(rune('a' + i))}); err != nil {
				t.Fatal(err)
			}
			if err := q.Enqueue(context.Background(), provisionArgs{Env: "prod", N: i}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "20 locked jobs done", func() bool { return done.Load() == 20 })
		if overlap.Load() > 0 {
			t.Errorf("%d runs overlapped under one environment's lock", overlap.Load())
		}
	})
}

// TestLockLostMidRunCancelsTheJob: a job running under a lock that is lost
// has its context cancelled, so that it stops before another process can
// take the lock.
func TestLockLostMidRunCancelsTheJob(t *testing.T) {
	cfg := backends[1].config(t)
	q := open(t, cfg)
	entered := make(chan struct{})
	causes := make(chan error, 1)
	var once sync.Once
	reg := newRecorder().registry(nil, nil)
	reg.Queue("test_once", 1)
	jobs.AddWorker(reg, &funcWorker[provisionArgs]{work: func(ctx context.Context, _ *river.Job[provisionArgs]) error {
		once.Do(func() { close(entered) })
		select {
		case <-ctx.Done():
			causes <- context.Cause(ctx)
			return ctx.Err()
		case <-time.After(time.Minute):
			causes <- nil
			return nil
		}
	}})
	start(t, q, reg)
	if err := q.Enqueue(context.Background(), provisionArgs{Env: "prod"}); err != nil {
		t.Fatal(err)
	}
	<-entered
	if n := terminateLockHolders(t, cfg.DatabaseURL); n < 1 {
		t.Fatal("no session held the job's lock")
	}
	select {
	case cause := <-causes:
		if !errors.Is(cause, jobs.ErrLockLost) {
			t.Errorf("job context ended with %v, want ErrLockLost", cause)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the job kept running after its lock was lost")
	}
}
