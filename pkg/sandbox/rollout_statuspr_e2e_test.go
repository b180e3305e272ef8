package sandbox

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

const (
	putContents = "PUT /repos/{owner}/{repo}/contents/{path}"
	statusTitle = "Status change by rdsbot" // the gate's title on a status pull request
)

// exampleWith is the example repository with its rdsbot.yaml edited.
func exampleWith(t *testing.T, old, new string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(rdsbot.Example(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(rdsbot.Example(), p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(out["rdsbot.yaml"].Data)
	if !strings.Contains(cfg, old) {
		t.Fatalf("%q not in rdsbot.yaml", old)
	}
	out["rdsbot.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(cfg, old, new, 1))}
	return out
}

// statusPulls are the bot's pull requests from its status branches.
func statusPulls(s *Sandbox) []githubfake.PullInfo {
	var out []githubfake.PullInfo
	for _, pr := range requestPulls(s) {
		if strings.HasPrefix(pr.Head, "rdsbot/status/") {
			out = append(out, pr)
		}
	}
	return out
}

// Direct status commits: each transition that changes the catalog alone is
// one PUT contents (one write); the last, with the audit rows, one Git Data
// commit.
func TestStatusCommitsDirect(t *testing.T) {
	s, _ := startRollout(t, Options{})
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	s.Fake.ResetCalls()
	approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)

	e := catalogEntry(t, s, "test", "orders_service")
	if e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("status %s, history %s", e.Metadata.Status, statusHistory(e))
	}
	statusCommits := 0
	for _, c := range mainCommits(t, s) {
		if strings.Contains(c.Message, "[skip ci]") {
			statusCommits++
		}
	}
	calls := s.Fake.Calls()
	t.Logf("%d writes from the merge to active, %d status commits: %v", writes(s), statusCommits, writeCalls(s))
	if puts := calls[putContents]; puts != statusCommits-1 || puts < 2 {
		t.Errorf("%d PUT contents for %d status commits, want one each but the last", puts, statusCommits)
	}
	if n := calls["POST /repos/{owner}/{repo}/git/trees"]; n != 1 {
		t.Errorf("%d trees made, want 1 (the commit with the audit rows)", n)
	}
	if len(statusPulls(s)) != 0 {
		t.Error("status pull requests in direct mode")
	}
}

// A base branch that takes no pushes, and status_commits: pull_request: the
// request still reaches active, every status change arrives as a bot pull
// request that the gate passed and the App merged, and those merges start
// no rollout and no re-plan. A person's pull request from the same branch,
// with another change, is gated like any other.
func TestStatusCommitsThroughPullRequests(t *testing.T) {
	s, _ := startRollout(t, Options{Content: exampleWith(t, "status_commits: direct", "status_commits: pull_request")})
	if err := s.Fake.ProtectBranch(s.Repo, "main", githubfake.Protection{RequirePullRequest: true,
		RequiredChecks: []githubfake.RequiredCheck{{Context: approvalCheck, AppID: s.App.ID}}}); err != nil {
		t.Fatal(err)
	}
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	s.Fake.ResetCalls()
	approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)

	e := catalogEntry(t, s, "test", "orders_service")
	if e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("status %s, history %s", e.Metadata.Status, statusHistory(e))
	}
	if h := statusHistory(e); !strings.Contains(h, "approved,") || !strings.Contains(h, "provisioning,active") {
		t.Errorf("history %s", h)
	}
	pulls := statusPulls(s)
	if len(pulls) < 3 {
		t.Fatalf("%d status pull requests, want one per transition", len(pulls))
	}
	for _, pr := range pulls {
		if !pr.Merged || pr.MergedBy != "rdsbot[bot]" || pr.Head != "rdsbot/status/test" || pr.Base != "main" {
			t.Errorf("status pull request #%d: merged %v by %q, %s -> %s", pr.Number, pr.Merged, pr.MergedBy, pr.Head, pr.Base)
		}
		if r := mustCheck(t, s, pr.HeadSHA, approvalCheck, "completed", "success"); r.Title != statusTitle {
			t.Errorf("#%d passed as %q, not as a status change", pr.Number, r.Title)
		}
	}
	t.Logf("%d writes from the merge to active, %d status pull requests: %v", writes(s), len(pulls), writeCalls(s))
	if n := s.Fake.Calls()[putContents]; n != 0 {
		t.Errorf("%d direct writes to a protected main", n)
	}
	if a := applies(t, s); len(a) != 1 {
		t.Errorf("%d applies, want 1: a status merge started a rollout", len(a))
	}
	// Settled: the status merges left nothing to do (no rollout, no plan,
	// no further status pull request).
	commits, n := len(mainCommits(t, s)), len(pulls)
	settleRollout(t, s)
	if len(mainCommits(t, s)) != commits || len(statusPulls(s)) != n || len(applies(t, s)) != 1 {
		t.Errorf("the status merges started more work: %d more commits, %d more status pull requests",
			len(mainCommits(t, s))-commits, len(statusPulls(s))-n)
	}
	for _, pr := range pulls {
		if r, ok := appCheck(s, pr.HeadSHA, "rdsbot/plan"); ok && r.Conclusion != "success" {
			t.Errorf("#%d planned: %s %s", pr.Number, r.Conclusion, r.Title)
		}
	}

	// A person's pull request from the status branch, changing more than a
	// status, gets the normal gate.
	if err := s.Fake.SetPermission(s.Repo, "erin", "write"); err != nil {
		t.Fatal(err)
	}
	src, err := s.Fake.File(s.Repo, "main", "rds-catalog/test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(src), "size_tier: small", "size_tier: xlarge", 1)
	if forged == string(src) {
		t.Fatal("no size_tier to change in the catalog")
	}
	erin := s.Fake.As("erin")
	if _, err := erin.Push(s.Repo, "rdsbot/status/test", githubfake.Change{Files: map[string]string{"rds-catalog/test.yaml": forged},
		Message: "rds(test): status [skip ci]"}); err != nil {
		t.Fatal(err)
	}
	n2, err := erin.OpenPR(s.Repo, "rdsbot/status/test", "main", "rds(test): status orders_service", "")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pr := pullByNumber(s, n2)
	r, ok := appCheck(s, pr.HeadSHA, approvalCheck)
	if !ok {
		t.Fatal("no approval check on the forged pull request")
	}
	if r.Title == statusTitle || r.Conclusion == "success" {
		t.Errorf("the forged pull request passed the gate: %s/%s %q", r.Status, r.Conclusion, r.Title)
	}
}

// writeCalls are the calls that change something, by route.
func writeCalls(s *Sandbox) map[string]int {
	out := map[string]int{}
	for k, c := range s.Fake.Calls() {
		if !strings.HasPrefix(k, "GET ") {
			out[k] = c
		}
	}
	return out
}
