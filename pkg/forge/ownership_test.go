package forge_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// pushAs writes a commit over the API as login, claiming to be author (the
// git author and committer are text: anyone pushing can write any name),
// adding files on top of parent, and moves branch there (creating it when
// it does not exist).
func (e *env) pushAs(login, author, branch, parent string, files map[string]string) string {
	e.t.Helper()
	ctx := context.Background()
	e.fake.AddOrg("acme", login) // a member, who may push
	gh := github.NewClient(nil).WithAuthToken(e.fake.UserToken(login))
	gh, err := gh.WithEnterpriseURLs(e.url+"/", e.url+"/")
	if err != nil {
		e.t.Fatal(err)
	}
	owner, name := "acme", "infra"
	pc, _, err := gh.Git.GetCommit(ctx, owner, name, parent)
	if err != nil {
		e.t.Fatal(err)
	}
	var entries []*github.TreeEntry
	for p, content := range files {
		entries = append(entries, &github.TreeEntry{Path: github.String(p), Mode: github.String("100644"),
			Type: github.String("blob"), Content: github.String(content)})
	}
	tree, _, err := gh.Git.CreateTree(ctx, owner, name, pc.GetTree().GetSHA(), entries)
	if err != nil {
		e.t.Fatal(err)
	}
	sig := &github.CommitAuthor{Name: github.String(author), Email: github.String("bot@users.noreply.github.com")}
	cm, _, err := gh.Git.CreateCommit(ctx, owner, name, &github.Commit{Message: github.String("tweak"), Tree: tree,
		Parents: []*github.Commit{{SHA: github.String(parent)}}, Author: sig, Committer: sig}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ref := &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: cm.SHA}}
	if e.fake.BranchSHA(repo, branch) == "" {
		_, _, err = gh.Git.CreateRef(ctx, owner, name, ref)
	} else {
		_, _, err = gh.Git.UpdateRef(ctx, owner, name, ref, true)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return cm.GetSHA()
}

// TestForgedBotCommitIsForeign: a member pushes to the bot's branch a
// commit authored and committed as the bot that adds a workflow. The bot
// does not keep it (KeepCurrent), build on it or drop it: Propose reports a
// foreign change naming the workflow, and the branch stays where the
// member put it.
func TestForgedBotCommitIsForeign(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := proposal(nil)
	p.KeepCurrent = true
	first, err := e.client.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	branch := first.Plan.Branch
	forged := e.pushAs("mallory", "rdsbot[bot]", branch, first.Commit,
		map[string]string{".github/workflows/x.yml": "on: push\njobs: {}\n"})
	for _, moved := range []bool{false, true} {
		if moved {
			if _, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Files: map[string]string{"README.md": "moved\n"}}); err != nil {
				t.Fatal(err)
			}
		}
		_, err = e.client.Propose(ctx, p)
		var foreign *forge.ForeignChangeError
		if !errors.As(err, &foreign) || !errors.Is(err, forge.ErrForeignChange) || !errors.Is(err, forge.ErrBranchNotOurs) {
			t.Fatalf("base moved %v: err = %v, want a foreign change", moved, err)
		}
		if !slices.Equal(foreign.Files, []string{".github/workflows/x.yml"}) || foreign.Head != forged || foreign.Branch != branch {
			t.Errorf("base moved %v: foreign change = %+v", moved, foreign)
		}
		if got := e.fake.BranchSHA(repo, branch); got != forged {
			t.Errorf("base moved %v: branch moved from the forged commit to %s", moved, got)
		}
	}
}

// recordingLedger checks, on every record, that the branch does not point
// at the commit yet; it can be made to fail.
type recordingLedger struct {
	forge.CommitLedger
	mu       sync.Mutex
	e        *env
	branch   string
	fail     error
	recorded []string
	early    []string // commits the branch already pointed at when recorded
}

func (l *recordingLedger) RecordCommit(ctx context.Context, repo, sha string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	if l.e.fake.BranchSHA("acme/infra", l.branch) == sha {
		l.early = append(l.early, sha)
	}
	l.recorded = append(l.recorded, sha)
	return l.CommitLedger.RecordCommit(ctx, repo, sha)
}

// TestCommitRecordedBeforeRef: every commit Propose makes is in the ledger
// before the branch points at it; when the ledger cannot record, the
// branch is neither created nor moved.
func TestCommitRecordedBeforeRef(t *testing.T) {
	ledger := &recordingLedger{CommitLedger: forge.NewMemoryLedger(0)}
	e := newEnv(t, func(_ *githubfake.Options, c *forge.Config) { c.Ledger = ledger })
	ledger.e = e
	ctx := context.Background()
	plan := func(content string) forge.Proposal {
		return forge.Proposal{Repo: repo, Base: "main", Plan: staticPlan("ledger", map[string]string{"a.txt": content})}
	}
	ledger.branch = "ledger"
	first, err := e.client.Propose(ctx, plan("one\n"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.client.Propose(ctx, plan("two\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ledger.recorded, []string{first.Commit, second.Commit}) || len(ledger.early) != 0 {
		t.Errorf("recorded %v (already on the branch: %v), want %v before the branch moved", ledger.recorded, ledger.early,
			[]string{first.Commit, second.Commit})
	}
	ledger.fail = errors.New("database is down")
	if _, err := e.client.Propose(ctx, plan("three\n")); !errors.Is(err, ledger.fail) {
		t.Errorf("err = %v, want the ledger's", err)
	}
	if got := e.fake.BranchSHA(repo, "ledger"); got != second.Commit {
		t.Errorf("branch moved to %s, a commit the ledger does not hold", got)
	}
	ledger.branch = "ledger-new"
	if _, err := e.client.Propose(ctx, forge.Proposal{Repo: repo, Base: "main",
		Plan: staticPlan("ledger-new", map[string]string{"b.txt": "b\n"})}); !errors.Is(err, ledger.fail) {
		t.Errorf("err = %v, want the ledger's", err)
	}
	if got := e.fake.BranchSHA(repo, "ledger-new"); got != "" {
		t.Errorf("branch created at %s, a commit the ledger does not hold", got)
	}
}

// TestSquattedBranch: the request's branch was created by someone else, at
// a commit claiming the bot as author, and has no pull request: Propose
// reports it squatted and opens nothing.
func TestSquattedBranch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := proposal(nil)
	plan, err := e.client.Snapshot(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := p.Plan(ctx, plan, plan.SHA)
	if err != nil {
		t.Fatal(err)
	}
	squat := e.pushAs("mallory", "rdsbot[bot]", pl.Branch, e.base, map[string]string{"x.txt": "mine\n"})
	_, err = e.client.Propose(ctx, p)
	var squatted *forge.SquattedBranchError
	if !errors.As(err, &squatted) || !errors.Is(err, forge.ErrBranchSquatted) || !errors.Is(err, forge.ErrBranchNotOurs) {
		t.Fatalf("err = %v, want a squatted branch", err)
	}
	if squatted.Head != squat || squatted.PR != 0 || !slices.Equal(squatted.Authors, []string{"rdsbot[bot]"}) {
		t.Errorf("squatted = %#v", squatted)
	}
	if n := len(e.fake.PullRequests(repo)); n != 0 {
		t.Errorf("%d pull requests opened on a squatted branch", n)
	}
	if got := e.fake.BranchSHA(repo, pl.Branch); got != squat {
		t.Errorf("branch moved to %s", got)
	}
}

// TestPullRequestOpenedByOthers: the bot's pull request was closed and
// someone else opened one from the bot's branch: Propose does not adopt
// it (no edit, no label) and says so.
func TestPullRequestOpenedByOthers(t *testing.T) {
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
	theirs, err := e.fake.As("mallory").OpenPR(repo, first.Plan.Branch, "main", "mine", "my body")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.Propose(ctx, proposal(map[string]string{"risk": "low"}))
	var squatted *forge.SquattedBranchError
	if !errors.As(err, &squatted) || squatted.PR != theirs {
		t.Fatalf("err = %v, want pull request #%d reported as not the bot's", err, theirs)
	}
	pr := must[githubfake.PullInfo](t)(e.fake.PullRequest(repo, theirs))
	if pr.Issue.Title != "mine" || pr.Issue.Body != "my body" || len(pr.Issue.Labels) != 0 {
		t.Errorf("the bot edited someone else's pull request: %+v", pr.Issue)
	}
}

// TestKeepCurrentNeedsExactFiles: an edited request that no longer touches
// a file the branch changed is rebuilt even with KeepCurrent: the pull
// request's files must be the plan's exactly, not a superset.
func TestKeepCurrentNeedsExactFiles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prop := func(files map[string]string) forge.Proposal {
		return forge.Proposal{Repo: repo, Base: "main", KeepCurrent: true, Plan: staticPlan("exact", files)}
	}
	first, err := e.client.Propose(ctx, prop(map[string]string{"a.txt": "a\n", "b.txt": "b\n"}))
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.client.Propose(ctx, prop(map[string]string{"a.txt": "a\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if second.Commit == "" || second.Head == first.Commit {
		t.Fatalf("the branch still changes b.txt, which the plan no longer does: %+v", second)
	}
	files := must[[]forge.PullFile](t)(e.client.PullFiles(ctx, repo, second.PR.Number))
	if len(files) != 1 || files[0].Path != "a.txt" {
		t.Errorf("pull request files = %+v, want a.txt alone", files)
	}
	// Unchanged again: KeepCurrent keeps it on a moved base.
	if _, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Files: map[string]string{"README.md": "moved\n"}}); err != nil {
		t.Fatal(err)
	}
	third, err := e.client.Propose(ctx, prop(map[string]string{"a.txt": "a\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if third.Commit != "" || third.Head != second.Commit {
		t.Errorf("an exact, current branch was rebuilt: %+v", third)
	}
}

// TestLedgerSharedAcrossRestart: a new App (a restarted or another
// replica) with the same ledger recognises the branch and writes nothing;
// one with an empty ledger does not take the branch over.
func TestLedgerSharedAcrossRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.client.Propose(ctx, proposal(nil))
	if err != nil {
		t.Fatal(err)
	}
	again := func(cfg forge.Config) (*forge.Result, error) {
		app, err := forge.NewApp(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := app.Installation(ctx, e.inst)
		if err != nil {
			t.Fatal(err)
		}
		return c.Propose(ctx, proposal(nil))
	}
	res, err := again(e.cfg)
	if err != nil || res.Changed() || res.Head != first.Commit {
		t.Errorf("same ledger: %+v, %v; want nothing written", res, err)
	}
	fresh := e.cfg
	fresh.Ledger = forge.NewMemoryLedger(0)
	if _, err := again(fresh); !errors.Is(err, forge.ErrBranchNotOurs) {
		t.Errorf("empty ledger: err = %v, want the branch refused", err)
	}
	if got := e.fake.BranchSHA(repo, first.Plan.Branch); got != first.Commit {
		t.Errorf("branch moved to %s", got)
	}
}
