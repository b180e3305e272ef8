package jobs_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// TestRedriveRunsLostDeliveriesAgain: deliveries that were accepted but
// never processed, because their job was discarded, cancelled or is gone,
// are found in the delivery log and run again; one whose job may still run
// is left alone. Before, such a delivery was lost without a trace.
func TestRedriveRunsLostDeliveriesAgain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.MaxAttempts = 1
		obs := &observer{}
		cfg.Observer = obs
		q := open(t, cfg)
		var (
			mu   sync.Mutex
			down = true
			done = map[string]int{}
		)
		start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case down && d.ID == "cancelled":
				return jobs.Permanent(errors.New("payload rejected"))
			case down:
				return errors.New("github is down")
			}
			done[d.ID]++
			return nil
		}, nil))
		for _, id := range []string{"discarded", "cancelled"} {
			accept(t, q, delivery(id, "issues"))
			waitFor(t, "its job finished", drained(q, jobs.KindDelivery))
		}
		mu.Lock()
		down = false
		mu.Unlock()
		n, err := q.Redrive(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("redrove %d deliveries, want 2", n)
		}
		waitFor(t, "the redriven deliveries processed", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(done) == 2
		})
		waitFor(t, "jobs finished", drained(q, jobs.KindDelivery))
		mu.Lock()
		for id, runs := range done {
			if runs != 1 {
				t.Errorf("%s processed %d times", id, runs)
			}
		}
		mu.Unlock()
		// Processed now: nothing more to redrive.
		if n, err := q.Redrive(context.Background(), 0); err != nil || n != 0 {
			t.Errorf("second Redrive: %d, %v; want 0", n, err)
		}
		if r, _ := obs.redrives(); r != 2 {
			t.Errorf("observer counted %d redriven deliveries", r)
		}
	})
}

// TestRedriveRunsDeliveriesWhoseJobIsGone: a delivery whose job disappeared
// (an operator deleted it, or River's cleaner did after a week) is run again.
func TestRedriveRunsDeliveriesWhoseJobIsGone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		q := open(t, cfg)
		accept(t, q, delivery("gone", "issues"))
		waitFor(t, "its job queued", func() bool {
			st, err := q.Stats(context.Background())
			return err == nil && st.Kinds[jobs.KindDelivery].Available == 1
		})
		if cfg.SQLitePath != "" {
			waitFor(t, "its job forwarded", func() bool {
				return execSQL(t, cfg, `UPDATE rdsbot_delivery SET forwarded = 1 WHERE id = 'gone' AND forwarded = 1`) == 1
			})
		}
		if n := execSQL(t, cfg, `DELETE FROM river_job WHERE kind = 'rdsbot_delivery'`); n != 1 {
			t.Fatalf("deleted %d jobs", n)
		}
		rec := newRecorder()
		start(t, q, rec.registry(nil, nil))
		if n, err := q.Redrive(context.Background(), 0); err != nil || n != 1 {
			t.Fatalf("Redrive: %d, %v; want 1", n, err)
		}
		waitFor(t, "the delivery processed", func() bool { return rec.deliveryCount() == 1 })
	})
}

// TestRedriveLeavesLiveJobsAlone: a delivery whose job waits for a retry is
// not run a second time.
func TestRedriveLeavesLiveJobsAlone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		cfg.RetryDelay = func(int) time.Duration { return time.Hour }
		q := open(t, cfg)
		var calls atomic.Int32
		start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
			calls.Add(1)
			return errors.New("github is down")
		}, nil))
		accept(t, q, delivery("retrying", "issues"))
		waitFor(t, "the job waiting for its retry", func() bool {
			st, err := q.Stats(context.Background())
			return err == nil && st.Kinds[jobs.KindDelivery].Retryable == 1
		})
		if n, err := q.Redrive(context.Background(), 0); err != nil || n != 0 {
			t.Errorf("Redrive: %d, %v; want 0: the job may still run", n, err)
		}
		time.Sleep(200 * time.Millisecond)
		if calls.Load() != 1 {
			t.Errorf("handler ran %d times", calls.Load())
		}
	})
}

// TestRedriveGivesUpLoudly: a delivery that never succeeds is redriven
// RedriveMax times, then given up: counted and marked, never dropped in
// silence, and not looked at again.
func TestRedriveGivesUpLoudly(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.MaxAttempts = 1
	cfg.RedriveMax = 2
	obs := &observer{}
	cfg.Observer = obs
	q := open(t, cfg)
	var calls atomic.Int32
	start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
		calls.Add(1)
		return errors.New("never works")
	}, nil))
	accept(t, q, delivery("hopeless", "issues"))
	for i := range 3 {
		waitFor(t, "the attempt", func() bool { return int(calls.Load()) == i+1 })
		waitFor(t, "jobs finished", drained(q, jobs.KindDelivery))
		if _, err := q.Redrive(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if calls.Load() != 3 {
		t.Errorf("handler ran %d times, want 3 (once and two redrives)", calls.Load())
	}
	if r, a := obs.redrives(); r != 2 || a != 1 {
		t.Errorf("redriven %d, abandoned %d; want 2 and 1", r, a)
	}
	if n, err := q.Redrive(context.Background(), 0); err != nil || n != 0 {
		t.Errorf("Redrive after giving up: %d, %v", n, err)
	}
	if _, a := obs.redrives(); a != 1 {
		t.Errorf("abandoned counted %d times", a)
	}
}

// TestRedriveRunsPeriodically: the queue redrives by itself.
func TestRedriveRunsPeriodically(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.MaxAttempts = 1
	cfg.RedriveEvery = time.Second
	cfg.RedriveAfter = time.Millisecond
	q := open(t, cfg)
	var calls atomic.Int32
	start(t, q, newRecorder().registry(func(ctx context.Context, d webhook.Delivery) error {
		if calls.Add(1) == 1 {
			return errors.New("github is down")
		}
		return nil
	}, nil))
	accept(t, q, delivery("later", "issues"))
	waitFor(t, "the delivery run again", func() bool { return calls.Load() == 2 })
}

// TestNoOpDeliveriesKeepNoPayload: a delivery recorded as a no-op keeps its
// id (a replay is a duplicate) but not its payload, and gets no job.
func TestNoOpDeliveriesKeepNoPayload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		q := open(t, cfg)
		d := delivery("noop", "projects_v2_item")
		d.NoOp = true
		if accept(t, q, d) || !accept(t, q, d) {
			t.Error("a no-op delivery is not deduplicated")
		}
		if n := execSQL(t, cfg, `UPDATE rdsbot_delivery SET event = event WHERE id = 'noop' AND payload IS NULL`); n != 1 {
			t.Error("the no-op delivery's payload was kept")
		}
		time.Sleep(100 * time.Millisecond)
		st, err := q.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if k := st.Kinds[jobs.KindDelivery]; k != (jobs.KindStats{}) {
			t.Errorf("jobs for a no-op: %+v", k)
		}
		if n, err := q.Redrive(context.Background(), 0); err != nil || n != 0 {
			t.Errorf("Redrive picked up a no-op: %d, %v", n, err)
		}
	})
}

// TestEnqueueDuringRetryAfterWaits: an enqueue does not cut short a wait a
// RetryAfter asked for; running now would only hit the limit again.
func TestEnqueueDuringRetryAfterWaits(t *testing.T) {
	cfg := backends[0].config(t)
	q := open(t, cfg)
	var calls atomic.Int32
	start(t, q, newRecorder().registry(nil, func(ctx context.Context, a workArgs) error {
		calls.Add(1)
		return rateLimited{time.Hour}
	}))
	enqueue(t, q, "k", "first")
	waitFor(t, "the job waiting out its RetryAfter", func() bool {
		st, err := q.Stats(context.Background())
		return err == nil && st.Kinds[kindWork].Scheduled == 1
	})
	enqueue(t, q, "k", "again")
	time.Sleep(500 * time.Millisecond)
	if calls.Load() != 1 {
		t.Errorf("worker ran %d times; the enqueue cut the RetryAfter short", calls.Load())
	}
}
