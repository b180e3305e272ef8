package sandbox

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// A burst of 25 requests against GitHub's secondary limit (scaled down to
// 30 writes per 4 s, with rdsbot's pacer allowing more than that, so the
// limit is really hit): every request gets its pull request and its status,
// none is given up.
func TestBurstAgainstLimitsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about half a minute")
	}
	s := start(t, Options{
		Fake:   githubfake.Options{SecondaryLimits: []githubfake.Window{{Max: 30, Per: 4 * time.Second}}, SecondaryRetryAfter: 4 * time.Second},
		Pacing: []forge.Window{{Max: 200, Per: 4 * time.Second}},
	})
	const n = 25
	issues := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers := withAnswer(withAnswer(ordersAnswers, "Database name", fmt.Sprintf("burst_%02d", i)), "Environment", "dev")
			num, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, fmt.Sprintf("burst %d", i), answers)
			if err != nil {
				t.Error(err)
			}
			issues[i] = num
		}()
	}
	wg.Wait()
	if err := s.Settle(t.Context(), 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	limited := 0
	for _, byStatus := range s.Fake.CallsByStatus() {
		limited += byStatus[403] + byStatus[429]
	}
	if limited == 0 {
		t.Error("the burst never met the secondary limit: the test proves nothing")
	}
	if got := len(requestPulls(s)); got != n {
		t.Errorf("%d pull requests for %d requests", got, n)
	}
	for _, num := range issues {
		st := plain(statusOf(s, num))
		if !strings.Contains(st, "ready to merge") {
			t.Errorf("#%d status:\n%s", num, st)
		}
		for _, c := range botComments(s, num) {
			if strings.Contains(c.Body, "rdsbot:gave-up") {
				t.Errorf("#%d was given up", num)
			}
		}
	}
}

// /rds retry while the request's job waits for a (long) retry runs it at
// once.
func TestRetryDuringBackoffRunsAtOnce(t *testing.T) {
	s := start(t, Options{
		JobRetryDelay: func(int) time.Duration { return time.Hour },
		Retry:         forge.RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
	})
	s.Fake.InjectFault(githubfake.Fault{Route: "POST /repos/{owner}/{repo}/git/trees", Status: 500})
	n := openOrders(t, s, Requester, withAnswer(ordersAnswers, "Environment", "dev"))
	waitFor(t, 30*time.Second, "the request job to fail and wait for its retry", func() bool {
		st, err := s.Server.Queue().Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range st.Kinds {
			if k.Retryable > 0 {
				return true
			}
		}
		return false
	})
	s.Fake.ClearFaults()
	if _, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the pull request after /rds retry", func() bool { return len(requestPulls(s)) == 1 })
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
