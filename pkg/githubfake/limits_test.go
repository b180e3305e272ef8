package githubfake

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func TestPrimaryRateLimit(t *testing.T) {
	for _, code := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			h := newHarness(t, Options{RateLimit: 3, RateLimitStatus: code})
			token := h.f.UserToken("alice")
			fresh := func() *github.Client {
				// A new client each time: go-github refuses locally once it has seen Remaining 0.
				return h.client(&http.Client{Transport: &tokenTransport{token, http.DefaultTransport}})
			}
			c := fresh()
			var etag string
			for want := 2; want >= 1; want-- {
				_, resp, err := c.Repositories.Get(h.ctx, "acme", "infra")
				if err != nil || resp.Rate.Remaining != want || resp.Header.Get("X-RateLimit-Used") != strconv.Itoa(3-want) {
					t.Fatalf("remaining %d used %s, want %d: %v", resp.Rate.Remaining, resp.Header.Get("X-RateLimit-Used"), want, err)
				}
				etag = resp.Header.Get("ETag")
			}
			// A 304 is free.
			req, _ := c.NewRequest("GET", "repos/acme/infra", nil)
			req.Header.Set("If-None-Match", etag)
			resp, _ := c.Do(h.ctx, req, nil)
			if resp.StatusCode != http.StatusNotModified || resp.Rate.Remaining != 1 {
				t.Fatalf("conditional request: %d remaining %d", resp.StatusCode, resp.Rate.Remaining)
			}
			if _, _, err := c.Repositories.Get(h.ctx, "acme", "infra"); err != nil {
				t.Fatal(err)
			}
			_, resp, err := fresh().Repositories.Get(h.ctx, "acme", "infra")
			if resp == nil || resp.StatusCode != code || resp.Header.Get("X-RateLimit-Remaining") != "0" {
				t.Fatalf("exhausted budget: %v %v", resp, err)
			}
			var rl *github.RateLimitError
			if code == http.StatusForbidden && !errors.As(err, &rl) {
				t.Fatalf("go-github should see a RateLimitError, got %T %v", err, err)
			}
			// Another token has its own budget; the window resets after an hour.
			if _, _, err := h.as("dana").Repositories.Get(h.ctx, "acme", "infra"); err != nil {
				t.Fatal(err)
			}
			h.f.Advance(time.Hour)
			if _, _, err := fresh().Repositories.Get(h.ctx, "acme", "infra"); err != nil {
				t.Fatalf("after reset: %v", err)
			}
		})
	}
}

func TestSecondaryRateLimit(t *testing.T) {
	for _, code := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			h := newHarness(t, Options{SecondaryLimits: []Window{{Max: 2, Per: time.Minute}}, SecondaryStatus: code, SecondaryRetryAfter: 30 * time.Second})
			n, _ := h.f.As("alice").OpenIssue(repoName, "t", "")
			token := h.f.UserToken("alice")
			// A new client per call: go-github itself refuses while a Retry-After it has seen runs.
			fresh := func() *github.Client {
				return h.client(&http.Client{Transport: &tokenTransport{token, http.DefaultTransport}})
			}
			comment := func() error {
				_, _, err := fresh().Issues.CreateComment(h.ctx, "acme", "infra", n, &github.IssueComment{Body: github.String("hi")})
				return err
			}
			for range 2 {
				if err := comment(); err != nil {
					t.Fatal(err)
				}
			}
			err := comment()
			if code == http.StatusForbidden {
				var ab *github.AbuseRateLimitError
				if !errors.As(err, &ab) || ab.GetRetryAfter() != 30*time.Second {
					t.Fatalf("want AbuseRateLimitError with Retry-After 30s, got %T %v", err, err)
				}
			} else {
				var er *github.ErrorResponse
				if !errors.As(err, &er) || er.Response.StatusCode != 429 || er.Response.Header.Get("Retry-After") != "30" {
					t.Fatalf("want 429 with Retry-After, got %v", err)
				}
			}
			if _, _, err := fresh().Issues.Get(h.ctx, "acme", "infra", n); err != nil {
				t.Fatalf("reads are not content-creating: %v", err)
			}
			h.f.Advance(61 * time.Second)
			if err := comment(); err != nil {
				t.Fatalf("after the window: %v", err)
			}
			if got := len(h.f.Comments(repoName, n)); got != 3 {
				t.Fatalf("comments: %d, want 3 (the limited one must not be created)", got)
			}
		})
	}
}

func TestInjectedFaults(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.as("alice")
	const route = "GET /repos/{owner}/{repo}"
	h.f.InjectFault(Fault{Route: route, Status: http.StatusBadGateway, Count: 2})
	for i, want := range []int{502, 502, 0} {
		_, _, err := c.Repositories.Get(h.ctx, "acme", "infra")
		if got := status(err); got != want {
			t.Fatalf("call %d: status %d, want %d (%v)", i, got, want, err)
		}
	}
	if by := h.f.CallsByStatus()[route]; by[502] != 2 || by[200] != 1 {
		t.Fatalf("calls by status: %v", by)
	}
	// A rate-based fault on every route, with a fixed seed: some fail, some pass.
	h.f.InjectFault(Fault{Status: http.StatusServiceUnavailable, Rate: 0.5})
	failed := 0
	for range 40 {
		if _, _, err := c.Issues.ListByRepo(h.ctx, "acme", "infra", nil); status(err) == 503 {
			failed++
		}
	}
	if failed == 0 || failed == 40 {
		t.Fatalf("rate 0.5 failed %d of 40", failed)
	}
	h.f.ClearFaults()
	// Latency only: the call succeeds, no sooner than the injected delay.
	h.f.InjectFault(Fault{Route: route, Latency: 30 * time.Millisecond, Count: 1})
	start := time.Now()
	if _, _, err := c.Repositories.Get(h.ctx, "acme", "infra"); err != nil || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("latency fault: %v after %v", err, time.Since(start))
	}
}
