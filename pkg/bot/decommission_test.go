package bot_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/sandbox"
)

const (
	decomBranch  = "rds/test/orders_service-decommission"
	testCatalog  = "rds-catalog/test.yaml"
	decomLabel   = "rds-decommission"
	commandReply = "reply:"
)

// command comments as who on issue n, handles it, and returns the bot's
// reply to it ("" when none).
func (h *harness) command(who string, n int, body string) string {
	h.t.Helper()
	id, err := h.s.Fake.As(who).Comment(h.s.Repo, n, body)
	if err != nil {
		h.t.Fatal(err)
	}
	h.settle()
	for _, c := range h.comments(n) {
		if strings.Contains(c.Body, commandReply+fmt.Sprint(id)) {
			return c.Body
		}
	}
	return ""
}

// mergeRequest opens the orders request, has the platform team approve and
// merge it; without a rollout its catalog entry stays pending.
func (h *harness) mergeRequest() (int, githubfake.PullInfo) {
	h.t.Helper()
	n, pr := h.openRequest(answers)
	h.s.Fake.Advance(2 * time.Second)
	if _, err := h.s.Fake.As(sandbox.Platform).Approve(h.s.Repo, pr.Number); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
	if _, err := h.s.Fake.As(sandbox.Platform).Merge(h.s.Repo, pr.Number, "merge"); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
	return n, pr
}

// activate stands in for the rollout: it moves a catalog entry on main to
// active, one legal transition after the other, in one push.
func (h *harness) activate(db string) {
	h.t.Helper()
	src, err := h.s.Fake.File(h.s.Repo, "main", testCatalog)
	if err != nil {
		h.t.Fatal(err)
	}
	f, err := catalog.Parse(src, catalog.Options{Layout: catalog.LayoutPerEnv, Environment: "test", Filename: testCatalog})
	if err != nil {
		h.t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	for _, st := range []catalog.Status{catalog.StatusApproved, catalog.StatusProvisioning, catalog.StatusActive} {
		if err := f.SetStatus(db, "test", st, at, "test"); err != nil {
			h.t.Fatal(err)
		}
	}
	out, err := f.Bytes()
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.s.Fake.As(sandbox.Platform).Push(h.s.Repo, "main", githubfake.Change{Message: "orders_service is active",
		Files: map[string]string{testCatalog: string(out)}}); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
}

func (h *harness) decomPulls() []githubfake.PullInfo {
	var out []githubfake.PullInfo
	for _, pr := range h.s.Fake.PullRequests(h.s.Repo) {
		if pr.Head == decomBranch {
			out = append(out, pr)
		}
	}
	return out
}

// The intake: refused by rule while the database is not active (and before
// the request merged), ignored from someone who may not run commands; from
// the requester one pull request with the decommission label, recorded as
// the request's, gated by the decommission policy; a second command joins.
func TestDecommissionCommand(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()

	open, _ := h.openRequest(withAnswers(answers, "Database name", "draft_service", "Application username", "draft_app"))
	if r := h.command(sandbox.Requester, open, "/rds decommission"); !strings.Contains(r, "was not merged") {
		t.Errorf("on an unmerged request: %q", r)
	}

	n, _ := h.mergeRequest()
	if r := h.command(sandbox.Requester, n, "/rds decommission"); !strings.Contains(r, "only an active database can be decommissioned") || !strings.Contains(r, "pending") {
		t.Errorf("on a pending database: %q", r)
	}
	h.activate("orders_service")

	if r := h.command("erin", n, "/rds decommission"); r != "" {
		t.Errorf("someone who may not run commands got a reply: %q", r)
	}
	if got := h.decomPulls(); len(got) != 0 {
		t.Fatalf("refused or ignored commands opened %d pull requests", len(got))
	}

	r := h.command(sandbox.Requester, n, "/rds decommission  moved to <script>x</script> [a](http://evil)")
	pulls := h.decomPulls()
	if len(pulls) != 1 {
		t.Fatalf("%d decommission pull requests, want 1; reply %q", len(pulls), r)
	}
	pr := pulls[0]
	if !strings.Contains(r, fmt.Sprintf("opened #%d", pr.Number)) || !strings.Contains(r, "rds-allow-delete") {
		t.Errorf("reply: %q", r)
	}
	labels := map[string]bool{}
	for _, l := range h.s.Fake.Labels(h.s.Repo, pr.Number) {
		labels[l.Name] = true
	}
	if !labels[decomLabel] || !labels["test"] {
		t.Errorf("labels %v", labels)
	}
	if body := pr.Issue.Body; strings.Contains(body, "<script>") || strings.Contains(body, "](http://evil)") || !strings.Contains(body, "moved to") {
		t.Errorf("the reason is not written inertly:\n%s", body)
	}
	if issue, branch, ok, err := h.ledger.PullIssue(ctx, h.s.Repo, pr.Number); err != nil || !ok || issue != n || branch != decomBranch {
		t.Errorf("ledger: pull #%d is issue %d on %s (%v, %v), want #%d on %s", pr.Number, issue, branch, ok, err, n, decomBranch)
	}
	src, err := h.s.Fake.File(h.s.Repo, decomBranch, testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "status: decommissioning") {
		t.Errorf("the branch's catalog:\n%s", src)
	}
	// The gate asks for the decommission policy: security among others.
	approval := h.check(pr.HeadSHA, approvalName)
	if approval.Conclusion == "success" || !strings.Contains(approval.Summary, "security-team") {
		t.Errorf("approval check %s/%s: %s\n%s", approval.Status, approval.Conclusion, approval.Title, approval.Summary)
	}
	if v := h.check(pr.HeadSHA, validateName); v.Conclusion != "success" {
		t.Errorf("validate check %s: %s\n%s", v.Conclusion, v.Title, v.Summary)
	}
	if st := statusBody(h, n); !strings.Contains(st, fmt.Sprintf("decommission of this database is open in #%d", pr.Number)) {
		t.Errorf("status of the request:\n%s", st)
	}

	// A second command, by the platform team, joins it.
	if r := h.command(sandbox.Platform, n, "/rds decommission"); !strings.Contains(r, fmt.Sprintf("already open in #%d", pr.Number)) {
		t.Errorf("second command: %q", r)
	}
	if got := h.decomPulls(); len(got) != 1 || got[0].HeadSHA != pr.HeadSHA {
		t.Errorf("after a second command: %d pull requests", len(got))
	}
}

// A decommission branch someone else opened a pull request from is another
// decommission: refused, and that pull request is not touched.
func TestDecommissionSquattedBranch(t *testing.T) {
	h := newHarness(t)
	n, _ := h.mergeRequest()
	h.activate("orders_service")
	f := h.s.Fake
	sha, err := f.As(sandbox.Platform).Push(h.s.Repo, decomBranch, githubfake.Change{Message: "remove orders",
		Files: map[string]string{"notes.txt": "by hand\n"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.As(sandbox.Platform).OpenPR(h.s.Repo, decomBranch, "main", "remove orders by hand", "")
	if err != nil {
		t.Fatal(err)
	}
	h.settle()
	r := h.command(sandbox.Requester, n, "/rds decommission")
	if !strings.Contains(r, "one decommission per database at a time") || !strings.Contains(r, fmt.Sprintf("#%d", other)) {
		t.Errorf("reply: %q", r)
	}
	if pulls := h.decomPulls(); len(pulls) != 1 || pulls[0].HeadSHA != sha {
		t.Errorf("the other pull request was touched: %+v", pulls)
	}
}

// statusBody is the bot's status comment on an issue.
func statusBody(h *harness, n int) string {
	for _, c := range h.comments(n) {
		if strings.Contains(c.Body, "<!-- rdsbot:status -->") {
			return c.Body
		}
	}
	return ""
}

func withAnswers(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
