package sandbox

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/ledger"
)

// tuneTwice has the database team open a pull request of two commits, each
// appending a comment to test's tfvars, and returns its number.
func tuneTwice(t *testing.T, s *Sandbox, branch string) int {
	t.Helper()
	const tfvars = "envs/test-rds/terraform.tfvars"
	old, err := s.Fake.File(s.Repo, "main", tfvars)
	if err != nil {
		t.Fatal(err)
	}
	text := string(old)
	for _, line := range []string{"# tuned: first\n", "# tuned: second\n"} {
		text += line
		if _, err := s.Fake.As(DBA).Push(s.Repo, branch, githubfake.Change{Message: "tune " + line, Files: map[string]string{tfvars: text}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Fake.As(DBA).OpenPR(s.Repo, branch, "main", "tune test", "")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rebaseMerge merges a pull request with merge_method=rebase as the
// platform team and returns the commits it wrote, oldest first.
func rebaseMerge(t *testing.T, s *Sandbox, n int) []string {
	t.Helper()
	last, err := s.Fake.As(Platform).Merge(s.Repo, n, "rebase")
	if err != nil {
		t.Fatal(err)
	}
	pr := pullByNumber(s, n)
	if len(pr.RebasedSHAs) == 0 || pr.RebasedSHAs[len(pr.RebasedSHAs)-1] != last || pr.MergeCommitSHA != last {
		t.Fatalf("rebase merge of #%d: %+v, last %.12s", n, pr.RebasedSHAs, last)
	}
	return pr.RebasedSHAs
}

// noApplyStatus fails the test for any rdsbot/apply status on main.
func noApplyStatus(t *testing.T, s *Sandbox) {
	t.Helper()
	for _, c := range mainCommits(t, s) {
		if st := applyStatuses(s, c.SHA); len(st) != 0 {
			t.Errorf("commit %.12s (%s) marked: %+v", c.SHA, c.Message, st)
		}
	}
}

// A person's approved pull request of two commits merged by rebase is
// re-checked as a whole and applied once, at its last commit; its first
// commit is recorded as part of the checked merge and holds nothing. A
// request pull request merged by rebase afterwards is applied once and
// becomes active. No commit gets an rdsbot/apply failure.
func TestRebaseMergeAppliesOnce(t *testing.T) {
	s, _ := startRollout(t, Options{})
	ctx := context.Background()
	tune := tuneTwice(t, s, "dave/tune")
	settle(t, s)
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, tune); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	head := pullByNumber(s, tune).HeadSHA
	mustCheck(t, s, head, approvalCheck, "completed", "success")
	shas := rebaseMerge(t, s, tune)
	if len(shas) != 2 {
		t.Fatalf("%d rebased commits, want 2", len(shas))
	}
	settleRollout(t, s)

	l := s.Server.Ledger()
	if m, ok, err := l.MergeCheckOf(ctx, s.Repo, tune); err != nil || !ok || !m.Proceed {
		t.Fatalf("merge-time verdict of #%d: %+v %v %v", tune, m, ok, err)
	}
	if ms, err := l.Merges(ctx, s.Repo, "test"); err != nil || len(ms) != 1 || ms[0].SHA != shas[1] {
		t.Fatalf("merges: %+v %v, want only %.12s", ms, err, shas[1])
	}
	if ps, err := l.MergeParts(ctx, s.Repo, "test"); err != nil || len(ps) != 1 || ps[0] != (ledger.MergePart{SHA: shas[0], MergeSHA: shas[1]}) {
		t.Fatalf("merge parts: %+v %v", ps, err)
	}
	if got := len(applies(t, s)); got != 1 {
		t.Fatalf("%d applies after the rebase merge, want 1", got)
	}
	if last, err := l.LastApplied(ctx, s.Repo, "test"); err != nil || last != shas[1] {
		t.Fatalf("last applied %.12s %v, want the last rebased commit %.12s", last, err, shas[1])
	}

	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	pr := requestPull(t, s, "rds/test/orders_service")
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	req := rebaseMerge(t, s, pr.Number)
	settleRollout(t, s)
	e := catalogEntry(t, s, "test", "orders_service")
	if e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("orders_service is %s\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if last := e.Metadata.History[len(e.Metadata.History)-1]; last.Commit != req[len(req)-1] {
		t.Errorf("last transition at %.12s, want the rebase merge's %.12s", last.Commit, req[len(req)-1])
	}
	if got := len(applies(t, s)); got != 2 {
		t.Errorf("%d applies, want 2 (one per merge)", got)
	}
	noApplyStatus(t, s)
}

// A person's pull request of two commits merged by rebase past the
// approval check holds test like any merge past the check: an approved
// request merged after it is not applied and says why. Its rebased commits
// are part of that merge, not unreviewed pushes.
func TestRebaseMergePastCheckHolds(t *testing.T) {
	s, _ := startRollout(t, Options{})
	ctx := context.Background()
	tune := tuneTwice(t, s, "dave/tune")
	settle(t, s)
	shas := rebaseMerge(t, s, tune)
	settleRollout(t, s)
	if m, ok, err := s.Server.Ledger().MergeCheckOf(ctx, s.Repo, tune); err != nil || !ok || m.Proceed {
		t.Fatalf("merge-time verdict of #%d: %+v %v %v", tune, m, ok, err)
	}
	if ps, err := s.Server.Ledger().MergeParts(ctx, s.Repo, "test"); err != nil || len(ps) != 1 || ps[0].SHA != shas[0] {
		t.Fatalf("merge parts: %+v %v", ps, err)
	}

	b := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)
	if got := len(applies(t, s)); got != 0 {
		t.Fatalf("%d applies while an unapproved rebase merge holds test", got)
	}
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusFailed {
		t.Fatalf("orders_service is %s, want failed (held)", e.Metadata.Status)
	}
	if st := plain(statusOf(s, b)); !strings.Contains(st, "merged past the approval check") {
		t.Errorf("the held request does not say why:\n%s", st)
	}
	for _, sha := range shas {
		if st := applyStatuses(s, sha); slices.ContainsFunc(st, func(x githubfake.Status) bool { return strings.Contains(x.Description, "without review") }) {
			t.Errorf("rebased commit %.12s reported as an unreviewed push: %+v", sha, st)
		}
	}
}
