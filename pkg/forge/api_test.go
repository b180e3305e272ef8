package forge_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/gitops"
)

// TestErrorsAreTyped: GitHub's refusals come back as errors the bot can
// branch on.
func TestErrorsAreTyped(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.fake.AddRepo("acme/secret", map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T) int {
		res, err := e.client.Propose(ctx, forge.Proposal{Repo: repo, Base: "main", Plan: staticPlan("feature", map[string]string{"a.txt": "a\n"})})
		if err != nil {
			t.Fatal(err)
		}
		return res.PR.Number
	}
	prNumber := open(t)
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"repository not visible to the installation", func() error {
			_, err := e.client.GetIssue(ctx, "acme/secret", 1)
			return err
		}, forge.ErrNotFound},
		{"snapshot of an invisible repository", func() error {
			_, err := e.client.Snapshot(ctx, "acme/secret", "main")
			return err
		}, forge.ErrNotFound},
		{"no such issue", func() error {
			_, err := e.client.GetIssue(ctx, repo, 999)
			return err
		}, forge.ErrNotFound},
		{"no such branch", func() error {
			_, err := e.client.ResolveRef(ctx, repo, "nope")
			return err
		}, forge.ErrNotFound},
		{"existing ref", func() error {
			_, _, err := e.client.CommitChangeSet(ctx, repo, forge.ChangeSet{Branch: "feature", Base: e.base, Message: "m",
				Changes: []gitops.Change{{Path: "b.txt", New: []byte("b\n")}}})
			return err
		}, forge.ErrRefExists},
		{"ref moved", func() error {
			_, _, err := e.client.CommitChangeSet(ctx, repo, forge.ChangeSet{Branch: "feature", Base: e.base, Head: e.base, Message: "m",
				Changes: []gitops.Change{{Path: "b.txt", New: []byte("b\n")}}})
			return err
		}, forge.ErrRefMoved},
		{"merge of a moved head", func() error {
			_, err := e.client.MergePull(ctx, repo, prNumber, forge.MergeOptions{SHA: e.base})
			return err
		}, forge.ErrConflict},
		{"invalid edit", func() error {
			s := "sideways"
			_, err := e.client.EditIssue(ctx, repo, prNumber, forge.IssueEdit{State: &s})
			return err
		}, forge.ErrValidation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var ae *forge.APIError
			if !errors.As(err, &ae) || ae.Status < 400 {
				t.Errorf("err %v carries no APIError", err)
			}
			if !strings.HasPrefix(err.Error(), "forge: ") {
				t.Errorf("err %q lacks the forge prefix", err)
			}
		})
	}
	if forge.IsNotFound(nil) {
		t.Error("IsNotFound(nil)")
	}
}

func TestIssuesAndLabels(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) {
		c.LabelColors = map[string]string{"rds-request": "#0e8a16"}
	})
	ctx := context.Background()
	is, created, err := e.client.CreateIssue(ctx, repo, forge.NewIssue{Title: "Database please", Body: "b", Labels: []string{"rds-request"}})
	if err != nil || !created {
		t.Fatal(err)
	}
	label, _, err := e.client.GitHub().Issues.GetLabel(ctx, "acme", "infra", "rds-request")
	if err != nil || label.GetColor() != "0e8a16" {
		t.Errorf("label created with colour %q (%v)", label.GetColor(), err)
	}
	got := must[*forge.Issue](t)(e.client.GetIssue(ctx, repo, is.Number))
	if got.Title != "Database please" || got.User != "rdsbot[bot]" || got.IsPR {
		t.Errorf("issue = %+v", got)
	}
	title, closed := "Database: orders", "closed"
	edited := must[*forge.Issue](t)(e.client.EditIssue(ctx, repo, is.Number, forge.IssueEdit{Title: &title}))
	if edited.Title != title {
		t.Errorf("title = %q", edited.Title)
	}
	if err := e.fake.As("dana").AddLabels(repo, is.Number, "platform-approval"); err != nil {
		t.Fatal(err)
	}
	labels := must[[]string](t)(e.client.AddLabels(ctx, repo, is.Number, "rds-invalid", "rds-request"))
	if !slices.Equal(labels, []string{"rds-request", "platform-approval", "rds-invalid"}) {
		t.Errorf("labels = %v", labels)
	}
	if err := e.client.RemoveLabel(ctx, repo, is.Number, "rds-invalid"); err != nil {
		t.Fatal(err)
	}
	if err := e.client.RemoveLabel(ctx, repo, is.Number, "rds-invalid"); err != nil {
		t.Errorf("removing an absent label: %v", err)
	}
	events := must[[]forge.LabelEvent](t)(e.client.LabelEvents(ctx, repo, is.Number))
	var summary []string
	for _, ev := range events {
		summary = append(summary, ev.Action+" "+ev.Label+" by "+ev.Actor)
	}
	want := []string{"labeled rds-request by rdsbot[bot]", "labeled platform-approval by dana",
		"labeled rds-invalid by rdsbot[bot]", "unlabeled rds-invalid by rdsbot[bot]"}
	if !slices.Equal(summary, want) {
		t.Errorf("label events:\n%v\nwant\n%v", summary, want)
	}

	other, _ := e.fake.As("jane").OpenIssue(repo, "other", "x", "rds-request")
	list := must[[]*forge.Issue](t)(e.client.ListIssues(ctx, repo, forge.IssueFilter{Labels: []string{"rds-request", "platform-approval"}}))
	if len(list) != 1 || list[0].Number != is.Number {
		t.Errorf("by two labels: %+v", list)
	}
	list = must[[]*forge.Issue](t)(e.client.ListIssues(ctx, repo, forge.IssueFilter{Labels: []string{"rds-request"}}))
	if len(list) != 2 || list[0].Number != other {
		t.Errorf("by label, newest first: %+v", list)
	}
	must[*forge.Issue](t)(e.client.EditIssue(ctx, repo, other, forge.IssueEdit{State: &closed}))
	list = must[[]*forge.Issue](t)(e.client.ListIssues(ctx, repo, forge.IssueFilter{State: "closed"}))
	if len(list) != 1 || list[0].Number != other || list[0].State != "closed" {
		t.Errorf("closed: %+v", list)
	}

	if err := e.client.EnsureLabels(ctx, repo, forge.Label{Name: "rds-decommission", Color: "b60205", Description: "removal"}); err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	if err := e.client.EnsureLabels(ctx, repo, forge.Label{Name: "rds-decommission"}, forge.Label{Name: "rds-request"}); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("known labels cost %d calls", n)
	}
}

func TestPullRequests(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.client.Propose(ctx, proposal(nil))
	if err != nil {
		t.Fatal(err)
	}
	n := res.PR.Number
	pr := must[*forge.PullRequest](t)(e.client.GetPull(ctx, repo, n))
	if pr.Head != res.Plan.Branch || pr.HeadSHA != res.Commit || pr.Base != "main" || pr.BaseSHA != e.base || pr.Mergeable == nil || !*pr.Mergeable {
		t.Errorf("pull request = %+v", pr)
	}
	byHead := must[[]*forge.PullRequest](t)(e.client.ListPulls(ctx, repo, forge.PullFilter{Head: res.Plan.Branch}))
	byLabel := must[[]*forge.PullRequest](t)(e.client.ListPulls(ctx, repo, forge.PullFilter{Labels: []string{"rds-database"}}))
	none := must[[]*forge.PullRequest](t)(e.client.ListPulls(ctx, repo, forge.PullFilter{Labels: []string{"nope"}}))
	if len(byHead) != 1 || len(byLabel) != 1 || len(none) != 0 || byHead[0].Number != n {
		t.Errorf("lists: %d by head, %d by label, %d by another label", len(byHead), len(byLabel), len(none))
	}
	if _, err := e.fake.As("dana").Review(repo, n, "APPROVE", "ok"); err != nil {
		t.Fatal(err)
	}
	reviews := must[[]forge.Review](t)(e.client.Reviews(ctx, repo, n))
	if len(reviews) != 1 || reviews[0].User != "dana" || reviews[0].State != "APPROVED" || reviews[0].CommitID != res.Commit {
		t.Errorf("reviews = %+v", reviews)
	}
	sha, err := e.client.MergePull(ctx, repo, n, forge.MergeOptions{SHA: res.Commit})
	if err != nil {
		t.Fatal(err)
	}
	if e.fake.BranchSHA(repo, "main") != sha {
		t.Errorf("main is not at the merge commit")
	}
	if _, err := e.client.MergePull(ctx, repo, n, forge.MergeOptions{}); !errors.Is(err, forge.ErrNotMergeable) {
		t.Errorf("merging twice: %v, want ErrNotMergeable", err)
	}
	// After the merge the request is in main: proposing it again is empty.
	again, err := e.client.Propose(ctx, proposal(nil))
	if err != nil || !again.Empty || again.Changed() {
		t.Errorf("after merge: %+v %v", again, err)
	}
}

func TestChecksAndStatuses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	check := forge.Check{Name: "rdsbot/approval", HeadSHA: e.base, Title: "Waiting for approval",
		Summary: "Needs **dba**", Conclusion: "action_required"}
	id, err := e.client.SetCheck(ctx, repo, check)
	if err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	if again, err := e.client.SetCheck(ctx, repo, check); err != nil || again != id {
		t.Fatalf("same check: %d %v", again, err)
	}
	if s := e.app.Metrics().Snapshot(); s.Writes != 0 {
		t.Errorf("an unchanged check made %d writes", s.Writes)
	}
	check.Conclusion, check.Title, check.Summary = "failure", "2 problems", "See annotations"
	for i := range 120 {
		check.Annotations = append(check.Annotations, forge.Annotation{Path: "envs/dev-rds/terraform.tfvars", StartLine: i + 1, Message: fmt.Sprint("problem ", i)})
	}
	e.resetCalls()
	if again, err := e.client.SetCheck(ctx, repo, check); err != nil || again != id {
		t.Fatalf("updated check: %d %v", again, err)
	}
	if n := e.fake.CallCount("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}"); n != 3 {
		t.Errorf("%d updates for 120 annotations, want 3", n)
	}
	runs := e.fake.CheckRuns(repo, e.base)
	if len(runs) != 1 || runs[0].Conclusion != "failure" || runs[0].Title != "2 problems" || runs[0].Summary != "See annotations" {
		t.Errorf("check runs = %+v", runs)
	}
	if err := e.client.SetStatus(ctx, repo, e.base, forge.Status{Context: "rdsbot/plan", State: "success", Description: "ok"}); err != nil {
		t.Fatal(err)
	}
	if st := e.fake.Statuses(repo, e.base); len(st) != 1 || st[0].State != "success" || st[0].Creator != "rdsbot[bot]" {
		t.Errorf("statuses = %+v", st)
	}
}

// TestCheckCreateUncertain: a create whose answer is lost is found, not repeated.
func TestCheckCreateUncertain(t *testing.T) {
	hook := &hookTransport{next: http.DefaultTransport}
	failed := false
	hook.hook = func(r *http.Request) (*http.Response, error, bool) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/check-runs") && !failed {
			failed = true
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err != nil {
				return nil, err, true
			}
			resp.StatusCode = http.StatusGatewayTimeout
			return resp, nil, true
		}
		return nil, nil, false
	}
	e := newEnv(t, withTransport(hook))
	if _, err := e.client.SetCheck(context.Background(), repo, forge.Check{Name: "c", HeadSHA: e.base, Conclusion: "success", Title: "t", Summary: "s"}); err != nil {
		t.Fatal(err)
	}
	if runs := e.fake.CheckRuns(repo, e.base); len(runs) != 1 {
		t.Errorf("%d check runs, want 1", len(runs))
	}
}

func TestTeamMembershipCache(t *testing.T) {
	e := newEnv(t, func(o *githubfake.Options, c *forge.Config) { c.TeamTTL = 30 * time.Millisecond })
	e.fake.AddTeam("acme", "dba", "dana")
	ctx := context.Background()
	const route = "GET /orgs/{org}/teams/{team_slug}/memberships/{username}"
	for range 3 {
		if ok, err := e.client.IsTeamMember(ctx, "acme", "dba", "dana"); err != nil || !ok {
			t.Fatalf("dana: %v %v", ok, err)
		}
		if ok, err := e.client.IsTeamMember(ctx, "acme", "dba", "bob"); err != nil || ok {
			t.Fatalf("bob: %v %v", ok, err)
		}
	}
	if n := e.fake.CallCount(route); n != 2 {
		t.Errorf("%d membership calls for 6 questions, want 2 (cache hits)", n)
	}
	if ok, err := e.client.IsTeamMember(ctx, "acme", "no-such-team", "dana"); err != nil || ok {
		t.Errorf("unknown team: %v %v", ok, err)
	}
	time.Sleep(40 * time.Millisecond) // past the TTL: asked again
	if err := e.fake.SetTeamMember("acme", "dba", "dana", ""); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.client.IsTeamMember(ctx, "acme", "dba", "dana"); err != nil || ok {
		t.Errorf("dana after removal: %v %v", ok, err)
	}
	e.client.ForgetTeams()
	if err := e.fake.SetTeamMember("acme", "dba", "bob", "maintainer"); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.client.IsTeamMember(ctx, "acme", "dba", "bob"); err != nil || !ok {
		t.Errorf("bob after ForgetTeams: %v %v", ok, err)
	}
}

func TestWorkflows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const wf = "create-rds-database.yml"
	since := time.Now().Add(-time.Minute)
	inputs := map[string]any{"database_name": "orders", "username": "orders_app", "environment": "dev", "user": "jane"}
	if err := e.client.DispatchWorkflow(ctx, repo, wf, "main", inputs); err != nil {
		t.Fatal(err)
	}
	runs := must[[]forge.WorkflowRun](t)(e.client.ListWorkflowRuns(ctx, repo, wf, forge.RunFilter{Event: "workflow_dispatch", Since: since}))
	if len(runs) != 1 || runs[0].HeadBranch != "main" || runs[0].HeadSHA != e.base || runs[0].Actor != "rdsbot[bot]" {
		t.Fatalf("runs = %+v", runs)
	}
	run := must[*forge.WorkflowRun](t)(e.client.GetWorkflowRun(ctx, repo, runs[0].ID))
	if run.Status != "queued" {
		t.Errorf("run = %+v", run)
	}
	if err := e.fake.CompleteRun(repo, run.ID, "success"); err != nil {
		t.Fatal(err)
	}
	if run = must[*forge.WorkflowRun](t)(e.client.GetWorkflowRun(ctx, repo, run.ID)); run.Conclusion != "success" {
		t.Errorf("completed run = %+v", run)
	}
	err := e.client.DispatchWorkflow(ctx, repo, wf, "main", map[string]any{"nope": "x"})
	if !errors.Is(err, forge.ErrValidation) {
		t.Errorf("bad inputs: %v, want ErrValidation", err)
	}
	e.fake.InjectFault(githubfake.Fault{Route: "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", Status: 502, Count: 1})
	if err := e.client.DispatchWorkflow(ctx, repo, wf, "main", inputs); !errors.Is(err, forge.ErrUncertain) {
		t.Errorf("502 on a dispatch: %v, want ErrUncertain (no blind retry)", err)
	}
	if n := e.fake.CallCount("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"); n != 3 {
		t.Errorf("%d dispatch calls, want 3 (the 502 not repeated)", n)
	}
}

// TestSnapshot: the snapshot is a correct fs.FS, reads are cached by
// commit and blob, and a moved base refetches only what changed.
func TestSnapshot(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	snap, err := e.client.Snapshot(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if snap.SHA != e.base {
		t.Fatalf("snapshot at %s, want %s", snap.SHA, e.base)
	}
	files := exampleFiles(t)
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	if err := fstest.TestFS(snap, paths...); err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		if got := must[[]byte](t)(fs.ReadFile(snap, p)); string(got) != content {
			t.Errorf("%s differs", p)
		}
	}
	entries := must[[]fs.DirEntry](t)(fs.ReadDir(snap, "envs"))
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
		if !d.IsDir() {
			t.Errorf("%s is not a directory", d.Name())
		}
	}
	if !slices.Equal(names, []string{"dev", "dev-rds", "prod", "prod-rds", "staging", "staging-rds", "test", "test-rds"}) {
		t.Errorf("envs/ = %v", names)
	}

	// Everything again, on a new snapshot of the same commit: no calls but
	// the (304) ref read; "not found" is free too.
	e.resetCalls()
	again := must[*forge.Snapshot](t)(e.client.Snapshot(ctx, repo, "main"))
	for p := range files {
		must[[]byte](t)(fs.ReadFile(again, p))
	}
	if _, err := fs.ReadFile(again, "no/such/file"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	calls := e.fake.CallsByStatus()
	if len(calls) != 1 || calls["GET /repos/{owner}/{repo}/git/ref/{ref}"][http.StatusNotModified] != 1 {
		t.Errorf("cached snapshot calls: %v", calls)
	}

	// main moves by one file: one tree listing and one blob.
	if _, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Files: map[string]string{"rds-catalog/dev.yaml": "changed: true\n"}}); err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	moved := must[*forge.Snapshot](t)(e.client.Snapshot(ctx, repo, "main"))
	for p := range files {
		must[[]byte](t)(fs.ReadFile(moved, p))
	}
	want := map[string]int{"GET /repos/{owner}/{repo}/git/ref/{ref}": 1, "GET /repos/{owner}/{repo}/git/trees/{tree_sha}": 1,
		"GET /repos/{owner}/{repo}/git/blobs/{file_sha}": 1}
	if got := e.fake.Calls(); !mapsEqual(got, want) {
		t.Errorf("after a one-file push:\n%swant\n%s", fmtCalls(got), fmtCalls(want))
	}
	if got := must[[]byte](t)(fs.ReadFile(moved, "rds-catalog/dev.yaml")); string(got) != "changed: true\n" {
		t.Errorf("moved snapshot reads %q", got)
	}
	// The old snapshot still reads the old content.
	if got := must[[]byte](t)(fs.ReadFile(snap, "rds-catalog/dev.yaml")); string(got) != files["rds-catalog/dev.yaml"] {
		t.Errorf("old snapshot changed")
	}
	// Object ids: a directory the push left alone keeps its id, the file
	// it changed does not; a missing path is not there on either side; no
	// call is made for any of it.
	e.resetCalls()
	for _, c := range []struct {
		path string
		same bool
	}{{"envs/dev-rds", true}, {"envs", true}, {"rds-catalog/dev.yaml", false}, {"rds-catalog", false}, {".", false}} {
		a, ta, okA, err := snap.ObjectID(c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, tb, okB, err := moved.ObjectID(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !okA || !okB || ta != tb || (a == b) != c.same {
			t.Errorf("%s: %s %s %v, %s %s %v; want the same: %v", c.path, a, ta, okA, b, tb, okB, c.same)
		}
	}
	if _, _, ok, err := moved.ObjectID("envs/nope-rds"); ok || err != nil {
		t.Errorf("missing directory: %v %v", ok, err)
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("%d calls for object ids of listed trees", n)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestTokenClient: a client with a personal token works the same way and
// treats the token's user as the bot.
func TestTokenClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fake.AddOrg("acme", "ops")
	// githubfake serves no GET /user, so the login is configured.
	c, err := forge.NewTokenClient(ctx, forge.Config{BaseURL: e.url, BotLogin: "ops", Pacing: []forge.Window{}}, e.fake.UserToken("ops"))
	if err != nil {
		t.Fatal(err)
	}
	if c.BotLogin() != "ops" {
		t.Errorf("bot login = %q", c.BotLogin())
	}
	res, err := c.Propose(ctx, forge.Proposal{Repo: repo, Base: "main", Plan: staticPlan("ops/change", map[string]string{"x.txt": "x\n"}, "ops")})
	if err != nil {
		t.Fatal(err)
	}
	if res.PR.User != "ops" {
		t.Errorf("pull request by %s", res.PR.User)
	}
	if rl := c.RateLimit(); rl.Limit == 0 || rl.Remaining >= rl.Limit {
		t.Errorf("rate limit not observed: %+v", rl)
	}
}

// TestForRepo finds the installation from the repository.
func TestForRepo(t *testing.T) {
	e := newEnv(t)
	c, err := e.app.ForRepo(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	if c != e.client || c.InstallationID() != e.inst {
		t.Errorf("ForRepo returned another client")
	}
	if _, err := e.app.ForRepo(context.Background(), "acme/missing"); !forge.IsNotFound(err) {
		t.Errorf("missing repo: %v", err)
	}
	if rl := e.client.RateLimit(); rl.Limit != 5000 {
		t.Errorf("rate limit = %+v", rl)
	}
}
