package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how a request is repeated. Retries happen in the
// transport, below go-github, so go-github never sees a retried failure and
// never starts refusing requests locally because of one.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts of one request that fail for other
	// reasons than a rate limit (default 5). A rate-limit refusal proves the
	// request was not processed and costs no attempt: it is bounded by
	// MaxWait instead.
	MaxAttempts int
	// BaseDelay and MaxDelay bound the exponential backoff with jitter
	// between attempts after a 5xx or a timeout (defaults 250ms and 10s).
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxWait bounds the time one request spends waiting for rate limits
	// (Retry-After, the primary reset, forge's pacing), all waits together
	// (default 2m). A wait that would go past it, or past the context's
	// deadline, is not begun: the request fails at once with a
	// *RateLimitError whose RetryAfter says how long to wait.
	MaxWait time.Duration
	// AttemptTimeout bounds one attempt (default 30s).
	AttemptTimeout time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 10 * time.Second
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 2 * time.Minute
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = 30 * time.Second
	}
	return p
}

// retryMode is the per-operation retry policy, carried by the context.
type retryMode int

const (
	// retryRepeatable: repeating the request cannot duplicate anything
	// (reads; PATCH/PUT/DELETE; git objects; refs and pull requests, whose
	// duplicates GitHub refuses with 422). 5xx, timeouts and rate limits
	// are retried. This is the default.
	retryRepeatable retryMode = iota
	// retryUnprocessed: a repeat could duplicate (an issue, a comment, a
	// check run, a workflow run). Only answers that prove the request was
	// not processed are retried: rate-limit refusals and failed dials. The
	// operation itself looks for its result after an uncertain failure.
	retryUnprocessed
)

type retryModeKey struct{}

// notRepeatable marks the requests made with ctx as unsafe to repeat blindly.
func notRepeatable(ctx context.Context) context.Context {
	return context.WithValue(ctx, retryModeKey{}, retryUnprocessed)
}

var errAttemptTimeout = errors.New("request attempt timed out")

// transport sends one installation's requests: it paces writes, holds
// every request back while a rate limit is in force, retries, counts every
// attempt and records the rate-limit headers.
type transport struct {
	next    http.RoundTripper
	policy  RetryPolicy
	pacer   *pacer // nil: no pacing and no holds
	metrics *Metrics
	label   string
}

// verdict is what an attempt's result means.
type verdict struct {
	outcome string
	retry   bool
	delay   time.Duration // before the next attempt
	// limited: a rate-limit refusal, to be retried at until (every request
	// of the installation is held back until then).
	limited bool
	primary bool
	until   time.Time
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	endpoint := routeKey(req.Method, req.URL)
	write := isWrite(req.Method, endpoint)
	// The App's own endpoints have their own budget: their answers say
	// nothing about the installation's.
	appCall := strings.HasPrefix(endpoint, req.Method+" /app/")
	mode, _ := ctx.Value(retryModeKey{}).(retryMode)
	rewindable := req.Body == nil || req.GetBody != nil
	if req.Body != nil && req.GetBody != nil {
		_ = req.Body.Close() // every attempt reads a fresh copy from GetBody
	}
	failures := 0            // attempts that failed for another reason than a rate limit
	var waited time.Duration // on rate limits and pacing, all together
	for {
		if t.pacer != nil && !appCall {
			d, err := t.pacer.wait(ctx, write, t.budget(ctx, waited))
			waited += d
			t.metrics.waited(d)
			if err != nil {
				var rl *RateLimitError
				if errors.As(err, &rl) {
					rl.Method, rl.Path = req.Method, req.URL.Path
				}
				return nil, err
			}
		}
		areq, cancel, err := t.attempt(req)
		if err != nil {
			return nil, err
		}
		resp, err := t.next.RoundTrip(areq)
		if err != nil && ctx.Err() == nil && errors.Is(areq.Context().Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w after %s: %w", errAttemptTimeout, t.policy.AttemptTimeout, err)
		}
		v := t.classify(ctx, failures+1, resp, err, mode)
		t.metrics.record(endpoint, v.outcome, write, resp != nil && resp.StatusCode != http.StatusNotModified)
		// Holds apply to the installation's core budget, the one forge spends
		// (a search or GraphQL budget says nothing about it).
		holds := t.pacer != nil && !appCall && resp != nil && coreBudget(resp.Header)
		if resp != nil {
			if st, ok := t.metrics.observeRate(t.label, resp.Header); ok && holds &&
				st.Remaining == 0 && !st.Reset.IsZero() && !v.limited {
				// That was the budget's last point: the next request would be refused.
				t.pacer.block(st.Reset.Add(time.Second), true)
			}
		}
		if v.limited {
			if holds {
				t.pacer.block(v.until, v.primary)
			}
			wait := time.Until(v.until)
			if !rewindable || wait > t.budget(ctx, waited) {
				rl := &RateLimitError{Until: v.until, Primary: v.primary, Method: req.Method, Path: req.URL.Path,
					Status: resp.StatusCode, Message: refusalMessage(resp)}
				_ = resp.Body.Close()
				cancel()
				return nil, rl
			}
			drain(resp)
			cancel()
			t.metrics.retried(endpoint)
			if !holds {
				if err := sleep(ctx, wait); err != nil {
					return nil, err
				}
				waited += wait
			}
			continue // the pacer holds the request until the limit ends
		}
		if !v.retry || !rewindable || failures+1 >= t.policy.MaxAttempts {
			if resp == nil {
				cancel()
				return nil, err
			}
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		failures++
		if resp != nil {
			drain(resp)
		}
		cancel()
		t.metrics.retried(endpoint)
		if err := sleep(ctx, v.delay); err != nil {
			return nil, err
		}
	}
}

// budget is how long a request may still wait for rate limits: what is
// left of MaxWait, and no later than the context's deadline.
func (t *transport) budget(ctx context.Context, waited time.Duration) time.Duration {
	b := t.policy.MaxWait - waited
	if dl, ok := ctx.Deadline(); ok {
		b = min(b, time.Until(dl))
	}
	return max(b, 0)
}

func coreBudget(h http.Header) bool {
	r := h.Get("X-RateLimit-Resource")
	return r == "" || r == "core"
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
}

// refusalMessage is GitHub's message in a refusal's JSON body.
func refusalMessage(resp *http.Response) string {
	var body struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body)
	return body.Message
}

// attempt clones the request with a fresh body and the attempt timeout.
func (t *transport) attempt(req *http.Request) (*http.Request, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.policy.AttemptTimeout)
	areq := req.Clone(ctx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, nil, fmt.Errorf("forge: rewind request body: %w", err)
		}
		areq.Body = body
	}
	return areq, cancel, nil
}

func (t *transport) classify(ctx context.Context, attempt int, resp *http.Response, err error, mode retryMode) verdict {
	backoff := t.backoff(attempt)
	if err != nil {
		if ctx.Err() != nil {
			return verdict{outcome: OutcomeError}
		}
		var op *net.OpError
		neverSent := errors.As(err, &op) && op.Op == "dial"
		return verdict{outcome: OutcomeError, retry: neverSent || mode == retryRepeatable, delay: backoff}
	}
	code := resp.StatusCode
	switch {
	case code == http.StatusNotModified:
		return verdict{outcome: OutcomeNotModified}
	case code < 300:
		return verdict{outcome: Outcome2xx}
	case code < 400:
		return verdict{outcome: Outcome3xx}
	case code == http.StatusForbidden || code == http.StatusTooManyRequests:
		return rateLimited(resp, time.Now())
	case code >= 500:
		return verdict{outcome: Outcome5xx, retry: mode == retryRepeatable, delay: backoff}
	}
	return verdict{outcome: Outcome4xx}
}

// rateLimited tells a rate-limit refusal from a plain 403, following
// GitHub's advice: wait for Retry-After when it is sent; else, with
// X-RateLimit-Remaining at 0, until X-RateLimit-Reset (a spent primary
// budget); else, for a secondary limit (GitHub's message, or 429), at
// least a minute. A refusal proves nothing was processed, so every request
// may repeat it.
func rateLimited(resp *http.Response, now time.Time) verdict {
	primary := resp.Header.Get("X-RateLimit-Remaining") == "0"
	var until time.Time
	if ra := strings.TrimSpace(resp.Header.Get("Retry-After")); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			d := time.Duration(secs) * time.Second
			until = now.Add(d + jitter(d/10+50*time.Millisecond))
		} else if at, err := http.ParseTime(ra); err == nil {
			until = at
		}
	}
	if primary {
		reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		// A second past the reset: GitHub's clock and ours differ.
		until = later(until, time.Unix(reset, 0).Add(time.Second), now.Add(time.Second))
		return verdict{outcome: OutcomePrimary, limited: true, primary: true, until: until}
	}
	if !until.IsZero() {
		// At least a second, so that a refusal never repeats at once.
		return verdict{outcome: OutcomeSecondary, limited: true, until: later(until, now.Add(time.Second))}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if bytes.Contains(bytes.ToLower(body), []byte("secondary rate limit")) || resp.StatusCode == http.StatusTooManyRequests {
		return verdict{outcome: OutcomeSecondary, limited: true, until: now.Add(time.Minute + jitter(5*time.Second))}
	}
	return verdict{outcome: Outcome4xx}
}

func later(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

// backoff is exponential with equal jitter: half fixed, half random.
func (t *transport) backoff(attempt int) time.Duration {
	d := t.policy.BaseDelay << min(attempt-1, 20)
	d = min(d, t.policy.MaxDelay)
	return d/2 + jitter(d/2)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// isWrite reports a content-creating request: what the secondary limit
// counts. The App's own JWT endpoints (/app/...) are not paced.
func isWrite(method, endpoint string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return !strings.HasPrefix(endpoint, method+" /app/")
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cancelBody releases an attempt's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// settle waits before looking again for the result of a write whose outcome
// was unknown, so that a request still being processed can land first.
func (c *Client) settle(ctx context.Context, round int) error {
	d := c.cfg.Retry.BaseDelay << min(round, 10)
	return sleep(ctx, min(d, c.cfg.Retry.MaxDelay))
}
