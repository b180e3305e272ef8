package bot_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/bot"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/sandbox"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// harness runs one handler at a time against githubfake: the fake's
// webhooks are captured (not processed), and a test hands a captured
// delivery to the bot itself. Request jobs are recorded, not run.
type harness struct {
	t      *testing.T
	s      *sandbox.Sandbox
	bot    *bot.Bot
	ledger *ledger.Ledger
	app    *forge.App
	jobs   *recorder

	mu        sync.Mutex
	captured  []webhook.Delivery
	status    atomic.Int32 // the answer of the capturing receiver (default 202)
	processed int
}

// recorder records the request jobs the bot asks for.
type recorder struct {
	mu   sync.Mutex
	reqs []bot.RequestArgs
}

func (r *recorder) Enqueue(_ context.Context, args river.JobArgs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, args.(bot.RequestArgs))
	return nil
}

func (r *recorder) take() []bot.RequestArgs {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	s, err := sandbox.Start(ctx, sandbox.Options{NoServer: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &harness{t: t, s: s, jobs: &recorder{}}
	h.status.Store(http.StatusAccepted)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var head struct {
			Action       string `json:"action"`
			Installation struct {
				ID int64 `json:"id"`
			} `json:"installation"`
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		_ = json.Unmarshal(body, &head)
		h.mu.Lock()
		h.captured = append(h.captured, webhook.Delivery{ID: r.Header.Get(webhook.HeaderDelivery), Event: r.Header.Get(webhook.HeaderEvent),
			Action: head.Action, InstallationID: head.Installation.ID, Repository: head.Repository.FullName, Payload: body, ReceivedAt: time.Now()})
		h.mu.Unlock()
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(recv.Close)
	s.AddWebhook(recv.URL)
	h.ledger, err = ledger.Open(ctx, ledger.Config{SQLitePath: filepath.Join(t.TempDir(), "ledger.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.ledger.Close() })
	h.app, err = forge.NewApp(forge.Config{BaseURL: s.GitHubURL, AppID: s.App.ID, PrivateKey: s.App.PEM, Ledger: h.ledger,
		Pacing: []forge.Window{}, Retry: forge.RetryPolicy{BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	h.bot, err = bot.New(bot.Options{App: h.app, Queue: h.jobs, Ledger: h.ledger, ConfigMaxAge: time.Nanosecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// deliver waits for the fake's webhooks and hands every delivery not yet
// handled to the bot, in order.
func (h *harness) deliver() {
	h.t.Helper()
	if err := h.s.Fake.Quiesce(10 * time.Second); err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	pending := h.captured[h.processed:]
	h.processed = len(h.captured)
	h.mu.Unlock()
	for _, d := range pending {
		if err := h.bot.HandleDelivery(context.Background(), d); err != nil {
			h.t.Fatalf("%s.%s: %v", d.Event, d.Action, err)
		}
	}
}

// run runs the recorded request jobs (and those they cause) to the end.
func (h *harness) run() {
	h.t.Helper()
	for range 10 {
		reqs := h.jobs.take()
		if len(reqs) == 0 {
			return
		}
		for _, r := range reqs {
			if err := h.bot.HandleRequest(context.Background(), r); err != nil {
				h.t.Fatalf("request %s: %v", r.Key, err)
			}
		}
		h.deliver()
	}
}

func (h *harness) comments(n int) []githubfake.Comment {
	var out []githubfake.Comment
	for _, c := range h.s.Fake.Comments(h.s.Repo, n) {
		if c.User == "rdsbot[bot]" {
			out = append(out, c)
		}
	}
	return out
}

func keys(reqs []bot.RequestArgs) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Key)
	}
	return out
}

var answers = map[string]string{
	"Database name": "orders_service", "Application username": "orders_app", "Environment": "test",
	"Owning team": "app-team", "Domain": "delivery", "Risk": "medium", "Size tier": "small",
}

const form = ".github/ISSUE_TEMPLATE/rds-request.yml"

func TestIssuesHandler(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, err := h.s.Fake.As(sandbox.Requester).OpenIssueForm(h.s.Repo, form, "orders", answers)
	if err != nil {
		t.Fatal(err)
	}
	h.deliver()
	if got := keys(h.jobs.take()); !slices.Equal(got, []string{"issue/" + itoa(n)}) {
		t.Fatalf("opened: jobs %v", got)
	}
	o, ok, _ := h.ledger.Origin(ctx, h.s.Repo, n)
	if !ok || o.Requester != sandbox.Requester || o.Source != bot.SourceIssueForm {
		t.Fatalf("origin %+v %v", o, ok)
	}

	// An issue without the label is not a request; someone else adding the
	// label does not make it one.
	other, _ := h.s.Fake.As("erin").OpenIssue(h.s.Repo, "question", "hello")
	h.deliver()
	if err := h.s.Fake.As(sandbox.Platform).AddLabels(h.s.Repo, other, "rds-request"); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	if got := h.jobs.take(); len(got) != 0 {
		t.Fatalf("foreign label: jobs %v", keys(got))
	}
	if _, ok, _ := h.ledger.Origin(ctx, h.s.Repo, other); ok {
		t.Fatal("a foreign label recorded a request")
	}
	// The author labelling their own issue makes it a request (the label
	// is already there: the author takes it off and puts it back on).
	if err := h.s.Fake.As("erin").RemoveLabel(h.s.Repo, other, "rds-request"); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Fake.As("erin").AddLabels(h.s.Repo, other, "rds-request"); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	if got := keys(h.jobs.take()); len(got) != 1 {
		t.Fatalf("own label: jobs %v", got)
	}

	// An edit by the requester is accepted; one by someone else is not,
	// and is answered once.
	is, _ := h.s.Fake.Issue(h.s.Repo, n)
	mine := strings.Replace(is.Body, "orders_app", "orders_svc", 1)
	if err := h.s.Fake.As(sandbox.Requester).EditIssue(h.s.Repo, n, githubfake.IssueEdit{Body: &mine}); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	if txt, _, _ := h.ledger.AcceptedText(ctx, h.s.Repo, n); txt.Body != mine || txt.Editor != sandbox.Requester {
		t.Errorf("requester's edit not accepted: %+v", txt)
	}
	for range 2 {
		theirs := strings.Replace(mine, "orders_svc", "evil_app", 1)
		if err := h.s.Fake.As("erin").EditIssue(h.s.Repo, n, githubfake.IssueEdit{Body: &theirs}); err != nil {
			t.Fatal(err)
		}
		h.deliver()
	}
	if txt, _, _ := h.ledger.AcceptedText(ctx, h.s.Repo, n); txt.Body != mine {
		t.Errorf("someone else's edit was accepted: %q", txt.Editor)
	}
	if cs := h.comments(n); len(cs) != 1 || !strings.Contains(cs[0].Body, "@erin: your edit was not applied") {
		t.Errorf("notices: %+v", cs)
	}
}

func TestCommentHandler(t *testing.T) {
	h := newHarness(t)
	n, _ := h.s.Fake.As(sandbox.Requester).OpenIssueForm(h.s.Repo, form, "orders", answers)
	h.deliver()
	h.run()
	before := h.s.Fake.TotalCalls()
	h.s.Fake.AddUser("mallory")
	_, _ = h.s.Fake.As("mallory").Comment(h.s.Repo, n, "/rds retry")
	_, _ = h.s.Fake.As("erin").Comment(h.s.Repo, n, "/rds retry") // app-team: not a command team
	h.deliver()
	if got := h.jobs.take(); len(got) != 0 {
		t.Errorf("unauthorised commands queued %v", keys(got))
	}
	// The fake counts the comments themselves and their webhooks' reads
	// are the bot's: erin's costs one membership read, mallory's none.
	if calls := h.s.Fake.TotalCalls() - before; calls > 3 {
		t.Errorf("unauthorised commands cost %d calls", calls)
	}
	_, _ = h.s.Fake.As(sandbox.Platform).Comment(h.s.Repo, n, "/rds retry")
	_, _ = h.s.Fake.As(sandbox.Requester).Comment(h.s.Repo, n, "/rds status")
	h.deliver()
	if got := h.jobs.take(); len(got) != 2 {
		t.Errorf("authorised commands queued %v", keys(got))
	}
	replies := 0
	for _, c := range h.comments(n) {
		if strings.Contains(c.Body, "<!-- rdsbot:reply:") {
			replies++
		}
	}
	if replies != 2 {
		t.Errorf("%d replies, want one per command", replies)
	}
}

func TestDispatchHandler(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	inputs := map[string]any{"base_branch": "main", "environment": "dev", "database_name": "ledger", "username": "ledger_app",
		"owner": "app-team", "user": sandbox.Requester, "domain": "cost", "risk": "low", "size": "small", "initial_schema": "none"}
	if _, err := h.s.Fake.As(sandbox.Backstage).DispatchWorkflow(h.s.Repo, "create-rds-database.yml", "main", inputs); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	var dispatch webhook.Delivery
	for _, d := range h.captured {
		if d.Event == "workflow_dispatch" {
			dispatch = d
		}
	}
	// The same delivery again (a retried job) opens nothing more.
	if err := h.bot.HandleDelivery(ctx, dispatch); err != nil {
		t.Fatal(err)
	}
	// The same inputs in a new delivery join the open request.
	if _, err := h.s.Fake.As(sandbox.Backstage).DispatchWorkflow(h.s.Repo, "create-rds-database.yml", "main", inputs); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	var issues []githubfake.Issue
	for _, is := range h.s.Fake.Issues(h.s.Repo) {
		if !is.IsPR {
			issues = append(issues, is)
		}
	}
	if len(issues) != 1 {
		t.Fatalf("%d request issues, want 1", len(issues))
	}
	o, ok, _ := h.ledger.Origin(ctx, h.s.Repo, issues[0].Number)
	if !ok || o.Requester != sandbox.Requester || o.Sender != sandbox.Backstage || o.Delivery != dispatch.ID {
		t.Errorf("origin %+v", o)
	}
	// Closed, the request no longer takes submissions: a new one opens.
	closed := "closed"
	_ = h.s.Fake.As(sandbox.Requester).EditIssue(h.s.Repo, issues[0].Number, githubfake.IssueEdit{State: &closed})
	if _, err := h.s.Fake.As(sandbox.Backstage).DispatchWorkflow(h.s.Repo, "create-rds-database.yml", "main", inputs); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	count := 0
	for _, is := range h.s.Fake.Issues(h.s.Repo) {
		if !is.IsPR {
			count++
		}
	}
	if count != 2 {
		t.Errorf("%d request issues after the first was closed, want 2", count)
	}
}

func TestPushAndPullHandlers(t *testing.T) {
	h := newHarness(t)
	n, _ := h.s.Fake.As(sandbox.Requester).OpenIssueForm(h.s.Repo, form, "orders", answers)
	h.deliver()
	h.run()
	var pr githubfake.PullInfo
	for _, p := range h.s.Fake.PullRequests(h.s.Repo) {
		pr = p
	}
	if pr.Number == 0 {
		t.Fatal("no pull request")
	}
	// A person's push to the request's branch wakes the request.
	if _, err := h.s.Fake.As(sandbox.Platform).Push(h.s.Repo, pr.Head, githubfake.Change{Files: map[string]string{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	if got := keys(h.jobs.take()); !slices.Contains(got, "issue/"+itoa(n)) {
		t.Errorf("push to the request's branch: jobs %v", got)
	}
	// A pull request the App did not open is not a request's, whatever its
	// body says.
	_, _ = h.s.Fake.As("erin").Push(h.s.Repo, "mine", githubfake.Change{Files: map[string]string{"y": "z"}})
	other, _ := h.s.Fake.As("erin").OpenPR(h.s.Repo, "mine", "main", "mine", "Request: #"+itoa(n))
	h.deliver()
	h.jobs.take()
	closed := "closed"
	_ = h.s.Fake.As("erin").EditPR(h.s.Repo, other, githubfake.PullEdit{State: &closed})
	h.deliver()
	if got := h.jobs.take(); len(got) != 0 {
		t.Errorf("someone else's pull request woke a request: %v", keys(got))
	}
	_ = h.s.Fake.As(sandbox.Platform).EditPR(h.s.Repo, pr.Number, githubfake.PullEdit{State: &closed})
	h.deliver()
	if got := keys(h.jobs.take()); !slices.Equal(got, []string{"issue/" + itoa(n)}) {
		t.Errorf("closing the request's pull request: jobs %v", got)
	}
}

// The reconcile asks for redeliveries only of deliveries that failed for a
// reason a redelivery can fix, and at most three times each.
func TestReconcileRedeliversOnlyWhatCanSucceed(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.status.Store(http.StatusBadRequest)
	_, _ = h.s.Fake.As("erin").OpenIssue(h.s.Repo, "refused", "x")
	h.deliver()
	h.status.Store(http.StatusServiceUnavailable)
	_, _ = h.s.Fake.As("erin").OpenIssue(h.s.Repo, "failed", "x")
	h.deliver()
	for range 5 {
		if err := h.bot.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if err := h.s.Fake.Quiesce(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	redelivered := map[string]int{}
	for _, d := range h.s.Fake.Deliveries() {
		if d.Redelivery {
			redelivered[d.GUID]++
		}
	}
	if len(redelivered) != 1 {
		t.Fatalf("redelivered %d distinct deliveries, want 1 (the 503): %v", len(redelivered), redelivered)
	}
	for _, n := range redelivered {
		if n != 3 {
			t.Errorf("the 503 was redelivered %d times, want 3", n)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
