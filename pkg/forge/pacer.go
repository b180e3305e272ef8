package forge

import (
	"context"
	"sync"
	"time"
)

// Window is a rate: at most Max requests per Per.
type Window struct {
	Max int
	Per time.Duration
}

// DefaultPacing is GitHub's documented secondary limit for content-creating
// requests: 80 a minute and 500 an hour.
var DefaultPacing = []Window{{Max: 80, Per: time.Minute}, {Max: 500, Per: time.Hour}}

// pacer keeps one installation's content-creating requests under every
// window and holds them all back while a secondary limit is in force
// (Retry-After). Reads are not paced.
type pacer struct {
	mu      sync.Mutex
	windows []Window
	margin  time.Duration // added to each window: clocks and latencies differ
	sent    []time.Time   // oldest first, pruned to the longest window
	paused  time.Time
	now     func() time.Time
}

func newPacer(windows []Window) *pacer {
	p := &pacer{windows: windows, now: time.Now}
	for _, w := range windows {
		if m := w.Per / 20; p.margin == 0 || m < p.margin {
			p.margin = m
		}
	}
	p.margin = min(p.margin, 250*time.Millisecond)
	return p
}

// wait blocks until a write may be sent, reserves its slot and returns how
// long it waited.
func (p *pacer) wait(ctx context.Context) (time.Duration, error) {
	start := p.now()
	for {
		at := p.reserve()
		if at.IsZero() {
			return p.now().Sub(start), nil
		}
		t := time.NewTimer(at.Sub(p.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return p.now().Sub(start), ctx.Err()
		case <-t.C:
		}
	}
}

// reserve records a send now and returns the zero time, or returns the
// earliest time a send could go.
func (p *pacer) reserve() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	next := now
	if p.paused.After(next) {
		next = p.paused
	}
	longest := time.Duration(0)
	for _, w := range p.windows {
		longest = max(longest, w.Per+p.margin)
	}
	keep := p.sent[:0]
	for _, t := range p.sent {
		if now.Sub(t) < longest {
			keep = append(keep, t)
		}
	}
	p.sent = keep
	for _, w := range p.windows {
		if w.Max <= 0 {
			continue
		}
		per := w.Per + p.margin
		n := 0
		for _, t := range p.sent {
			if now.Sub(t) < per {
				n++
			}
		}
		if n >= w.Max {
			// The window frees a slot when its oldest member ages out.
			oldest := p.sent[len(p.sent)-n]
			if free := oldest.Add(per); free.After(next) {
				next = free
			}
		}
	}
	if next.After(now) {
		return next
	}
	p.sent = append(p.sent, now)
	return time.Time{}
}

// pause holds every write back until t (a secondary limit's Retry-After).
func (p *pacer) pause(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.paused) {
		p.paused = t
	}
}
