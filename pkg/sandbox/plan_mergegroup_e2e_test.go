package sandbox

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// ciContext is a required status that only the pull requests' heads get:
// merge groups wait for it, so they stay in the queue to be looked at.
const ciContext = "ci/build"

// queueRequiringPlan makes main merge through a queue that requires
// rdsbot/plan (pinned to the App) and ciContext.
func queueRequiringPlan(t *testing.T, s *Sandbox) {
	t.Helper()
	if _, err := s.Fake.AddRuleset(s.Repo, githubfake.Ruleset{Name: "queue", Include: []string{"~DEFAULT_BRANCH"},
		RequiredChecks: []githubfake.RequiredCheck{{Context: planCheck, AppID: s.App.ID}, {Context: ciContext}},
		MergeQueue:     &githubfake.MergeQueueRule{}}); err != nil {
		t.Fatal(err)
	}
}

// enqueueGreen passes ciContext on a pull request's head and adds it to
// the queue; it returns its merge group's head.
func enqueueGreen(t *testing.T, s *Sandbox, pull int) string {
	t.Helper()
	settle(t, s)
	head := pullByNumber(s, pull).HeadSHA
	if _, err := s.Fake.As(Platform).PostStatus(s.Repo, head, githubfake.NewStatus{State: "success", Context: ciContext}); err != nil {
		t.Fatal(err)
	}
	if err := s.Fake.As(Platform).Enqueue(s.Repo, pull); err != nil {
		t.Fatalf("enqueue #%d: %v", pull, err)
	}
	for _, e := range s.Fake.MergeQueue(s.Repo, "main") {
		if e.Number == pull && e.GroupSHA != "" {
			return e.GroupSHA
		}
	}
	t.Fatalf("#%d has no merge group: %+v", pull, s.Fake.MergeQueue(s.Repo, "main"))
	return ""
}

// planRuns counts the App's rdsbot/plan check runs on a commit.
func planRuns(s *Sandbox, sha string) int {
	n := 0
	for _, r := range s.Fake.CheckRuns(s.Repo, sha) {
		if r.Name == planCheck && r.AppID == s.App.ID {
			n++
		}
	}
	return n
}

// personsPull pushes a branch of dave's changing files and opens a pull
// request from it.
func personsPull(t *testing.T, s *Sandbox, branch string, files map[string]string) int {
	t.Helper()
	if _, err := s.Fake.As(DBA).Push(s.Repo, branch, githubfake.Change{Message: "change " + branch, Files: files}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Fake.As(DBA).OpenPR(s.Repo, branch, "main", branch, "")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tunedDev is a change of dev's standalone tfvars.
func tunedDev(t *testing.T, s *Sandbox, note string) map[string]string {
	t.Helper()
	tf, err := s.Fake.File(s.Repo, "main", "envs/dev-rds/terraform.tfvars")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"envs/dev-rds/terraform.tfvars": string(tf) + "\n# " + note + "\n"}
}

// The rdsbot/plan check on merge group heads, one queue (each case leaves
// it again, so each group holds what the case puts in): rdsbot's request
// pull request is planned; a person's is not, until a platform member
// named its head with /rds plan; a group without terraform inputs passes
// at once; a group holding rdsbot's request and a person's unnamed pull
// request is not planned, and says which one is why.
func TestPlanMergeGroup(t *testing.T) {
	s, st := startPlanning(t)
	queueRequiringPlan(t, s)
	cases := []struct {
		name string
		// pulls opens the pull requests to queue, in order; the last one's
		// group is checked.
		pulls      func(t *testing.T) []int
		conclusion string
		planned    bool     // terraform ran for the group
		summary    []string // in the summary, in plain text
	}{
		{
			name: "rdsbot's request",
			pulls: func(t *testing.T) []int {
				openOrders(t, s, Requester, ordersAnswers)
				settle(t, s)
				return []int{requestPull(t, s, "rds/test/orders_service").Number}
			},
			conclusion: "success", planned: true, summary: []string{"Merge group of #", "envs/test-rds", "to add"},
		},
		{
			name:       "a person's pull request nobody named",
			pulls:      func(t *testing.T) []int { return []int{personsPull(t, s, "dave/tune", tunedDev(t, s, "tuned"))} },
			conclusion: "neutral", summary: []string{"Not planned", "only its own request branches", "/rds plan"},
		},
		{
			name: "a person's pull request a platform member named",
			pulls: func(t *testing.T) []int {
				n := personsPull(t, s, "dave/named", tunedDev(t, s, "named"))
				settle(t, s)
				head := pullByNumber(s, n).HeadSHA
				if _, err := s.Fake.As(Platform).Comment(s.Repo, n, "/rds plan "+head[:7]); err != nil {
					t.Fatal(err)
				}
				settle(t, s)
				mustCheck(t, s, head, planCheck, "completed", "success")
				return []int{n}
			},
			conclusion: "success", planned: true, summary: []string{"envs/dev-rds"},
		},
		{
			name: "no terraform inputs",
			pulls: func(t *testing.T) []int {
				return []int{personsPull(t, s, "dave/docs", map[string]string{"docs/notes.md": "notes\n"})}
			},
			conclusion: "success", summary: []string{"no terraform inputs changed"},
		},
		{
			name: "rdsbot's request and a person's unnamed pull request",
			pulls: func(t *testing.T) []int {
				return []int{requestPull(t, s, "rds/test/orders_service").Number, personsPull(t, s, "dave/other", tunedDev(t, s, "other"))}
			},
			conclusion: "neutral", summary: []string{"Not planned", "only its own request branches"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pulls := c.pulls(t)
			settle(t, s)
			var group string
			before := 0
			for _, n := range pulls {
				before = st.plans() // the last group's plans
				group = enqueueGreen(t, s, n)
				settle(t, s)
			}
			r := mustCheck(t, s, group, planCheck, "completed", c.conclusion)
			text := plain(r.Title + "\n" + r.Summary)
			for _, want := range c.summary {
				if !strings.Contains(text, want) {
					t.Errorf("%q is not in the check:\n%s", want, text)
				}
			}
			if len(pulls) > 1 && strings.Contains(text, "#"+strconv.Itoa(pulls[0])+":") {
				t.Errorf("the check blames rdsbot's own pull request:\n%s", text)
			}
			if ran := st.plans() > before; ran != c.planned {
				t.Errorf("terraform ran: %v, want %v (%d plans)", ran, c.planned, st.plans()-before)
			}
			if n := planRuns(s, group); n != 1 {
				t.Errorf("%d plan check runs on the group head, want 1", n)
			}
			if len(s.Fake.MergeQueue(s.Repo, "main")) != len(pulls) {
				t.Fatalf("the queue moved: %+v", s.Fake.MergeQueue(s.Repo, "main"))
			}
			for _, n := range pulls {
				if err := s.Fake.As(Platform).Dequeue(s.Repo, n); err != nil {
					t.Fatal(err)
				}
			}
			settle(t, s)
		})
	}
}

// A redelivered merge_group checks_requested finds the finished check on
// the group's head: no second check run, no second plan.
func TestPlanMergeGroupRedelivery(t *testing.T) {
	s, st := startPlanning(t)
	queueRequiringPlan(t, s)
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	group := enqueueGreen(t, s, requestPull(t, s, "rds/test/orders_service").Number)
	settle(t, s)
	mustCheck(t, s, group, planCheck, "completed", "success")
	plans := st.plans()
	var redelivered int
	for _, d := range s.Fake.Deliveries() {
		if d.Event == "merge_group" && d.Action == "checks_requested" && strings.Contains(string(d.Payload), group) && !d.Redelivery {
			for range 3 {
				if err := s.Fake.Redeliver(d.ID); err != nil {
					t.Fatal(err)
				}
				redelivered++
			}
		}
	}
	if redelivered == 0 {
		t.Fatal("no merge_group delivery for the group")
	}
	settle(t, s)
	if n := planRuns(s, group); n != 1 {
		t.Errorf("%d plan check runs on the group head after %d redeliveries, want 1", n, redelivered)
	}
	if st.plans() != plans {
		t.Errorf("%d more plans after redeliveries", st.plans()-plans)
	}
}

// A group taken out of the queue while its plan waits (merge_group
// destroyed) stops the plan, and its result is never written.
func TestPlanMergeGroupDestroyed(t *testing.T) {
	s, st := startPlanning(t)
	queueRequiringPlan(t, s)
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	release := st.lockState("test")
	defer release()
	before := st.plans()
	group := enqueueGreen(t, s, pr.Number)
	waitFor(t, 30*time.Second, "the group's plan waiting for the state lock", func() bool { return st.plans() > before })
	if err := s.Fake.As(Platform).Dequeue(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "everything but the plan to settle", func() bool { return onlyPlanBusy(t, s) })
	release()
	settle(t, s)
	if r, ok := appCheck(s, group, planCheck); ok && r.Status == "completed" {
		t.Errorf("a destroyed group got a plan result: %s/%s %s", r.Status, r.Conclusion, r.Title)
	}
	if got := st.plans() - before; got != 1 {
		t.Errorf("%d plans of a destroyed group, want the 1 stopped", got)
	}
}
