package sandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/bot"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

const (
	approvalCheck = "rdsbot/approval"
	validateCheck = "rdsbot/validate"
)

// appCheck is the App's latest check run of a name on a commit.
func appCheck(s *Sandbox, sha, name string) (githubfake.CheckRun, bool) {
	var out githubfake.CheckRun
	found := false
	for _, r := range s.Fake.CheckRuns(s.Repo, sha) {
		if r.Name == name && r.AppID == s.App.ID && (!found || r.ID > out.ID) {
			out, found = r, true
		}
	}
	return out, found
}

func requestPull(t *testing.T, s *Sandbox, head string) githubfake.PullInfo {
	t.Helper()
	for _, pr := range requestPulls(s) {
		if pr.Head == head {
			return pr
		}
	}
	t.Fatalf("no request pull request on %s", head)
	return githubfake.PullInfo{}
}

func mustCheck(t *testing.T, s *Sandbox, sha, name, status, conclusion string) githubfake.CheckRun {
	t.Helper()
	r, ok := appCheck(s, sha, name)
	if !ok {
		t.Fatalf("no %s check run of the App on %.12s", name, sha)
	}
	if r.Status != status || r.Conclusion != conclusion {
		t.Fatalf("%s on %.12s: %s/%s, want %s/%s: %s\n%s", name, sha, r.Status, r.Conclusion, status, conclusion, r.Title, r.Summary)
	}
	return r
}

// later moves GitHub's clock past the bot's last evaluation: people act
// seconds after a push, and GitHub's times have whole seconds.
func later(s *Sandbox) { s.Fake.Advance(2 * time.Second) }

// The check goes from in progress to success as the right people act:
// the requester's and a non-member's approvals do not count, a platform
// member's does; the table follows in the pull request body and the status.
func TestGateCheckFollowsApprovals(t *testing.T) {
	s := start(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	r := mustCheck(t, s, pr.HeadSHA, approvalCheck, "in_progress", "")
	if !strings.Contains(plain(r.Summary), "One human approval") {
		t.Errorf("approval summary:\n%s", r.Summary)
	}
	mustCheck(t, s, pr.HeadSHA, validateCheck, "completed", "success")
	if !strings.Contains(pr.Issue.Body, "<!-- rdsbot:approval -->") || !strings.Contains(pr.Issue.Body, "⏳ missing") {
		t.Errorf("pull request body without the table:\n%s", pr.Issue.Body)
	}
	if st := plain(statusOf(s, n)); !strings.Contains(st, "waiting for approval") || !strings.Contains(st, "a member of platform-team") {
		t.Errorf("status:\n%s", st)
	}

	later(s)
	for _, who := range []string{Requester, "erin", DBA} { // the requester; a non-member; a member of another team
		if _, err := s.Fake.As(who).Approve(s.Repo, pr.Number); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s)
	r = mustCheck(t, s, pr.HeadSHA, approvalCheck, "in_progress", "")
	if !strings.Contains(r.Summary, "requested this database") || !strings.Contains(r.Summary, "is not an active member") {
		t.Errorf("the table does not say why approvals do not count:\n%s", r.Summary)
	}

	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	r = mustCheck(t, s, pr.HeadSHA, approvalCheck, "completed", "success")
	if !strings.Contains(plain(r.Summary), Platform) {
		t.Errorf("approved by whom:\n%s", r.Summary)
	}
	body := pullByNumber(s, pr.Number).Issue.Body
	if !strings.Contains(body, "✅ done") || strings.Count(body, "<!-- rdsbot:approval -->") != 1 {
		t.Errorf("pull request body after approval:\n%s", body)
	}
	if st := plain(statusOf(s, n)); !strings.Contains(st, "ready to merge") || !strings.Contains(st, "✅ done") {
		t.Errorf("status after approval:\n%s", st)
	}

	// Nothing changed: another evaluation writes nothing.
	s.Fake.ResetCalls()
	if err := s.Server.Queue().Enqueue(context.Background(), bot.RequestArgs{Repo: s.Repo, Key: fmt.Sprintf("pull/%d", pr.Number), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if w := writes(s); w != 0 {
		t.Errorf("an unchanged evaluation wrote %d times: %v", w, s.Fake.Calls())
	}
}

// writes counts the calls that change something.
func writes(s *Sandbox) int {
	n := 0
	for k, c := range s.Fake.Calls() {
		if !strings.HasPrefix(k, "GET ") {
			n += c
		}
	}
	return n
}

// An approval label added by someone who may not grant it is removed, with
// one comment; added by a platform member it stays and counts.
func TestGateRemovesUnauthorisedLabel(t *testing.T) {
	s := start(t, Options{})
	openOrders(t, s, Requester, withAnswer(ordersAnswers, "Size tier", "large"))
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	later(s)
	if err := s.Fake.As("erin").AddLabels(s.Repo, pr.Number, "platform-approval"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if hasLabel(s, pr.Number, "platform-approval") {
		t.Fatal("erin's platform-approval label was left on the pull request")
	}
	removed := func() []githubfake.Comment {
		var out []githubfake.Comment
		for _, c := range botComments(s, pr.Number) {
			if strings.Contains(c.Body, "rdsbot removed approval labels") {
				out = append(out, c)
			}
		}
		return out
	}
	cs := removed()
	if len(cs) != 1 || !strings.Contains(plain(cs[0].Body), "erin") || !strings.Contains(plain(cs[0].Body), "is not an active member of platform-team") {
		t.Fatalf("removal comments: %+v", cs)
	}
	// Evaluated again (a status refresh, a review): no second comment.
	if _, err := s.Fake.As(DBA).CommentReview(s.Repo, pr.Number, "looks fine"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if len(removed()) != 1 {
		t.Errorf("%d removal comments after another evaluation", len(removed()))
	}

	later(s)
	if err := s.Fake.As(Platform).AddLabels(s.Repo, pr.Number, "platform-approval"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if !hasLabel(s, pr.Number, "platform-approval") {
		t.Fatal("the platform member's label was removed")
	}
	mustCheck(t, s, pullByNumber(s, pr.Number).HeadSHA, approvalCheck, "completed", "success")
}

// Another request merges into the same files: the bot re-plans the open
// one on the new base (a new commit), and its approvals are kept, because
// what it changes is the same.
func TestGateReplanKeepsApprovals(t *testing.T) {
	s := start(t, Options{})
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	billing := withAnswer(withAnswer(ordersAnswers, "Database name", "billing"), "Application username", "billing_app")
	openOrders(t, s, "erin", billing)
	settle(t, s)
	orders, bill := requestPull(t, s, "rds/test/orders_service"), requestPull(t, s, "rds/test/billing")
	later(s)
	for _, n := range []int{orders.Number, bill.Number} {
		if _, err := s.Fake.As(Platform).Approve(s.Repo, n); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s)
	mustCheck(t, s, bill.HeadSHA, approvalCheck, "completed", "success")
	if _, err := s.Fake.As(Platform).Merge(s.Repo, orders.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	moved := pullByNumber(s, bill.Number)
	if moved.HeadSHA == bill.HeadSHA {
		t.Fatal("the billing pull request was not re-planned on the new base")
	}
	r := mustCheck(t, s, moved.HeadSHA, approvalCheck, "completed", "success")
	if !strings.Contains(plain(r.Summary), Platform) {
		t.Errorf("after the re-plan:\n%s", r.Summary)
	}
}

// A person pushes to a request's branch: what the pull request changes is
// other content, and the approvals given before no longer count.
func TestGateHumanPushResetsApprovals(t *testing.T) {
	s := start(t, Options{})
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	mustCheck(t, s, pr.HeadSHA, approvalCheck, "completed", "success")
	tfvars, err := s.Fake.File(s.Repo, pr.Head, "envs/test-rds/terraform.tfvars")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(tfvars), `"orders_app"`, `"orders_owner"`, 1)
	if changed == string(tfvars) {
		t.Fatalf("nothing to change in\n%s", tfvars)
	}
	head, err := s.Fake.As(DBA).Push(s.Repo, pr.Head, githubfake.Change{Message: "bigger", Files: map[string]string{"envs/test-rds/terraform.tfvars": changed}})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	r := mustCheck(t, s, head, approvalCheck, "in_progress", "")
	if !strings.Contains(plain(r.Summary), "approved other content") {
		t.Errorf("the table does not say the approval is stale:\n%s", r.Summary)
	}
}

// A merge queue entry gets both checks on the merge group's head, from a
// real evaluation, and merges.
func TestGateMergeQueue(t *testing.T) {
	s := start(t, Options{})
	if _, err := s.Fake.AddRuleset(s.Repo, githubfake.Ruleset{Name: "queue", Include: []string{"~DEFAULT_BRANCH"},
		RequiredChecks: []githubfake.RequiredCheck{{Context: approvalCheck, AppID: s.App.ID}, {Context: validateCheck, AppID: s.App.ID}},
		MergeQueue:     &githubfake.MergeQueueRule{}}); err != nil {
		t.Fatal(err)
	}
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	if err := s.Fake.As(Platform).Enqueue(s.Repo, pr.Number); err == nil {
		t.Fatal("an unapproved pull request entered the merge queue")
	}
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if err := s.Fake.As(Platform).Enqueue(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	merged := pullByNumber(s, pr.Number)
	if !merged.Merged {
		t.Fatalf("the queue entry did not merge: %+v", s.Fake.MergeQueue(s.Repo, "main"))
	}
	group := merged.MergeCommitSHA
	mustCheck(t, s, group, approvalCheck, "completed", "success")
	mustCheck(t, s, group, validateCheck, "completed", "success")
}

// An admin merges past the check: the request's status says it merged
// without the required approvals, and why.
func TestGateMergePastCheck(t *testing.T) {
	s := start(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	st := plain(statusOf(s, n))
	if !strings.Contains(st, "merged without the required approvals") || !strings.Contains(st, "nothing is applied") {
		t.Errorf("status after a merge past the check:\n%s", st)
	}
	m, ok, err := s.Server.Ledger().MergeCheckOf(context.Background(), s.Repo, pr.Number)
	if err != nil || !ok || m.Proceed {
		t.Errorf("merge-time verdict %+v %v %v", m, ok, err)
	}
}

// BenchmarkGateEvaluation measures the GitHub calls of one evaluation of
// a request pull request after a review that changes its approval (the
// gate job, and the status refresh it causes), against the floor of reads
// the facts need: the pull request, the comparison, its issue events,
// reviews, commits, the check runs and statuses on its head, and one team
// membership per (team, person) the policy asks about. ETag revalidations
// (304) are free and not counted.
func BenchmarkGateEvaluation(b *testing.B) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, "orders", ordersAnswers); err != nil {
		b.Fatal(err)
	}
	if err := s.Settle(ctx, 30*time.Second); err != nil {
		b.Fatal(err)
	}
	var pr githubfake.PullInfo
	for _, p := range requestPulls(s) {
		pr = p
	}
	s.Fake.Advance(2 * time.Second)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		b.Fatal(err)
	}
	if err := s.Settle(ctx, 30*time.Second); err != nil {
		b.Fatal(err)
	}
	const floorFixed = 7 // pull, compare, events, reviews, commits, check runs, statuses
	var calls, free, writes, members, replayCalls int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The platform member alternately requests changes and approves:
		// each review turns the check over, so every evaluation writes the
		// check, the table in the body and the status comment.
		s.Fake.ResetCalls()
		review := s.Fake.As(Platform).Approve
		if i%2 == 0 {
			review = func(repo string, n int) (int64, error) {
				return s.Fake.As(Platform).RequestChanges(repo, n, fmt.Sprintf("not yet %d", i))
			}
		}
		if _, err := review(s.Repo, pr.Number); err != nil {
			b.Fatal(err)
		}
		if err := s.Settle(ctx, 30*time.Second); err != nil {
			b.Fatal(err)
		}
		for route, byStatus := range s.Fake.CallsByStatus() {
			if strings.Contains(route, "/pulls/{pull_number}/reviews") && strings.HasPrefix(route, "POST") {
				continue // the review itself
			}
			for status, n := range byStatus {
				calls += n
				switch {
				case status == 304:
					free += n
				case !strings.HasPrefix(route, "GET "):
					writes += n
				}
				if strings.Contains(route, "/memberships/") {
					members += n
				}
			}
		}
		// The same evaluation again, nothing changed.
		s.Fake.ResetCalls()
		if err := s.Server.Queue().Enqueue(ctx, bot.RequestArgs{Repo: s.Repo, Key: fmt.Sprintf("pull/%d", pr.Number), Reason: "bench"}); err != nil {
			b.Fatal(err)
		}
		if err := s.Settle(ctx, 30*time.Second); err != nil {
			b.Fatal(err)
		}
		for _, byStatus := range s.Fake.CallsByStatus() {
			for status, n := range byStatus {
				if status != 304 {
					replayCalls += n
				}
			}
		}
	}
	n := float64(b.N)
	floor := float64(floorFixed) + float64(members)/n
	paid := float64(calls-free) / n
	b.ReportMetric(paid, "calls/eval")
	b.ReportMetric(float64(writes)/n, "writes/eval")
	b.ReportMetric(floor, "floor")
	b.ReportMetric(paid/floor, "ratio")
	b.ReportMetric(float64(replayCalls)/n, "replay-calls/eval")
}

// Someone removed from the team since they approved no longer counts: the
// membership event re-evaluates the open pull request.
func TestGateMembershipChange(t *testing.T) {
	s := start(t, Options{})
	s.Fake.AddUser("olivia")
	s.Fake.AddOrgOwner(Org, "olivia")
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	mustCheck(t, s, pr.HeadSHA, approvalCheck, "completed", "success")
	if err := s.Fake.As("olivia").RemoveTeamMember(Org, "platform-team", Platform); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	r := mustCheck(t, s, pr.HeadSHA, approvalCheck, "in_progress", "")
	if !strings.Contains(plain(r.Summary), "is not an active member") {
		t.Errorf("after bob left the team:\n%s", r.Summary)
	}
}
