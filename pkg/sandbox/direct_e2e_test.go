package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/bot"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// pushToMain commits a change straight onto main as who (an administrator
// bypassing review): content is appended to each file.
func pushToMain(t *testing.T, s *Sandbox, who string, appends map[string]string) string {
	t.Helper()
	files := map[string]string{}
	for p, extra := range appends {
		old, _ := s.Fake.File(s.Repo, "main", p)
		files[p] = string(old) + extra
	}
	sha, err := s.Fake.As(who).Push(s.Repo, "main", githubfake.Change{Message: "hand edit", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// applyStatuses are the rdsbot/apply statuses of a commit, oldest first.
func applyStatuses(s *Sandbox, sha string) []githubfake.Status {
	var out []githubfake.Status
	for _, st := range s.Fake.Statuses(s.Repo, sha) {
		if st.Context == bot.ApplyStatus {
			out = append(out, st)
		}
	}
	return out
}

// replyFor is the bot's reply that mentions who, last first.
func replyFor(s *Sandbox, n int, who string) string {
	cs := botComments(s, n)
	for i := len(cs) - 1; i >= 0; i-- {
		if strings.Contains(cs[i].Body, "@"+who+":") {
			return cs[i].Body
		}
	}
	return ""
}

// An administrator's direct push to test's tfvars, then an approved
// request merged in test: nothing is applied, the request fails naming the
// commit, the commit carries a failed rdsbot/apply. The pusher may not
// release it; a break-glass member may, and the rollout applies once.
func TestDirectPushHoldsUntilReleased(t *testing.T) {
	s, _ := startRollout(t, Options{})
	const tfvars = "envs/test-rds/terraform.tfvars"
	pushed := pushToMain(t, s, Platform, map[string]string{tfvars: "\n# tuned by hand\n"})
	settleRollout(t, s)
	if st := applyStatuses(s, pushed); len(st) != 1 || st[0].State != "failure" || !strings.Contains(st[0].Description, "release") {
		t.Fatalf("rdsbot/apply on the pushed commit after the push alone: %+v", st)
	}

	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)
	if got := len(applies(t, s)); got != 0 {
		t.Fatalf("%d applies while an unreviewed commit holds test", got)
	}
	e := catalogEntry(t, s, "test", "orders_service")
	last := e.Metadata.History[len(e.Metadata.History)-1]
	if e.Metadata.Status != catalog.StatusFailed || !strings.Contains(last.Note, pushed[:12]) || !strings.Contains(last.Note, tfvars) {
		t.Fatalf("entry %s, last transition %+v; want failed naming %.12s and %s", e.Metadata.Status, last, pushed, tfvars)
	}
	if st := plain(statusOf(s, n)); !strings.Contains(st, pushed[:12]) {
		t.Errorf("the request's status does not name the commit:\n%s", st)
	}
	if st := applyStatuses(s, pushed); len(st) != 1 {
		t.Errorf("%d rdsbot/apply statuses on the commit, want 1 (written once)", len(st))
	}

	for _, c := range []struct {
		who      string
		want     string
		released bool
	}{
		{Requester, "", false}, // no team: not even answered beyond the policy
		{Platform, "pushed", false},
		{Security, "is released", true},
	} {
		if _, err := s.Fake.As(c.who).Comment(s.Repo, n, "/rds release "+pushed[:12]+" hand-tuned during INC-7 <b>ok</b>"); err != nil {
			t.Fatal(err)
		}
		settleRollout(t, s)
		reply := replyFor(s, n, c.who)
		if c.want != "" && !strings.Contains(reply, c.want) {
			t.Errorf("reply to %s: %q, want %q", c.who, reply, c.want)
		}
		if strings.Contains(reply, "<b>") {
			t.Errorf("the reason was not escaped: %q", reply)
		}
		applied := len(applies(t, s))
		if c.released != (applied == 1) {
			t.Fatalf("after %s's release: %d applies", c.who, applied)
		}
	}
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("after the release: %s\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if st := applyStatuses(s, pushed); len(st) == 0 || st[len(st)-1].State != "success" {
		t.Errorf("rdsbot/apply after the release: %+v", st)
	}
	settleRollout(t, s)
	if got := len(applies(t, s)); got != 1 {
		t.Errorf("%d applies, want exactly 1", got)
	}
}

// Direct pushes that change no input of test (a README, another
// environment's tfvars) do not hold test.
func TestDirectPushElsewhereDoesNotHold(t *testing.T) {
	s, _ := startRollout(t, Options{})
	readme := pushToMain(t, s, Platform, map[string]string{"README.md": "\nhand edit\n"})
	staging := pushToMain(t, s, Platform, map[string]string{"envs/staging-rds/terraform.tfvars": "\n# staging by hand\n"})
	n := openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "orders_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("status %s, want active\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if got := len(applies(t, s)); got != 1 {
		t.Errorf("%d applies, want 1", got)
	}
	if st := applyStatuses(s, readme); len(st) != 0 {
		t.Errorf("README commit marked: %+v", st)
	}
	// staging's own rollout reports its commit; test's does not care.
	if st := applyStatuses(s, staging); len(st) != 1 || !strings.Contains(st[0].Description, "staging") {
		t.Errorf("staging commit: %+v", st)
	}
}

// rdsbot's own status commits, a merge commit and a squash merge in a row
// never hold: two requests, each applied once, both active, no commit
// marked.
func TestDirectOwnCommitsAndSquashDoNotHold(t *testing.T) {
	s, _ := startRollout(t, Options{})
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)
	b := openOrders(t, s, "erin", withAnswer(withAnswer(ordersAnswers, "Database name", "billing_service"), "Application username", "billing_app"))
	settle(t, s)
	pr := requestPull(t, s, "rds/test/billing_service")
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "squash"); err != nil {
		t.Fatal(err)
	}
	settleRollout(t, s)
	for _, name := range []string{"orders_service", "billing_service"} {
		if e := catalogEntry(t, s, "test", name); e.Metadata.Status != catalog.StatusActive {
			t.Errorf("%s is %s\n%s", name, e.Metadata.Status, statusOf(s, b))
		}
	}
	if got := len(applies(t, s)); got != 2 {
		t.Errorf("%d applies, want 2", got)
	}
	for _, c := range mainCommits(t, s) {
		if st := applyStatuses(s, c.SHA); len(st) != 0 {
			t.Errorf("commit %.12s (%s) marked: %+v", c.SHA, c.Message, st)
		}
	}
}

// A status commit the App wrote but never put in its commit ledger (a
// crash between PutFile's answer and the record) is still the App's: the
// push event GitHub signed names the App as its sender, so the next
// rollout is not held by it.
func TestDirectAppCommitOutsideLedgerDoesNotHold(t *testing.T) {
	s, _ := startRollout(t, Options{})
	openOrders(t, s, Requester, ordersAnswers)
	settle(t, s)
	approveAndMerge(t, s, "rds/test/orders_service")
	settleRollout(t, s)

	ctx := context.Background()
	c, err := s.Server.App().ForRepo(ctx, s.Repo)
	if err != nil {
		t.Fatal(err)
	}
	path := "rds-catalog/test.yaml"
	old, err := s.Fake.File(s.Repo, "main", path)
	if err != nil {
		t.Fatal(err)
	}
	owner, name, _ := strings.Cut(s.Repo, "/")
	res, _, err := c.GitHub().Repositories.UpdateFile(ctx, owner, name, path, &github.RepositoryContentFileOptions{
		Message: github.String("rds(test): a status commit the ledger never heard of [skip ci]"),
		Content: append(old, []byte("# written by the App, not recorded\n")...),
		SHA:     github.String(forge.BlobSHA(old)), Branch: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	unrecorded := res.Commit.GetSHA()

	n := openOrders(t, s, "erin", withAnswer(withAnswer(ordersAnswers, "Database name", "billing_service"), "Application username", "billing_app"))
	settle(t, s)
	approveAndMerge(t, s, "rds/test/billing_service")
	settleRollout(t, s)
	if e := catalogEntry(t, s, "test", "billing_service"); e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("billing_service is %s, want active\n%s", e.Metadata.Status, statusOf(s, n))
	}
	if st := applyStatuses(s, unrecorded); len(st) != 0 {
		t.Errorf("the App's own commit was marked: %+v", st)
	}
}
