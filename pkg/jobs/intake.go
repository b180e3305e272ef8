package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Group commit limits: a batch takes whatever deliveries are waiting when a
// writer becomes free, up to this many or this many payload bytes (a batch
// always holds at least one delivery).
const (
	maxBatch      = 128
	maxBatchBytes = 16 << 20
)

// intake stores deliveries with opportunistic group commit. Writers take the
// first waiting delivery, add every other delivery already waiting, and store
// them in one transaction. Under light load a batch is a single delivery and
// nothing waits for a timer; under heavy load one commit (one WAL sync)
// acknowledges many deliveries.
type intake struct {
	reqs   chan *acceptReq
	quit   chan struct{}
	wg     sync.WaitGroup
	commit func(ctx context.Context, ds []webhook.Delivery) ([]bool, error)
	obs    Observer
}

type acceptReq struct {
	d    webhook.Delivery
	dup  bool
	err  error
	done chan struct{}
}

func newIntake(writers int, commit func(context.Context, []webhook.Delivery) ([]bool, error), obs Observer) *intake {
	in := &intake{
		reqs:   make(chan *acceptReq), // unbuffered: a request is either taken by a writer or refused by quit
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
	r := &acceptReq{d: d, done: make(chan struct{})}
	select {
	case in.reqs <- r:
	case <-in.quit:
		return false, ErrClosed
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case <-r.done:
		return r.dup, r.err
	case <-ctx.Done():
		// The batch may still commit; a redelivery is then a duplicate.
		return false, ctx.Err()
	}
}

func (in *intake) writer() {
	defer in.wg.Done()
	batch := make([]*acceptReq, 0, maxBatch)
	ds := make([]webhook.Delivery, 0, maxBatch)
	for {
		batch, ds = batch[:0], ds[:0]
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
			ds = append(ds, r.d)
		}
		// Not a request's context: the batch serves many requests.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		dups, err := in.commit(ctx, ds)
		cancel()
		if err == nil && in.obs != nil {
			in.obs.IntakeCommitted(len(ds), time.Since(start))
		}
		for i, r := range batch {
			if err != nil {
				r.err = err
			} else {
				r.dup = dups[i]
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
