package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

const (
	secret     = "s3cret-current"
	oldSecret  = "s3cret-previous"
	testEvent  = "issues"
	testAction = "opened"
)

// metrics records observations.
type metrics struct {
	mu  sync.Mutex
	got []string // "event/outcome"
}

func (m *metrics) Delivery(event string, outcome webhook.Outcome, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, event+"/"+string(outcome))
}

func (m *metrics) last() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.got) == 0 {
		return ""
	}
	return m.got[len(m.got)-1]
}

// fixture is a handler in front of a real SQLite job queue, served over
// loopback HTTP.
type fixture struct {
	q       *jobs.Queue
	srv     *httptest.Server
	metrics *metrics
	logs    *syncBuffer
	read    atomic.Int64 // body bytes the handler read, over all requests
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, cfg webhook.Config) *fixture {
	t.Helper()
	f := &fixture{metrics: &metrics{}, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q, err := jobs.Open(context.Background(), jobs.Config{
		SQLitePath: filepath.Join(t.TempDir(), "jobs.db"),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	f.q = q
	if cfg.Secrets == nil {
		cfg.Secrets = []string{secret}
	}
	if cfg.Store == nil {
		cfg.Store = q
	}
	cfg.Logger = logger
	cfg.Metrics = f.metrics
	h, err := webhook.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &serverBody{ReadCloser: r.Body, n: &f.read}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// request is one HTTP request to the handler; zero fields get sensible
// values (a signed issues delivery).
type request struct {
	method      string
	body        []byte
	contentType string
	headers     map[string]string // "" value deletes the header
	signWith    string
}

func payload(marker string) []byte {
	return fmt.Appendf(nil, `{"action":%q,"installation":{"id":99},"repository":{"full_name":"acme/infra"},"marker":%q}`, testAction, marker)
}

func (f *fixture) do(t *testing.T, r request) (int, string) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.body == nil {
		r.body = payload("x")
	}
	req, err := http.NewRequest(r.method, f.srv.URL, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set(webhook.HeaderEvent, testEvent)
	req.Header.Set(webhook.HeaderDelivery, "0f1e2d3c-aaaa-bbbb-cccc-000000000001")
	signWith := secret
	if r.signWith != "" {
		signWith = r.signWith
	}
	req.Header.Set(webhook.HeaderSignature256, webhook.Sign([]byte(signWith), r.body))
	for k, v := range r.headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// jobCount is the number of delivery jobs waiting in the queue (it is never
// started in these tests).
func (f *fixture) jobCount(t *testing.T) int64 {
	t.Helper()
	st, err := f.q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Kinds[jobs.KindDelivery].Available
}

func TestRejectedRequestsEnqueueNothing(t *testing.T) {
	body := payload("x")
	for _, tc := range []struct {
		name    string
		req     request
		status  int
		outcome string
	}{
		{"no signature", request{headers: map[string]string{webhook.HeaderSignature256: ""}}, 401, "unverified/rejected_signature"},
		{"SHA-1 signature only", request{headers: map[string]string{
			webhook.HeaderSignature256: "",
			"X-Hub-Signature":          "sha1=0123456789abcdef0123456789abcdef01234567",
		}}, 401, "unverified/rejected_signature"},
		{"forged signature", request{signWith: "not-the-secret"}, 401, "unverified/rejected_signature"},
		{"signature of another body", request{headers: map[string]string{webhook.HeaderSignature256: webhook.Sign([]byte(secret), []byte("{}"))}}, 401, "unverified/rejected_signature"},
		{"sha1 prefix in the sha256 header", request{headers: map[string]string{webhook.HeaderSignature256: strings.Replace(webhook.Sign([]byte(secret), body), "sha256=", "sha1=", 1)}}, 401, "unverified/rejected_signature"},
		{"truncated signature", request{headers: map[string]string{webhook.HeaderSignature256: webhook.Sign([]byte(secret), body)[:40]}}, 401, "unverified/rejected_signature"},
		{"non-hex signature", request{headers: map[string]string{webhook.HeaderSignature256: "sha256=" + strings.Repeat("zz", 32)}}, 401, "unverified/rejected_signature"},
		{"missing delivery id", request{headers: map[string]string{webhook.HeaderDelivery: ""}}, 400, "issues/bad_request"},
		{"delivery id with spaces", request{headers: map[string]string{webhook.HeaderDelivery: "a b"}}, 400, "issues/bad_request"},
		{"missing event", request{headers: map[string]string{webhook.HeaderEvent: ""}}, 400, "unverified/bad_request"},
		{"invalid event", request{headers: map[string]string{webhook.HeaderEvent: "Issues; DROP"}}, 400, "unverified/bad_request"},
		{"event starting with a digit", request{headers: map[string]string{webhook.HeaderEvent: "2fa"}}, 400, "unverified/bad_request"},
		{"GET", request{method: http.MethodGet}, 405, "unverified/bad_request"},
		{"not JSON", request{body: []byte("hello")}, 400, "issues/bad_request"},
		{"JSON but not an object", request{body: []byte(`["a"]`)}, 400, "issues/bad_request"},
		{"broken JSON object", request{body: []byte(`{"action":`)}, 400, "issues/bad_request"},
		{"form without payload", request{body: []byte("x=1"), contentType: "application/x-www-form-urlencoded"}, 400, "issues/bad_request"},
		{"unsupported content type", request{contentType: "text/plain"}, 400, "issues/bad_request"},
		{"declared length over the limit", request{body: bytes.Repeat([]byte("a"), 2048)}, 413, "unverified/too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, webhook.Config{MaxBodyBytes: 1024})
			status, _ := f.do(t, tc.req)
			if status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			if got := f.metrics.last(); got != tc.outcome {
				t.Errorf("metric %q, want %q", got, tc.outcome)
			}
			if n := f.jobCount(t); n != 0 {
				t.Errorf("%d jobs enqueued, want none", n)
			}
		})
	}
}

// serverBody counts what the handler reads of a request body.
type serverBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *serverBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// countingReader produces a body of limit bytes.
type countingReader struct {
	n, limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > c.limit-c.n {
		n = c.limit - c.n
	}
	for i := range p[:n] {
		p[i] = 'a'
	}
	c.n += n
	return int(n), nil
}

func TestOversizeBodiesAreNotRead(t *testing.T) {
	f := newFixture(t, webhook.Config{}) // the default 25 MiB limit
	for _, tc := range []struct {
		name     string
		declared bool
	}{
		{"declared Content-Length", true},
		{"chunked", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.read.Store(0)
			body := &countingReader{limit: webhook.MaxBodyBytesDefault + 10<<20}
			req, err := http.NewRequest(http.MethodPost, f.srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.declared {
				req.ContentLength = body.limit
			} else {
				req.ContentLength = -1 // chunked
			}
			req.Header.Set(webhook.HeaderEvent, testEvent)
			req.Header.Set(webhook.HeaderDelivery, "big-1")
			req.Header.Set(webhook.HeaderSignature256, "sha256="+strings.Repeat("00", 32))
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				// The server may close the connection while the client is
				// still writing; the status must still have been 413.
				if f.metrics.last() != "unverified/too_large" {
					t.Fatalf("POST: %v (metric %q)", err, f.metrics.last())
				}
			} else {
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d, want 413", resp.StatusCode)
				}
			}
			if read := f.read.Load(); tc.declared && read != 0 {
				t.Errorf("handler read %d bytes of a body refused by its Content-Length", read)
			} else if read > webhook.MaxBodyBytesDefault+1 {
				t.Errorf("handler read %d bytes; it should stop one past the limit", read)
			}
		})
	}
	if n := f.jobCount(t); n != 0 {
		t.Errorf("%d jobs enqueued, want none", n)
	}
}

func TestAcceptedDelivery(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	got := make(chan webhook.Delivery, 1)
	status, body := f.do(t, request{body: payload("hello")})
	if status != http.StatusAccepted || body != "accepted" {
		t.Fatalf("got %d %q, want 202 accepted", status, body)
	}
	if f.metrics.last() != "issues/accepted" {
		t.Errorf("metric %q", f.metrics.last())
	}
	if n := f.jobCount(t); n != 1 {
		t.Fatalf("%d jobs, want 1", n)
	}
	reg := jobs.NewRegistry()
	reg.HandleDeliveries(func(_ context.Context, d webhook.Delivery) error { got <- d; return nil })
	if err := f.q.Start(context.Background(), reg); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		if d.ID != "0f1e2d3c-aaaa-bbbb-cccc-000000000001" || d.Event != testEvent || d.Action != testAction ||
			d.InstallationID != 99 || d.Repository != "acme/infra" || !bytes.Contains(d.Payload, []byte(`"hello"`)) || d.ReceivedAt.IsZero() {
			t.Errorf("delivery arrived as %+v (payload %s)", d, d.Payload)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("delivery never processed")
	}
}

func TestFormEncodedDelivery(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	form := url.Values{"payload": {string(payload("form"))}}.Encode()
	status, _ := f.do(t, request{body: []byte(form), contentType: "application/x-www-form-urlencoded"})
	if status != http.StatusAccepted {
		t.Fatalf("status %d, want 202", status)
	}
	if n := f.jobCount(t); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
}

func TestSecretRotation(t *testing.T) {
	f := newFixture(t, webhook.Config{Secrets: []string{secret, oldSecret}})
	for i, s := range []string{secret, oldSecret} {
		status, _ := f.do(t, request{signWith: s, headers: map[string]string{webhook.HeaderDelivery: fmt.Sprintf("rot-%d", i)}})
		if status != http.StatusAccepted {
			t.Errorf("delivery signed with secret %d: status %d, want 202", i, status)
		}
	}
	if status, _ := f.do(t, request{signWith: "a-third-secret"}); status != http.StatusUnauthorized {
		t.Errorf("third secret: status %d, want 401", status)
	}
	if n := f.jobCount(t); n != 2 {
		t.Errorf("%d jobs, want 2", n)
	}
}

func TestReplayIsDuplicate(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	var codes [2]int
	for i := range codes {
		var body string
		codes[i], body = f.do(t, request{})
		if i == 1 && body != "duplicate" {
			t.Errorf("replay answered %q", body)
		}
	}
	if codes != [2]int{http.StatusAccepted, http.StatusOK} {
		t.Errorf("statuses %v, want [202 200]", codes)
	}
	if f.metrics.last() != "issues/duplicate" {
		t.Errorf("metric %q", f.metrics.last())
	}
	if n := f.jobCount(t); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
}

func TestPingIsRecordedWithoutAJob(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	ping := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	for i, want := range []int{http.StatusAccepted, http.StatusOK} {
		if status, _ := f.do(t, request{body: ping, headers: map[string]string{webhook.HeaderEvent: "ping"}}); status != want {
			t.Errorf("ping %d: status %d, want %d", i, status, want)
		}
	}
	if n := f.jobCount(t); n != 0 {
		t.Errorf("%d jobs for a ping, want none", n)
	}
}

func TestStoreErrorIsNotAcknowledged(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	if err := f.q.Close(); err != nil { // the store is gone
		t.Fatal(err)
	}
	status, _ := f.do(t, request{})
	if status != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503 so GitHub counts the delivery as failed", status)
	}
	if f.metrics.last() != "issues/store_error" {
		t.Errorf("metric %q", f.metrics.last())
	}
}

// slowStore blocks until its context ends: a database that hangs.
type slowStore struct{ calls atomic.Int32 }

func (s *slowStore) Accept(ctx context.Context, _ webhook.Delivery) (bool, error) {
	s.calls.Add(1)
	<-ctx.Done()
	return false, ctx.Err()
}

func TestHangingStoreTimesOut(t *testing.T) {
	store := &slowStore{}
	f := newFixture(t, webhook.Config{Store: store, StoreTimeout: 100 * time.Millisecond})
	status, _ := f.do(t, request{})
	if status != http.StatusServiceUnavailable || store.calls.Load() != 1 {
		t.Errorf("status %d after %d store calls, want 503 after 1", status, store.calls.Load())
	}
}

func TestLogsCarryIdentifiersNotSecretsOrPayloads(t *testing.T) {
	f := newFixture(t, webhook.Config{})
	f.do(t, request{body: payload("PAYLOAD-MARKER-7")})
	f.do(t, request{signWith: "forged"})
	logs := f.logs.String()
	for _, want := range []string{"delivery=0f1e2d3c-aaaa-bbbb-cccc-000000000001", "event=issues", "repository=acme/infra", "outcome=accepted", "outcome=rejected_signature"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, secretish := range []string{"PAYLOAD-MARKER-7", secret, "sha256="} {
		if strings.Contains(logs, secretish) {
			t.Errorf("logs contain %q:\n%s", secretish, logs)
		}
	}
}

func TestNewHandlerFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  webhook.Config
		want []string
	}{
		{"nothing", webhook.Config{}, []string{"Secrets: at least one webhook secret is required", "Store: required"}},
		{"empty secret", webhook.Config{Secrets: []string{""}, Store: &slowStore{}}, []string{"Secrets[0]: a webhook secret may not be empty"}},
		{"three secrets", webhook.Config{Secrets: []string{"a", "b", "c"}, Store: &slowStore{}}, []string{"3 given, at most two"}},
		{"negative limits", webhook.Config{Secrets: []string{"a"}, Store: &slowStore{}, MaxBodyBytes: -1, StoreTimeout: -1, MaxConcurrentReads: -1, ReadWait: -1},
			[]string{"MaxBodyBytes: -1 is negative", "StoreTimeout: -1ns is negative", "MaxConcurrentReads: -1 is negative", "ReadWait: -1ns is negative"}},
		{"pending bytes too few for the largest body", webhook.Config{Secrets: []string{"a"}, Store: &slowStore{}, MaxBodyBytes: 1 << 20, MaxPendingBytes: 1 << 20},
			[]string{"MaxPendingBytes: 1048576 is less than twice MaxBodyBytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := webhook.NewHandler(tc.cfg)
			if h != nil || err == nil {
				t.Fatal("NewHandler built a handler")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSign(t *testing.T) {
	// The example from GitHub's documentation on validating deliveries.
	got := webhook.Sign([]byte("It's a Secret to Everybody"), []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
