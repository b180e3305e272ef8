package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/ledger"
)

// mergePersonsPull has dave open a pull request appending to files, the
// platform team approve it and merge it; it returns the merge commit.
func mergePersonsPull(t *testing.T, s *Sandbox, branch string, appends map[string]string) string {
	t.Helper()
	files := map[string]string{}
	for p, extra := range appends {
		old, err := s.Fake.File(s.Repo, "main", p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = string(old) + extra
	}
	return mergeFiles(t, s, branch, files)
}

// mergeFiles is mergePersonsPull writing whole files.
func mergeFiles(t *testing.T, s *Sandbox, branch string, files map[string]string) string {
	t.Helper()
	n := personsPull(t, s, branch, files)
	settle(t, s)
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, n); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if _, err := s.Fake.As(Platform).Merge(s.Repo, n, "merge"); err != nil {
		t.Fatalf("merge #%d: %v", n, err)
	}
	var sha string
	waitFor(t, 10e9, "the merge commit", func() bool {
		sha = pullByNumber(s, n).MergeCommitSHA
		return sha != ""
	})
	return sha
}

// statusCommits counts rdsbot's status commits on main.
func statusCommits(t *testing.T, s *Sandbox) int {
	t.Helper()
	n := 0
	for _, c := range mainCommits(t, s) {
		if strings.Contains(c.Message, "[skip ci]") {
			n++
		}
	}
	return n
}

// applyRecord is the ledger's record of test's apply at sha.
func applyRecord(t *testing.T, s *Sandbox, sha string) ledger.Apply {
	t.Helper()
	a, ok, err := s.Server.Ledger().ApplyOf(context.Background(), s.Repo, "test", sha)
	if err != nil || !ok {
		t.Fatalf("no apply of test at %.12s recorded: %v", sha, err)
	}
	return a
}

// The first rollout of an environment runs terraform. A merge that changes
// only the catalog after it runs none: its apply is recorded as done, the
// reason saying since when the inputs are unchanged, and it becomes the
// last applied commit. A tfvars change runs terraform again; so does
// /rds retry of a failed apply, and a revert to the last apply's inputs
// after terraform failed on a commit in between.
func TestApplySkippedWhenInputsUnchanged(t *testing.T) {
	s, _ := startRollout(t, Options{})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("first request: %s\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if got := len(applies(t, s)); got != 1 {
		t.Fatalf("%d applies of the first rollout, want 1", got)
	}
	first := pullByNumber(s, pr.Number).MergeCommitSHA
	if a := applyRecord(t, s, first); a.Skipped != "" || a.State != ledger.ApplySucceeded {
		t.Fatalf("first apply %+v", a)
	}

	// Catalog only: no terraform, the rollout ends cleanly.
	before := statusCommits(t, s)
	catalogOnly := mergePersonsPull(t, s, "dave/catalog-note", map[string]string{"rds-catalog/test.yaml": "# reviewed by the DBAs\n"})
	settleRollout(t, s)
	if got := len(applies(t, s)); got != 1 {
		t.Fatalf("%d applies after a catalog-only merge, want still 1", got)
	}
	a := applyRecord(t, s, catalogOnly)
	if a.State != ledger.ApplySucceeded || a.Step != ledger.StepDone || a.Skipped != "terraform inputs unchanged since "+first {
		t.Fatalf("catalog-only apply %+v", a)
	}
	if last, _ := s.Server.Ledger().LastApplied(context.Background(), s.Repo, "test"); last != catalogOnly {
		t.Errorf("last applied %s, want the catalog-only merge %s", last, catalogOnly)
	}
	if st := applyStatuses(s, catalogOnly); len(st) != 0 {
		t.Errorf("rdsbot/apply statuses on the merge: %+v", st)
	}
	if after := statusCommits(t, s); after != before {
		t.Errorf("%d status commits after a merge with nothing in flight", after-before)
	}
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Errorf("orders_service is %s", e.Metadata.Status)
	}

	// A terraform input: terraform runs.
	tuned := mergePersonsPull(t, s, "dave/tune", map[string]string{"envs/test-rds/terraform.tfvars": "\n# tuned\n"})
	settleRollout(t, s)
	if got := len(applies(t, s)); got != 2 {
		t.Fatalf("%d applies after a tfvars change, want 2", got)
	}
	if a := applyRecord(t, s, tuned); a.Skipped != "" || a.State != ledger.ApplySucceeded {
		t.Errorf("tfvars apply %+v", a)
	}

	// A failed apply and /rds retry: terraform runs again.
	if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{Fail: "plan", Message: "Error: throttled"}); err != nil {
		t.Fatal(err)
	}
	retuned := mergePersonsPull(t, s, "dave/retune", map[string]string{"envs/test-rds/terraform.tfvars": "\n# retuned\n"})
	settleRollout(t, s)
	if a := applyRecord(t, s, retuned); a.State != ledger.ApplyFailed || len(applies(t, s)) != 2 {
		t.Fatalf("failing apply %+v (%d applies)", a, len(applies(t, s)))
	}
	if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fake.As(Platform).Comment(s.Repo, n, "/rds retry"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	if a := applyRecord(t, s, retuned); a.State != ledger.ApplySucceeded || a.Skipped != "" || len(applies(t, s)) != 3 {
		t.Fatalf("after /rds retry: %+v (%d applies, want 3)\n%s", a, len(applies(t, s)), strings.TrimSpace(statusOf(s, n)))
	}

	// terraform ran for a commit after the last apply and failed (it may
	// have changed the state): a revert to the last apply's inputs is
	// applied, not skipped.
	const tfvars = "envs/test-rds/terraform.tfvars"
	applied, err := s.Fake.File(s.Repo, "main", tfvars)
	if err != nil {
		t.Fatal(err)
	}
	if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{Fail: "plan", Message: "Error: throttled"}); err != nil {
		t.Fatal(err)
	}
	broken := mergePersonsPull(t, s, "dave/break", map[string]string{tfvars: "\n# broken\n"})
	settleRollout(t, s)
	if a := applyRecord(t, s, broken); a.State != ledger.ApplyFailed {
		t.Fatalf("failing apply %+v", a)
	}
	if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{}); err != nil {
		t.Fatal(err)
	}
	reverted := mergeFiles(t, s, "dave/revert", map[string]string{tfvars: string(applied)})
	settleRollout(t, s)
	if a := applyRecord(t, s, reverted); a.State != ledger.ApplySucceeded || a.Skipped != "" || len(applies(t, s)) != 4 {
		t.Fatalf("revert after a failed apply: %+v (%d applies, want 4)", a, len(applies(t, s)))
	}
}
