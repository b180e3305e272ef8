package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/md/mdtest"
)

const form = ".github/ISSUE_TEMPLATE/rds-request.yml"

func start(t *testing.T, o Options) *Sandbox {
	t.Helper()
	if testing.Verbose() && o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func settle(t *testing.T, s *Sandbox) {
	t.Helper()
	if err := s.Settle(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

var ordersAnswers = map[string]string{
	"Database name": "orders_service", "Application username": "orders_app", "Environment": "test",
	"Owning team": "app-team", "Domain": "delivery", "Risk": "medium", "Size tier": "small",
}

// requestPulls returns the open and merged pull requests of the bot.
func requestPulls(s *Sandbox) []githubfake.PullInfo {
	var out []githubfake.PullInfo
	for _, pr := range s.Fake.PullRequests(s.Repo) {
		if pr.Issue.User == "rdsbot[bot]" {
			out = append(out, pr)
		}
	}
	return out
}

// plain is the text a comment shows, without markup.
func plain(markdown string) string {
	return htmlTag.ReplaceAllString(html.UnescapeString(mdtest.Render(markdown)), "")
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

func botComments(s *Sandbox, n int) []githubfake.Comment {
	var out []githubfake.Comment
	for _, c := range s.Fake.Comments(s.Repo, n) {
		if c.User == "rdsbot[bot]" {
			out = append(out, c)
		}
	}
	return out
}

func TestIssueFormBecomesOnePullRequest(t *testing.T) {
	s := start(t, Options{})
	n, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders database", ordersAnswers)
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	prs := requestPulls(s)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests, want 1", len(prs))
	}
	pr := prs[0]
	if pr.Head != "rds/test/orders_service" || pr.Base != "main" {
		t.Errorf("branch %s -> %s", pr.Head, pr.Base)
	}
	var labels []string
	for _, l := range s.Fake.Labels(s.Repo, pr.Number) {
		labels = append(labels, l.Name)
	}
	if strings.Join(labels, ",") != "medium-risk,rds-database,size:small,test" {
		t.Errorf("labels %v", labels)
	}
	if got, _, ok, err := s.Server.Ledger().PullIssue(context.Background(), s.Repo, pr.Number); err != nil || !ok || got != n {
		t.Errorf("the ledger does not map pull request #%d to issue #%d: %d %v %v", pr.Number, n, got, ok, err)
	}
	tfvars, err := s.Fake.File(s.Repo, pr.Head, "envs/test/terraform.tfvars")
	if err != nil || !strings.Contains(string(tfvars), `"orders_service" = {`) {
		t.Errorf("coupled tfvars on the branch:\n%s", tfvars)
	}
	comments := botComments(s, n)
	// test is not self-serve: one human approval is still missing.
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "waiting for approval") || !strings.Contains(comments[0].Body, "#"+strconv.Itoa(pr.Number)) {
		t.Errorf("status comments: %+v", comments)
	}
}

// findDelivery returns the fake's log entry of the first delivery of an event.
func findDelivery(t *testing.T, s *Sandbox, event, action string) githubfake.Delivery {
	t.Helper()
	for _, d := range s.Fake.Deliveries() {
		if d.Event == event && d.Action == action {
			return d
		}
	}
	t.Fatalf("no %s.%s delivery", event, action)
	return githubfake.Delivery{}
}

type state struct {
	prs      int
	head     string
	commits  int
	comments int
	issues   int
}

func snapshot(t *testing.T, s *Sandbox, issue int) state {
	t.Helper()
	prs := requestPulls(s)
	st := state{prs: len(prs), comments: len(botComments(s, issue)), issues: len(s.Fake.Issues(s.Repo))}
	if len(prs) > 0 {
		st.head = s.Fake.BranchSHA(s.Repo, prs[0].Head)
		cs, err := s.Fake.Commits(s.Repo, prs[0].Head)
		if err != nil {
			t.Fatal(err)
		}
		st.commits = len(cs)
	}
	return st
}

// A replayed delivery (five times) and an edit that does not change the
// request leave everything as it was: one PR, same head, one comment.
func TestReplaysChangeNothing(t *testing.T) {
	s := start(t, Options{})
	n, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders database", ordersAnswers)
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	before := snapshot(t, s, n)
	if before.prs != 1 || before.comments != 1 {
		t.Fatalf("after the request: %+v", before)
	}
	writes := s.Server.App().Metrics().Snapshot().Writes
	opened := findDelivery(t, s, "issues", "opened")
	for range 5 {
		if err := s.Fake.Redeliver(opened.ID); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s)
	is, err := s.Fake.Issue(s.Repo, n)
	if err != nil {
		t.Fatal(err)
	}
	body := is.Body + "\n\n"
	if err := s.Fake.As(Requester).EditIssue(s.Repo, n, githubfake.IssueEdit{Body: &body}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if after := snapshot(t, s, n); after != before {
		t.Errorf("state changed:\n before %+v\n after  %+v", before, after)
	}
	if w := s.Server.App().Metrics().Snapshot().Writes - writes; w != 0 {
		t.Errorf("replays and a no-op edit made %d writes to GitHub", w)
	}
}

func backstageInputs(db, env string) map[string]any {
	return map[string]any{
		"base_branch": "main", "environment": env, "database_name": db, "username": db + "_app",
		"owner": "app-team", "user": Requester, "domain": "delivery", "risk": "low", "size": "small",
		"initial_schema": "none",
	}
}

func TestDispatchesOpenIssueAndPullRequest(t *testing.T) {
	s := start(t, Options{})
	if _, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", backstageInputs("payments", "staging")); err != nil {
		t.Fatal(err)
	}
	payload := map[string]any{"databaseName": "ledger", "username": "ledger_app", "environment": "dev",
		"owner": "app-team", "domain": "cost", "requester": Requester}
	if err := s.Fake.As(Backstage).RepositoryDispatch(s.Repo, "rds-request", payload); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	issues := s.Fake.Issues(s.Repo)
	var requests []githubfake.Issue
	for _, is := range issues {
		if !is.IsPR {
			requests = append(requests, is)
		}
	}
	if len(requests) != 2 {
		t.Fatalf("%d request issues, want 2", len(requests))
	}
	for _, is := range requests {
		if is.User != "rdsbot[bot]" {
			t.Errorf("issue #%d opened by %s", is.Number, is.User)
		}
		o, ok, err := s.Server.Ledger().Origin(context.Background(), s.Repo, is.Number)
		if err != nil || !ok || o.Requester != Requester || o.Sender != Backstage {
			t.Errorf("issue #%d origin %+v %v", is.Number, o, err)
		}
	}
	prs := requestPulls(s)
	heads := map[string]bool{}
	for _, pr := range prs {
		heads[pr.Head] = true
	}
	if len(prs) != 2 || !heads["rds/staging/payments"] || !heads["rds/dev/ledger"] {
		t.Errorf("pull requests %v", heads)
	}
	catalog, _ := s.Fake.File(s.Repo, "rds/staging/payments", "rds-catalog/staging.yaml")
	if !strings.Contains(string(catalog), "requested_by: "+Requester) {
		t.Errorf("catalog does not record the requester:\n%s", catalog)
	}
}

func TestInvalidRequestThenFixed(t *testing.T) {
	s := start(t, Options{})
	bad := map[string]string{
		"Database name": "Orders-DB", "Application username": "x", "Environment": "dev",
		"Owning team": "app-team", "Domain": "delivery", "Size tier": "xlarge",
	}
	n, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "bad request", bad)
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	comments := botComments(s, n)
	if len(comments) != 1 {
		t.Fatalf("%d comments, want 1", len(comments))
	}
	for _, want := range []string{"3 problems", "databaseName", "username", "Dev environments are limited to size=small"} {
		if !strings.Contains(plain(comments[0].Body), want) {
			t.Errorf("comment does not mention %q:\n%s", want, comments[0].Body)
		}
	}
	if len(requestPulls(s)) != 0 || s.Fake.BranchSHA(s.Repo, "rds/dev/Orders-DB") != "" {
		t.Error("an invalid request made a branch or a pull request")
	}
	if !hasLabel(s, n, "rds-invalid") {
		t.Error("no rds-invalid label")
	}
	is, _ := s.Fake.Issue(s.Repo, n)
	fixed := strings.NewReplacer("Orders-DB", "orders_db", "\nx\n", "\norders_app\n", "xlarge", "small").Replace(is.Body)
	if err := s.Fake.As(Requester).EditIssue(s.Repo, n, githubfake.IssueEdit{Body: &fixed}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if prs := requestPulls(s); len(prs) != 1 || prs[0].Head != "rds/dev/orders_db" {
		t.Fatalf("after the fix: %d pull requests", len(prs))
	}
	comments = botComments(s, n)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "ready to merge") {
		t.Errorf("status comment after the fix: %+v", comments)
	}
	if hasLabel(s, n, "rds-invalid") {
		t.Error("rds-invalid label left on a valid request")
	}
}

func hasLabel(s *Sandbox, n int, name string) bool {
	for _, l := range s.Fake.Labels(s.Repo, n) {
		if l.Name == name {
			return true
		}
	}
	return false
}

// Two requests for one environment, merged one after the other: the second
// pull request is re-planned when the first lands and merges cleanly, and
// main ends with both entries.
func TestTwoRequestsOneEnvironment(t *testing.T) {
	s := start(t, Options{})
	first, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders", ordersAnswers)
	if err != nil {
		t.Fatal(err)
	}
	second := map[string]string{}
	for k, v := range ordersAnswers {
		second[k] = v
	}
	second["Database name"], second["Application username"] = "billing", "billing_app"
	if _, err := s.Fake.As("erin").OpenIssueForm(s.Repo, form, "billing", second); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	prs := requestPulls(s)
	if len(prs) != 2 {
		t.Fatalf("%d pull requests", len(prs))
	}
	byHead := map[string]int{}
	for _, pr := range prs {
		byHead[pr.Head] = pr.Number
	}
	if _, err := s.Fake.As(Platform).Merge(s.Repo, byHead["rds/test/orders_service"], "merge"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pr, _ := s.Fake.PullRequest(s.Repo, byHead["rds/test/billing"])
	if !pr.Mergeable {
		t.Fatalf("second pull request not mergeable after the first merged (%s)", pr.MergeableState)
	}
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	for _, path := range []string{"envs/test-rds/terraform.tfvars", "envs/test/terraform.tfvars", "rds-catalog/test.yaml"} {
		b, err := s.Fake.File(s.Repo, "main", path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "orders_service") || !strings.Contains(string(b), "billing") {
			t.Errorf("%s on main lacks an entry:\n%s", path, b)
		}
	}
	if c := botComments(s, first); len(c) != 1 || !strings.Contains(c[0].Body, ": merged") {
		t.Errorf("status of the first request after merge: %+v", c)
	}
}

// Deliveries that fail authentication or framing are refused with the
// right status and nothing is enqueued.
func TestRejectedDeliveries(t *testing.T) {
	s := start(t, Options{})
	body := []byte(`{"action":"opened","issue":{"number":1},"repository":{"full_name":"acme/platform-infra"}}`)
	sign := func(secret string, b []byte) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(b)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	sha1sig := func(b []byte) string {
		m := hmac.New(sha1.New, []byte(s.WebhookSecret))
		m.Write(b)
		return "sha1=" + hex.EncodeToString(m.Sum(nil))
	}
	big := bytes.Repeat([]byte("x"), 26<<20)
	cases := []struct {
		name    string
		headers map[string]string
		body    []byte
		want    int
	}{
		{"forged", map[string]string{"X-Hub-Signature-256": sign("not-the-secret", body), "X-GitHub-Delivery": "d1"}, body, http.StatusUnauthorized},
		{"missing signature", map[string]string{"X-GitHub-Delivery": "d2"}, body, http.StatusUnauthorized},
		{"sha1 only", map[string]string{"X-Hub-Signature": sha1sig(body), "X-GitHub-Delivery": "d3"}, body, http.StatusUnauthorized},
		{"no delivery id", map[string]string{"X-Hub-Signature-256": sign(s.WebhookSecret, body)}, body, http.StatusBadRequest},
		{"oversize", map[string]string{"X-Hub-Signature-256": sign(s.WebhookSecret, big), "X-GitHub-Delivery": "d5"}, big, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, s.ServerURL+"/webhook", bytes.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "issues")
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	st, err := s.Server.Queue().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for kind, k := range st.Kinds {
		switch kind {
		case jobs.KindPrune, jobs.KindRedrive, jobs.KindReport:
			continue // the queue's own upkeep, run at start whatever arrives
		}
		if k.Available+k.Running+k.Retryable+k.Scheduled > 0 {
			t.Errorf("jobs of kind %s enqueued: %+v", kind, k)
		}
	}
}

func TestCommands(t *testing.T) {
	s := start(t, Options{})
	n, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders database", ordersAnswers)
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pr := requestPulls(s)[0]

	// /rds plan on the pull request by a platform member: the diff, in a
	// reply on the pull request.
	if _, err := s.Fake.As(Platform).Comment(s.Repo, pr.Number, "/rds plan"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	replies := func(n int) []string {
		var out []string
		for _, c := range botComments(s, n) {
			if strings.Contains(c.Body, "<!-- rdsbot:reply:") {
				out = append(out, c.Body)
			}
		}
		return out
	}
	if got := replies(pr.Number); len(got) != 1 || (!strings.Contains(got[0], "already holds this request") && !strings.Contains(got[0], "```diff")) {
		t.Errorf("plan replies: %q", got)
	}
	// An outsider's command, and an app-team member's on someone else's
	// request, are ignored: no write at all.
	s.Fake.AddUser("mallory")
	for _, who := range []string{"mallory", "erin"} {
		before := s.Server.App().Metrics().Snapshot()
		if _, err := s.Fake.As(who).Comment(s.Repo, n, "/rds retry"); err != nil {
			t.Fatal(err)
		}
		settle(t, s)
		after := s.Server.App().Metrics().Snapshot()
		if w := after.Writes - before.Writes; w != 0 {
			t.Errorf("%s's unauthorised command made %d writes", who, w)
		}
		// mallory is no organisation member: nothing to read; erin is, and
		// one read checks the one command team.
		if calls := after.Total - before.Total; calls > 1 {
			t.Errorf("%s's unauthorised command cost %d calls, want at most 1", who, calls)
		}
	}
	if got := replies(n); len(got) != 0 {
		t.Errorf("unauthorised commands were answered: %q", got)
	}
	// The requester's commands each get their own reply.
	for _, cmd := range []string{"thanks\n/rds status", "/rds status"} {
		if _, err := s.Fake.As(Requester).Comment(s.Repo, n, cmd); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s)
	if got := replies(n); len(got) != 2 || !strings.Contains(got[0], "@"+Requester+": the status comment") {
		t.Errorf("replies to the requester: %q", got)
	}
}

// A request whose webhook was lost is picked up by the reconcile.
func TestReconcileRepairsLostWebhook(t *testing.T) {
	s := start(t, Options{})
	s.Fake.DropWebhooks(1, "issues")
	if _, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders database", ordersAnswers); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if len(requestPulls(s)) != 0 {
		t.Fatal("the dropped delivery arrived anyway")
	}
	if err := s.Server.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if prs := requestPulls(s); len(prs) != 1 {
		t.Fatalf("%d pull requests after the reconcile, want 1", len(prs))
	}
	// A second reconcile finds nothing to do.
	writes := s.Server.App().Metrics().Snapshot().Writes
	if err := s.Server.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if w := s.Server.App().Metrics().Snapshot().Writes - writes; w != 0 {
		t.Errorf("an idle reconcile made %d writes", w)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	s := start(t, Options{})
	if _, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders database", ordersAnswers); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	for path, want := range map[string][]string{
		"/healthz": {"ok"},
		"/readyz":  {"ready"},
		"/metrics": {`rdsbot_webhook_deliveries_total{event="issues",outcome="accepted"}`, `rdsbot_jobs_total{kind="rdsbot_request",outcome="completed"}`,
			`rdsbot_github_calls_total{endpoint="POST /repos/{owner}/{repo}/pulls"`, "rdsbot_github_rate_limit_remaining", "rdsbot_queue_jobs"},
	} {
		resp, err := http.Get(s.ServerURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
}

// A merge in one environment leaves another environment's pull request
// alone: no rebuild on the push, none on the next reconcile.
func TestUnrelatedMergeKeepsOtherPullRequests(t *testing.T) {
	s := start(t, Options{})
	staging := map[string]string{}
	for k, v := range ordersAnswers {
		staging[k] = v
	}
	staging["Environment"] = "staging"
	if _, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders test", ordersAnswers); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders staging", staging); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	heads := map[string]int{}
	for _, pr := range requestPulls(s) {
		heads[pr.Head] = pr.Number
	}
	stagingHead := s.Fake.BranchSHA(s.Repo, "rds/staging/orders_service")
	if _, err := s.Fake.As(Platform).Merge(s.Repo, heads["rds/test/orders_service"], "merge"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	writes := s.Server.App().Metrics().Snapshot().Writes
	if err := s.Server.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if got := s.Fake.BranchSHA(s.Repo, "rds/staging/orders_service"); got != stagingHead {
		t.Errorf("the staging branch was rebuilt after a merge in test")
	}
	if w := s.Server.App().Metrics().Snapshot().Writes - writes; w != 0 {
		t.Errorf("a reconcile after an unrelated merge made %d writes", w)
	}
	if pr, _ := s.Fake.PullRequest(s.Repo, heads["rds/staging/orders_service"]); !pr.Mergeable {
		t.Errorf("staging pull request not mergeable: %s", pr.MergeableState)
	}
}
