package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/bot"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

const planCheck = bot.PlanCheck

// standin is the stand-in terraform of a sandbox's rollout.
type standin struct {
	t   *testing.T
	dir string // its directory: calls.jsonl, state/, control.json
}

// startPlanning starts a sandbox whose host runs the stand-in for plans
// and applies (Options.Rollout; provisioning is a dry run).
func startPlanning(t *testing.T) (*Sandbox, *standin) {
	t.Helper()
	s := start(t, Options{Rollout: &Rollout{}})
	return s, &standin{t: t, dir: s.Rollout.TerraformDir}
}

// plans counts the stand-in's `plan` runs.
func (st *standin) plans() int {
	st.t.Helper()
	calls, err := tfstandin.ReadCalls(st.dir)
	if err != nil && !os.IsNotExist(err) {
		st.t.Fatal(err)
	}
	n := 0
	for _, c := range calls {
		if len(c.Args) > 0 && c.Args[0] == "plan" {
			n++
		}
	}
	return n
}

func (st *standin) control(c tfstandin.Control) {
	st.t.Helper()
	if err := tfstandin.WriteControl(st.dir, c); err != nil {
		st.t.Fatal(err)
	}
}

// lockState takes the state lock of an environment's standalone root, as
// another terraform run would: plans wait for it. It returns the release.
func (st *standin) lockState(env string) func() {
	st.t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString("goldenpath-idp-"+env+"-bucket/envs/"+env+"-rds/terraform.tfstate", "_")
	p := filepath.Join(st.dir, "state", name+".lock")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		st.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		st.t.Fatal(err)
	}
	return func() { _ = os.Remove(p) }
}

// A request's pull request gets a passing plan that counts what it adds.
func TestPlanCheckPassesOnRequest(t *testing.T) {
	s, st := startPlanning(t)
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	r := mustCheck(t, s, pr.HeadSHA, planCheck, "completed", "success")
	if !regexp.MustCompile(`^Plan: [1-9]\d* to add, \d+ to change, 0 to destroy$`).MatchString(r.Title) {
		t.Errorf("title %q", r.Title)
	}
	if !strings.Contains(plain(r.Summary), "envs/test-rds") || !strings.Contains(r.Text, "Full plan of") {
		t.Errorf("summary:\n%s\ntext:\n%s", r.Summary, r.Text)
	}
	if n := st.plans(); n != 1 {
		t.Errorf("%d plans, want 1", n)
	}
}

// A plan that would destroy the database instance fails the check, and the
// report names the instance before anything else it lists.
func TestPlanCheckFailsOnProtectedDestroy(t *testing.T) {
	s, st := startPlanning(t)
	st.control(tfstandin.Control{Destroy: []string{"aws_db_instance.legacy"}})
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	r := mustCheck(t, s, pr.HeadSHA, planCheck, "completed", "failure")
	if !strings.Contains(r.Title, "protected") {
		t.Errorf("title %q", r.Title)
	}
	for what, text := range map[string]string{"summary": r.Summary, "text": r.Text} {
		i := strings.Index(text, "aws_db_instance.legacy")
		j := strings.Index(text, "aws_secretsmanager_secret")
		if i < 0 || (j >= 0 && j < i) {
			t.Errorf("the %s does not name the instance first:\n%s", what, text)
		}
	}
}

// Pushes while a plan runs make one more plan, of the newest head; the
// check on that head is its own.
func TestPlanCheckCoalescesPushes(t *testing.T) {
	s, st := startPlanning(t)
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	before := st.plans()
	release := st.lockState("test")
	defer release()
	ctx := context.Background()
	if err := s.Server.Queue().Enqueue(ctx, bot.PlanArgs{Repo: s.Repo, Pull: pr.Number, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a plan waiting for the state lock", func() bool { return st.plans() == before+1 })

	// Two pushes of the bot, one after the other, and a burst of asks.
	is, err := s.Fake.Issue(s.Repo, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"orders_svc", "orders_api"} {
		later(s) // GitHub's edit times have whole seconds
		body := strings.Replace(is.Body, "orders_app", user, 1)
		if err := s.Fake.As(Requester).EditIssue(s.Repo, n, githubfake.IssueEdit{Body: &body}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the push of "+user, func() bool {
			tf, _ := s.Fake.File(s.Repo, pr.Head, "envs/test-rds/terraform.tfvars")
			return strings.Contains(string(tf), `"`+user+`"`)
		})
	}
	for range 5 {
		if err := s.Server.Queue().Enqueue(ctx, bot.PlanArgs{Repo: s.Repo, Pull: pr.Number, Reason: "burst"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "everything but the plan to settle", func() bool { return onlyPlanBusy(t, s) })
	if got := st.plans(); got != before+1 {
		t.Fatalf("%d plans ran while the first waited for the lock", got-before)
	}
	release()
	settle(t, s)
	if got := st.plans() - before; got != 2 {
		t.Errorf("%d plans for two pushes and five asks while one ran, want 2", got)
	}
	head := pullByNumber(s, pr.Number).HeadSHA
	if head == pr.HeadSHA {
		t.Fatal("the pushes did not move the head")
	}
	r := mustCheck(t, s, head, planCheck, "completed", "success")
	if !strings.Contains(r.Summary, head[:7]) {
		t.Errorf("the newest head's check is not about it:\n%s", r.Summary)
	}
}

// onlyPlanBusy reports whether webhooks are answered and no job but a plan
// waits or runs.
func onlyPlanBusy(t *testing.T, s *Sandbox) bool {
	t.Helper()
	if err := s.Fake.Quiesce(time.Second); err != nil {
		return false
	}
	stats, err := s.Server.Queue().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for kind, k := range stats.Kinds {
		if kind != (bot.PlanArgs{}).Kind() && k.Available+k.Running+k.Retryable+k.Scheduled > 0 {
			return false
		}
	}
	return true
}

// A person's pull request is not planned by itself; `/rds plan <sha>` from
// a platform member plans the head they named, and only that head; the
// same command from anyone else does nothing.
func TestPlanCheckForeignPullNeedsNamedCommit(t *testing.T) {
	s, st := startPlanning(t)
	tfvars, err := s.Fake.File(s.Repo, "main", "envs/dev-rds/terraform.tfvars")
	if err != nil {
		t.Fatal(err)
	}
	change := githubfake.Change{Message: "tune", Files: map[string]string{"envs/dev-rds/terraform.tfvars": string(tfvars) + "\n# tuned\n"}}
	head, err := s.Fake.As(DBA).Push(s.Repo, "dave/tune", change)
	if err != nil {
		t.Fatal(err)
	}
	pull, err := s.Fake.As(DBA).OpenPR(s.Repo, "dave/tune", "main", "tune dev", "")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	r := mustCheck(t, s, head, planCheck, "completed", "neutral")
	if !strings.Contains(plain(r.Summary), "/rds plan "+head[:7]) || st.plans() != 0 {
		t.Fatalf("%d plans; summary:\n%s", st.plans(), r.Summary)
	}

	for _, who := range []string{DBA, "erin"} { // the author (a database-team member) and someone outside platform-team
		if _, err := s.Fake.As(who).Comment(s.Repo, pull, "/rds plan "+head[:7]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Fake.As(Platform).Comment(s.Repo, pull, "/rds plan 0000000"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if n := st.plans(); n != 0 {
		t.Fatalf("%d plans after commands that allow none", n)
	}
	if cs := botComments(s, pull); len(cs) != 1 || !strings.Contains(plain(cs[0].Body), "not 0000000") {
		t.Errorf("replies: %+v", cs)
	}

	if _, err := s.Fake.As(Platform).Comment(s.Repo, pull, "/rds plan "+head[:7]); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	r = mustCheck(t, s, head, planCheck, "completed", "success")
	if !strings.Contains(r.Summary, "envs/dev-rds") || st.plans() != 1 {
		t.Errorf("%d plans; summary:\n%s", st.plans(), r.Summary)
	}

	// A push after the command is not what the member read.
	next, err := s.Fake.As(DBA).Push(s.Repo, "dave/tune", githubfake.Change{Message: "more", Files: map[string]string{"envs/dev-rds/main.tf": "# more\n"}})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	mustCheck(t, s, next, planCheck, "completed", "neutral")
	if n := st.plans(); n != 1 {
		t.Errorf("%d plans after an unnamed push", n)
	}
}
