package githubfake

import (
	"math/rand"
	"net/http"
	"sync"
	"time"
)

// bucket is one token's primary budget and its recent content-creating requests.
type bucket struct {
	used    int
	reset   time.Time
	writes  []time.Time // content-creating requests, oldest first
	blocked time.Time   // secondary limit in force until
}

// limiter keeps budgets per token (or per App for JWT calls).
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

func newLimiter() *limiter { return &limiter{buckets: map[string]*bucket{}} }

func (l *limiter) bucket(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil || !now.Before(b.reset) {
		var writes []time.Time
		var blocked time.Time
		if b != nil {
			writes, blocked = b.writes, b.blocked
		}
		b = &bucket{reset: now.Add(time.Hour), writes: writes, blocked: blocked}
		l.buckets[key] = b
	}
	return b
}

// rateState is what the X-RateLimit-* headers report.
type rateState struct {
	limit, used int
	reset       time.Time
}

// primary reports the budget before a request and whether it is exhausted.
func (l *limiter) primary(key string, limit int, now time.Time) (rateState, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	return rateState{limit: limit, used: b.used, reset: b.reset}, b.used >= limit
}

// charge counts one request against the primary budget.
func (l *limiter) charge(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(key, now).used++
}

// secondary records a content-creating request and reports whether it
// exceeds any window; an exceeded limit stays in force for retryAfter.
func (l *limiter) secondary(key string, windows []Window, retryAfter time.Duration, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if now.Before(b.blocked) {
		return true
	}
	longest := time.Duration(0)
	for _, w := range windows {
		longest = max(longest, w.Per)
	}
	keep := b.writes[:0]
	for _, t := range b.writes {
		if now.Sub(t) < longest {
			keep = append(keep, t)
		}
	}
	b.writes = keep
	for _, w := range windows {
		n := 0
		for _, t := range b.writes {
			if now.Sub(t) < w.Per {
				n++
			}
		}
		if w.Max > 0 && n >= w.Max {
			b.blocked = now.Add(retryAfter)
			return true
		}
	}
	b.writes = append(b.writes, now)
	return false
}

// Fault makes matching requests fail or slow down.
type Fault struct {
	// Route is a call key such as "POST /repos/{owner}/{repo}/git/refs";
	// empty matches every route.
	Route string
	// Status is the answer (for example 502). Zero with Latency only delays.
	Status int
	// Count limits the fault to the next N matching calls; 0 means no limit.
	Count int
	// Rate is the probability (0..1] that a matching call fails; 0 means always.
	Rate float64
	// Latency is added before the call is answered.
	Latency time.Duration
}

type faults struct {
	mu     sync.Mutex
	rnd    *rand.Rand
	active []*Fault
}

func newFaults(seed int64) *faults { return &faults{rnd: rand.New(rand.NewSource(seed))} }

func (fs *faults) add(f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.Status == 0 && f.Latency == 0 {
		f.Status = http.StatusInternalServerError
	}
	fs.active = append(fs.active, &f)
}

func (fs *faults) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.active = nil
}

// pick returns the delay and failure status (0: none) for a call.
func (fs *faults) pick(key string) (time.Duration, int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var delay time.Duration
	status := 0
	kept := fs.active[:0]
	for _, f := range fs.active {
		hit := (f.Route == "" || f.Route == key) && (f.Rate <= 0 || fs.rnd.Float64() < f.Rate)
		if hit {
			delay += f.Latency
			if status == 0 {
				status = f.Status
			}
			if f.Count > 0 {
				f.Count--
				if f.Count == 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	fs.active = kept
	return delay, status
}
