package githubfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

// strictReceiver checks every delivery by hand the way a GitHub App must:
// HMAC-SHA256 of the raw body with the shared secret, compared in constant
// time; anything else is refused (fail closed).
type strictReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	order   []string
	refused []string
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func newStrictReceiver(t *testing.T, secret string) *strictReceiver {
	s := &strictReceiver{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		got := r.Header.Get("X-Hub-Signature-256")
		problem := ""
		switch {
		case !hmac.Equal([]byte(got), []byte(want)):
			problem = "signature"
		case r.Header.Get("Content-Type") != "application/json":
			problem = "content type"
		case !uuidRE.MatchString(r.Header.Get("X-GitHub-Delivery")):
			problem = "delivery id " + r.Header.Get("X-GitHub-Delivery")
		case r.Header.Get("X-GitHub-Event") == "":
			problem = "event"
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if problem != "" {
			s.refused = append(s.refused, problem)
			http.Error(w, problem, http.StatusUnauthorized)
			return
		}
		var env struct {
			Action string `json:"action"`
		}
		_ = json.Unmarshal(body, &env)
		s.order = append(s.order, r.Header.Get("X-GitHub-Event")+"."+env.Action)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *strictReceiver) snapshot() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order), slices.Clone(s.refused)
}

func TestWebhooksSignedOrderedToEveryURL(t *testing.T) {
	const secret = "topsecret"
	a, b := newStrictReceiver(t, secret), newStrictReceiver(t, secret)
	f := New(Options{WebhookSecret: secret, WebhookURLs: []string{a.URL}})
	t.Cleanup(func() { _ = f.Close() })
	f.AddWebhookURL(b.URL)
	f.AddOrg("acme", "alice")
	if _, err := f.AddRepo(repoName, seedFiles); err != nil {
		t.Fatal(err)
	}
	app, _ := f.NewApp("rdsbot", "acme")
	inst, _ := f.Install(app.ID, "acme")
	alice := f.As("alice")
	n, _ := alice.OpenIssue(repoName, "one", "")
	for range 3 {
		if _, err := alice.Comment(repoName, n, "c"); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.AddLabels(repoName, n, "x"); err != nil {
		t.Fatal(err)
	}
	if err := f.Quiesce(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	want := []string{"issues.opened", "issue_comment.created", "issue_comment.created", "issue_comment.created", "issues.labeled"}
	for _, r := range []*strictReceiver{a, b} {
		order, refused := r.snapshot()
		if !slices.Equal(order, want) || len(refused) > 0 {
			t.Fatalf("order %v refused %v, want %v", order, refused, want)
		}
	}
	// Every event names the installation, so the App knows which token to use.
	for _, ev := range f.Events() {
		var p struct {
			Installation struct{ ID int64 } `json:"installation"`
			Sender       struct{ Login string }
			Organization struct{ Login string }
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil || p.Installation.ID != inst || p.Sender.Login != "alice" || p.Organization.Login != "acme" {
			t.Fatalf("%s envelope: %+v %v", ev.Name, p, err)
		}
	}
	// Without a secret nothing is signed, and the receiver refuses it.
	f.SetWebhookSecret("")
	_, _ = alice.Comment(repoName, n, "unsigned")
	if err := f.Quiesce(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, refused := a.snapshot(); !slices.Equal(refused, []string{"signature"}) {
		t.Fatalf("unsigned delivery: refused %v", refused)
	}
	log := f.Deliveries()
	if last := log[len(log)-1]; last.Delivered || last.StatusCode != 401 || last.Status != "Invalid HTTP Response: 401" {
		t.Fatalf("failed delivery log entry: %+v", last)
	}
}

func TestWebhookToUnreachableURLIsLoggedAndRedeliverable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	f := New(Options{WebhookURLs: []string{deadURL}, WebhookTimeout: time.Second})
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.AddRepo(repoName, seedFiles); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As("alice").OpenIssue(repoName, "x", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.Quiesce(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	d := f.Deliveries()[0]
	if d.Delivered || d.Status != "failed to connect" || !d.Done {
		t.Fatalf("delivery to a dead URL: %+v", d)
	}
	if err := f.Redeliver(d.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.Quiesce(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if ds := f.Deliveries(); len(ds) != 2 || !ds[1].Redelivery || ds[1].GUID != d.GUID {
		t.Fatalf("redelivery: %+v", ds)
	}
	if err := f.Redeliver(12345); err == nil {
		t.Fatal("redelivering an unknown delivery must fail")
	}
}
