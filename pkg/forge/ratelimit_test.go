package forge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// retryAfter is what the job layer looks for to snooze a job instead of
// counting a failed attempt.
type retryAfter interface{ RetryAfter() time.Duration }

// TestBurstDoesNotBurnAttempts: a burst of writes against the fake's real
// secondary limit, with two attempts per request: refusals cost no
// attempt, every request waits for Retry-After (holding the others back)
// and succeeds.
func TestBurstDoesNotBurnAttempts(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) {
		o.SecondaryLimits = []githubfake.Window{{Max: 3, Per: time.Second}}
		o.SecondaryRetryAfter = time.Second
		c.Retry.MaxAttempts = 2
	})
	ctx := context.Background()
	is, _, err := e.client.CreateIssue(ctx, repo, forge.NewIssue{Title: "burst"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = e.client.UpsertComment(ctx, repo, is.Number, forge.Marker(fmt.Sprintf("k%d", i)), "hello")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if got := len(e.fake.Comments(repo, is.Number)); got != len(errs) {
		t.Errorf("%d comments, want %d", got, len(errs))
	}
	s := e.app.Metrics().Snapshot()
	if sec := s.Calls["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"][forge.OutcomeSecondary]; sec == 0 {
		t.Errorf("the burst never met the secondary limit: %v", s.Calls)
	}
}

// TestSecondaryWaitPastDeadline: a secondary limit asks for 3 s and the
// caller has 1 s: forge does not sleep into the deadline but fails at once
// with a *RateLimitError saying how long to wait; while the limit is in
// force, further requests are held back without being sent.
func TestSecondaryWaitPastDeadline(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) {
		o.SecondaryLimits = []githubfake.Window{{Max: 1, Per: 10 * time.Second}}
		o.SecondaryRetryAfter = 3 * time.Second
	})
	is, _, err := e.client.CreateIssue(context.Background(), repo, forge.NewIssue{Title: "limited"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		_, _, err := e.client.UpsertComment(ctx, repo, is.Number, forge.Marker(fmt.Sprintf("c%d", i)), "comment")
		took := time.Since(start)
		cancel()
		var ra retryAfter
		var rl *forge.RateLimitError
		if !errors.Is(err, forge.ErrRateLimited) || !errors.As(err, &ra) || !errors.As(err, &rl) {
			t.Fatalf("comment %d: err = %v, want a *RateLimitError", i, err)
		}
		if d := ra.RetryAfter(); d < time.Second || d > 4*time.Second {
			t.Errorf("comment %d: RetryAfter = %s, want about 3s", i, d)
		}
		if took > 900*time.Millisecond {
			t.Errorf("comment %d: took %s; the wait was known to pass the deadline", i, took)
		}
		if rl.Primary {
			t.Errorf("comment %d: reported as primary", i)
		}
	}
	refused := e.fake.CallsByStatus()["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"][http.StatusForbidden]
	if refused != 1 {
		t.Errorf("%d refused comments sent, want 1 (the second is held back unsent)", refused)
	}
}

// TestPrimaryLimitSaysWhenToRetry: a spent primary budget comes back from
// every operation, Propose included, as an error whose RetryAfter is the
// time until GitHub's reset (beyond MaxWait), and nothing more is sent.
func TestPrimaryLimitSaysWhenToRetry(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) { o.RateLimit = 4 })
	ctx := context.Background()
	var err error
	for range 5 {
		if _, err = e.client.GetIssue(ctx, repo, 999); errors.Is(err, forge.ErrRateLimited) {
			break
		}
	}
	calls := e.fake.TotalCalls()
	_, perr := e.client.Propose(ctx, proposal(nil))
	for _, err := range []error{err, perr} {
		var ra retryAfter
		if !errors.As(err, &ra) {
			t.Fatalf("err = %v, want one with RetryAfter", err)
		}
		if d := ra.RetryAfter(); d <= 2*time.Minute || d > time.Hour+5*time.Second {
			t.Errorf("RetryAfter = %s, want the time until the hourly reset", d)
		}
	}
	if n := e.fake.TotalCalls() - calls; n != 0 {
		t.Errorf("%d requests sent with the budget spent", n)
	}
}

// TestPacingBeyondBudget: forge's own pacing has no slot within MaxWait: the
// write is not sent and fails at once with the time the next slot frees.
func TestPacingBeyondBudget(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) {
		c.Pacing = []forge.Window{{Max: 2, Per: time.Minute}}
		c.Retry.MaxWait = 200 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	is, _, err := e.client.CreateIssue(ctx, repo, forge.NewIssue{Title: "paced"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.client.UpsertComment(ctx, repo, is.Number, forge.Marker("first"), "first"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = e.client.UpsertComment(ctx, repo, is.Number, forge.Marker("second"), "second")
	var ra retryAfter
	if !errors.Is(err, forge.ErrRateLimited) || !errors.As(err, &ra) {
		t.Fatalf("err = %v, want a rate-limit error", err)
	}
	if d := ra.RetryAfter(); d < 50*time.Second || d > 62*time.Second {
		t.Errorf("RetryAfter = %s, want about a minute", d)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s to give up", took)
	}
	if n := e.fake.CallCount("POST /repos/{owner}/{repo}/issues/{issue_number}/comments"); n != 1 {
		t.Errorf("%d comments sent, want 1", n)
	}
}

// TestProposeBurstWithoutPacing: several requests proposed at once against
// the fake's secondary limit with forge's pacing off and two attempts per
// request: every one lands (one commit, one pull request each), the
// refusals having cost no attempt.
func TestProposeBurstWithoutPacing(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) {
		o.SecondaryLimits = []githubfake.Window{{Max: 6, Per: time.Second}}
		o.SecondaryRetryAfter = time.Second
		c.Retry.MaxAttempts = 2
	})
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.client.Propose(context.Background(), proposal(map[string]string{
				"databaseName": fmt.Sprintf("burst_%d", i), "username": fmt.Sprintf("burst_%d_app", i)}))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if got := len(e.fake.PullRequests(repo)); got != n {
		t.Errorf("%d pull requests, want %d", got, n)
	}
	if s := e.app.Metrics().Snapshot(); len(s.Retries) == 0 {
		t.Errorf("the burst met no limit: %v", s.Calls)
	}
}
