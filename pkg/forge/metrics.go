package forge

import (
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Outcomes a call is counted under.
const (
	Outcome2xx         = "2xx"
	OutcomeNotModified = "304"       // answered from the ETag cache; free
	Outcome3xx         = "3xx"       // other redirects
	Outcome4xx         = "4xx"       // client errors except rate limits
	Outcome5xx         = "5xx"       // server errors (retried when safe)
	OutcomeSecondary   = "secondary" // secondary rate limit (403/429, Retry-After)
	OutcomePrimary     = "primary"   // primary budget spent
	OutcomeError       = "error"     // no answer: connection failure or timeout
)

// Metrics counts every HTTP request forge sends (each attempt, including
// retries and installation-token requests) by endpoint and outcome, and
// keeps the last rate-limit state seen per installation. One Metrics is
// shared by an App and all its installation clients; `rdsbot serve`
// exposes Snapshot on /metrics and benchmarks read it. Safe for concurrent use.
type Metrics struct {
	mu        sync.Mutex
	calls     map[string]map[string]int64 // endpoint -> outcome -> n
	writes    int64
	points    int64
	retries   map[string]int64
	pacerWait time.Duration
	paced     int64
	rate      map[string]RateState
}

// RateState is the primary budget as the last response reported it.
type RateState struct {
	Limit     int
	Remaining int
	Used      int
	Reset     time.Time
	Resource  string
}

// MetricsSnapshot is a copy of the counters.
type MetricsSnapshot struct {
	// Calls counts requests: endpoint ("POST /repos/{owner}/{repo}/git/refs")
	// -> outcome (Outcome*) -> n.
	Calls map[string]map[string]int64
	// Total is the number of requests sent.
	Total int64
	// Writes is the number of content-creating requests sent (POST, PATCH,
	// PUT, DELETE on installation endpoints): what the secondary limit counts.
	Writes int64
	// Points is the primary-budget cost: every answered request except a 304.
	Points int64
	// NotModified is the number of 304s (reads served from the ETag cache).
	NotModified int64
	// Retries counts repeated attempts by endpoint.
	Retries map[string]int64
	// PacerWait is the total time requests waited for the pacer (writes for
	// a slot, every request while a rate limit held them back); Paced
	// counts them.
	PacerWait time.Duration
	Paced     int64
	// RateLimit is the last primary budget seen, by installation ("installation:42").
	RateLimit map[string]RateState
}

// NewMetrics returns empty counters.
func NewMetrics() *Metrics {
	m := &Metrics{}
	m.Reset()
	return m
}

// Reset zeroes the counters (the rate-limit states are kept).
func (m *Metrics) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = map[string]map[string]int64{}
	m.retries = map[string]int64{}
	m.writes, m.points, m.pacerWait, m.paced = 0, 0, 0, 0
	if m.rate == nil {
		m.rate = map[string]RateState{}
	}
}

func (m *Metrics) record(endpoint, outcome string, write, charged bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	byOutcome := m.calls[endpoint]
	if byOutcome == nil {
		byOutcome = map[string]int64{}
		m.calls[endpoint] = byOutcome
	}
	byOutcome[outcome]++
	if write {
		m.writes++
	}
	if charged {
		m.points++
	}
}

func (m *Metrics) retried(endpoint string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retries[endpoint]++
}

func (m *Metrics) waited(d time.Duration) {
	if d <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pacerWait += d
	m.paced++
}

// observeRate records X-RateLimit-* headers under an installation label.
func (m *Metrics) observeRate(label string, h http.Header) (RateState, bool) {
	rem := h.Get("X-RateLimit-Remaining")
	if rem == "" {
		return RateState{}, false
	}
	st := RateState{Resource: h.Get("X-RateLimit-Resource")}
	st.Remaining, _ = strconv.Atoi(rem)
	st.Limit, _ = strconv.Atoi(h.Get("X-RateLimit-Limit"))
	st.Used, _ = strconv.Atoi(h.Get("X-RateLimit-Used"))
	if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		st.Reset = time.Unix(reset, 0)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rate[label] = st
	return st, true
}

// forget drops the rate-limit state of a client the App no longer keeps,
// so the map follows the live installations rather than every one seen.
func (m *Metrics) forget(label string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rate, label)
}

// Snapshot copies the counters.
func (m *Metrics) Snapshot() MetricsSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := MetricsSnapshot{Calls: map[string]map[string]int64{}, Writes: m.writes, Points: m.points,
		Retries: map[string]int64{}, PacerWait: m.pacerWait, Paced: m.paced, RateLimit: map[string]RateState{}}
	for ep, byOutcome := range m.calls {
		c := map[string]int64{}
		for o, n := range byOutcome {
			c[o] = n
			s.Total += n
			if o == OutcomeNotModified {
				s.NotModified += n
			}
		}
		s.Calls[ep] = c
	}
	for k, v := range m.retries {
		s.Retries[k] = v
	}
	for k, v := range m.rate {
		s.RateLimit[k] = v
	}
	return s
}

// Count is the number of requests to one endpoint, all outcomes.
func (s MetricsSnapshot) Count(endpoint string) int64 {
	var n int64
	for _, c := range s.Calls[endpoint] {
		n += c
	}
	return n
}

// Endpoints lists the endpoints called, sorted.
func (s MetricsSnapshot) Endpoints() []string {
	out := make([]string, 0, len(s.Calls))
	for ep := range s.Calls {
		out = append(out, ep)
	}
	sort.Strings(out)
	return out
}

// Sub returns the counters accumulated since an earlier snapshot.
func (s MetricsSnapshot) Sub(before MetricsSnapshot) MetricsSnapshot {
	out := MetricsSnapshot{Calls: map[string]map[string]int64{}, Retries: map[string]int64{}, RateLimit: s.RateLimit,
		Total: s.Total - before.Total, Writes: s.Writes - before.Writes, Points: s.Points - before.Points,
		NotModified: s.NotModified - before.NotModified, PacerWait: s.PacerWait - before.PacerWait, Paced: s.Paced - before.Paced}
	for ep, byOutcome := range s.Calls {
		for o, n := range byOutcome {
			if d := n - before.Calls[ep][o]; d != 0 {
				if out.Calls[ep] == nil {
					out.Calls[ep] = map[string]int64{}
				}
				out.Calls[ep][o] = d
			}
		}
	}
	for ep, n := range s.Retries {
		if d := n - before.Retries[ep]; d != 0 {
			out.Retries[ep] = d
		}
	}
	return out
}
