package githubfake

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-github/v60/github"
)

// A rebase merge replays each commit of the pull request on the base as a
// new commit (same author and message, the merger as committer, the trees
// of a sequential three-way application), moves the base in one push and
// makes the last commit merge_commit_sha; GitHub lists the pull request
// for each of them.
func TestRebaseMerge(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, gh, f := h.ctx, h.gh, h.f
	const o, r = "acme", "infra"
	pat := f.As("pat")
	first, err := pat.Push(repoName, "two", Change{Message: "add orders", Files: map[string]string{
		"envs/dev-rds/terraform.tfvars": "application_databases = {\n  orders = {}\n}\n"}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := pat.Push(repoName, "two", Change{Message: "document orders", Files: map[string]string{"docs/orders.md": "orders\n"}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := pat.OpenPR(repoName, "two", "main", "two commits", "")
	if err != nil {
		t.Fatal(err)
	}
	// The base moves meanwhile, elsewhere.
	base, err := pat.Push(repoName, "main", Change{Message: "readme", Files: map[string]string{"README.md": "# infra, moved\n"}})
	if err != nil {
		t.Fatal(err)
	}
	pr, _, err := gh.PullRequests.Get(ctx, o, r, n)
	if err != nil || !pr.GetMergeable() || !pr.GetRebaseable() {
		t.Fatalf("before: mergeable %v rebaseable %v %v", pr.GetMergeable(), pr.GetRebaseable(), err)
	}
	h.quiesce()
	from := len(h.hooks.all())

	res, _, err := gh.PullRequests.Merge(ctx, o, r, n, "ignored for a rebase", &github.PullRequestOptions{MergeMethod: "rebase"})
	if err != nil || !res.GetMerged() {
		t.Fatalf("rebase merge: %v %v", res, err)
	}
	last := res.GetSHA()
	if f.BranchSHA(repoName, "main") != last || last == second {
		t.Fatalf("main at %.7s, merge %.7s, head %.7s", f.BranchSHA(repoName, "main"), last, second)
	}
	lc, _, err := gh.Git.GetCommit(ctx, o, r, last)
	if err != nil || len(lc.Parents) != 1 {
		t.Fatalf("last rebased commit: %v %v", lc, err)
	}
	mid := lc.Parents[0].GetSHA()
	mc, _, err := gh.Git.GetCommit(ctx, o, r, mid)
	if err != nil || len(mc.Parents) != 1 || mc.Parents[0].GetSHA() != base || mid == first {
		t.Fatalf("first rebased commit %.7s: %v %v (base %.7s)", mid, mc, err, base)
	}
	for _, c := range []struct {
		got  *github.Commit
		orig string
	}{{mc, first}, {lc, second}} {
		oc, _, err := gh.Git.GetCommit(ctx, o, r, c.orig)
		if err != nil {
			t.Fatal(err)
		}
		if c.got.GetMessage() != oc.GetMessage() || c.got.GetAuthor().GetName() != "pat" || c.got.GetCommitter().GetName() != "rdsbot[bot]" {
			t.Errorf("rebased %.7s: message %q author %q committer %q", c.got.GetSHA(), c.got.GetMessage(), c.got.GetAuthor().GetName(), c.got.GetCommitter().GetName())
		}
	}
	// Trees: the first commit's change on the moved base, then the second's.
	for _, c := range []struct {
		ref, path, want string
	}{
		{mid, "README.md", "# infra, moved\n"},
		{mid, "envs/dev-rds/terraform.tfvars", "application_databases = {\n  orders = {}\n}\n"},
		{last, "docs/orders.md", "orders\n"},
		{last, "README.md", "# infra, moved\n"},
	} {
		if got, err := f.File(repoName, c.ref, c.path); err != nil || string(got) != c.want {
			t.Errorf("%s at %.7s: %q %v", c.path, c.ref, got, err)
		}
	}
	if _, err := f.File(repoName, mid, "docs/orders.md"); err == nil {
		t.Error("the first rebased commit has the second's file")
	}
	merged, _, err := gh.PullRequests.Get(ctx, o, r, n)
	if err != nil || !merged.GetMerged() || merged.GetMergeCommitSHA() != last || merged.GetState() != "closed" || merged.GetCommits() != 2 {
		t.Fatalf("merged PR: %+v %v", merged, err)
	}
	for _, sha := range []string{mid, last} {
		prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, o, r, sha, nil)
		if err != nil || len(prs) != 1 || prs[0].GetNumber() != n {
			t.Errorf("pull requests of %.7s: %v %v", sha, prs, err)
		}
	}
	if prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, o, r, base, nil); err != nil || len(prs) != 0 {
		t.Errorf("pull requests of the base: %v %v", prs, err)
	}

	// One push with both commits, then the pull request closed as merged.
	h.quiesce()
	var pushes []github.PushEvent
	var closed []github.PullRequestEvent
	for _, d := range h.hooks.all()[from:] {
		switch d.Event {
		case "push":
			var ev github.PushEvent
			if err := json.Unmarshal(d.Body, &ev); err != nil {
				t.Fatal(err)
			}
			pushes = append(pushes, ev)
		case "pull_request":
			var ev github.PullRequestEvent
			if err := json.Unmarshal(d.Body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.GetAction() == "closed" {
				closed = append(closed, ev)
			}
		}
	}
	if len(pushes) != 1 || pushes[0].GetBefore() != base || pushes[0].GetAfter() != last || len(pushes[0].Commits) != 2 ||
		pushes[0].Commits[0].GetID() != mid || pushes[0].Commits[1].GetID() != last {
		t.Fatalf("pushes: %+v", pushes)
	}
	if len(closed) != 1 || !closed[0].GetPullRequest().GetMerged() || closed[0].GetPullRequest().GetMergeCommitSHA() != last {
		t.Fatalf("pull_request closed: %+v", closed)
	}
}

// A rebase merge is refused when a commit does not apply on the base (even
// though a merge would), when replaying the commits would not give the
// merge's result (a merge commit on the branch that changed something of
// its own), and when the repository does not allow rebase merges.
func TestRebaseMergeRefusals(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, gh, f := h.ctx, h.gh, h.f
	const o, r = "acme", "infra"
	pat := f.As("pat")
	rebaseRefused := func(n int, msg string) {
		t.Helper()
		_, _, err := gh.PullRequests.Merge(ctx, o, r, n, "", &github.PullRequestOptions{MergeMethod: "rebase"})
		wantErr(t, err, 405, msg)
		if pr, _, _ := gh.PullRequests.Get(ctx, o, r, n); pr.GetMerged() || pr.GetState() != "open" {
			t.Fatalf("#%d after the refusal: merged %v state %s", n, pr.GetMerged(), pr.GetState())
		}
	}

	// A change and its undo: merges cleanly, but the first commit
	// conflicts with the base's own change of that line.
	if _, err := pat.Push(repoName, "undo", Change{Files: map[string]string{"README.md": "# mine\n"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pat.Push(repoName, "undo", Change{Files: map[string]string{"README.md": "# infra\n", "docs/undo.md": "x\n"}}); err != nil {
		t.Fatal(err)
	}
	undo, _ := pat.OpenPR(repoName, "undo", "main", "undo", "")
	if _, err := pat.Push(repoName, "main", Change{Files: map[string]string{"README.md": "# theirs\n"}}); err != nil {
		t.Fatal(err)
	}
	if pr, _, _ := gh.PullRequests.Get(ctx, o, r, undo); !pr.GetMergeable() || pr.GetRebaseable() {
		t.Fatalf("undo: mergeable %v rebaseable %v", pr.GetMergeable(), pr.GetRebaseable())
	}
	rebaseRefused(undo, "This branch can't be rebased")

	// A merge commit that adds a file of its own: a rebase drops it.
	side, err := pat.Push(repoName, "evil", Change{Files: map[string]string{"docs/side.md": "side\n"}})
	if err != nil {
		t.Fatal(err)
	}
	mainSHA := f.BranchSHA(repoName, "main")
	mainCommit, _, err := gh.Git.GetCommit(ctx, o, r, mainSHA)
	if err != nil {
		t.Fatal(err)
	}
	tree, _, err := gh.Git.CreateTree(ctx, o, r, mainCommit.GetTree().GetSHA(), []*github.TreeEntry{
		{Path: github.String("docs/side.md"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("side\n")},
		{Path: github.String("docs/extra.md"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("extra\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	mc, _, err := gh.Git.CreateCommit(ctx, o, r, &github.Commit{Message: github.String("merge main"), Tree: tree,
		Parents: []*github.Commit{{SHA: github.String(side)}, {SHA: github.String(mainSHA)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/evil"), Object: &github.GitObject{SHA: mc.SHA}}, false); err != nil {
		t.Fatal(err)
	}
	evil, _ := pat.OpenPR(repoName, "evil", "main", "evil merge", "")
	rebaseRefused(evil, "This branch can't be rebased")

	// Rebase merges turned off: refused whatever the branch.
	if _, err := pat.Push(repoName, "fine", Change{Files: map[string]string{"docs/fine.md": "fine\n"}}); err != nil {
		t.Fatal(err)
	}
	fine, _ := pat.OpenPR(repoName, "fine", "main", "fine", "")
	if err := f.SetMergeMethods(repoName, MergeMethods{Merge: true, Squash: true}); err != nil {
		t.Fatal(err)
	}
	if repo, _, err := gh.Repositories.Get(ctx, o, r); err != nil || repo.GetAllowRebaseMerge() || !repo.GetAllowSquashMerge() {
		t.Fatalf("repository settings: rebase %v squash %v %v", repo.GetAllowRebaseMerge(), repo.GetAllowSquashMerge(), err)
	}
	rebaseRefused(fine, "Rebase merges are not allowed on this repository.")
	if err := f.SetMergeMethods(repoName, MergeMethods{Rebase: true}); err != nil {
		t.Fatal(err)
	}
	_, _, err = gh.PullRequests.Merge(ctx, o, r, fine, "", &github.PullRequestOptions{MergeMethod: "merge"})
	wantErr(t, err, 405, "Merge commits are not allowed on this repository.")
	res, _, err := gh.PullRequests.Merge(ctx, o, r, fine, "", &github.PullRequestOptions{MergeMethod: "rebase"})
	if err != nil || !res.GetMerged() {
		t.Fatalf("rebase merge of one commit: %v %v", res, err)
	}
	if got := f.PullRequests(repoName); !slices.ContainsFunc(got, func(p PullInfo) bool {
		return p.Number == fine && len(p.RebasedSHAs) == 1 && p.RebasedSHAs[0] == res.GetSHA()
	}) {
		t.Errorf("RebasedSHAs of #%d not recorded", fine)
	}
}
