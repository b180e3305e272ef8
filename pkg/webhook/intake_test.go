package webhook_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// slowPost opens a connection that declares a body of the maximum size, sends
// its headers and a little of the body, and then holds the connection open:
// what a caller without the secret can do for free.
func slowPost(t *testing.T, addr string, i int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: issues\r\n%s: slow-%d\r\n%s: sha256=%s\r\n\r\n{\"action\":\"",
		webhook.MaxBodyBytesDefault, webhook.HeaderEvent, webhook.HeaderDelivery, i, webhook.HeaderSignature256, strings.Repeat("ab", 32))
	return c
}

// TestSlowConnectionsDoNotGrowTheHeap: unauthenticated callers that declare
// a large body and trickle it cost memory for what they send, not for what
// they declare.
func TestSlowConnectionsDoNotGrowTheHeap(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	addr := strings.TrimPrefix(f.srv.URL, "http://")
	before := heapInUse()
	const conns = 40
	for i := range conns {
		slowPost(t, addr, i)
	}
	// Every handler is in the middle of reading its body.
	deadline := time.Now().Add(30 * time.Second)
	for f.read.Load() < conns*int64(len(`{"action":"`)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	grown := int64(heapInUse()) - int64(before)
	t.Logf("heap grew by %d KiB for %d slow connections", grown>>10, conns)
	if grown > 64<<20 {
		t.Errorf("heap grew by %d MiB for %d slow connections declaring %d MiB each; want memory bounded by what was sent",
			grown>>20, conns, webhook.MaxBodyBytesDefault>>20)
	}
}

// TestEveryEventNameIsAccepted: GitHub's event names include digits
// (projects_v2_item); a signed delivery of any of them is stored.
func TestEveryEventNameIsAccepted(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	for i, event := range []string{"projects_v2_item", "projects_v2", "security_and_analysis", "merge_group", "branch_protection_configuration"} {
		status, body := f.do(t, request{headers: map[string]string{webhook.HeaderEvent: event, webhook.HeaderDelivery: fmt.Sprintf("ev-%d", i)}})
		if status != http.StatusAccepted {
			t.Errorf("%s: %d %q, want 202", event, status, body)
		}
	}
}

// TestConcurrentUnauthenticatedReadsAreLimited: when every read slot is held
// by a slow caller, a further delivery is answered 503 after ReadWait (GitHub
// counts it failed and it can be redelivered) instead of queueing without
// bound.
func TestConcurrentUnauthenticatedReadsAreLimited(t *testing.T) {
	f := newFixture(t, webhook.Config{MaxConcurrentReads: 2, ReadWait: 100 * time.Millisecond})
	addr := strings.TrimPrefix(f.srv.URL, "http://")
	slow := []net.Conn{slowPost(t, addr, 0), slowPost(t, addr, 1)}
	waitRead(t, f, 2*int64(len(`{"action":"`)))
	if status, body := f.do(t, request{}); status != http.StatusServiceUnavailable || body != "busy, redeliver later" {
		t.Errorf("with every read slot taken: %d %q, want 503", status, body)
	}
	if got := f.metrics.last(); got != "unverified/busy" {
		t.Errorf("metric %q", got)
	}
	for _, c := range slow {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _ := f.do(t, request{headers: map[string]string{webhook.HeaderDelivery: "after-slow"}})
		if status == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the slow callers left: %d, want 202", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPendingBytesAreBounded: bodies being read before their signature is
// checked share a byte budget; a body that cannot get room within ReadWait
// is answered 503.
func TestPendingBytesAreBounded(t *testing.T) {
	const maxBody = 1 << 20
	f := newFixture(t, webhook.Config{MaxBodyBytes: maxBody, MaxPendingBytes: 2 * maxBody, ReadWait: 200 * time.Millisecond})
	addr := strings.TrimPrefix(f.srv.URL, "http://")
	send := func(id string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s: issues\r\n%s: %s\r\n%s: sha256=%s\r\n\r\n",
			maxBody, webhook.HeaderEvent, webhook.HeaderDelivery, id, webhook.HeaderSignature256, strings.Repeat("ab", 32))
		if _, err := c.Write(make([]byte, 700<<10)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	send("big-0") // holds a buffer of about 1 MiB, and its growth took more
	waitRead(t, f, 700<<10)
	c := send("big-1")
	// The fixture's body wrapper makes the server drain what is left of a
	// refused body before it answers; end the body here.
	_ = c.(*net.TCPConn).CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("second large body: %v (read %d)\n%s", err, f.read.Load(), f.logs.String())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second large body with the budget spent: %d, want 503", resp.StatusCode)
	}
}

func waitRead(t *testing.T, f *fixture, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for f.read.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("handler read %d bytes, waited for %d", f.read.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recordingStore remembers what it was given and passes it on.
type recordingStore struct {
	next webhook.Store
	mu   sync.Mutex
	got  []webhook.Delivery
}

func (s *recordingStore) Accept(ctx context.Context, d webhook.Delivery) (bool, error) {
	s.mu.Lock()
	s.got = append(s.got, d)
	s.mu.Unlock()
	return s.next.Accept(ctx, d)
}

// TestUnhandledEventsAreRecordedNoOps: a signed delivery of an event (or
// action) nobody handles is accepted and stored as a no-op: no job, and a
// replay is still a duplicate.
func TestUnhandledEventsAreRecordedNoOps(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	rec := &recordingStore{next: f.q}
	h, err := webhook.NewHandler(webhook.Config{
		Secrets: []string{secret},
		Store:   rec,
		Handles: func(event, action string) bool { return event == "issues" && action == testAction },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.srv = srv
	for i, tc := range []struct {
		event, body string
		status      int
		noop        bool
	}{
		{"projects_v2_item", `{"action":"edited","projects_v2_item":{"id":1}}`, 202, true},
		{"projects_v2_item", `{"action":"edited","projects_v2_item":{"id":1}}`, 200, true}, // the replay
		{"issues", `{"action":"pinned"}`, 202, true},
		{"issues", `{"action":"opened"}`, 202, false},
		{"ping", `{"zen":"Keep it logically awesome."}`, 202, true},
	} {
		id := fmt.Sprintf("ev-%d", i)
		if i == 1 {
			id = "ev-0"
		}
		status, _ := f.do(t, request{body: []byte(tc.body), headers: map[string]string{webhook.HeaderEvent: tc.event, webhook.HeaderDelivery: id}})
		if status != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.event, tc.body, status, tc.status)
		}
		rec.mu.Lock()
		if d := rec.got[len(rec.got)-1]; d.NoOp != tc.noop {
			t.Errorf("%s %s: NoOp %v, want %v", tc.event, tc.body, d.NoOp, tc.noop)
		}
		rec.mu.Unlock()
	}
	if n := f.jobCount(t); n != 1 {
		t.Errorf("%d jobs, want 1 (issues.opened)", n)
	}
}
