package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Group commit limits: a batch takes whatever is waiting when a writer
// becomes free, up to this many items or this many payload bytes (a batch
// always holds at least one).
const (
	maxBatch      = 128
	maxBatchBytes = 16 << 20
)

// intake writes the delivery log with opportunistic group commit: new
// deliveries (Accept) and processed marks (delivery jobs). Writers take the
// first waiting item, add every other item already waiting, and write them
// in one transaction. Under light load a batch is a single item and nothing
// waits for a timer; under heavy load one commit (one WAL write, or one
// flush with Postgres) serves many, and acknowledgements do not queue behind
// a write transaction per processed delivery.
type intake struct {
	reqs   chan *logReq
	quit   chan struct{}
	wg     sync.WaitGroup
	commit func(ctx context.Context, ds []webhook.Delivery, processed []string) ([]bool, error)
	obs    Observer
}

// logReq is one item: a delivery to store, or (marks set) the ids of
// deliveries to mark processed.
type logReq struct {
	d     webhook.Delivery
	marks []string
	dup   bool
	err   error
	done  chan struct{}
}

func newIntake(writers int, commit func(context.Context, []webhook.Delivery, []string) ([]bool, error), obs Observer) *intake {
	in := &intake{
		reqs:   make(chan *logReq), // unbuffered: a request is either taken by a writer or refused by quit
		quit:   make(chan struct{}),
		commit: commit,
		obs:    obs,
	}
	for range writers {
		in.wg.Add(1)
		go in.writer()
	}
	return in
}

func (in *intake) accept(ctx context.Context, d webhook.Delivery) (bool, error) {
	r := &logReq{d: d, done: make(chan struct{})}
	err := in.do(ctx, r)
	return r.dup, err
}

// markProcessed records that deliveries' handlers succeeded and drops their
// payloads; it returns once that is committed.
func (in *intake) markProcessed(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return in.do(ctx, &logReq{marks: ids, done: make(chan struct{})})
}

func (in *intake) do(ctx context.Context, r *logReq) error {
	select {
	case in.reqs <- r:
	case <-in.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		// The batch may still commit; a redelivery is then a duplicate.
		return ctx.Err()
	}
}

func (in *intake) writer() {
	defer in.wg.Done()
	batch := make([]*logReq, 0, maxBatch)
	ds := make([]webhook.Delivery, 0, maxBatch)
	var marks []string
	for {
		batch, ds, marks = batch[:0], ds[:0], marks[:0]
		select {
		case r := <-in.reqs:
			batch = append(batch, r)
		case <-in.quit:
			return
		}
		bytes := len(batch[0].d.Payload)
	fill:
		for len(batch) < maxBatch && bytes < maxBatchBytes {
			select {
			case r := <-in.reqs:
				batch = append(batch, r)
				bytes += len(r.d.Payload)
			default:
				break fill
			}
		}
		for _, r := range batch {
			if r.marks != nil {
				marks = append(marks, r.marks...)
			} else {
				ds = append(ds, r.d)
			}
		}
		// Not a request's context: the batch serves many requests.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		dups, err := in.commit(ctx, ds, marks)
		cancel()
		if err == nil && in.obs != nil && len(ds) > 0 {
			in.obs.IntakeCommitted(len(ds), time.Since(start))
		}
		i := 0
		for _, r := range batch {
			switch {
			case err != nil:
				r.err = err
			case r.marks == nil:
				r.dup = dups[i]
				i++
			}
			close(r.done)
		}
	}
}

// close stops the writers after their current batch.
func (in *intake) close() {
	close(in.quit)
	in.wg.Wait()
}
