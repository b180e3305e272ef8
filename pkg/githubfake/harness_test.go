package githubfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

const testSecret = "webhook-secret"

// seedFiles is the repository every harness starts with.
var seedFiles = map[string]string{
	"README.md":                     "# infra\n",
	"envs/dev-rds/terraform.tfvars": "application_databases = {\n}\n",
	"envs/dev/terraform.tfvars":     "rds_config = {\n  enabled = true\n}\n",
	".github/workflows/create-rds-database.yml": `name: Create RDS Database
on:
  workflow_dispatch:
    inputs:
      database_name:
        description: Database name
        required: true
        type: string
      environment:
        required: true
        type: choice
        options: [dev, test, prod]
      dry_run:
        type: boolean
        default: "false"
`,
	".github/workflows/ci.yml": "name: CI\non: [push, repository_dispatch]\njobs: {}\n",
	".github/ISSUE_TEMPLATE/rds-request.yml": `name: Request a database
title: 'RDS request: '
labels: [rds-request]
body:
  - type: markdown
    attributes:
      value: Hello
  - type: input
    id: databaseName
    attributes:
      label: Database name
    validations:
      required: true
  - type: dropdown
    id: environment
    attributes:
      label: Environment
      options: [dev, test, prod]
      default: 0
  - type: checkboxes
    id: ack
    attributes:
      label: Acknowledgements
      options:
        - label: I read the docs
        - label: I am on call
`,
}

// received is one webhook delivery the test receiver accepted.
type received struct {
	Event, Action, GUID string
	Body                []byte
}

// hookReceiver is a webhook endpoint that verifies signatures with go-github
// and answers 401 to anything unsigned or mis-signed (fail closed).
type hookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	rejected int
	status   int // answer for accepted deliveries (default 200)
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{status: http.StatusOK}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := github.ValidatePayload(r, []byte(secret))
		if err != nil || !strings.HasPrefix(r.Header.Get("User-Agent"), "GitHub-Hookshot/") {
			h.mu.Lock()
			h.rejected++
			h.mu.Unlock()
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var env struct {
			Action string `json:"action"`
		}
		_ = json.Unmarshal(body, &env)
		h.mu.Lock()
		h.got = append(h.got, received{Event: github.WebHookType(r), Action: env.Action, GUID: github.DeliveryID(r), Body: body})
		status := h.status
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) all() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.got...)
}

// events lists "event.action" of everything received since index from.
func (h *hookReceiver) events(from int) []string {
	var out []string
	for _, r := range h.all()[from:] {
		name := r.Event
		if r.Action != "" {
			name += "." + r.Action
		}
		out = append(out, name)
	}
	return out
}

// exchange is one HTTP request/response the recorder saw.
type exchange struct {
	Method, Path string
	Status       int
	Body         []byte
}

// recorder is a RoundTripper that keeps every exchange for schema checks.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []exchange
}

func (rc *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rc.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	rc.mu.Lock()
	rc.log = append(rc.log, exchange{Method: req.Method, Path: req.URL.EscapedPath(), Status: resp.StatusCode, Body: body})
	rc.mu.Unlock()
	return resp, nil
}

func (rc *recorder) exchanges() []exchange {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]exchange(nil), rc.log...)
}

// harness is a started fake with an org, teams, a repository, an installed
// App and clients: the App (JWT), the installation and users, all through
// go-github over HTTP and recorded.
type harness struct {
	t     *testing.T
	f     *Fake
	url   string
	app   AppCredentials
	inst  int64
	rec   *recorder
	hooks *hookReceiver
	gh    *github.Client // installation client via ghinstallation
	jwt   *github.Client // App client via ghinstallation's apps transport
	ctx   context.Context
}

const repoName = "acme/infra"

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	hooks := newHookReceiver(t, testSecret)
	opts.WebhookSecret = testSecret
	opts.WebhookURLs = append(opts.WebhookURLs, hooks.URL)
	f := New(opts)
	url, err := f.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	f.AddTeam("acme", "dba", "dana", "dave")
	f.AddTeam("acme", "platform", "pat")
	f.AddOrg("acme", "alice")
	if _, err := f.AddRepo(repoName, seedFiles); err != nil {
		t.Fatal(err)
	}
	app, err := f.NewApp("rdsbot", "acme")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := f.Install(app.ID, "acme")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: http.DefaultTransport}
	itr, err := ghinstallation.New(rec, app.ID, inst, app.PEM)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = url + "/api/v3"
	atr, err := ghinstallation.NewAppsTransport(rec, app.ID, app.PEM)
	if err != nil {
		t.Fatal(err)
	}
	atr.BaseURL = url + "/api/v3"
	h := &harness{t: t, f: f, url: url, app: app, inst: inst, rec: rec, hooks: hooks, ctx: context.Background()}
	h.gh = h.client(&http.Client{Transport: itr})
	h.jwt = h.client(&http.Client{Transport: atr})
	return h
}

func (h *harness) client(hc *http.Client) *github.Client {
	c, err := github.NewClient(hc).WithEnterpriseURLs(h.url+"/", h.url+"/")
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// tokenTransport sends a fixed token.
type tokenTransport struct {
	token string
	next  http.RoundTripper
}

func (tt *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "token "+tt.token)
	return tt.next.RoundTrip(req)
}

// as returns a go-github client acting as a user with a personal token.
func (h *harness) as(login string) *github.Client {
	return h.client(&http.Client{Transport: &tokenTransport{token: h.f.UserToken(login), next: h.rec}})
}

// quiesce waits for every webhook to be delivered.
func (h *harness) quiesce() {
	h.t.Helper()
	if err := h.f.Quiesce(10 * time.Second); err != nil {
		h.t.Fatal(err)
	}
}

// status returns the HTTP status of a go-github error (0 for nil).
func status(err error) int {
	if err == nil {
		return 0
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return rl.Response.StatusCode
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) {
		return ab.Response.StatusCode
	}
	return -1
}

// wantErr checks a go-github error's status and message.
func wantErr(t *testing.T, err error, code int, msg string) {
	t.Helper()
	if got := status(err); got != code {
		t.Fatalf("want %d %q, got %d: %v", code, msg, got, err)
	}
	if msg != "" && !bytes.Contains([]byte(err.Error()), []byte(msg)) {
		t.Fatalf("want message %q in %v", msg, err)
	}
}
