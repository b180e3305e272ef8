package forge_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// TestProposeUnderFaults lands 50 requests (50 databases, 50 branches)
// concurrently while 10% of all calls fail with 502 and the fake allows only
// a few writes per second: every request ends with exactly one commit and
// one labelled pull request, and no rate-limit refusal reaches the caller.
func TestProposeUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("lands 50 pull requests at 12 writes a second")
	}
	limit := []githubfake.Window{{Max: 12, Per: time.Second}}
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) {
		o.SecondaryLimits = limit
		o.SecondaryRetryAfter = time.Second
		c.Pacing = []forge.Window{{Max: 12, Per: time.Second}}
	})
	e.fake.InjectFault(githubfake.Fault{Status: http.StatusBadGateway, Rate: 0.10})
	ctx := context.Background()
	const n = 50
	results := make([]*forge.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p := proposal(map[string]string{"databaseName": fmt.Sprintf("app_%02d", i), "username": fmt.Sprintf("user_%02d", i)})
			results[i], errs[i] = e.client.Propose(ctx, p)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	e.fake.ClearFaults()

	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	prs := e.fake.PullRequests(repo)
	if len(prs) != n {
		t.Errorf("%d pull requests, want %d", len(prs), n)
	}
	byHead := map[string]int{}
	for _, pr := range prs {
		byHead[pr.Head]++
	}
	for i, res := range results {
		branch := res.Plan.Branch
		if byHead[branch] != 1 {
			t.Errorf("request %d: %d pull requests for %s", i, byHead[branch], branch)
		}
		commits := must[[]githubfake.CommitInfo](t)(e.fake.Commits(repo, branch))
		if len(commits) != 2 || !slices.Equal(commits[0].Parents, []string{e.base}) {
			t.Errorf("request %d: branch %s has %d commits, want one on main", i, branch, len(commits)-1)
		}
		var labels []string
		for _, l := range e.fake.Labels(repo, res.PR.Number) {
			labels = append(labels, l.Name)
		}
		if !slices.Equal(labels, res.Plan.Labels) {
			t.Errorf("request %d: labels %v, want %v", i, labels, res.Plan.Labels)
		}
	}
	s := e.app.Metrics().Snapshot()
	byStatus := e.fake.CallsByStatus()
	refused, failed := 0, 0
	for _, m := range byStatus {
		refused += m[http.StatusForbidden]
		failed += m[http.StatusBadGateway]
	}
	var retries int64
	for _, r := range s.Retries {
		retries += r
	}
	t.Logf("%d requests in %s: %d calls (%.1f/request), %d writes, %d injected 502s, %d secondary-limit 403s, %d retries, pacer waited %s over %d writes",
		n, elapsed.Round(time.Millisecond), s.Total, float64(s.Total)/n, s.Writes, failed, refused, retries, s.PacerWait.Round(time.Millisecond), s.Paced)
	if failed == 0 {
		t.Error("no fault was injected")
	}
}

// TestSecondaryLimitRetryAfter: without pacing, a burst of writes meets the
// secondary limit; forge waits Retry-After, holds the other writes back and
// every call succeeds.
func TestSecondaryLimitRetryAfter(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) {
		o.SecondaryLimits = []githubfake.Window{{Max: 3, Per: time.Second}}
		o.SecondaryRetryAfter = time.Second
	})
	ctx := context.Background()
	n := must[*forge.Issue](t)(func() (*forge.Issue, error) {
		is, _, err := e.client.CreateIssue(ctx, repo, forge.NewIssue{Title: "t"})
		return is, err
	}()).Number
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = e.client.UpsertComment(ctx, repo, n, forge.Marker(fmt.Sprintf("k%d", i)), "hello")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(e.fake.Comments(repo, n)); got != 8 {
		t.Errorf("%d comments, want 8", got)
	}
	s := e.app.Metrics().Snapshot()
	sec := s.Calls["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"][forge.OutcomeSecondary]
	if sec == 0 {
		t.Errorf("no secondary limit was met: %v", s.Calls)
	}
}

// TestRetriesAndTimeouts: reads are retried after 5xx and after an attempt
// times out; each attempt is counted under its outcome.
func TestRetriesAndTimeouts(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) { c.Retry.AttemptTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	const route = "GET /repos/{owner}/{repo}/git/ref/{ref}"
	e.fake.InjectFault(githubfake.Fault{Route: route, Status: http.StatusServiceUnavailable, Count: 2})
	if sha, err := e.client.ResolveRef(ctx, repo, "main"); err != nil || sha != e.base {
		t.Fatalf("ResolveRef = %s, %v", sha, err)
	}
	e.fake.InjectFault(githubfake.Fault{Route: route, Latency: 1500 * time.Millisecond, Count: 1})
	if sha, err := e.client.ResolveRef(ctx, repo, "main"); err != nil || sha != e.base {
		t.Fatalf("ResolveRef = %s, %v", sha, err)
	}
	s := e.app.Metrics().Snapshot()
	want := map[string]int64{forge.Outcome5xx: 2, forge.OutcomeError: 1, forge.Outcome2xx: 1, forge.OutcomeNotModified: 1}
	if got := s.Calls[route]; !maps.Equal(got, want) || s.Retries[route] != 3 {
		t.Errorf("outcomes %v, retries %d; want %v, 3", got, s.Retries[route], want)
	}
}

// TestPrimaryRateLimit: a spent primary budget is reported as
// ErrRateLimited (its reset is beyond RetryPolicy.MaxWait) and later calls
// are refused without a request until the reset.
func TestPrimaryRateLimit(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) { o.RateLimit = 3 })
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the token's first call spent one point
		if _, err := e.client.GetIssue(ctx, repo, 999); !forge.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	_, err := e.client.GetIssue(ctx, repo, 999)
	if !errors.Is(err, forge.ErrRateLimited) || forge.IsNotFound(err) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	before := e.fake.TotalCalls()
	if _, err := e.client.GetIssue(ctx, repo, 1); !errors.Is(err, forge.ErrRateLimited) {
		t.Errorf("err = %v, want ErrRateLimited", err)
	}
	if e.fake.TotalCalls() != before {
		t.Error("a request was sent with the budget spent")
	}
	if rl := e.client.RateLimit(); rl.Remaining != 0 || rl.Limit != 3 {
		t.Errorf("rate limit = %+v", rl)
	}
}
