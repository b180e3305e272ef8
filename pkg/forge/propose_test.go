package forge_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// TestProposeOpensOnePullRequest commits the three-file change set of a
// coupled environment and opens a labelled pull request, then checks the
// commit, the exact tree, the pull request and the calls by endpoint: cold,
// replayed (no writes) and for a second request on the same base (the floor).
func TestProposeOpensOnePullRequest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.client.Propose(ctx, proposal(map[string]string{"environment": "test"}))
	if err != nil {
		t.Fatal(err)
	}
	plan := res.Plan
	if len(plan.Changes) != 3 {
		t.Fatalf("want a three-file change set, got %d", len(plan.Changes))
	}
	if !res.BranchCreated || !res.PRCreated || res.Commit == "" || res.Attempts != 1 {
		t.Errorf("result = %+v", res)
	}

	// One commit, on main, with exactly the change set.
	commits := must[[]githubfake.CommitInfo](t)(e.fake.Commits(repo, plan.Branch))
	if len(commits) != 2 || commits[0].SHA != res.Commit || !slices.Equal(commits[0].Parents, []string{e.base}) {
		t.Fatalf("branch history = %+v, want one commit on %s", commits, e.base)
	}
	if commits[0].Message != plan.CommitMessage || commits[0].Author.Name != "rdsbot[bot]" {
		t.Errorf("commit = %+v", commits[0])
	}
	mainFiles := must[[]string](t)(e.fake.Files(repo, "main"))
	branchFiles := must[[]string](t)(e.fake.Files(repo, plan.Branch))
	if !slices.Equal(mainFiles, branchFiles) {
		t.Errorf("branch files differ from main's:\n%v\n%v", branchFiles, mainFiles)
	}
	want := plan.Files()
	for _, p := range branchFiles {
		got := must[[]byte](t)(e.fake.File(repo, plan.Branch, p))
		if nb, changed := want[p]; changed {
			if string(got) != string(nb) {
				t.Errorf("%s on the branch is not the planned content", p)
			}
			continue
		}
		if old := must[[]byte](t)(e.fake.File(repo, "main", p)); string(old) != string(got) {
			t.Errorf("%s changed but is not in the change set", p)
		}
	}

	// One pull request, labelled by the bot.
	prs := e.fake.PullRequests(repo)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests, want 1", len(prs))
	}
	pr := prs[0]
	if pr.Head != plan.Branch || pr.Base != "main" || pr.Issue.Title != plan.Title || pr.Issue.Body != plan.Body || res.PR.Number != pr.Number {
		t.Errorf("pull request = %+v", pr)
	}
	var labels []string
	for _, l := range pr.Issue.Labels {
		labels = append(labels, l.Name)
		if l.AddedBy != "rdsbot[bot]" {
			t.Errorf("label %s added by %s", l.Name, l.AddedBy)
		}
	}
	if !slices.Equal(labels, plan.Labels) {
		t.Errorf("labels = %v, want %v", labels, plan.Labels)
	}

	cold := e.calls()
	t.Logf("cold request (snapshot and label list not cached yet):\n%s", fmtCalls(cold))
	blobs := cold["GET /repos/{owner}/{repo}/git/blobs/{file_sha}"]
	wantCold := map[string]int{
		"GET /repos/{owner}/{repo}/git/ref/{ref}":                 2, // base, branch (404)
		"GET /repos/{owner}/{repo}/git/trees/{tree_sha}":          1, // the base's recursive listing
		"GET /repos/{owner}/{repo}/git/blobs/{file_sha}":          blobs,
		"GET /repos/{owner}/{repo}/labels":                        1,
		"POST /repos/{owner}/{repo}/labels":                       len(plan.Labels),
		"POST /repos/{owner}/{repo}/git/trees":                    1,
		"POST /repos/{owner}/{repo}/git/commits":                  1,
		"POST /repos/{owner}/{repo}/git/refs":                     1,
		"POST /repos/{owner}/{repo}/pulls":                        1,
		"POST /repos/{owner}/{repo}/issues/{issue_number}/labels": 1,
	}
	if !maps.Equal(cold, wantCold) || blobs < 5 || blobs > 12 {
		t.Errorf("cold calls:\n%swant:\n%s", fmtCalls(cold), fmtCalls(wantCold))
	}

	// A replay changes nothing and writes nothing.
	e.resetCalls()
	again, err := e.client.Propose(ctx, proposal(map[string]string{"environment": "test"}))
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() || again.Head != res.Commit || again.PR.Number != res.PR.Number {
		t.Errorf("replay changed something: %+v", again)
	}
	replay := e.calls()
	wantReplay := map[string]int{"GET /repos/{owner}/{repo}/git/ref/{ref}": 2, "GET /repos/{owner}/{repo}/pulls": 1}
	if !maps.Equal(replay, wantReplay) {
		t.Errorf("replay calls:\n%swant:\n%s", fmtCalls(replay), fmtCalls(wantReplay))
	}
	if s := e.app.Metrics().Snapshot(); s.Writes != 0 {
		t.Errorf("replay made %d writes", s.Writes)
	}
	// A second replay is answered by 304s: no points.
	e.resetCalls()
	if _, err := e.client.Propose(ctx, proposal(map[string]string{"environment": "test"})); err != nil {
		t.Fatal(err)
	}
	if s := e.app.Metrics().Snapshot(); s.Writes != 0 || s.Points != 0 || s.NotModified != 3 {
		t.Errorf("second replay: %d writes, %d points, %d not modified; want 0, 0, 3", s.Writes, s.Points, s.NotModified)
	}

	// Another request on the same base: the floor.
	e.resetCalls()
	next, err := e.client.Propose(ctx, proposal(map[string]string{"environment": "test", "databaseName": "billing", "username": "billing_app"}))
	if err != nil {
		t.Fatal(err)
	}
	warm := e.calls()
	wantWarm := map[string]int{
		"GET /repos/{owner}/{repo}/git/ref/{ref}":                 2, // base (304), branch (404)
		"POST /repos/{owner}/{repo}/git/trees":                    1,
		"POST /repos/{owner}/{repo}/git/commits":                  1,
		"POST /repos/{owner}/{repo}/git/refs":                     1,
		"POST /repos/{owner}/{repo}/pulls":                        1,
		"POST /repos/{owner}/{repo}/issues/{issue_number}/labels": 1,
	}
	if !maps.Equal(warm, wantWarm) {
		t.Errorf("warm calls:\n%swant:\n%s", fmtCalls(warm), fmtCalls(wantWarm))
	}
	s := e.app.Metrics().Snapshot()
	t.Logf("warm request: %d calls, %d writes, %d points (the label list was created by the first request)", s.Total, s.Writes, s.Points)
	if s.Writes != 5 || s.Points != 6 {
		t.Errorf("warm request: %d writes, %d points; want 5, 6", s.Writes, s.Points)
	}
	if next.PR.Number == res.PR.Number || len(e.fake.PullRequests(repo)) != 2 {
		t.Errorf("second request did not get its own pull request")
	}
}

// TestProposeReplansOnMovedBase: an unrelated push to main makes the next
// proposal rebuild the branch on the new main as a fast-forward (parents:
// new main, old head), never forcing; a person's push to the bot's branch
// stops the bot with a ForeignChangeError and leaves their commit in place.
func TestProposeReplansOnMovedBase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := proposal(nil)
	first, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	branch := first.Plan.Branch
	moved, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Message: "docs", Files: map[string]string{"README.md": "# infra\n\nmore\n"}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if second.BaseSHA != moved || second.Commit == "" || second.PRCreated {
		t.Fatalf("second proposal = %+v", second)
	}
	commits := must[[]githubfake.CommitInfo](t)(e.fake.Commits(repo, branch))
	if !slices.Equal(commits[0].Parents, []string{moved, first.Commit}) {
		t.Errorf("new head's parents = %v, want [new main, old head]", commits[0].Parents)
	}
	if got := must[[]byte](t)(e.fake.File(repo, branch, "README.md")); string(got) != "# infra\n\nmore\n" {
		t.Errorf("branch does not hold main's new README")
	}
	pr := must[githubfake.PullInfo](t)(e.fake.PullRequest(repo, first.PR.Number))
	if len(e.fake.PullRequests(repo)) != 1 || pr.HeadSHA != second.Commit {
		t.Errorf("want the same pull request at the new head, got %+v", pr)
	}
	// Its diff against main is exactly the change set.
	files := must[[]forge.PullFile](t)(e.client.PullFiles(ctx, repo, pr.Number))
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	var planned []string
	for _, c := range second.Plan.Changes {
		planned = append(planned, c.Path)
	}
	if !slices.Equal(paths, planned) {
		t.Errorf("pull request files = %v, want %v", paths, planned)
	}

	theirs, err := e.fake.As("bob").Push(repo, branch, githubfake.Change{Message: "tweak", Files: map[string]string{"notes.txt": "mine\n"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.Propose(ctx, p)
	var foreign *forge.ForeignChangeError
	if !errors.Is(err, forge.ErrBranchNotOurs) || !errors.As(err, &foreign) ||
		!slices.Equal(foreign.Authors, []string{"bob"}) || !slices.Equal(foreign.Files, []string{"notes.txt"}) {
		t.Fatalf("err = %v, want a foreign change to notes.txt by bob", err)
	}
	if got := e.fake.BranchSHA(repo, branch); got != theirs {
		t.Errorf("branch moved from bob's commit to %s", got)
	}
}

// TestProposeCompareAndSwap: a person pushes to the bot's branch between
// the bot's read and its ref update. The update is refused (not a
// fast-forward), the bot re-reads, finds a head that is not its own and
// stops; the person's commit stays.
func TestProposeCompareAndSwap(t *testing.T) {
	hook := &hookTransport{next: http.DefaultTransport}
	e := newEnv(t, withTransport(hook))
	ctx := context.Background()
	p := proposal(nil)
	first, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	branch := first.Plan.Branch
	if _, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Files: map[string]string{"README.md": "moved\n"}}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var theirs string
	hook.hook = func(r *http.Request) (*http.Response, error, bool) {
		if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/git/refs/heads/"+branch) {
			once.Do(func() {
				theirs, err = e.fake.As("carol").Push(repo, branch, githubfake.Change{Files: map[string]string{"carol.txt": "x\n"}})
			})
		}
		return nil, nil, false
	}
	e.resetCalls()
	_, perr := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(perr, forge.ErrBranchNotOurs) {
		t.Fatalf("err = %v, want ErrBranchNotOurs", perr)
	}
	if got := e.fake.BranchSHA(repo, branch); got != theirs {
		t.Errorf("branch at %s, want carol's %s", got, theirs)
	}
	if n := e.fake.CallsByStatus()["PATCH /repos/{owner}/{repo}/git/refs/{ref}"][http.StatusUnprocessableEntity]; n != 1 {
		t.Errorf("%d refused ref updates, want 1", n)
	}
}

// TestProposeBranchCreatedMeanwhile: the branch appears between the read and
// the create (another replica won the race with the same content): the
// create is refused with 422, the bot re-reads and finds its content.
func TestProposeBranchCreatedMeanwhile(t *testing.T) {
	hook := &hookTransport{next: http.DefaultTransport}
	e := newEnv(t, withTransport(hook))
	ctx := context.Background()
	other, err := forge.NewApp(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	replica, err := other.Installation(ctx, e.inst)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var raced *forge.Result
	hook.hook = func(r *http.Request) (*http.Response, error, bool) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git/refs") {
			once.Do(func() {
				hook.hook = nil
				raced, err = replica.Propose(ctx, proposal(nil))
			})
		}
		return nil, nil, false
	}
	res, perr := e.client.Propose(ctx, proposal(nil))
	if perr != nil || err != nil {
		t.Fatal(perr, err)
	}
	if res.Attempts != 2 || res.Commit != "" || res.Head != raced.Commit || res.PR.Number != raced.PR.Number {
		t.Errorf("result = %+v, replica's = %+v", res, raced)
	}
	if n := len(e.fake.PullRequests(repo)); n != 1 {
		t.Errorf("%d pull requests, want 1", n)
	}
}

// TestProposeEditedRequest: an edited request updates the same pull request
// (new commit, body, labels); stale managed labels go, others stay.
func TestProposeEditedRequest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	managed := func(l string) bool { return strings.HasPrefix(l, "size:") || strings.HasSuffix(l, "-risk") }
	p := proposal(nil)
	p.Managed = managed
	first, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.As("dana").AddLabels(repo, first.PR.Number, "platform-approval"); err != nil {
		t.Fatal(err)
	}
	p = proposal(map[string]string{"risk": "low", "backupRetentionDays": "7"})
	p.Managed = managed
	second, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if second.Commit == "" || !second.PREdited || second.PR.Number != first.PR.Number {
		t.Fatalf("second = %+v", second)
	}
	var labels []string
	for _, l := range e.fake.Labels(repo, first.PR.Number) {
		labels = append(labels, l.Name)
	}
	slices.Sort(labels)
	want := append(slices.Clone(second.Plan.Labels), "platform-approval")
	slices.Sort(want)
	if !slices.Equal(labels, want) {
		t.Errorf("labels = %v, want %v", labels, want)
	}
	if !slices.Equal(second.LabelsRemoved, []string{"medium-risk"}) || !slices.Equal(second.LabelsAdded, []string{"low-risk"}) {
		t.Errorf("added %v, removed %v", second.LabelsAdded, second.LabelsRemoved)
	}
	is := must[githubfake.Issue](t)(e.fake.Issue(repo, first.PR.Number))
	if is.Body != second.Plan.Body {
		t.Errorf("body not updated")
	}
}

// TestProposeClosedPullRequest: a replay leaves a pull request a person
// closed alone; an edited request reopens it (one request, one PR).
func TestProposeClosedPullRequest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.client.Propose(ctx, proposal(nil))
	if err != nil {
		t.Fatal(err)
	}
	closed := "closed"
	if err := e.fake.As("dana").EditPR(repo, first.PR.Number, githubfake.PullEdit{State: &closed}); err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	replay, err := e.client.Propose(ctx, proposal(nil))
	if err != nil {
		t.Fatal(err)
	}
	if replay.Changed() || replay.PR.State != "closed" || e.app.Metrics().Snapshot().Writes != 0 {
		t.Errorf("replay of a closed request: %+v", replay)
	}
	edited, err := e.client.Propose(ctx, proposal(map[string]string{"risk": "low"}))
	if err != nil {
		t.Fatal(err)
	}
	if edited.PR.Number != first.PR.Number || edited.PR.State != "open" || !edited.PREdited || edited.Commit == "" {
		t.Errorf("edited request: %+v", edited)
	}
	if n := len(e.fake.PullRequests(repo)); n != 1 {
		t.Errorf("%d pull requests, want 1", n)
	}
}

// TestProposeConcurrentSameRequest: the same request proposed by several
// goroutines at once (a redelivered webhook racing the original) makes one
// commit and one pull request.
func TestProposeConcurrentSameRequest(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	results := make([]*forge.Result, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if results[i], err = e.client.Propose(context.Background(), proposal(nil)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	commits, made := map[string]bool{}, 0
	for _, r := range results {
		if r != nil {
			commits[r.Head] = true
			if r.Commit != "" {
				made++
			}
		}
	}
	if len(commits) != 1 || made != 1 || len(e.fake.PullRequests(repo)) != 1 {
		t.Errorf("%d heads, %d commits made, %d pull requests; want 1 each", len(commits), made, len(e.fake.PullRequests(repo)))
	}
}

// TestProposeKeepCurrent: with KeepCurrent, a push to main that leaves the
// plan's files alone writes nothing (the pull request still shows exactly
// the change set and merges cleanly); a push that changes one of them
// rebuilds the branch on the new main.
func TestProposeKeepCurrent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := proposal(nil)
	p.KeepCurrent = true
	first, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	branch := first.Plan.Branch
	if _, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Message: "docs", Files: map[string]string{"README.md": "# infra\n\nmore\n"}}); err != nil {
		t.Fatal(err)
	}
	writes := e.app.Metrics().Snapshot().Writes
	kept, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Commit != "" || e.fake.BranchSHA(repo, branch) != first.Commit {
		t.Errorf("an unrelated push rebuilt the branch: %+v", kept)
	}
	if w := e.app.Metrics().Snapshot().Writes - writes; w != 0 {
		t.Errorf("%d writes for a branch that is still current", w)
	}
	if pr := must[githubfake.PullInfo](t)(e.fake.PullRequest(repo, first.PR.Number)); !pr.Mergeable {
		t.Errorf("kept pull request is not mergeable (%s)", pr.MergeableState)
	}
	// main changes a file of the change set away from the request's lines:
	// merging the branch still gives exactly a fresh plan, so it is kept.
	path := first.Plan.Changes[0].Path
	old := string(first.Plan.Changes[0].Old)
	moved, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Message: "touch", Files: map[string]string{path: "# edited on main\n" + old}})
	if err != nil {
		t.Fatal(err)
	}
	writes = e.app.Metrics().Snapshot().Writes
	kept, err = e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Commit != "" || e.fake.BranchSHA(repo, branch) != first.Commit {
		t.Errorf("an edit of main that merges cleanly rebuilt the branch: %+v", kept)
	}
	if w := e.app.Metrics().Snapshot().Writes - writes; w != 0 {
		t.Errorf("%d writes for a branch that still merges into its plan", w)
	}
	if pr := must[githubfake.PullInfo](t)(e.fake.PullRequest(repo, first.PR.Number)); !pr.Mergeable {
		t.Errorf("kept pull request is not mergeable (%s)", pr.MergeableState)
	}
	// Another request lands next to this one's lines: the merge would
	// conflict, so the branch is rebuilt on main and holds both.
	other := proposal(map[string]string{"databaseName": "billing_service", "username": "billing_app"})
	landed, err := e.client.Propose(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.As("alice").Merge(repo, landed.PR.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.Commit == "" || rebuilt.BaseSHA == moved {
		t.Fatalf("a conflicting change on main did not rebuild the branch: %+v", rebuilt)
	}
	got := string(must[[]byte](t)(e.fake.File(repo, branch, path)))
	if !strings.HasPrefix(got, "# edited on main\n") || !strings.Contains(got, "billing_service") || !strings.Contains(got, "orders_service") {
		t.Errorf("%s on the rebuilt branch:\n%s", path, got)
	}
}
