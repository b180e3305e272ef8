package githubfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Event is one webhook event the fake emitted, whether or not any URL
// received it.
type Event struct {
	Name    string // X-GitHub-Event: issues, pull_request, push, ...
	Action  string // "opened", ... ("" for push and workflow_dispatch)
	GUID    string // X-GitHub-Delivery
	Payload json.RawMessage
}

// Delivery is one attempt to deliver an event to one URL, as the App's
// delivery log shows it.
type Delivery struct {
	ID             int64
	GUID           string
	Event          string
	Action         string
	URL            string
	InstallationID int64
	RepositoryID   int64
	Payload        []byte
	RequestHeaders http.Header
	Redelivery     bool
	// After the attempt:
	Done            bool
	Delivered       bool // the receiver answered 2xx
	Status          string
	StatusCode      int
	DeliveredAt     time.Time
	Duration        time.Duration
	ResponseHeaders http.Header
	ResponseBody    string
	dropped         bool
}

// hookQueue delivers events in order, one at a time, to every registered URL.
type hookQueue struct {
	f      *Fake
	mu     sync.Mutex
	cond   *sync.Cond
	urls   []string
	secret string
	queue  []*Delivery
	log    []*Delivery
	events []Event
	busy   int
	nextID int64
	drops  []dropRule
	closed bool
	client *http.Client
}

type dropRule struct {
	n      int
	events map[string]bool
}

func newHookQueue(f *Fake) *hookQueue {
	q := &hookQueue{f: f, secret: f.opts.WebhookSecret, nextID: 1, client: &http.Client{Timeout: f.opts.WebhookTimeout}}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *hookQueue) addURL(u string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.urls = append(q.urls, u)
}

// enqueue records an event and queues one delivery per URL. Callers hold f.mu,
// so events are queued in the order the state changed.
func (q *hookQueue) enqueue(event, action string, payload []byte, instID, repoID, appID int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	guid := uuid.NewString()
	q.events = append(q.events, Event{Name: event, Action: action, GUID: guid, Payload: payload})
	for _, u := range q.urls {
		d := &Delivery{
			ID: q.nextID, GUID: guid, Event: event, Action: action, URL: u,
			InstallationID: instID, RepositoryID: repoID, Payload: payload,
			RequestHeaders: q.headers(event, guid, payload, appID),
		}
		q.nextID++
		d.dropped = q.shouldDrop(event)
		q.log = append(q.log, d)
		q.queue = append(q.queue, d)
	}
	q.cond.Broadcast()
}

func (q *hookQueue) headers(event, guid string, payload []byte, appID int64) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/githubfake")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", guid)
	h.Set("X-GitHub-Hook-ID", "1")
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	h.Set("X-GitHub-Hook-Installation-Target-ID", fmt.Sprint(appID))
	if q.secret != "" {
		h.Set("X-Hub-Signature", "sha1="+hmacHex(sha1.New, q.secret, payload))
		h.Set("X-Hub-Signature-256", "sha256="+hmacHex(sha256.New, q.secret, payload))
	}
	return h
}

func hmacHex(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func (q *hookQueue) shouldDrop(event string) bool {
	for i := range q.drops {
		r := &q.drops[i]
		if r.n > 0 && (len(r.events) == 0 || r.events[event]) {
			r.n--
			return true
		}
	}
	return false
}

// redeliver queues a new attempt of a logged delivery.
func (q *hookQueue) redeliver(id int64) (*Delivery, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, d := range q.log {
		if d.ID != id {
			continue
		}
		nd := &Delivery{
			ID: q.nextID, GUID: d.GUID, Event: d.Event, Action: d.Action, URL: d.URL,
			InstallationID: d.InstallationID, RepositoryID: d.RepositoryID, Payload: d.Payload,
			RequestHeaders: d.RequestHeaders.Clone(), Redelivery: true,
		}
		q.nextID++
		q.log = append(q.log, nd)
		q.queue = append(q.queue, nd)
		q.cond.Broadcast()
		return nd, true
	}
	return nil, false
}

func (q *hookQueue) run() {
	for {
		q.mu.Lock()
		for len(q.queue) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		d := q.queue[0]
		q.queue = q.queue[1:]
		q.busy++
		q.mu.Unlock()

		q.send(d)

		q.mu.Lock()
		q.busy--
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

// send makes one attempt and records its outcome on d.
func (q *hookQueue) send(d *Delivery) {
	start := time.Now()
	var (
		status     string
		code       int
		respHeader http.Header
		respBody   string
	)
	if d.dropped {
		status = "dropped by fault injection"
	} else {
		req, err := http.NewRequest(http.MethodPost, d.URL, bytes.NewReader(d.Payload))
		if err == nil {
			req.Header = d.RequestHeaders.Clone()
			var resp *http.Response
			resp, err = q.client.Do(req)
			if err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				code, respHeader, respBody = resp.StatusCode, resp.Header, string(body)
				status = "OK"
				if code < 200 || code > 299 {
					status = fmt.Sprintf("Invalid HTTP Response: %d", code)
				}
			}
		}
		if err != nil {
			status = "failed to connect"
		}
	}
	q.f.log.Debug("githubfake webhook", "event", d.Event, "action", d.Action, "url", d.URL, "status", status)
	q.mu.Lock()
	defer q.mu.Unlock()
	d.Done, d.Status, d.StatusCode = true, status, code
	d.Delivered = code >= 200 && code <= 299
	d.DeliveredAt, d.Duration = q.f.now(), time.Since(start)
	d.ResponseHeaders, d.ResponseBody = respHeader, respBody
}

// idle reports whether nothing is queued or being sent.
func (q *hookQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue) == 0 && q.busy == 0
}

func (q *hookQueue) wait(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !q.idle() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("githubfake: webhooks still pending: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

func (q *hookQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

func (q *hookQueue) snapshot() []Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Delivery, len(q.log))
	for i, d := range q.log {
		out[i] = *d
	}
	return out
}
