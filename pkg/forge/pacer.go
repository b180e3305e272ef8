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
// window, and holds every request back while a rate limit GitHub reported
// is in force (a secondary limit's Retry-After, a spent primary budget
// until its reset). A wait longer than the request's budget is not waited
// out: the request fails at once with a *RateLimitError saying how long.
type pacer struct {
	mu      sync.Mutex
	windows []Window
	margin  time.Duration // added to each window: clocks and latencies differ
	sent    []time.Time   // oldest first, pruned to the longest window
	blocked time.Time     // no request before then
	primary bool          // the block is a spent primary budget
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

// holdCause says what holds a request back.
type holdCause int

const (
	heldBySecondary holdCause = iota // GitHub asked to wait (Retry-After)
	heldByPrimary                    // the primary budget is spent until its reset
	heldByPacing                     // forge's own windows for content-creating requests
)

var holdReasons = map[holdCause]string{
	heldBySecondary: "GitHub asked to wait (secondary rate limit)",
	heldByPrimary:   "the installation's primary rate limit is spent",
	heldByPacing:    "forge's pacing of content-creating requests is full",
}

// wait blocks until a request may be sent (a write also reserves its slot)
// and returns how long it waited. When the request could only go after
// budget has passed, it returns a *RateLimitError at once, without waiting.
func (p *pacer) wait(ctx context.Context, write bool, budget time.Duration) (time.Duration, error) {
	start := p.now()
	for {
		at, cause := p.reserve(write)
		if at.IsZero() {
			return p.now().Sub(start), nil
		}
		if at.Sub(start) > budget {
			return p.now().Sub(start), &RateLimitError{Until: at, Primary: cause == heldByPrimary,
				Message: holdReasons[cause] + "; not sent"}
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
// earliest time a send could go and what holds it back until then.
func (p *pacer) reserve(write bool) (time.Time, holdCause) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	next, cause := now, heldBySecondary
	if p.blocked.After(next) {
		next = p.blocked
		if p.primary {
			cause = heldByPrimary
		}
	}
	if write {
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
					next, cause = free, heldByPacing
				}
			}
		}
	}
	if next.After(now) {
		return next, cause
	}
	if write && len(p.windows) > 0 {
		p.sent = append(p.sent, now)
	}
	return time.Time{}, cause
}

// block holds every request back until t: GitHub refused one for a rate
// limit (primary: the hourly budget is spent until its reset).
func (p *pacer) block(t time.Time, primary bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.blocked) {
		p.blocked, p.primary = t, primary
	}
}
