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
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

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
		start(t, q, rec.registry(nil, nil))
		waitFor(t, "5 deliveries processed", func() bool { return rec.deliveryCount() >= 5 })
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
		start(t, q, rec.registry(nil, nil))
		waitFor(t, "the delivery processed", func() bool { return rec.deliveryCount() == 1 })

		// The job is done; River's cleaner would delete it after a day.
		// Deleting it now must not make the id new again: the delivery
		// log, not the job, is what deduplicates.
		waitFor(t, "the job completed", drained(q, jobs.KindDelivery))
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
// delivery whose log entry is gone is skipped (and logged).
func TestProcessedDeliveryIsNotProcessedAgain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		obs := &observer{}
		cfg.Observer = obs
		q := open(t, cfg)
		rec := newRecorder()
		accept(t, q, delivery("once", "issues"))
		start(t, q, rec.registry(nil, nil))
		waitFor(t, "the delivery processed", func() bool { return len(obs.of(jobs.KindDelivery)) == 1 })

		// Run the completed job again, as if its completion had been lost
		// (the test writes River's table to simulate it).
		if n := execSQL(t, cfg, `UPDATE river_job SET state = 'available', finalized_at = NULL WHERE kind = 'rdsbot_delivery'`); n != 1 {
			t.Fatalf("reset %d jobs", n)
		}
		waitFor(t, "the job's second run", func() bool { return len(obs.of(jobs.KindDelivery)) == 2 })

		// And once more with its delivery pruned from the log.
		execSQL(t, cfg, `DELETE FROM rdsbot_delivery`)
		execSQL(t, cfg, `UPDATE river_job SET state = 'available', finalized_at = NULL WHERE kind = 'rdsbot_delivery'`)
		waitFor(t, "the job's third run", func() bool { return len(obs.of(jobs.KindDelivery)) == 3 })

		if got := obs.of(jobs.KindDelivery); !slices.Equal(got, []jobs.Outcome{jobs.OutcomeCompleted, jobs.OutcomeCompleted, jobs.OutcomeCompleted}) {
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
		return execSQL(t, cfg, `UPDATE rdsbot_delivery SET forwarded = 1 WHERE forwarded = 1`) == 1
	})
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if n := execSQL(t, cfg, `UPDATE rdsbot_delivery SET forwarded = 0`); n != 1 {
		t.Fatalf("reset %d deliveries", n)
	}
	q = open(t, cfg) // forwards again before returning
	rec := newRecorder()
	start(t, q, rec.registry(nil, nil))
	waitFor(t, "the delivery processed", func() bool { return rec.deliveryCount() == 1 })
	waitFor(t, "both jobs finished", drained(q, jobs.KindDelivery))
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

func TestCoalescedJobsForOneKeyNeverOverlap(t *testing.T) {
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
		work := func(ctx context.Context, a workArgs) error {
			mu.Lock()
			running[a.Key]++
			runs[a.Key]++
			if running[a.Key] > 1 {
				overlap = append(overlap, a.Key)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			running[a.Key]--
			mu.Unlock()
			return nil
		}
		for _, q := range queues {
			start(t, q, newRecorder().registry(nil, work))
		}
		keys := []string{"dev/a", "dev/b", "prod/a"}
		var wg sync.WaitGroup
		for i := range 60 {
			q := queues[i%len(queues)]
			wg.Go(func() {
				enqueue(t, q, keys[i%len(keys)], fmt.Sprintf("enqueue %d", i))
				time.Sleep(time.Duration(i%5) * 5 * time.Millisecond)
			})
		}
		wg.Wait()
		waitFor(t, "work drained", drained(queues[0], kindWork))
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

func TestEnqueuedWhileRunningIsNotLost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		q := open(t, b.config(t))
		entered := make(chan workArgs, 10)
		release := make(chan struct{})
		start(t, q, newRecorder().registry(nil, func(ctx context.Context, a workArgs) error {
			entered <- a
			if a.Reason == "first" {
				<-release
			}
			return nil
		}))
		enqueue(t, q, "prod/orders", "first")
		if a := <-entered; a.Reason != "first" {
			t.Fatalf("first run has reason %q", a.Reason)
		}
		// While "first" runs: three more updates. They coalesce into one
		// run that starts after "first" ends and carries the latest args.
		enqueue(t, q, "prod/orders", "second")
		enqueue(t, q, "prod/orders", "third")
		enqueue(t, q, "prod/orders", "fourth")
		select {
		case a := <-entered:
			t.Fatalf("run %q started while the first was still running", a.Reason)
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		select {
		case a := <-entered:
			if a.Reason != "fourth" {
				t.Errorf("follow-up run has reason %q, want the latest, %q", a.Reason, "fourth")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the update that arrived during the first run was lost")
		}
		waitFor(t, "work drained", drained(q, kindWork))
		select {
		case a := <-entered:
			t.Errorf("unexpected third run %q", a.Reason)
		default:
		}
	})
}

// TestEnqueueDuringBackoffRunsAtOnce: an enqueue for a key whose job waits
// for its retry (River's backoff) runs the job at once; before, nothing ran
// until the backoff was over.
func TestEnqueueDuringBackoffRunsAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.RetryDelay = func(int) time.Duration { return time.Hour }
		q := open(t, cfg)
		runs := make(chan string, 10)
		var down atomic.Bool
		down.Store(true)
		start(t, q, newRecorder().registry(nil, func(ctx context.Context, a workArgs) error {
			runs <- a.Reason
			if down.Swap(false) {
				return errors.New("github is down")
			}
			return nil
		}))
		enqueue(t, q, "k", "first")
		<-runs
		waitFor(t, "the job waiting for its retry", func() bool {
			st, err := q.Stats(context.Background())
			return err == nil && st.Kinds[kindWork].Retryable == 1
		})
		enqueue(t, q, "k", "retry")
		select {
		case <-runs: // the job itself, with its own args
		case <-time.After(20 * time.Second):
			t.Fatal("an enqueue while the job waits for its retry did not run it")
		}
		waitFor(t, "work drained", drained(q, kindWork))
	})
}

// rateLimited is an error that asks for a wait, like forge's rate-limit
// errors.
type rateLimited struct{ after time.Duration }

func (e rateLimited) Error() string             { return "rate limited" }
func (e rateLimited) RetryAfter() time.Duration { return e.after }

// TestRetryAfterDoesNotBurnAttempts: a job whose error carries a Retry-After
// waits that long and tries again without using an attempt; before, it was
// discarded after MaxAttempts such errors.
func TestRetryAfterDoesNotBurnAttempts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.MaxAttempts = 2
		obs := &observer{}
		cfg.Observer = obs
		q := open(t, cfg)
		var calls atomic.Int32
		done := make(chan struct{})
		start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
			if calls.Add(1) <= 4 {
				return fmt.Errorf("create issue: %w", rateLimited{50 * time.Millisecond})
			}
			close(done)
			return nil
		}, nil))
		accept(t, q, delivery("limited", "issues"))
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("delivery never succeeded; outcomes %v", obs.of(jobs.KindDelivery))
		}
		want := []jobs.Outcome{jobs.OutcomeRetryAfter, jobs.OutcomeRetryAfter, jobs.OutcomeRetryAfter, jobs.OutcomeRetryAfter, jobs.OutcomeCompleted}
		waitFor(t, "five outcomes", func() bool { return len(obs.of(jobs.KindDelivery)) == 5 })
		if got := obs.of(jobs.KindDelivery); !slices.Equal(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
	})
}

// TestRetryAfterIsBounded: a job cannot wait forever: after MaxRetryAfters
// waits a RetryAfter error fails the attempt, and the job is eventually
// discarded and reported.
func TestRetryAfterIsBounded(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.MaxAttempts = 1
	cfg.MaxRetryAfters = 3
	cfg.ReportEvery = time.Second
	obs := &observer{}
	cfg.Observer = obs
	q := open(t, cfg)
	start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
		return rateLimited{10 * time.Millisecond}
	}, nil))
	accept(t, q, delivery("forever", "issues"))
	waitFor(t, "the job to give up", func() bool { return len(obs.of(jobs.KindDelivery)) == 4 })
	want := []jobs.Outcome{jobs.OutcomeRetryAfter, jobs.OutcomeRetryAfter, jobs.OutcomeRetryAfter, jobs.OutcomeDiscarded}
	if got := obs.of(jobs.KindDelivery); !slices.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	waitFor(t, "the discard counted", func() bool { return obs.discards(jobs.KindDelivery) == 1 })
}

func TestFailedJobsAreRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		obs := &observer{}
		cfg.Observer = obs
		cfg.MaxAttempts = 5
		q := open(t, cfg)
		var calls atomic.Int32
		start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
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
		}, nil))
		accept(t, q, delivery("flaky", "issues"))
		waitFor(t, "flaky delivery to succeed", func() bool { return len(obs.of(jobs.KindDelivery)) == 3 })
		if got, want := obs.of(jobs.KindDelivery), []jobs.Outcome{jobs.OutcomeRetry, jobs.OutcomeRetry, jobs.OutcomeCompleted}; !slices.Equal(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		accept(t, q, delivery("hopeless", "issues"))
		waitFor(t, "hopeless delivery to be cancelled", func() bool { return len(obs.of(jobs.KindDelivery)) == 4 })
		if got := obs.of(jobs.KindDelivery)[3]; got != jobs.OutcomeCancelled {
			t.Errorf("hopeless delivery: %v, want cancelled", got)
		}
		if calls.Load() != 3 {
			t.Errorf("flaky handler called %d times, want 3", calls.Load())
		}
	})
}

// TestDeliveriesFailingInABatchGetJobsOfTheirOwn: deliveries are processed
// in batches; one that fails in a batch does not hold up the others, and
// gets a job of its own with River's retries.
func TestDeliveriesFailingInABatchGetJobsOfTheirOwn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.MaxAttempts = 3
		obs := &observer{}
		cfg.Observer = obs
		q := open(t, cfg)
		var mu sync.Mutex
		calls := map[string]int{}
		// Accepted at once, before the queue starts: they are stored (and,
		// with SQLite, forwarded) together, so jobs carry several.
		var ids []string
		var wg sync.WaitGroup
		for i := range 20 {
			id := fmt.Sprintf("b-%02d", i)
			ids = append(ids, id)
			wg.Go(func() { accept(t, q, delivery(id, "issues")) })
		}
		wg.Wait()
		start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			calls[d.ID]++
			switch {
			case d.ID == "b-03" && calls[d.ID] < 3:
				return errors.New("github is down")
			case d.ID == "b-07":
				return jobs.Permanent(errors.New("never"))
			case d.ID == "b-11" && calls[d.ID] == 1:
				return rateLimited{10 * time.Millisecond}
			}
			return nil
		}, nil))
		waitFor(t, "every delivery handled", drained(q, jobs.KindDelivery))
		if n := len(obs.of(jobs.KindDelivery)); n >= 20 {
			t.Errorf("%d delivery job attempts for 20 deliveries: no batching", n)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			want := []int{1}
			switch id {
			case "b-03":
				want = []int{3} // two failures, then success
			case "b-07":
				want = []int{1, 2} // alone: cancelled; in a batch: then in its own job, cancelled
			case "b-11":
				want = []int{2} // after the wait it asked for
			}
			if !slices.Contains(want, calls[id]) {
				t.Errorf("%s handled %d times, want %v", id, calls[id], want)
			}
		}
	})
}

// onceArgs are a kind that must never be retried blindly (like an apply):
// one attempt, and its environment's lock for its whole run.
type onceArgs struct {
	Env    string `json:"env"`
	Commit string `json:"commit"`
}

func (onceArgs) Kind() string      { return "test_once" }
func (a onceArgs) LockKey() string { return "env/" + a.Env }
func (onceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: "test_once", MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: rivertype.JobStates()}}
}

// TestDiscardedJobsAreReported: a job that gives up is counted once and its
// worker's Discarded hook runs once with the last error; a kind with one
// attempt is never run again.
func TestDiscardedJobsAreReported(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.ReportEvery = time.Second
		obs := &observer{}
		cfg.Observer = obs
		q := open(t, cfg)
		var runs atomic.Int32
		reported := make(chan string, 10)
		reg := newRecorder().registry(nil, nil)
		reg.Queue("test_once", 1)
		jobs.AddWorker(reg, discardingWorker[onceArgs]{&funcWorker[onceArgs]{
			work: func(ctx context.Context, job *river.Job[onceArgs]) error {
				runs.Add(1)
				return errors.New("terraform apply failed")
			},
			discarded: func(ctx context.Context, job *river.Job[onceArgs], err error) error {
				reported <- job.Args.Env + "@" + job.Args.Commit + ": " + err.Error()
				return nil
			},
		}})
		start(t, q, reg)
		if err := q.Enqueue(context.Background(), onceArgs{Env: "prod", Commit: "abc"}); err != nil {
			t.Fatal(err)
		}
		// The same environment and commit again: River's unique job.
		if err := q.Enqueue(context.Background(), onceArgs{Env: "prod", Commit: "abc"}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-reported:
			if r != "prod@abc: terraform apply failed" {
				t.Errorf("reported %q", r)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the discarded job was never reported")
		}
		time.Sleep(2500 * time.Millisecond) // two more report periods
		select {
		case r := <-reported:
			t.Errorf("reported twice: %q", r)
		default:
		}
		if n := runs.Load(); n != 1 {
			t.Errorf("a one-attempt kind ran %d times", n)
		}
		if n := obs.discards("test_once"); n != 1 {
			t.Errorf("discard counted %d times, want 1", n)
		}
		if got := obs.of("test_once"); !slices.Equal(got, []jobs.Outcome{jobs.OutcomeDiscarded}) {
			t.Errorf("outcomes %v", got)
		}
	})
}

func TestPeriodicJobsRunOneAtATime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		q := open(t, b.config(t))
		var runs, running, overlap atomic.Int32
		reg := newRecorder().registry(nil, nil)
		reg.Queue("test_periodic", 4)
		jobs.AddWorker(reg, &funcWorker[periodicArgs]{work: func(ctx context.Context, job *river.Job[periodicArgs]) error {
			if running.Add(1) > 1 {
				overlap.Add(1)
			}
			defer running.Add(-1)
			runs.Add(1)
			time.Sleep(1500 * time.Millisecond) // longer than the period
			return nil
		}})
		reg.Periodic(time.Second, func() river.JobArgs { return periodicArgs{} })
		start(t, q, reg)
		// The first run is when the leader starts, the next ones follow
		// the period.
		waitFor(t, "three periodic runs", func() bool { return runs.Load() >= 3 })
		if overlap.Load() > 0 {
			t.Error("periodic runs overlapped")
		}
	})
}

type periodicArgs struct{}

func (periodicArgs) Kind() string { return "test_periodic" }
func (periodicArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: "test_periodic", UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

// longArgs are a kind that runs longer than Config.JobTimeout.
type longArgs struct{}

func (longArgs) Kind() string                 { return "test_long" }
func (longArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: "test_long"} }

// TestKindsHaveTheirOwnTimeout: a kind's Timeout overrides the default, in
// both directions.
func TestKindsHaveTheirOwnTimeout(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.JobTimeout = 100 * time.Millisecond
	obs := &observer{}
	cfg.Observer = obs
	q := open(t, cfg)
	results := make(chan error, 2)
	reg := newRecorder().registry(nil, func(ctx context.Context, a workArgs) error {
		select {
		case <-ctx.Done(): // the default timeout
			results <- ctx.Err()
			return jobs.Permanent(ctx.Err())
		case <-time.After(2 * time.Second):
			results <- nil
			return nil
		}
	})
	reg.Queue("test_long", 1)
	jobs.AddWorker(reg, &funcWorker[longArgs]{timeout: time.Hour, work: func(ctx context.Context, job *river.Job[longArgs]) error {
		select {
		case <-ctx.Done():
			results <- ctx.Err()
		case <-time.After(500 * time.Millisecond): // five default timeouts
			results <- nil
		}
		return nil
	}})
	start(t, q, reg)
	enqueue(t, q, "short", "")
	if err := q.Enqueue(context.Background(), longArgs{}); err != nil {
		t.Fatal(err)
	}
	var timedOut, finished int
	for range 2 {
		if err := <-results; err != nil {
			timedOut++
		} else {
			finished++
		}
	}
	if timedOut != 1 || finished != 1 {
		t.Errorf("%d jobs timed out and %d finished; want the default kind to time out and the long one to finish", timedOut, finished)
	}
}

// TestMetricsPerKind: every registered kind is measured and listed, without
// the package knowing its name.
func TestMetricsPerKind(t *testing.T) {
	cfg := backends[0].config(t)
	obs := &observer{}
	cfg.Observer = obs
	q := open(t, cfg)
	reg := newRecorder().registry(nil, nil)
	reg.Queue("test_long", 1)
	jobs.AddWorker(reg, &funcWorker[longArgs]{work: func(context.Context, *river.Job[longArgs]) error { return nil }})
	start(t, q, reg)
	if err := q.Enqueue(context.Background(), longArgs{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job measured", func() bool { return len(obs.of("test_long")) == 1 })
	if !slices.Contains(q.Kinds(), "test_long") || !slices.Contains(q.Kinds(), kindWork) || !slices.Contains(q.Kinds(), jobs.KindDelivery) {
		t.Errorf("Kinds() = %v", q.Kinds())
	}
}

func TestStopLetsRunningJobsFinish(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		obs := &observer{}
		cfg := b.config(t)
		cfg.Observer = obs
		q := open(t, cfg)
		entered := make(chan struct{})
		var finished atomic.Bool
		start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
			close(entered)
			time.Sleep(300 * time.Millisecond) // longer than it takes Stop to be called
			finished.Store(true)
			return nil
		}, nil))
		accept(t, q, delivery("slow", "issues"))
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
		cfg.MaxAttempts = 1 // handed back without using an attempt, or it would be discarded
		q := open(t, cfg)
		entered := make(chan struct{}, 1)
		start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
			entered <- struct{}{}
			<-ctx.Done() // a job that only stops when told to
			return ctx.Err()
		}, nil))
		accept(t, q, delivery("stuck", "issues"))
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
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
		start(t, q2, rec.registry(nil, nil))
		waitFor(t, "the handed-back job to run again", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(rec.deliveries) == 1 && rec.deliveries[0].ID == "stuck"
		})
	})
}

// TestStopWithinGraceUnderLoad: Stop returns within its grace while jobs
// that enqueue other jobs are running and more wait. Before, Stop held a
// mutex that Enqueue needed: a 3-second grace took 33 seconds.
func TestStopWithinGraceUnderLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		q := open(t, b.config(t))
		start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
			time.Sleep(200 * time.Millisecond) // not watching ctx, as slow code often does
			return q.Enqueue(ctx, workArgs{Key: d.ID})
		}, func(ctx context.Context, a workArgs) error {
			select {
			case <-ctx.Done():
			case <-time.After(time.Minute): // longer than any grace
			}
			return ctx.Err()
		}))
		for i := range 50 {
			accept(t, q, delivery(fmt.Sprintf("load-%d", i), "issues"))
		}
		time.Sleep(300 * time.Millisecond)
		const grace = 3 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		begin := time.Now()
		if err := q.Stop(ctx); err != nil {
			t.Logf("Stop: %v", err)
		}
		// A bound on a deadline, not a speed target: Kubernetes kills the
		// pod at the end of its grace.
		if took := time.Since(begin); took > grace+time.Second {
			t.Errorf("Stop took %s with a grace of %s", took.Round(time.Millisecond), grace)
		}
	})
}

func TestStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		q := open(t, b.config(t))
		for i := range 3 {
			accept(t, q, delivery(fmt.Sprintf("s-%d", i), "issues"))
		}
		enqueue(t, q, "dev/x", "")
		time.Sleep(100 * time.Millisecond)
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
		if r := st.Kinds[kindWork]; r.Available != 1 {
			t.Errorf("work stats %+v, want 1 available", r)
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
		if err := q.Enqueue(context.Background(), workArgs{Key: "k"}); !errors.Is(err, jobs.ErrClosed) {
			t.Errorf("Enqueue after Close: %v, want ErrClosed", err)
		}
		if _, err := q.Lock(context.Background(), "k"); !errors.Is(err, jobs.ErrClosed) {
			t.Errorf("Lock after Close: %v, want ErrClosed", err)
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
			DeliveryRetention: time.Hour, RedriveEvery: time.Millisecond, MaxRetryAfters: -1,
		}, []string{
			"Config.SQLitePath: \"x.db?mode=ro\" may not contain",
			"Config.Workers: -1 is negative",
			"Config.MaxAttempts: -2 is negative",
			"Config.MaxRetryAfters: -1 is negative",
			"Config.JobTimeout: -1s is negative",
			"Config.DeliveryRetention: 1h0m0s is shorter than GitHub's redelivery window",
			"Config.RedriveEvery: 1ms is below",
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
	reg := jobs.NewRegistry()
	jobs.AddWorker(reg, &funcWorker[workArgs]{})
	jobs.AddWorker(reg, &funcWorker[workArgs]{}) // twice
	reg.Periodic(time.Millisecond, func() river.JobArgs { return periodicArgs{} })
	err := q.Start(context.Background(), reg)
	for _, w := range []string{
		"Registry.HandleDeliveries: a delivery handler is required",
		`kind "test_work": worker for kind "test_work" is already registered`,
		`kind "test_work": its queue "test_work" is not declared`,
		`periodic "test_periodic": 1ms is below`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Start with a bad registry: %v\nwant %q", err, w)
		}
	}
	if err := q.Enqueue(context.Background(), workArgs{}); err == nil || !strings.Contains(err.Error(), "CoalesceKey: required") {
		t.Errorf("Enqueue without a key: %v", err)
	}
	if _, err := q.Accept(context.Background(), webhook.Delivery{}); err == nil ||
		!strings.Contains(err.Error(), "Delivery.ID: required") || !strings.Contains(err.Error(), "Delivery.Event: required") {
		t.Errorf("Accept of an empty delivery: %v", err)
	}
}
