package jobs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// execSQL runs a statement against the store behind cfg, from outside the
// queue, and returns the rows affected. For SQLite, the delivery log is
// attached, so its table is found by its plain name.
func execSQL(t testing.TB, cfg jobs.Config, query string) int64 {
	t.Helper()
	ctx := context.Background()
	if cfg.SQLitePath != "" {
		db, err := sql.Open("sqlite", cfg.SQLitePath+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1) // ATTACH is per connection
		if _, err := db.ExecContext(ctx, `ATTACH DATABASE ? AS deliverylog`, jobs.DeliveryLogPath(cfg.SQLitePath)); err != nil {
			t.Fatal(err)
		}
		res, err := db.ExecContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		n, _ := res.RowsAffected()
		return n
	}
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return tag.RowsAffected()
}

func TestAcceptedDeliveryRunsOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		q := open(t, b.config(t))
		rec := newRecorder()
		var want []string
		for i := range 5 {
			d := delivery(fmt.Sprintf("d-%d", i), "issues")
			want = append(want, d.ID)
			if accept(t, q, d) {
				t.Fatalf("%s: first Accept reported a duplicate", d.ID)
			}
		}
		// A ping is stored (and deduplicated) but creates no job.
		if accept(t, q, delivery("ping-1", "ping")) {
			t.Fatal("ping reported as duplicate")
		}
		if !accept(t, q, delivery("ping-1", "ping")) {
			t.Fatal("replayed ping not reported as duplicate")
		}
		start(t, q, rec.handlers())
		waitFor(t, "5 deliveries processed", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(rec.deliveries) >= 5
		})
		// Give a stray second run, if there were one, time to show up.
		time.Sleep(300 * time.Millisecond)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var got []string
		for _, d := range rec.deliveries {
			got = append(got, d.ID)
			if d.Event != "issues" || d.Action != "opened" || d.Repository != "acme/infra" || d.InstallationID != 42 {
				t.Errorf("delivery %s arrived as %+v", d.ID, d)
			}
			// The payload arrives byte for byte as it was signed.
			if want := delivery(d.ID, "issues").Payload; !bytes.Equal(d.Payload, want) {
				t.Errorf("delivery %s payload %s, want %s", d.ID, d.Payload, want)
			}
			if d.ReceivedAt.IsZero() {
				t.Errorf("delivery %s lost its ReceivedAt", d.ID)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("processed %v, want each of %v exactly once", got, want)
		}
	})
}

func TestDuplicateDeliveries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		q := open(t, cfg)
		rec := newRecorder()

		// Concurrent replays of one id: exactly one is new.
		var fresh atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if !accept(t, q, delivery("same", "issues")) {
					fresh.Add(1)
				}
			})
		}
		wg.Wait()
		if fresh.Load() != 1 {
			t.Fatalf("%d of 20 concurrent Accepts of one id were new, want 1", fresh.Load())
		}
		start(t, q, rec.handlers())
		waitFor(t, "the delivery processed", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(rec.deliveries) == 1
		})

		// The job is done; River's cleaner would delete it after a day.
		// Deleting it now must not make the id new again: the delivery
		// log, not the job, is what deduplicates.
		waitFor(t, "the job completed", func() bool {
			st, err := q.Stats(context.Background())
			return err == nil && st.Kinds[jobs.KindDelivery] == (jobs.KindStats{})
		})
		if n := execSQL(t, cfg, `DELETE FROM river_job WHERE kind = 'rdsbot_delivery'`); n != 1 {
			t.Fatalf("deleted %d delivery jobs, want 1", n)
		}
		if !accept(t, q, delivery("same", "issues")) {
			t.Fatal("a delivery id was accepted again after its job was cleaned up")
		}
		time.Sleep(300 * time.Millisecond)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.deliveries) != 1 {
			t.Errorf("handler ran %d times, want 1", len(rec.deliveries))
		}
	})
}

// TestProcessedDeliveryIsNotProcessedAgain covers a crash after a handler
// succeeded but before River recorded the job as completed: the job runs
// again, finds the delivery marked processed in the log, and does nothing. A
// delivery whose log entry is gone is cancelled, not retried.
func TestProcessedDeliveryIsNotProcessedAgain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		obs := &observer{}
		cfg.Observer = obs
		q := open(t, cfg)
		rec := newRecorder()
		accept(t, q, delivery("once", "issues"))
		start(t, q, rec.handlers())
		waitFor(t, "the delivery processed", func() bool { return len(obs.of(jobs.KindDelivery)) == 1 })

		// Run the completed job again, as if its completion had been lost.
		if n := execSQL(t, cfg, `UPDATE river_job SET state = 'available', finalized_at = NULL WHERE kind = 'rdsbot_delivery'`); n != 1 {
			t.Fatalf("reset %d jobs", n)
		}
		waitFor(t, "the job's second run", func() bool { return len(obs.of(jobs.KindDelivery)) == 2 })

		// And once more with its delivery pruned from the log.
		execSQL(t, cfg, `DELETE FROM rdsbot_delivery`)
		execSQL(t, cfg, `UPDATE river_job SET state = 'available', finalized_at = NULL WHERE kind = 'rdsbot_delivery'`)
		waitFor(t, "the job's third run", func() bool { return len(obs.of(jobs.KindDelivery)) == 3 })

		if got := obs.of(jobs.KindDelivery); !slices.Equal(got, []jobs.Outcome{jobs.OutcomeCompleted, jobs.OutcomeCompleted, jobs.OutcomeCancelled}) {
			t.Errorf("outcomes %v", got)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.deliveries) != 1 {
			t.Errorf("handler ran %d times, want 1", len(rec.deliveries))
		}
	})
}

// TestSQLiteForwardingIsIdempotent covers a crash between the forwarder's two
// commits (the job in River's file, the forwarded mark in the delivery log):
// the next Open forwards the delivery again. The second job must not run the
// handler again.
func TestSQLiteForwardingIsIdempotent(t *testing.T) {
	cfg := backends[0].config(t)
	q := open(t, cfg)
	accept(t, q, delivery("fwd", "issues"))
	waitFor(t, "the delivery forwarded", func() bool {
		st, err := q.Stats(context.Background())
		return err == nil && st.Kinds[jobs.KindDelivery].Available == 1
	})
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if n := execSQL(t, cfg, `UPDATE rdsbot_delivery SET forwarded = 0`); n != 1 {
		t.Fatalf("reset %d deliveries", n)
	}
	q = open(t, cfg) // forwards again before returning
	rec := newRecorder()
	start(t, q, rec.handlers())
	waitFor(t, "the delivery processed", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.deliveries) == 1
	})
	waitFor(t, "both jobs finished", func() bool {
		st, err := q.Stats(context.Background())
		return err == nil && st.Kinds[jobs.KindDelivery] == (jobs.KindStats{})
	})
	if n := execSQL(t, cfg, `UPDATE river_job SET kind = kind WHERE kind = 'rdsbot_delivery' AND state = 'completed'`); n != 2 {
		t.Errorf("%d completed delivery jobs, want the original and the duplicate", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.deliveries) != 1 {
		t.Errorf("handler ran %d times, want 1", len(rec.deliveries))
	}
}

func TestTwoReplicasDeduplicateTogether(t *testing.T) {
	cfg := backends[1].config(t) // Postgres: the multi-replica backend
	a, b := open(t, cfg), open(t, cfg)
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		q := a
		if i%2 == 1 {
			q = b
		}
		wg.Go(func() {
			if !accept(t, q, delivery(fmt.Sprintf("r-%d", i/2), "issues")) {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 20 {
		t.Fatalf("%d new deliveries from 20 ids sent to two replicas, want 20", fresh.Load())
	}
	st, err := a.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Kinds[jobs.KindDelivery].Available; got != 20 {
		t.Errorf("%d delivery jobs, want 20", got)
	}
}

func TestRequestsForOneKeyNeverOverlap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.Workers = 8
		cfg.LockRetry = 20 * time.Millisecond
		queues := []*jobs.Queue{open(t, cfg)}
		if cfg.DatabaseURL != "" {
			queues = append(queues, open(t, cfg)) // two replicas share the work
		}
		var (
			mu      sync.Mutex
			running = map[string]int{}
			overlap []string
			runs    = map[string]int{}
		)
		h := newRecorder().handlers()
		h.Request = func(ctx context.Context, r jobs.Request) error {
			mu.Lock()
			running[r.Key]++
			runs[r.Key]++
			if running[r.Key] > 1 {
				overlap = append(overlap, r.Key)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			running[r.Key]--
			mu.Unlock()
			return nil
		}
		for _, q := range queues {
			start(t, q, h)
		}
		keys := []string{"dev/a", "dev/b", "prod/a"}
		var wg sync.WaitGroup
		for i := range 60 {
			q := queues[i%len(queues)]
			wg.Go(func() {
				r := jobs.Request{Repo: "acme/infra", Key: keys[i%len(keys)], Reason: fmt.Sprintf("enqueue %d", i)}
				if err := q.EnqueueRequest(context.Background(), r); err != nil {
					t.Errorf("EnqueueRequest: %v", err)
				}
				time.Sleep(time.Duration(i%5) * 5 * time.Millisecond)
			})
		}
		wg.Wait()
		waitFor(t, "request jobs drained", func() bool {
			st, err := queues[0].Stats(context.Background())
			return err == nil && st.Kinds[jobs.KindRequest] == (jobs.KindStats{})
		})
		mu.Lock()
		defer mu.Unlock()
		if len(overlap) > 0 {
			t.Errorf("runs for one key overlapped: %v", overlap)
		}
		for _, k := range keys {
			if runs[k] == 0 {
				t.Errorf("key %s never ran", k)
			}
			if runs[k] > 20 {
				t.Errorf("key %s ran %d times for 20 enqueues; coalescing did not happen", k, runs[k])
			}
		}
	})
}

func TestRequestEnqueuedWhileRunningIsNotLost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		q := open(t, b.config(t))
		entered := make(chan jobs.Request, 10)
		release := make(chan struct{})
		h := newRecorder().handlers()
		h.Request = func(ctx context.Context, r jobs.Request) error {
			entered <- r
			if r.Reason == "first" {
				<-release
			}
			return nil
		}
		start(t, q, h)
		enqueue := func(reason string) {
			if err := q.EnqueueRequest(context.Background(), jobs.Request{Repo: "acme/infra", Key: "prod/orders", Reason: reason}); err != nil {
				t.Fatal(err)
			}
		}
		enqueue("first")
		if r := <-entered; r.Reason != "first" {
			t.Fatalf("first run has reason %q", r.Reason)
		}
		// While "first" runs: three more updates. They coalesce into one
		// run that starts after "first" ends and carries the latest reason.
		enqueue("second")
		enqueue("third")
		enqueue("fourth")
		select {
		case r := <-entered:
			t.Fatalf("run %q started while the first was still running", r.Reason)
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		select {
		case r := <-entered:
			if r.Reason != "fourth" {
				t.Errorf("follow-up run has reason %q, want the latest, %q", r.Reason, "fourth")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the update that arrived during the first run was lost")
		}
		waitFor(t, "request jobs drained", func() bool {
			st, err := q.Stats(context.Background())
			return err == nil && st.Kinds[jobs.KindRequest] == (jobs.KindStats{})
		})
		select {
		case r := <-entered:
			t.Errorf("unexpected third run %q", r.Reason)
		default:
		}
	})
}

func TestFailedJobsAreRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		obs := &observer{}
		cfg.Observer = obs
		cfg.MaxAttempts = 5
		q := open(t, cfg)
		var calls atomic.Int32
		h := newRecorder().handlers()
		h.Delivery = func(ctx context.Context, d webhook.Delivery) error {
			switch d.ID {
			case "flaky":
				if calls.Add(1) <= 2 {
					return errors.New("github is down")
				}
				return nil
			case "hopeless":
				return jobs.Permanent(errors.New("payload can never be handled"))
			}
			return nil
		}
		accept(t, q, delivery("flaky", "issues"))
		accept(t, q, delivery("hopeless", "issues"))
		start(t, q, h)
		waitFor(t, "flaky delivery to succeed and hopeless to be cancelled", func() bool {
			return len(obs.of(jobs.KindDelivery)) == 4
		})
		got := obs.of(jobs.KindDelivery)
		want := []jobs.Outcome{jobs.OutcomeCancelled, jobs.OutcomeCompleted, jobs.OutcomeRetry, jobs.OutcomeRetry}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		if calls.Load() != 3 {
			t.Errorf("flaky handler called %d times, want 3", calls.Load())
		}
	})
}

func TestExhaustedAttemptsAreDiscarded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		obs := &observer{}
		cfg.Observer = obs
		cfg.MaxAttempts = 2
		q := open(t, cfg)
		h := newRecorder().handlers()
		h.Delivery = func(context.Context, webhook.Delivery) error { return errors.New("always") }
		accept(t, q, delivery("doomed", "issues"))
		start(t, q, h)
		waitFor(t, "two attempts", func() bool { return len(obs.of(jobs.KindDelivery)) == 2 })
		if got := obs.of(jobs.KindDelivery); !slices.Equal(got, []jobs.Outcome{jobs.OutcomeRetry, jobs.OutcomeDiscarded}) {
			t.Errorf("outcomes %v", got)
		}
	})
}

func TestReconcileRunsPeriodically(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.ReconcileEvery = time.Second
		q := open(t, cfg)
		rec := newRecorder()
		start(t, q, rec.handlers())
		// RunOnStart gives one run at once, the period the following ones.
		waitFor(t, "three reconcile runs", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return rec.reconciles >= 3
		})
	})
}

func TestStopLetsRunningJobsFinish(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		obs := &observer{}
		cfg := b.config(t)
		cfg.Observer = obs
		q := open(t, cfg)
		entered := make(chan struct{})
		var finished atomic.Bool
		h := newRecorder().handlers()
		h.Delivery = func(ctx context.Context, d webhook.Delivery) error {
			close(entered)
			time.Sleep(300 * time.Millisecond) // longer than it takes Stop to be called
			finished.Store(true)
			return nil
		}
		accept(t, q, delivery("slow", "issues"))
		start(t, q, h)
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if !finished.Load() {
			t.Error("Stop returned before the running job finished")
		}
		if got := obs.of(jobs.KindDelivery); !slices.Equal(got, []jobs.Outcome{jobs.OutcomeCompleted}) {
			t.Errorf("outcomes %v, want one completed", got)
		}
		// Still accepting after Stop: deliveries are stored for the next start.
		if accept(t, q, delivery("after-stop", "issues")) {
			t.Error("after-stop reported duplicate")
		}
	})
}

func TestStopHandsBackJobsThatOverrunTheDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		q := open(t, cfg)
		entered := make(chan struct{}, 1)
		h := newRecorder().handlers()
		h.Delivery = func(ctx context.Context, d webhook.Delivery) error {
			entered <- struct{}{}
			<-ctx.Done() // a job that only stops when told to
			return ctx.Err()
		}
		accept(t, q, delivery("stuck", "issues"))
		start(t, q, h)
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}

		// The job went back to the queue: a new process picks it up.
		q2 := open(t, cfg)
		rec := newRecorder()
		start(t, q2, rec.handlers())
		waitFor(t, "the handed-back job to run again", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(rec.deliveries) == 1 && rec.deliveries[0].ID == "stuck"
		})
	})
}

func TestStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		q := open(t, b.config(t))
		for i := range 3 {
			accept(t, q, delivery(fmt.Sprintf("s-%d", i), "issues"))
		}
		if err := q.EnqueueRequest(context.Background(), jobs.Request{Repo: "acme/infra", Key: "dev/x"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		st, err := q.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		d := st.Kinds[jobs.KindDelivery]
		if d.Available != 3 || d.Running != 0 {
			t.Errorf("delivery stats %+v, want 3 available", d)
		}
		if d.OldestAvailable < 50*time.Millisecond || d.OldestAvailable > time.Hour {
			t.Errorf("oldest available delivery %s, want at least the 50ms it has waited", d.OldestAvailable)
		}
		if r := st.Kinds[jobs.KindRequest]; r.Available != 1 {
			t.Errorf("request stats %+v, want 1 available", r)
		}
	})
}

func TestAcceptAfterCloseFails(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		q := open(t, b.config(t))
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Accept(context.Background(), delivery("late", "issues")); !errors.Is(err, jobs.ErrClosed) {
			t.Errorf("Accept after Close: %v, want ErrClosed", err)
		}
		if err := q.EnqueueRequest(context.Background(), jobs.Request{Repo: "a/b", Key: "k"}); !errors.Is(err, jobs.ErrClosed) {
			t.Errorf("EnqueueRequest after Close: %v, want ErrClosed", err)
		}
	})
}

func TestSQLiteStoreIsSingleProcess(t *testing.T) {
	cfg := backends[0].config(t)
	open(t, cfg)
	_, err := jobs.Open(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open of one SQLite store: %v", err)
	}
}

func TestInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  jobs.Config
		want []string
	}{
		{"no store", jobs.Config{}, []string{"Config.SQLitePath: set SQLitePath"}},
		{"two stores", jobs.Config{SQLitePath: "x.db", DatabaseURL: "postgres://x"}, []string{"Config.DatabaseURL: set either"}},
		{"everything wrong at once", jobs.Config{
			SQLitePath: "x.db?mode=ro", Workers: -1, MaxAttempts: -2, JobTimeout: -time.Second,
			DeliveryRetention: time.Hour, ReconcileEvery: time.Millisecond,
		}, []string{
			"Config.SQLitePath: \"x.db?mode=ro\" may not contain",
			"Config.Workers: -1 is negative",
			"Config.MaxAttempts: -2 is negative",
			"Config.JobTimeout: -1s is negative",
			"Config.DeliveryRetention: 1h0m0s is shorter than GitHub's redelivery window",
			"Config.ReconcileEvery: 1ms is below",
		}},
		{"not a postgres URL", jobs.Config{DatabaseURL: "mysql://x"}, []string{"Config.DatabaseURL: must be a postgres:// URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jobs.Open(context.Background(), tc.cfg)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}

	q := open(t, backends[0].config(t))
	if err := q.Start(context.Background(), jobs.Handlers{}); err == nil ||
		!strings.Contains(err.Error(), "Handlers.Delivery: required") || !strings.Contains(err.Error(), "Handlers.Request: required") {
		t.Errorf("Start without handlers: %v", err)
	}
	if err := q.EnqueueRequest(context.Background(), jobs.Request{}); err == nil ||
		!strings.Contains(err.Error(), "Request.Repo: required") || !strings.Contains(err.Error(), "Request.Key: required") {
		t.Errorf("EnqueueRequest of an empty request: %v", err)
	}
	if _, err := q.Accept(context.Background(), webhook.Delivery{}); err == nil ||
		!strings.Contains(err.Error(), "Delivery.ID: required") || !strings.Contains(err.Error(), "Delivery.Event: required") {
		t.Errorf("Accept of an empty delivery: %v", err)
	}
}
