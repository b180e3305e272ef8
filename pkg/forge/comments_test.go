package forge_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

func openIssue(t *testing.T, e *env) int {
	t.Helper()
	n, err := e.fake.As("jane").OpenIssue(repo, "Need a database", "please")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// botComments are the comments carrying marker.
func botComments(e *env, n int, marker string) []githubfake.Comment {
	var out []githubfake.Comment
	for _, c := range e.fake.Comments(repo, n) {
		if strings.Contains(c.Body, marker) {
			out = append(out, c)
		}
	}
	return out
}

func TestUpsertComment(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := openIssue(t, e)
	marker := forge.Marker("status")
	// Someone quoting the marker does not own the bot's comment.
	if _, err := e.fake.As("jane").Comment(repo, n, "quoting "+marker); err != nil {
		t.Fatal(err)
	}
	c1, changed, err := e.client.UpsertComment(ctx, repo, n, marker, "first")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	if c1.Body != marker+"\nfirst" || c1.User != "rdsbot[bot]" {
		t.Errorf("comment = %+v", c1)
	}
	c2, changed, err := e.client.UpsertComment(ctx, repo, n, marker, "second")
	if err != nil || !changed || c2.ID != c1.ID {
		t.Fatalf("edit: %+v %v %v", c2, changed, err)
	}
	e.resetCalls()
	c3, changed, err := e.client.UpsertComment(ctx, repo, n, marker, "second")
	if err != nil || changed || c3.ID != c1.ID {
		t.Fatalf("same body: %+v %v %v", c3, changed, err)
	}
	if s := e.app.Metrics().Snapshot(); s.Writes != 0 {
		t.Errorf("unchanged comment made %d writes", s.Writes)
	}
	other, _, err := e.client.UpsertComment(ctx, repo, n, forge.Marker("validation"), "problems")
	if err != nil || other.ID == c1.ID {
		t.Fatalf("another kind must be another comment: %+v %v", other, err)
	}
	if got := botComments(e, n, marker); len(got) != 2 || got[1].Body != marker+"\nsecond" {
		t.Errorf("comments with the marker: %+v", got)
	}
	found, err := e.client.FindComment(ctx, repo, n, marker)
	if err != nil || found == nil || found.ID != c1.ID {
		t.Errorf("FindComment = %+v, %v", found, err)
	}
}

// TestUpsertCommentNeverDuplicates: creation fails in the three ways a
// retry could duplicate it; each ends with exactly one bot comment.
func TestUpsertCommentNeverDuplicates(t *testing.T) {
	cases := []struct {
		name string
		// fail is applied to the first create: it returns the response
		// the bot sees, after (or instead of) forwarding it.
		fail func(next http.RoundTripper, r *http.Request) (*http.Response, error)
	}{
		{"502 before processing", func(next http.RoundTripper, r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusBadGateway, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"message":"Bad Gateway"}`)), Request: r}, nil
		}},
		{"502 after processing", func(next http.RoundTripper, r *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(r)
			if err != nil {
				return nil, err
			}
			resp.Body.Close()
			return &http.Response{StatusCode: http.StatusBadGateway, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"message":"Bad Gateway"}`)), Request: r}, nil
		}},
		{"connection reset after processing", func(next http.RoundTripper, r *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(r)
			if err != nil {
				return nil, err
			}
			resp.Body.Close()
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var failed atomic.Bool
			hook := &hookTransport{next: http.DefaultTransport}
			hook.hook = func(r *http.Request) (*http.Response, error, bool) {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/comments") && failed.CompareAndSwap(false, true) {
					resp, err := tc.fail(http.DefaultTransport, r)
					return resp, err, true
				}
				return nil, nil, false
			}
			e := newEnv(t, withTransport(hook))
			n := openIssue(t, e)
			marker := forge.Marker("status")
			c, _, err := e.client.UpsertComment(context.Background(), repo, n, marker, "hello")
			if err != nil {
				t.Fatal(err)
			}
			if got := botComments(e, n, marker); len(got) != 1 || got[0].ID != c.ID {
				t.Errorf("comments: %+v", got)
			}
		})
	}
}

// TestUpsertCommentConcurrent: many concurrent upserts of one marker leave one comment.
func TestUpsertCommentConcurrent(t *testing.T) {
	e := newEnv(t)
	n := openIssue(t, e)
	marker := forge.Marker("status")
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := e.client.UpsertComment(context.Background(), repo, n, marker, strings.Repeat("x", i+1)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := botComments(e, n, marker); len(got) != 1 {
		t.Errorf("%d comments, want 1", len(got))
	}
}

// TestCreateIssueWithMarker: creating the same issue twice, or after an
// uncertain failure, gives one issue; without a marker the uncertainty is
// reported as ErrUncertain.
func TestCreateIssueWithMarker(t *testing.T) {
	var failed atomic.Bool
	hook := &hookTransport{next: http.DefaultTransport}
	hook.hook = func(r *http.Request) (*http.Response, error, bool) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/issues") && failed.CompareAndSwap(false, true) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil {
				resp.Body.Close()
			}
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true
		}
		return nil, nil, false
	}
	e := newEnv(t, withTransport(hook))
	ctx := context.Background()
	in := forge.NewIssue{Title: "RDS request: orders", Body: "details", Labels: []string{"rds-request"}, Marker: forge.Marker("request:abc")}
	is, created, err := e.client.CreateIssue(ctx, repo, in)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("the lost answer's issue should have been found, not created again")
	}
	again, created, err := e.client.CreateIssue(ctx, repo, in)
	if err != nil || created || again.Number != is.Number {
		t.Fatalf("second create: %+v %v %v", again, created, err)
	}
	if n := len(e.fake.Issues(repo)); n != 1 {
		t.Errorf("%d issues, want 1", n)
	}
	if !strings.Contains(is.Body, in.Marker) || is.Labels[0] != "rds-request" {
		t.Errorf("issue = %+v", is)
	}

	failed.Store(false)
	_, _, err = e.client.CreateIssue(ctx, repo, forge.NewIssue{Title: "no marker"})
	if !errors.Is(err, forge.ErrUncertain) {
		t.Errorf("err = %v, want ErrUncertain", err)
	}
}
