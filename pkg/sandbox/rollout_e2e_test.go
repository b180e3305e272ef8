package sandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/bot"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// startRollout starts a sandbox that applies and provisions on a
// throwaway RDS-shaped Postgres.
func startRollout(t *testing.T, o Options) (*Sandbox, pgtest.RDSMaster) {
	t.Helper()
	cl := pgtest.SharedRDS(t)
	m := cl.NewRDSMaster(t)
	if o.Rollout == nil {
		o.Rollout = &Rollout{}
	}
	o.Rollout.Master = &Master{Host: m.Host, Port: m.Port, User: m.User, Password: m.Password, Database: m.Database,
		SSLMode: "verify-full", RootCAFile: m.CAFile}
	if o.Rollout.Debounce == 0 {
		o.Rollout.Debounce = 300 * time.Millisecond
	}
	return start(t, o), m
}

// approveAndMerge has the platform team approve and merge a request's PR.
func approveAndMerge(t *testing.T, s *Sandbox, branch string) githubfake.PullInfo {
	t.Helper()
	pr := requestPull(t, s, branch)
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	return pr
}

// settleRollout waits for the debounced apply too.
func settleRollout(t *testing.T, s *Sandbox) {
	t.Helper()
	settle(t, s)
	time.Sleep(400 * time.Millisecond)
	settle(t, s)
}

// catalogEntry reads an entry of the catalog on main.
func catalogEntry(t *testing.T, s *Sandbox, env, name string) catalog.Entry {
	t.Helper()
	src, err := s.Fake.File(s.Repo, "main", "rds-catalog/"+env+".yaml")
	if err != nil {
		t.Fatalf("no catalog for %s on main: %v", env, err)
	}
	f, err := catalog.Parse(src, catalog.Options{Layout: catalog.LayoutPerEnv, Environment: env, Filename: "rds-catalog/" + env + ".yaml"})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := f.Get(name, env)
	if !ok {
		t.Fatalf("no catalog entry %s in %s", name, env)
	}
	return e
}

func applies(t *testing.T, s *Sandbox) []tfstandin.Call {
	t.Helper()
	calls, err := tfstandin.ReadCalls(s.Rollout.TerraformDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []tfstandin.Call
	for _, c := range calls {
		if len(c.Args) > 0 && c.Args[0] == "apply" {
			out = append(out, c)
		}
	}
	return out
}

// The whole way: issue → PR → approval → merge → apply → provision →
// catalog active on main, one status commit per transition → issue closed;
// the app user logs in with the password from its secret.
func TestRolloutToActive(t *testing.T) {
	s, m := startRollout(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)

	e := catalogEntry(t, s, "test", "orders_service")
	if e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("catalog status %s, want active; history %+v\nstatus comment:\n%s", e.Metadata.Status, e.Metadata.History, statusOf(s, n))
	}
	var seen []string
	for _, h := range e.Metadata.History {
		seen = append(seen, string(h.Status))
	}
	if got := strings.Join(seen, ","); !strings.HasSuffix(got, "approved,applying,provisioning,active") {
		t.Errorf("history %s", got)
	}
	merged := pullByNumber(s, pr.Number)
	if last := e.Metadata.History[len(e.Metadata.History)-1]; last.Commit != merged.MergeCommitSHA || last.Reason == "" {
		t.Errorf("last transition %+v, want commit %s and a reason", last, merged.MergeCommitSHA)
	}
	statusCommits := 0
	for _, c := range mainCommits(t, s) {
		if strings.Contains(c.Message, "[skip ci]") {
			statusCommits++
		}
	}
	if statusCommits != 4 {
		t.Errorf("%d status commits on main, want 4 (approved, applying, provisioning, active)", statusCommits)
	}
	if a := applies(t, s); len(a) != 1 {
		t.Errorf("%d applies, want 1", len(a))
	}
	is, _ := s.Fake.Issue(s.Repo, n)
	if is.State != "closed" {
		t.Errorf("request issue is %s, want closed", is.State)
	}
	if st := plain(statusOf(s, n)); !strings.Contains(st, "active") {
		t.Errorf("status comment:\n%s", st)
	}
	if !strings.Contains(plain(lastStatus(s, pr.Number)), "active") {
		t.Errorf("the pull request does not show the outcome")
	}
	audit, _ := s.Fake.File(s.Repo, "main", "governance/test/rds_provision_audit.csv")
	if !strings.Contains(string(audit), "orders_service") {
		t.Errorf("audit trail on main:\n%s", audit)
	}

	// The app user logs in with its secret's password.
	sec, err := s.Rollout.Options.Secrets.Get(context.Background(), "goldenpath/test/orders_service/postgres")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := secrets.ParseCredentials(sec.Value)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/orders_service?sslmode=verify-full&sslrootcert=%s", creds.Username, creds.Password, m.Host, m.Port, m.CAFile)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("the app user cannot log in: %v", err)
	}
	conn.Close(context.Background())

	// Nothing left to do: a reconcile-style rerun writes nothing.
	before := len(mainCommits(t, s))
	settleRollout(t, s)
	if after := len(mainCommits(t, s)); after != before {
		t.Errorf("%d more commits after the end", after-before)
	}
}

func mainCommits(t *testing.T, s *Sandbox) []githubfake.CommitInfo {
	t.Helper()
	cs, err := s.Fake.Commits(s.Repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// lastStatus is the bot's status comment on an issue or pull request.
func lastStatus(s *Sandbox, n int) string { return statusOf(s, n) }

// Two merges in one environment within the debounce give one apply, of
// the newer merge commit, and both requests end active.
func TestTwoMergesOneApply(t *testing.T) {
	s, _ := startRollout(t, Options{Rollout: &Rollout{Debounce: 5 * time.Second}})
	a := openOrders(t, s, Requester, ordersAnswers)
	b := openOrders(t, s, "erin", withAnswer(withAnswer(ordersAnswers, "Database name", "billing_service"), "Application username", "billing_app"))
	settle(t, s)
	first, second := requestPull(t, s, "rds/test/orders_service"), requestPull(t, s, "rds/test/billing_service")
	later(s)
	for _, pr := range []githubfake.PullInfo{first, second} {
		if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s)
	if _, err := s.Fake.As(Platform).Merge(s.Repo, first.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	// Not settle: that would wait for the debounced apply. The second pull
	// request is re-planned on the new main; merge it as soon as it can be.
	deadline := time.Now().Add(4 * time.Second)
	for {
		pr := pullByNumber(s, second.Number)
		if pr.HeadSHA != second.HeadSHA && pr.Mergeable {
			if _, err := s.Fake.As(Platform).Merge(s.Repo, second.Number, "merge"); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second pull request did not become mergeable within the debounce")
		}
		time.Sleep(50 * time.Millisecond)
	}
	settleRollout(t, s)
	got := applies(t, s)
	if len(got) != 1 {
		t.Fatalf("%d applies, want 1", len(got))
	}
	newer := pullByNumber(s, second.Number).MergeCommitSHA
	for _, n := range []string{"orders_service", "billing_service"} {
		e := catalogEntry(t, s, "test", n)
		if e.Metadata.Status != catalog.StatusActive {
			t.Errorf("%s is %s", n, e.Metadata.Status)
		}
		if last := e.Metadata.History[len(e.Metadata.History)-1]; last.Commit != newer {
			t.Errorf("%s reflects %s, want the newer merge %s", n, last.Commit, newer)
		}
	}
	for _, n := range []int{a, b} {
		if is, _ := s.Fake.Issue(s.Repo, n); is.State != "closed" {
			t.Errorf("#%d is %s:\n%s", n, is.State, statusOf(s, n))
		}
	}
}

// A failing apply moves the request to failed with the log's end in the
// status; /rds retry (by the platform team) runs it again to active.
func TestFailedApplyThenRetry(t *testing.T) {
	s, _ := startRollout(t, Options{})
	if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{Fail: "apply", Message: "Error: creating Secrets Manager Secret: AccessDenied"}); err != nil {
		t.Fatal(err)
	}
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusFailed {
		t.Fatalf("status %s, want failed", e.Metadata.Status)
	}
	st := statusOf(s, n)
	if !strings.Contains(st, "AccessDenied") || !strings.Contains(st, "/rds retry") {
		t.Errorf("failure status without the log excerpt or what to do:\n%s", st)
	}
	if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{}); err != nil {
		t.Fatal(err)
	}
	// The requester alone may not retry outside the self-serve envs.
	if _, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusFailed {
		t.Fatalf("the requester's retry ran: status %s", e.Metadata.Status)
	}
	if _, err := s.Fake.As(Platform).Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("after retry: %s\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if got := len(applies(t, s)); got != 2 {
		t.Errorf("%d applies, want 2 (the failed one and the retry)", got)
	}
}

// A merge made past the approval check (an admin) starts nothing.
func TestMergePastCheckStartsNothing(t *testing.T) {
	s, _ := startRollout(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if got := len(applies(t, s)); got != 0 {
		t.Errorf("%d applies after a merge past the check", got)
	}
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusPending {
		t.Errorf("status %s, want pending", e.Metadata.Status)
	}
	if st := plain(statusOf(s, n)); !strings.Contains(st, "without the required approvals") {
		t.Errorf("status:\n%s", st)
	}
}

// The merge's webhooks are lost: nothing rolls out until the reconcile,
// which finds the merged request pending in the catalog and carries it to
// active, once.
func TestReconcileRollsOutLostMerge(t *testing.T) {
	s, _ := startRollout(t, Options{})
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	s.Fake.DropWebhooks(10, "pull_request", "push")
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusPending {
		t.Fatalf("status %s before the reconcile, want pending (the merge's webhooks were dropped)", e.Metadata.Status)
	}
	if err := s.Server.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("status %s after the reconcile, want active", e.Metadata.Status)
	}
	if n := len(applies(t, s)); n != 1 {
		t.Errorf("%d applies, want 1", n)
	}
}

// A merge made past the check holds its environment: an approved merge
// after it contains the unapproved change, so nothing is applied and the
// approved request says why.
func TestMergePastCheckHoldsEnvironment(t *testing.T) {
	s, _ := startRollout(t, Options{})
	openOrders(t, s, Requester, ordersAnswers)
	b := openOrders(t, s, "erin", withAnswer(withAnswer(ordersAnswers, "Database name", "billing_service"), "Application username", "billing_app"))
	settle(t, s)
	unapproved := requestPull(t, s, "rds/test/orders_service")
	if _, err := s.Fake.As(Platform).Merge(s.Repo, unapproved.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	approveAndMerge(t, s, "rds/test/billing_service")
	settleRollout(t, s)
	if n := len(applies(t, s)); n != 0 {
		t.Fatalf("%d applies while the environment holds an unapproved merge", n)
	}
	e := catalogEntry(t, s, "test", "billing_service")
	if e.Metadata.Status != catalog.StatusFailed {
		t.Fatalf("billing_service is %s, want failed (held)", e.Metadata.Status)
	}
	if st := plain(statusOf(s, b)); !strings.Contains(st, "merged past the approval check") {
		t.Errorf("the held request does not say why:\n%s", st)
	}
}

// The pull request's webhooks are lost: no plan until the reconcile, which
// plans the head that has none.
func TestReconcilePlansMissingPlan(t *testing.T) {
	s, _ := startRollout(t, Options{})
	s.Fake.DropWebhooks(20, "pull_request")
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	if _, ok := appCheck(s, pr.HeadSHA, bot.PlanCheck); ok {
		t.Fatal("a plan ran although the pull request's webhooks were dropped")
	}
	if err := s.Server.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if r, ok := appCheck(s, pr.HeadSHA, bot.PlanCheck); !ok || r.Conclusion != "success" {
		t.Errorf("plan check after the reconcile: %+v, %v", r, ok)
	}
}
