package forge

import (
	"bytes"
	"context"
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
	// MaxAttempts bounds the attempts of one request (default 5).
	MaxAttempts int
	// BaseDelay and MaxDelay bound the exponential backoff with jitter
	// between attempts after a 5xx or a timeout (defaults 250ms and 10s).
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxWait is the longest rate-limit wait (Retry-After, or the primary
	// reset) honoured before giving up with ErrRateLimited (default 2m).
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

// transport sends one installation's requests: it paces writes, retries,
// counts every attempt and records the rate-limit headers.
type transport struct {
	next    http.RoundTripper
	policy  RetryPolicy
	pacer   *pacer // nil: no pacing (App JWT calls)
	metrics *Metrics
	label   string
}

// verdict is what an attempt's result means.
type verdict struct {
	outcome string
	retry   bool
	delay   time.Duration // before the next attempt
	pause   time.Duration // hold every write back this long (secondary limit)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	endpoint := routeKey(req.Method, req.URL)
	write := isWrite(req.Method, endpoint)
	mode, _ := ctx.Value(retryModeKey{}).(retryMode)
	rewindable := req.Body == nil || req.GetBody != nil
	if req.Body != nil && req.GetBody != nil {
		_ = req.Body.Close() // every attempt reads a fresh copy from GetBody
	}
	for attempt := 1; ; attempt++ {
		if write && t.pacer != nil {
			d, err := t.pacer.wait(ctx)
			t.metrics.waited(d)
			if err != nil {
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
		v := t.classify(ctx, attempt, resp, err, mode)
		t.metrics.record(endpoint, v.outcome, write, resp != nil && resp.StatusCode != http.StatusNotModified)
		if resp != nil {
			t.metrics.observeRate(t.label, resp.Header)
		}
		if v.pause > 0 && t.pacer != nil {
			t.pacer.pause(time.Now().Add(v.pause))
		}
		if !v.retry || !rewindable || attempt >= t.policy.MaxAttempts || v.delay > t.policy.MaxWait {
			if resp == nil {
				cancel()
				return nil, err
			}
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			_ = resp.Body.Close()
		}
		cancel()
		t.metrics.retried(endpoint)
		if err := sleep(ctx, v.delay); err != nil {
			return nil, err
		}
	}
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
		return t.rateLimited(resp)
	case code >= 500:
		return verdict{outcome: Outcome5xx, retry: mode == retryRepeatable, delay: backoff}
	}
	return verdict{outcome: Outcome4xx}
}

// rateLimited tells a secondary limit (Retry-After, or GitHub's message)
// and a spent primary budget (X-RateLimit-Remaining: 0) from a plain 403.
// Both are refusals: nothing was processed, so every request may repeat.
func (t *transport) rateLimited(resp *http.Response) verdict {
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil {
			d := time.Duration(secs)*time.Second + jitter(time.Duration(secs)*time.Second/10+50*time.Millisecond)
			return verdict{outcome: OutcomeSecondary, retry: true, delay: d, pause: d}
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		d := max(time.Until(time.Unix(reset, 0)), time.Second)
		return verdict{outcome: OutcomePrimary, retry: true, delay: d}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if bytes.Contains(bytes.ToLower(body), []byte("secondary rate limit")) || resp.StatusCode == http.StatusTooManyRequests {
		// No Retry-After: GitHub asks for at least a minute.
		d := time.Minute + jitter(5*time.Second)
		return verdict{outcome: OutcomeSecondary, retry: true, delay: d, pause: d}
	}
	return verdict{outcome: Outcome4xx}
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
