package forge_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// gateEnv is newEnv with teams, a person's pull request with labels,
// reviews, commits and forged reports, branch protection and a ruleset with
// a merge queue on main, both pinned to rdsbot.
type gateEnv struct {
	*env
	n        int    // the pull request
	first    string // its first commit
	head     string // its head
	stranger string // a commit whose author GitHub links to nobody
	impostor githubfake.AppCredentials
}

func newGateEnv(t testing.TB, opts ...envOption) *gateEnv {
	t.Helper()
	e := newEnv(t, opts...)
	f := e.fake
	ctx := context.Background()
	f.AddOrgOwner("acme", "olga")
	f.AddTeam("acme", "dba", "dana")
	f.AddTeam("acme", "dba-oncall", "omar")
	if err := f.SetTeamParent("acme", "dba-oncall", "dba"); err != nil {
		t.Fatal(err)
	}
	if err := f.AddPendingTeamMember("acme", "dba", "nina"); err != nil {
		t.Fatal(err)
	}
	f.AddOrg("acme", "alice", "pat")
	g := &gateEnv{env: e}
	pat := f.As("pat")
	var err error
	if g.first, err = pat.Push(repo, "gate", githubfake.Change{Message: "orders", Files: map[string]string{"notes/orders.md": "orders\n"}}); err != nil {
		t.Fatal(err)
	}
	if g.n, err = pat.OpenPR(repo, "gate", "main", "orders", "Closes nothing"); err != nil {
		t.Fatal(err)
	}
	// A commit made through the API with an email GitHub links to nobody.
	gh := e.client.GitHub()
	base, _, err := gh.Git.GetCommit(ctx, "acme", "infra", g.first)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := gh.Git.CreateCommit(ctx, "acme", "infra", &github.Commit{Message: github.String("anonymous"), Tree: base.Tree,
		Parents: []*github.Commit{{SHA: github.String(g.first)}},
		Author:  &github.CommitAuthor{Name: github.String("dana"), Email: github.String("not-dana@example.com")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.stranger = c.GetSHA()
	if _, _, err := gh.Git.UpdateRef(ctx, "acme", "infra", &github.Reference{Ref: github.String("refs/heads/gate"), Object: &github.GitObject{SHA: c.SHA}}, false); err != nil {
		t.Fatal(err)
	}
	g.head = g.stranger
	// Labels: dana adds the approval label, alice a label the bot removes.
	if err := f.As("dana").AddLabels(repo, g.n, "platform-approval"); err != nil {
		t.Fatal(err)
	}
	if err := f.As("alice").AddLabels(repo, g.n, "rds-break-glass"); err != nil {
		t.Fatal(err)
	}
	if err := e.client.RemoveLabel(ctx, repo, g.n, "rds-break-glass"); err != nil {
		t.Fatal(err)
	}
	// Reviews: dana approves the first commit, omar approves the head, then
	// dana's is dismissed; alice comments.
	if _, err := f.As("dana").ReviewAt(repo, g.n, g.first, "APPROVE", ""); err != nil {
		t.Fatal(err)
	}
	rid, err := f.As("omar").Approve(repo, g.n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.As("alice").CommentReview(repo, g.n, "looks right"); err != nil {
		t.Fatal(err)
	}
	if err := f.As("olga").DismissReview(repo, g.n, rid, "wrong team"); err != nil {
		t.Fatal(err)
	}
	// Protection and a ruleset pinned to rdsbot; a merge queue.
	pinned := []githubfake.RequiredCheck{{Context: "rdsbot/approval", AppID: e.creds.ID}}
	if err := f.ProtectBranch(repo, "main", githubfake.Protection{RequiredChecks: append(pinned, githubfake.RequiredCheck{Context: "ci"}), Strict: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddRuleset(repo, githubfake.Ruleset{Name: "main", Include: []string{"~DEFAULT_BRANCH"},
		RequiredChecks: pinned, MergeQueue: &githubfake.MergeQueueRule{}}); err != nil {
		t.Fatal(err)
	}
	// Reports with rdsbot's name from others: an App and a person.
	if g.impostor, err = f.NewApp("impostor", "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Install(g.impostor.ID, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PostCheckRun(g.impostor.ID, repo, githubfake.NewCheckRun{Name: "rdsbot/approval", HeadSHA: g.head, Conclusion: "success"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As("alice").PostStatus(repo, g.head, githubfake.NewStatus{State: "success", Context: "rdsbot/approval"}); err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	return g
}

// facts reads everything an evaluation of the gate reads.
func (g *gateEnv) facts(t testing.TB) {
	t.Helper()
	ctx, c := context.Background(), g.client
	if _, err := c.GetPull(ctx, repo, g.n); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IssueEvents(ctx, repo, g.n); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PullReviews(ctx, repo, g.n); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PullCommits(ctx, repo, g.n); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"dana", "omar"} {
		if _, err := c.TeamMembership(ctx, "acme", "dba", who); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CheckRuns(ctx, repo, g.head, forge.CheckRunFilter{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CommitStatuses(ctx, repo, g.head); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequiredChecks(ctx, repo, "main"); err != nil {
		t.Fatal(err)
	}
}

func TestGateReaders(t *testing.T) {
	g := newGateEnv(t)
	ctx, c := context.Background(), g.client
	bot := c.BotLogin()

	t.Run("issue events", func(t *testing.T) {
		evs := must[[]forge.IssueEvent](t)(c.IssueEvents(ctx, repo, g.n))
		var got []string
		for _, ev := range evs {
			s := fmt.Sprintf("%s:%s:%v", ev.Event, ev.Actor, ev.ActorBot)
			if ev.Label != "" {
				s += ":" + ev.Label
			}
			if ev.Dismissed != nil {
				s += fmt.Sprintf(":%s:%s", ev.Dismissed.State, ev.Dismissed.Message)
			}
			if ev.At.IsZero() {
				t.Errorf("%s has no time", s)
			}
			got = append(got, s)
		}
		want := []string{"labeled:dana:false:platform-approval", "labeled:alice:false:rds-break-glass",
			"unlabeled:" + bot + ":true:rds-break-glass", "review_dismissed:olga:false:APPROVED:wrong team"}
		if !slices.Equal(got, want) {
			t.Fatalf("events\n got %v\nwant %v", got, want)
		}
		cur := forge.CurrentLabels(evs)
		if len(cur) != 1 || cur[0].Label != "platform-approval" || cur[0].Actor != "dana" {
			t.Fatalf("current labels: %+v", cur)
		}
	})

	t.Run("reviews", func(t *testing.T) {
		rs := must[[]forge.PullReview](t)(c.PullReviews(ctx, repo, g.n))
		var got []string
		for _, r := range rs {
			got = append(got, fmt.Sprintf("%s:%s:%.7s:%v", r.User, r.State, r.CommitID, r.Dismissed()))
		}
		want := []string{"dana:APPROVED:" + g.first[:7] + ":false", "omar:DISMISSED:" + g.head[:7] + ":true", "alice:COMMENTED:" + g.head[:7] + ":false"}
		if !slices.Equal(got, want) {
			t.Fatalf("reviews\n got %v\nwant %v", got, want)
		}
		for in, want := range map[string]string{"approved": "APPROVED", "changes_requested": "CHANGES_REQUESTED", "dismissed": "DISMISSED", "APPROVED": "APPROVED", " commented ": "COMMENTED"} {
			if got := forge.NormalizeReviewState(in); got != want {
				t.Errorf("NormalizeReviewState(%q) = %q, want %q", in, got, want)
			}
		}
	})

	t.Run("team memberships", func(t *testing.T) {
		for login, want := range map[string]forge.MembershipState{"dana": forge.MemberActive, "omar": forge.MemberActive,
			"nina": forge.MemberPending, "alice": forge.MemberNone} {
			m := must[forge.TeamMembership](t)(c.TeamMembership(ctx, "acme", "dba", login))
			if m.State != want {
				t.Errorf("%s: %+v, want %s", login, m, want)
			}
		}
		if m := must[forge.TeamMembership](t)(c.TeamMembership(ctx, "acme", "no-such-team", "dana")); m.State != forge.MemberNone {
			t.Fatalf("no team: %+v", m)
		}
		if _, err := c.Team(ctx, "acme", "no-such-team"); !errors.Is(err, forge.ErrNotFound) {
			t.Fatalf("missing team: %v", err)
		}
		if tm := must[forge.Team](t)(c.Team(ctx, "acme", "dba-oncall")); tm.Parent != "dba" {
			t.Fatalf("team: %+v", tm)
		}
		if ms := must[[]string](t)(c.TeamMembers(ctx, "acme", "dba")); !slices.Equal(ms, []string{"dana", "omar"}) {
			t.Fatalf("members: %v", ms)
		}
		if ch := must[[]forge.Team](t)(c.ChildTeams(ctx, "acme", "dba")); len(ch) != 1 || ch[0].Slug != "dba-oncall" || ch[0].Parent != "dba" {
			t.Fatalf("child teams: %+v", ch)
		}
		// A removal is seen at the next read, not after a TTL.
		if err := g.fake.As("olga").RemoveTeamMember("acme", "dba", "dana"); err != nil {
			t.Fatal(err)
		}
		if m := must[forge.TeamMembership](t)(c.TeamMembership(ctx, "acme", "dba", "dana")); m.State != forge.MemberNone {
			t.Fatalf("removed member still %s", m.State)
		}
		if _, err := g.fake.As("olga").AddTeamMember("acme", "dba", "dana", ""); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("commits", func(t *testing.T) {
		cs := must[[]forge.PullCommit](t)(c.PullCommits(ctx, repo, g.n))
		if len(cs) != 2 || cs[0].SHA != g.first || cs[0].Author != "pat" || !cs[0].Linked() ||
			cs[1].SHA != g.stranger || cs[1].Linked() || cs[1].AuthorName != "dana" || cs[1].AuthorEmail != "not-dana@example.com" || cs[1].Parents[0] != g.first {
			t.Fatalf("commits: %+v", cs)
		}
	})

	t.Run("check runs and statuses", func(t *testing.T) {
		if _, err := c.SetCheck(ctx, repo, forge.Check{Name: "rdsbot/approval", HeadSHA: g.head, Title: "Waiting",
			Summary: "| requirement | by |\n|---|---|\n| dba | _nobody yet_ |"}); err != nil {
			t.Fatal(err)
		}
		runs := must[[]forge.CheckRunInfo](t)(c.CheckRuns(ctx, repo, g.head, forge.CheckRunFilter{Name: "rdsbot/approval"}))
		apps := map[int64]string{}
		for _, r := range runs {
			apps[r.AppID] = r.Status + "/" + r.Conclusion
		}
		if len(runs) != 2 || apps[g.creds.ID] != "in_progress/" || apps[g.impostor.ID] != "completed/success" {
			t.Fatalf("runs by App: %v", apps)
		}
		ours := must[[]forge.CheckRunInfo](t)(c.CheckRuns(ctx, repo, g.head, forge.CheckRunFilter{Name: "rdsbot/approval", AppID: g.creds.ID}))
		if len(ours) != 1 || ours[0].AppSlug != "rdsbot" || ours[0].Title != "Waiting" {
			t.Fatalf("our run: %+v", ours)
		}
		if err := c.SetStatus(ctx, repo, g.head, forge.Status{Context: "rdsbot/validate", State: "pending"}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.fake.As("alice").PostStatus(repo, g.head, githubfake.NewStatus{State: "failure", Context: "rdsbot/approval"}); err != nil {
			t.Fatal(err)
		}
		all := must[[]forge.CommitStatus](t)(c.CommitStatuses(ctx, repo, g.head))
		latest := forge.LatestStatuses(all)
		var got []string
		for _, s := range latest {
			got = append(got, fmt.Sprintf("%s:%s:%s:%v", s.Context, s.State, s.Creator, s.CreatorBot))
		}
		want := []string{"rdsbot/approval:failure:alice:false", "rdsbot/validate:pending:" + bot + ":true"}
		if len(all) != 3 || !slices.Equal(got, want) {
			t.Fatalf("statuses %d, latest\n got %v\nwant %v", len(all), got, want)
		}
	})

	t.Run("required checks", func(t *testing.T) {
		req := must[*forge.RequiredChecks](t)(c.RequiredChecks(ctx, repo, "main"))
		if !req.MergeQueue || !req.Strict || len(req.Checks) != 3 || !req.PinnedTo("rdsbot/approval", g.creds.ID) || req.PinnedTo("ci", g.creds.ID) {
			t.Fatalf("required: %+v", req)
		}
		if fs := req.Find("rdsbot/approval"); len(fs) != 2 || fs[0].RulesetID != 0 || fs[1].RulesetID == 0 {
			t.Fatalf("sources: %+v", fs)
		}
		if ci := req.Find("ci"); len(ci) != 1 || ci[0].AppID != 0 {
			t.Fatalf("unpinned ci: %+v", ci)
		}
		none := must[*forge.RequiredChecks](t)(c.RequiredChecks(ctx, repo, "gate"))
		if len(none.Checks) != 0 || none.MergeQueue || none.PinnedTo("rdsbot/approval", g.creds.ID) {
			t.Fatalf("unprotected branch: %+v", none)
		}
		if _, err := c.RequiredChecks(ctx, repo, "no/such/branch"); !errors.Is(err, forge.ErrNotFound) {
			t.Fatalf("missing branch: %v", err)
		}
	})

	t.Run("merge queue", func(t *testing.T) {
		// rdsbot reports on the head, the pull request is queued, rdsbot
		// reports on the merge group's head, the queue merges.
		if _, err := c.SetCheck(ctx, repo, forge.Check{Name: "rdsbot/approval", HeadSHA: g.head, Conclusion: "success", Title: "Approved", Summary: "ok"}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.fake.PostCheckRun(g.impostor.ID, repo, githubfake.NewCheckRun{Name: "ci", HeadSHA: g.head, Conclusion: "success"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.MergePull(ctx, repo, g.n, forge.MergeOptions{}); !errors.Is(err, forge.ErrNotMergeable) || !strings.Contains(err.Error(), "merge queue") {
			t.Fatalf("direct merge: %v", err)
		}
		if err := g.fake.As("dana").Enqueue(repo, g.n); err != nil {
			t.Fatal(err)
		}
		q := g.fake.MergeQueue(repo, "main")
		if len(q) != 1 {
			t.Fatalf("queue: %+v", q)
		}
		if _, err := g.fake.PostCheckRun(g.impostor.ID, repo, githubfake.NewCheckRun{Name: "ci", HeadSHA: q[0].GroupSHA, Conclusion: "success"}); err != nil {
			t.Fatal(err)
		}
		if pr := must[*forge.PullRequest](t)(c.GetPull(ctx, repo, g.n)); pr.Merged {
			t.Fatal("merged before rdsbot reported on the merge group")
		}
		if _, err := c.SetCheck(ctx, repo, forge.Check{Name: "rdsbot/approval", HeadSHA: q[0].GroupSHA, Conclusion: "success", Title: "Approved", Summary: "ok"}); err != nil {
			t.Fatal(err)
		}
		if pr := must[*forge.PullRequest](t)(c.GetPull(ctx, repo, g.n)); !pr.Merged || pr.MergeCommitSHA != q[0].GroupSHA {
			t.Fatalf("not merged by the queue: %+v", pr)
		}
	})
	g.calls() // forge's metrics name every route as the fake does
}

// TestGateReadsRevalidate: reading the facts again when nothing changed
// costs no primary-budget points (every read is a 304), except the
// membership of a non-member (GitHub's 404 carries no ETag).
func TestGateReadsRevalidate(t *testing.T) {
	g := newGateEnv(t)
	g.facts(t)
	before := g.app.Metrics().Snapshot()
	g.facts(t)
	d := g.app.Metrics().Snapshot().Sub(before)
	if d.Points != 0 || d.Total == 0 || d.NotModified != d.Total {
		t.Fatalf("second read: %d calls, %d points, %d not modified", d.Total, d.Points, d.NotModified)
	}
	g.calls()
}

func TestPullCommitsBeyondWhatGitHubLists(t *testing.T) {
	e := newEnv(t)
	pat := e.fake.As("pat")
	for i := range forge.MaxPullCommits + 1 {
		if _, err := pat.Push(repo, "long", githubfake.Change{Files: map[string]string{"long.txt": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := pat.OpenPR(repo, "long", "main", "long", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.PullCommits(context.Background(), repo, n); !errors.Is(err, forge.ErrTooManyCommits) {
		t.Fatalf("want ErrTooManyCommits, got %v", err)
	}
}

// BenchmarkGateFacts reports what reading every fact of one evaluation
// costs (the pull request, events, reviews, commits, two memberships, check
// runs, statuses, branch and rules: 10 calls), in calls and primary-budget
// points, beside that floor, once the cache is warm: "unchanged" (a
// redelivered webhook: every read a 304) and "label-added" (the event log
// and the pull request changed).
func BenchmarkGateFacts(b *testing.B) {
	const floor = 10
	for _, mode := range []string{"unchanged", "label-added"} {
		b.Run(mode, func(b *testing.B) {
			g := newGateEnv(b, unlimited)
			g.facts(b)
			g.app.Metrics().Reset()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if mode == "label-added" {
					b.StopTimer()
					if err := g.fake.As("dana").AddLabels(repo, g.n, fmt.Sprintf("l%d", i)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				g.facts(b)
			}
			b.StopTimer()
			s := g.app.Metrics().Snapshot()
			n := float64(b.N)
			b.ReportMetric(float64(s.Total)/n, "calls/eval")
			b.ReportMetric(float64(s.Points)/n, "points/eval")
			b.ReportMetric(float64(s.Total)/n/floor, "calls/floor")
		})
	}
}

func TestMergeGroupPulls(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.fake.AddRuleset(repo, githubfake.Ruleset{Name: "q", Include: []string{"~DEFAULT_BRANCH"},
		RequiredChecks: []githubfake.RequiredCheck{{Context: "rdsbot/approval", AppID: e.creds.ID}}, MergeQueue: &githubfake.MergeQueueRule{}}); err != nil {
		t.Fatal(err)
	}
	pat := e.fake.As("pat")
	var prs []int
	for i := range 3 {
		head, err := pat.Push(repo, fmt.Sprintf("q%d", i), githubfake.Change{Files: map[string]string{fmt.Sprintf("q%d.txt", i): "q\n"}})
		if err != nil {
			t.Fatal(err)
		}
		n, err := pat.OpenPR(repo, fmt.Sprintf("q%d", i), "main", "q", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.SetCheck(ctx, repo, forge.Check{Name: "rdsbot/approval", HeadSHA: head, Conclusion: "success", Title: "ok", Summary: "ok"}); err != nil {
			t.Fatal(err)
		}
		if err := e.fake.As("dana").Enqueue(repo, n); err != nil {
			t.Fatal(err)
		}
		prs = append(prs, n)
	}
	q := e.fake.MergeQueue(repo, "main")
	for i, entry := range q {
		got, err := e.client.MergeGroupPulls(ctx, repo, entry.GroupRef, entry.GroupSHA)
		if err != nil || !slices.Equal(got, prs[:i+1]) {
			t.Fatalf("group %d: %v %v, want %v", i, got, err, prs[:i+1])
		}
	}
	// The first group merges: the others are now built on main.
	if _, err := e.client.SetCheck(ctx, repo, forge.Check{Name: "rdsbot/approval", HeadSHA: q[0].GroupSHA, Conclusion: "success", Title: "ok", Summary: "ok"}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.client.MergeGroupPulls(ctx, repo, q[2].GroupRef, q[2].GroupSHA); err != nil || !slices.Equal(got, prs[1:]) {
		t.Fatalf("after the first merged: %v %v", got, err)
	}
	if _, err := e.client.MergeGroupPulls(ctx, repo, q[0].GroupRef, q[0].GroupSHA); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("merged group: %v", err)
	}
	if _, err := e.client.MergeGroupPulls(ctx, repo, q[1].GroupRef, q[2].GroupSHA); err == nil {
		t.Fatal("a head_ref naming another group was accepted")
	}
	if _, err := e.client.MergeGroupPulls(ctx, repo, "refs/heads/main", q[2].GroupSHA); err == nil {
		t.Fatal("a branch outside the queue was accepted")
	}
	e.calls()
}
