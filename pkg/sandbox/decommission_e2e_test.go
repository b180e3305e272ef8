package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
)

// retiredAnswers name a database no other test of the shared Postgres uses.
var retiredAnswers = withAnswer(withAnswer(ordersAnswers, "Database name", "retired_service"), "Application username", "retired_app")

const (
	retiredBranch       = "rds/test/retired_service"
	retiredDecomBranch  = retiredBranch + "-decommission"
	decommissionLabel   = "rds-decommission"
	allowDeleteLabel    = "rds-allow-delete"
	retiredSecretAddr   = `aws_secretsmanager_secret.app["retired_service"]`
	retiredInstanceAddr = `aws_db_instance.platform`
)

// activeRequest runs a request to active on the shared Postgres and returns
// its issue.
func activeRequest(t *testing.T, s *Sandbox) int {
	t.Helper()
	n := openOrders(t, s, Requester, retiredAnswers)
	settle(t, s)
	approveAndMerge(t, s, retiredBranch)
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "retired_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("catalog status %s, want active\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if is, _ := s.Fake.Issue(s.Repo, n); is.State != "closed" {
		t.Fatalf("request issue is %s, want closed", is.State)
	}
	return n
}

// replyTo is the bot's reply to a comment ("" when none).
func replyTo(s *Sandbox, n int, comment int64) string {
	for _, c := range botComments(s, n) {
		if strings.Contains(c.Body, fmt.Sprintf("reply:%d", comment)) {
			return c.Body
		}
	}
	return ""
}

// decommissionPulls are the pull requests from the database's
// decommission branch.
func decommissionPulls(s *Sandbox) []githubfake.PullInfo {
	var out []githubfake.PullInfo
	for _, pr := range s.Fake.PullRequests(s.Repo) {
		if pr.Head == retiredDecomBranch {
			out = append(out, pr)
		}
	}
	return out
}

// masterQuery runs one query as the RDS master and scans its single row.
func masterQuery(t *testing.T, m pgtest.RDSMaster, sql string, dest ...any) {
	t.Helper()
	ctx := context.Background()
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=verify-full&sslrootcert=%s", m.User, m.Password, m.Host, m.Port, m.Database, m.CAFile)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// standinState lists the resource addresses of the stand-in's states.
func standinState(t *testing.T, s *Sandbox) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.Rollout.TerraformDir, "state", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Resources map[string]json.RawMessage `json:"resources"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			continue // a lock or another file
		}
		for addr := range doc.Resources {
			out = append(out, addr)
		}
	}
	return out
}

// approveDecommission gives a decommission pull request the approvals its
// policy needs: reviews by the platform, security and database teams, and
// rds-allow-delete added by the platform team.
func approveDecommission(t *testing.T, s *Sandbox, pr int) {
	t.Helper()
	later(s)
	for _, who := range []string{Platform, Security, DBA} {
		if _, err := s.Fake.As(who).Approve(s.Repo, pr); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Fake.As(Platform).AddLabels(s.Repo, pr, allowDeleteLabel); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	mustCheck(t, s, pullByNumber(s, pr).HeadSHA, "rdsbot/approval", "completed", "success")
}

// The whole decommission: an active database, /rds decommission by its
// requester on the closed issue → one pull request with the decommission
// label (a second command joins it) → the decommission approvals (platform,
// security and database reviews, rds-allow-delete by the platform team) →
// merge → the apply removes the entry and deletes its secret (never the
// instance) → the role cannot log in and lost CONNECT, the database is
// still there → the catalog says decommissioned on main, and so does the
// status comment.
func TestDecommissionEndToEnd(t *testing.T) {
	s, m := startRollout(t, Options{})
	n := activeRequest(t, s)
	if st := standinState(t, s); !slices.Contains(st, retiredSecretAddr) {
		t.Fatalf("the create apply left no %s in the state: %v", retiredSecretAddr, st)
	}

	id, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds decommission the product was retired <b>today</b> @erin")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pulls := decommissionPulls(s)
	if len(pulls) != 1 {
		t.Fatalf("%d decommission pull requests, want 1; reply:\n%s", len(pulls), replyTo(s, n, id))
	}
	pr := pulls[0]
	if reply := replyTo(s, n, id); !strings.Contains(reply, fmt.Sprintf("opened #%d", pr.Number)) {
		t.Errorf("reply to the command:\n%s", reply)
	}
	if !hasLabel(s, pr.Number, decommissionLabel) {
		t.Errorf("labels %v, want %s", s.Fake.Labels(s.Repo, pr.Number), decommissionLabel)
	}
	body := pr.Issue.Body
	if strings.Contains(body, "<b>") || strings.Contains(body, "@erin") {
		t.Errorf("the reason is not escaped in the body:\n%s", body)
	}
	if !strings.Contains(plain(body), "the product was retired") {
		t.Errorf("the reason is missing from the body:\n%s", body)
	}

	// A second command joins the same pull request.
	again, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds decommission")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if got := len(decommissionPulls(s)); got != 1 {
		t.Fatalf("%d decommission pull requests after a second command", got)
	}
	if reply := replyTo(s, n, again); !strings.Contains(reply, fmt.Sprintf("already open in #%d", pr.Number)) {
		t.Errorf("reply to the second command:\n%s", reply)
	}

	approveDecommission(t, s, pr.Number)
	// The plan shows the secret's deletion as what the decommission does.
	mustCheck(t, s, pullByNumber(s, pr.Number).HeadSHA, "rdsbot/plan", "completed", "success")
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)

	e := catalogEntry(t, s, "test", "retired_service")
	if e.Metadata.Status != catalog.StatusDecommissioned {
		t.Fatalf("catalog status %s, want decommissioned; history %+v\nstatus:\n%s", e.Metadata.Status, e.Metadata.History, statusOf(s, n))
	}
	merged := pullByNumber(s, pr.Number)
	if last := e.Metadata.History[len(e.Metadata.History)-1]; last.Commit != merged.MergeCommitSHA {
		t.Errorf("last transition %+v, want the merge %s", last, merged.MergeCommitSHA)
	}
	if got := len(applies(t, s)); got != 2 {
		t.Errorf("%d applies, want 2 (create, decommission)", got)
	}
	st := standinState(t, s)
	if slices.Contains(st, retiredSecretAddr) {
		t.Errorf("the decommission left %s in the state", retiredSecretAddr)
	}
	if !slices.Contains(st, retiredInstanceAddr) {
		t.Errorf("the instance is gone from the state: %v", st)
	}

	var canLogin, canConnect, publicConnect bool
	var dbs int
	masterQuery(t, m, `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'retired_app'`, &canLogin)
	masterQuery(t, m, `SELECT count(*) FROM pg_database WHERE datname = 'retired_service'`, &dbs)
	masterQuery(t, m, `SELECT has_database_privilege('retired_app', 'retired_service', 'CONNECT')`, &canConnect)
	masterQuery(t, m, `SELECT has_database_privilege('public', 'retired_service', 'CONNECT')`, &publicConnect)
	if canLogin || canConnect || publicConnect || dbs != 1 {
		t.Errorf("after the decommission: login %v, CONNECT %v, PUBLIC CONNECT %v, databases %d; want false, false, false, 1",
			canLogin, canConnect, publicConnect, dbs)
	}

	if st := plain(statusOf(s, n)); !strings.Contains(st, "decommissioned") {
		t.Errorf("status comment of the request:\n%s", st)
	}
	if st := plain(statusOf(s, pr.Number)); !strings.Contains(st, "decommissioned") {
		t.Errorf("status comment of the decommission pull request:\n%s", st)
	}
	if is, _ := s.Fake.Issue(s.Repo, n); is.State != "closed" {
		t.Errorf("request issue is %s", is.State)
	}

	// Done: a third command is refused by the rule, and nothing changes.
	before := len(mainCommits(t, s))
	third, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds decommission")
	if err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if reply := plain(replyTo(s, n, third)); !strings.Contains(reply, "was not decommissioned") {
		t.Errorf("reply after the end:\n%s", reply)
	}
	if after := len(mainCommits(t, s)); after != before {
		t.Errorf("%d more commits after the end", after-before)
	}
}

// /rds decommission from someone who may not run commands does nothing; on
// a database that is not active it is refused with the rule.
func TestDecommissionRefused(t *testing.T) {
	s, _ := startRollout(t, Options{})
	// Merged past the approval check: the catalog stays pending.
	n := openOrders(t, s, Requester, retiredAnswers)
	settle(t, s)
	pr := requestPull(t, s, retiredBranch)
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "retired_service"); e.Metadata.Status != catalog.StatusPending {
		t.Fatalf("status %s, want pending", e.Metadata.Status)
	}

	stranger, err := s.Fake.As("erin").Comment(s.Repo, n, "/rds decommission")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if reply := replyTo(s, n, stranger); reply != "" {
		t.Errorf("a stranger's command got a reply:\n%s", reply)
	}

	id, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds decommission")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if reply := plain(replyTo(s, n, id)); !strings.Contains(reply, "only an active database can be decommissioned") || !strings.Contains(reply, "pending") {
		t.Errorf("reply on a pending database:\n%s", reply)
	}
	if got := len(decommissionPulls(s)); got != 0 {
		t.Errorf("%d decommission pull requests", got)
	}
}

// A decommission whose apply fails ends failed, not active; /rds retry by
// the platform team runs it again, and it ends decommissioned (never
// provisioned as a new database).
func TestDecommissionFailedThenRetry(t *testing.T) {
	s, m := startRollout(t, Options{})
	n := activeRequest(t, s)
	if _, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds decommission"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pulls := decommissionPulls(s)
	if len(pulls) != 1 {
		t.Fatalf("%d decommission pull requests", len(pulls))
	}
	approveDecommission(t, s, pulls[0].Number)
	if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{Fail: "apply", Message: "Error: deleting Secrets Manager Secret: AccessDenied"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pulls[0].Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "retired_service"); e.Metadata.Status != catalog.StatusFailed {
		t.Fatalf("status %s, want failed\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if st := statusOf(s, n); !strings.Contains(st, "AccessDenied") {
		t.Errorf("failure status without the log excerpt:\n%s", st)
	}
	if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{}); err != nil {
		t.Fatal(err)
	}
	retry, err := s.Fake.As(Platform).Comment(s.Repo, n, "/rds retry")
	if err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if reply := plain(replyTo(s, n, retry)); !strings.Contains(reply, "running the failed apply step") {
		t.Errorf("reply to the retry:\n%s", reply)
	}
	e := catalogEntry(t, s, "test", "retired_service")
	if e.Metadata.Status != catalog.StatusDecommissioned {
		t.Fatalf("after retry: %s; history %+v\n%s", e.Metadata.Status, e.Metadata.History, statusOf(s, n))
	}
	for _, h := range e.Metadata.History[len(e.Metadata.History)-3:] {
		if h.Status == catalog.StatusActive || h.Status == catalog.StatusProvisioning {
			t.Errorf("the retry provisioned the database again: %+v", e.Metadata.History)
		}
	}
	var canLogin bool
	masterQuery(t, m, `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'retired_app'`, &canLogin)
	if canLogin {
		t.Error("the role can still log in after the retried decommission")
	}
	if slices.Contains(standinState(t, s), retiredSecretAddr) {
		t.Errorf("the retried decommission left %s in the state", retiredSecretAddr)
	}
}

// Whoever asks for a decommission is one of its requesters: a platform
// member who asked may not approve the removal they asked for.
func TestDecommissionAskerMayNotApprove(t *testing.T) {
	s, _ := startRollout(t, Options{})
	n := activeRequest(t, s)
	if _, err := s.Fake.As(Platform).Comment(s.Repo, n, "/rds decommission"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pulls := decommissionPulls(s)
	if len(pulls) != 1 {
		t.Fatalf("%d decommission pull requests, want 1", len(pulls))
	}
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pulls[0].Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	r := mustCheck(t, s, pullByNumber(s, pulls[0].Number).HeadSHA, "rdsbot/approval", "in_progress", "")
	if !strings.Contains(plain(r.Summary), "requested this database") {
		t.Errorf("the asker's approval is not refused:\n%s", r.Summary)
	}
}
