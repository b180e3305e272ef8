package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/sandbox"
)

const (
	approvalName = "rdsbot/approval"
	validateName = "rdsbot/validate"
)

// check is the App's latest check run of a name on a commit.
func (h *harness) check(sha, name string) githubfake.CheckRun {
	h.t.Helper()
	var out githubfake.CheckRun
	for _, r := range h.s.Fake.CheckRuns(h.s.Repo, sha) {
		if r.Name == name && r.AppID == h.s.App.ID && r.ID > out.ID {
			out = r
		}
	}
	if out.ID == 0 {
		h.t.Fatalf("no %s check run on %.12s", name, sha)
	}
	return out
}

func (h *harness) pull(head string) githubfake.PullInfo {
	h.t.Helper()
	for _, pr := range h.s.Fake.PullRequests(h.s.Repo) {
		if pr.Head == head {
			return pr
		}
	}
	h.t.Fatalf("no pull request from %s", head)
	return githubfake.PullInfo{}
}

// settle delivers and runs everything until nothing is left.
func (h *harness) settle() {
	h.t.Helper()
	for range 5 {
		h.deliver()
		h.run()
	}
}

func (h *harness) openRequest(answers map[string]string) (int, githubfake.PullInfo) {
	h.t.Helper()
	n, err := h.s.Fake.As(sandbox.Requester).OpenIssueForm(h.s.Repo, form, "orders", answers)
	if err != nil {
		h.t.Fatal(err)
	}
	h.settle()
	return n, h.pull("rds/test/" + answers["Database name"])
}

// A merge group whose other pull request changed the same values first:
// what this pull request adds to the group is not what was approved, so its
// approval does not count there and the group fails instead of waiting.
func TestGateMergeGroupOtherPullChangesSameEntry(t *testing.T) {
	h := newHarness(t)
	f := h.s.Fake
	if _, err := f.AddRuleset(h.s.Repo, githubfake.Ruleset{Name: "queue", Include: []string{"~DEFAULT_BRANCH"},
		RequiredChecks: []githubfake.RequiredCheck{{Context: approvalName, AppID: h.s.App.ID}, {Context: validateName, AppID: h.s.App.ID}},
		MergeQueue:     &githubfake.MergeQueueRule{}}); err != nil {
		t.Fatal(err)
	}
	_, a := h.openRequest(answers)
	// dave's pull request holds the same request's files (the same entry,
	// the same bytes) and one more change, in prod, which needs a
	// platform review.
	files := map[string]string{}
	for _, p := range []string{"envs/test-rds/terraform.tfvars", "envs/test/terraform.tfvars", "rds-catalog/test.yaml"} {
		b, err := f.File(h.s.Repo, a.HeadSHA, p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = string(b)
	}
	prod, err := f.File(h.s.Repo, "main", "envs/prod-rds/terraform.tfvars")
	if err != nil {
		t.Fatal(err)
	}
	files["envs/prod-rds/terraform.tfvars"] = strings.Replace(string(prod), "backup_retention_period     = 35", "backup_retention_period     = 30", 1)
	if _, err := f.As(sandbox.DBA).Push(h.s.Repo, "dave/orders", githubfake.Change{Message: "orders too", Files: files}); err != nil {
		t.Fatal(err)
	}
	bn, err := f.As(sandbox.DBA).OpenPR(h.s.Repo, "dave/orders", "main", "orders and backups", "")
	if err != nil {
		t.Fatal(err)
	}
	h.settle()
	b := h.pull("dave/orders")
	if r := h.check(b.HeadSHA, approvalName); r.Status != "in_progress" {
		t.Fatalf("dave's pull request before approval: %s %s", r.Status, r.Title)
	}
	f.Advance(2 * time.Second)
	for _, n := range []int{a.Number, bn} {
		if _, err := f.As(sandbox.Platform).Approve(h.s.Repo, n); err != nil {
			t.Fatal(err)
		}
	}
	h.settle()
	for _, pr := range []githubfake.PullInfo{a, b} {
		for _, name := range []string{approvalName, validateName} {
			if r := h.check(pr.HeadSHA, name); r.Conclusion != "success" {
				t.Fatalf("#%d %s before the queue: %s %s\n%s", pr.Number, name, r.Status, r.Title, r.Summary)
			}
		}
	}
	for _, n := range []int{a.Number, bn} {
		if err := f.As(sandbox.Platform).Enqueue(h.s.Repo, n); err != nil {
			t.Fatal(err)
		}
	}
	h.settle()
	var groupB string
	for _, d := range f.Events() {
		if d.Name == "merge_group" && strings.Contains(string(d.Payload), "/pr-"+itoa(bn)+"-") {
			groupB = between(string(d.Payload), `"head_sha":"`, `"`)
		}
	}
	if groupB == "" {
		t.Fatal("no merge group of dave's pull request")
	}
	r := h.check(groupB, approvalName)
	if r.Status != "completed" || r.Conclusion != "failure" || !strings.Contains(r.Summary, "approved other content") {
		t.Errorf("dave's merge group: %s/%s %s\n%s", r.Status, r.Conclusion, r.Title, r.Summary)
	}
	if got := h.pull("dave/orders"); got.Merged {
		t.Error("dave's pull request merged through a failing group")
	}
	if got := h.pull(a.Head); !got.Merged {
		t.Error("the request's own group did not merge")
	}
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

// /rds retry outside dev: the requester alone and an approver are refused
// with a reply that says why; another platform member may.
func TestRetrySeparationOfDuties(t *testing.T) {
	h := newHarness(t)
	f := h.s.Fake
	n, pr := h.openRequest(answers)
	reply := func(who string) string {
		t.Helper()
		id, err := f.As(who).Comment(h.s.Repo, n, "/rds retry")
		if err != nil {
			t.Fatal(err)
		}
		h.deliver()
		for _, c := range h.comments(n) {
			if strings.Contains(c.Body, "reply:"+strconvI64(id)) {
				return c.Body
			}
		}
		return ""
	}
	h.jobs.take()
	if r := reply(sandbox.Requester); !strings.Contains(r, "was not retried") || !strings.Contains(r, "the requester may not retry") {
		t.Errorf("requester's retry: %q", r)
	}
	if got := keys(h.jobs.take()); len(got) != 0 {
		t.Errorf("a refused retry queued %v", got)
	}
	f.Advance(2 * time.Second)
	if _, err := f.As(sandbox.Platform).Approve(h.s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if r := reply(sandbox.Platform); !strings.Contains(r, "an approver of this request may not also retry it") {
		t.Errorf("approver's retry: %q", r)
	}
	if got := keys(h.jobs.take()); len(got) != 0 {
		t.Errorf("an approver's retry queued %v", got)
	}
}

// The merge-time re-check: an unapproved merge is refused; a break-glass
// label from an allowed team who did not approve lets it proceed.
func TestMergeCheck(t *testing.T) {
	h := newHarness(t)
	f := h.s.Fake
	ctx := context.Background()
	_, pr := h.openRequest(answers)
	if _, err := f.As(sandbox.Platform).Merge(h.s.Repo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	h.settle()
	d, err := h.bot.MergeCheck(ctx, h.s.Repo, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if d.Proceed || !strings.Contains(d.Reason, "merged without the required approvals") {
		t.Fatalf("unapproved merge: %+v", d)
	}
	if m, ok, _ := h.ledger.MergeCheckOf(ctx, h.s.Repo, pr.Number); !ok || m.Proceed {
		t.Errorf("recorded verdict %+v %v", m, ok)
	}
	f.Advance(2 * time.Second)
	if err := f.As(sandbox.Requester).AddLabels(h.s.Repo, pr.Number, "rds-break-glass"); err != nil {
		t.Fatal(err)
	}
	if d, _ := h.bot.MergeCheck(ctx, h.s.Repo, pr.Number); d.Proceed {
		t.Fatalf("break-glass by the requester: %+v", d)
	}
	if err := f.As(sandbox.Security).RemoveLabel(h.s.Repo, pr.Number, "rds-break-glass"); err != nil {
		t.Fatal(err)
	}
	if err := f.As(sandbox.Security).AddLabels(h.s.Repo, pr.Number, "rds-break-glass"); err != nil {
		t.Fatal(err)
	}
	d, err = h.bot.MergeCheck(ctx, h.s.Repo, pr.Number)
	if err != nil || !d.Proceed || !d.BreakGlass {
		t.Fatalf("break-glass by security: %+v %v", d, err)
	}
}

func strconvI64(n int64) string { return itoa(int(n)) }

// A person's pull request is gated by the paths it touches: removing an
// entry without a decommission and lowering deletion protection fail
// rdsbot/validate; a forged rdsbot/approval status is reported, never
// counted; a change outside the gated files gets both checks as success.
func TestGateHumanPullRequest(t *testing.T) {
	h := newHarness(t)
	f := h.s.Fake
	dev, err := f.File(h.s.Repo, "main", "envs/dev-rds/terraform.tfvars")
	if err != nil {
		t.Fatal(err)
	}
	removed := strings.Replace(string(dev), "  keycloak = {\n    database_name = \"keycloak\"\n    username      = \"keycloak_user\"\n  },\n", "", 1)
	if removed == string(dev) {
		t.Fatalf("keycloak entry not found in\n%s", dev)
	}
	if _, err := f.As("erin").Push(h.s.Repo, "erin/cleanup", githubfake.Change{Message: "cleanup", Files: map[string]string{"envs/dev-rds/terraform.tfvars": removed}}); err != nil {
		t.Fatal(err)
	}
	n, err := f.As("erin").OpenPR(h.s.Repo, "erin/cleanup", "main", "cleanup", "")
	if err != nil {
		t.Fatal(err)
	}
	h.settle()
	pr := h.pull("erin/cleanup")
	v := h.check(pr.HeadSHA, validateName)
	if v.Conclusion != "failure" || !strings.Contains(v.Summary, "removes keycloak") {
		t.Errorf("validate of an entry removal: %s %s\n%s", v.Conclusion, v.Title, v.Summary)
	}
	// A forged status with rdsbot's name, then any evaluation.
	if _, err := f.As("erin").PostStatus(h.s.Repo, pr.HeadSHA, githubfake.NewStatus{State: "success", Context: approvalName}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As(sandbox.DBA).CommentReview(h.s.Repo, n, "hm"); err != nil {
		t.Fatal(err)
	}
	h.settle()
	a := h.check(pr.HeadSHA, approvalName) // dev is self-serve: its own verdict, whatever the status says
	if !strings.Contains(a.Summary, "from another source") || !strings.Contains(a.Summary, "erin") {
		t.Errorf("the forged status is not reported:\n%s", a.Summary)
	}

	if _, err := f.As("erin").Push(h.s.Repo, "erin/docs", githubfake.Change{Message: "docs", Files: map[string]string{"docs/notes.md": "hello\n"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As("erin").OpenPR(h.s.Repo, "erin/docs", "main", "docs", ""); err != nil {
		t.Fatal(err)
	}
	h.settle()
	docs := h.pull("erin/docs")
	for _, name := range []string{approvalName, validateName} {
		if r := h.check(docs.HeadSHA, name); r.Conclusion != "success" {
			t.Errorf("%s on a pull request outside the gate: %s %s", name, r.Conclusion, r.Title)
		}
	}
}

// Lowering deletion protection fails rdsbot/validate, whoever does it.
func TestGateLoweredProtection(t *testing.T) {
	h := newHarness(t)
	f := h.s.Fake
	main, err := f.File(h.s.Repo, "main", "envs/prod-rds/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	lowered := strings.Replace(strings.Replace(string(main), "prevent_destroy = true", "prevent_destroy = false", 1),
		"deletion_protection          = true", "deletion_protection          = false", 1)
	if _, err := f.As(sandbox.Platform).Push(h.s.Repo, "bob/unlock", githubfake.Change{Message: "unlock", Files: map[string]string{"envs/prod-rds/main.tf": lowered}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As(sandbox.Platform).OpenPR(h.s.Repo, "bob/unlock", "main", "unlock", ""); err != nil {
		t.Fatal(err)
	}
	h.settle()
	v := h.check(h.pull("bob/unlock").HeadSHA, validateName)
	// Both the digest's changes and repocheck's guards say it (escaped markdown).
	if v.Conclusion != "failure" || strings.Count(v.Summary, "was true and is set to false") != 2 || !strings.Contains(v.Summary, "must set deletion") {
		t.Errorf("validate of lowered protection: %s\n%s", v.Conclusion, v.Summary)
	}
}
