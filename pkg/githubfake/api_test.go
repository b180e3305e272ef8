package githubfake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// TestEndpointsThroughGoGitHub drives every endpoint through go-github over
// HTTP, as the App (ghinstallation), as its installation and as users,
// including the error answers; then checks every response and webhook
// against GitHub's schemas and that every route was exercised.
func TestEndpointsThroughGoGitHub(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, gh, f := h.ctx, h.gh, h.f
	const o, r = "acme", "infra"
	alice, dana := h.as("alice"), h.as("dana")
	mainSHA := f.BranchSHA(repoName, "main")
	var featureSHA string
	var prNumber, issueNumber int

	t.Run("app and installations", func(t *testing.T) {
		app, _, err := h.jwt.Apps.Get(ctx, "")
		if err != nil || app.GetID() != h.app.ID || app.GetSlug() != "rdsbot" {
			t.Fatalf("GET /app: %v %v", app, err)
		}
		insts, _, err := h.jwt.Apps.ListInstallations(ctx, nil)
		if err != nil || len(insts) != 1 || insts[0].GetID() != h.inst {
			t.Fatalf("installations: %v %v", insts, err)
		}
		if in, _, err := h.jwt.Apps.GetInstallation(ctx, h.inst); err != nil || in.GetAccount().GetLogin() != "acme" {
			t.Fatalf("installation: %v %v", in, err)
		}
		if in, _, err := h.jwt.Apps.FindRepositoryInstallation(ctx, o, r); err != nil || in.GetID() != h.inst {
			t.Fatalf("repo installation: %v %v", in, err)
		}
		if in, _, err := h.jwt.Apps.FindOrganizationInstallation(ctx, o); err != nil || in.GetID() != h.inst {
			t.Fatalf("org installation: %v %v", in, err)
		}
		if in, _, err := h.jwt.Apps.FindUserInstallation(ctx, o); err != nil || in.GetID() != h.inst {
			t.Fatalf("user installation: %v %v", in, err)
		}
		_, _, err = h.jwt.Apps.FindRepositoryInstallation(ctx, "nobody", "nothing")
		wantErr(t, err, 404, "Not Found")
		tok, _, err := h.jwt.Apps.CreateInstallationToken(ctx, h.inst, &github.InstallationTokenOptions{Repositories: []string{"infra"}})
		if err != nil || !strings.HasPrefix(tok.GetToken(), "ghs_") || tok.GetExpiresAt().IsZero() {
			t.Fatalf("token: %v %v", tok, err)
		}
		_, _, err = h.jwt.Apps.CreateInstallationToken(ctx, h.inst, &github.InstallationTokenOptions{Repositories: []string{"nope"}})
		wantErr(t, err, 422, "not accessible")
		_, _, err = h.jwt.Apps.CreateInstallationToken(ctx, 999, nil)
		wantErr(t, err, 404, "Not Found")
		repos, _, err := gh.Apps.ListRepos(ctx, nil)
		if err != nil || repos.GetTotalCount() != 1 || repos.Repositories[0].GetFullName() != repoName {
			t.Fatalf("installation repos: %v %v", repos, err)
		}
		_, _, err = gh.Apps.Get(ctx, "") // an installation token is not a JWT
		wantErr(t, err, 401, "JSON web token")
		_, _, err = h.client(http.DefaultClient).Repositories.Get(ctx, o, r)
		wantErr(t, err, 401, "Requires authentication")
		_, _, err = h.client(&http.Client{Transport: &tokenTransport{"ghs_forged", http.DefaultTransport}}).Repositories.Get(ctx, o, r)
		wantErr(t, err, 401, "Bad credentials")
		if _, err := f.AddRepo("other/secret", map[string]string{"a": "b"}); err != nil {
			t.Fatal(err)
		}
		_, _, err = gh.Repositories.Get(ctx, "other", "secret")
		wantErr(t, err, 404, "Not Found")
		limits, _, err := gh.RateLimit.Get(ctx)
		if err != nil || limits.GetCore().Limit != 5000 {
			t.Fatalf("rate limit: %v %v", limits, err)
		}
	})

	t.Run("repository, contents and commits", func(t *testing.T) {
		repo, resp, err := gh.Repositories.Get(ctx, o, r)
		if err != nil || repo.GetDefaultBranch() != "main" || repo.GetFullName() != repoName {
			t.Fatalf("repo: %v %v", repo, err)
		}
		if resp.Header.Get("X-RateLimit-Resource") != "core" || resp.Rate.Limit != 5000 || resp.Header.Get("ETag") == "" {
			t.Fatalf("headers: %v", resp.Header)
		}
		b, _, err := gh.Repositories.GetBranch(ctx, o, r, "main", 0)
		if err != nil || b.GetCommit().GetSHA() != mainSHA {
			t.Fatalf("branch: %v %v", b, err)
		}
		if _, _, err = gh.Repositories.GetBranch(ctx, o, r, "nope", 0); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("missing branch: %v", err)
		}
		file, _, resp, err := gh.Repositories.GetContents(ctx, o, r, "envs/dev-rds/terraform.tfvars", &github.RepositoryContentGetOptions{Ref: "main"})
		if err != nil {
			t.Fatal(err)
		}
		if content, _ := file.GetContent(); content != seedFiles["envs/dev-rds/terraform.tfvars"] || file.GetSHA() != objectID(objBlob, []byte(content)) {
			t.Fatalf("file content %q sha %s", content, file.GetSHA())
		}
		// A conditional request with the ETag answers 304 and costs nothing.
		etag := resp.Header.Get("ETag")
		before := resp.Rate.Remaining
		req, _ := gh.NewRequest("GET", "repos/acme/infra/contents/envs/dev-rds/terraform.tfvars?ref=main", nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = gh.Do(ctx, req, nil)
		if resp == nil || resp.StatusCode != http.StatusNotModified {
			t.Fatalf("want 304, got %v %v", resp, err)
		}
		if resp.Rate.Remaining != before {
			t.Fatalf("304 was charged: remaining %d -> %d", before, resp.Rate.Remaining)
		}
		_, dir, _, err := gh.Repositories.GetContents(ctx, o, r, "envs", nil)
		if err != nil || len(dir) != 2 || dir[0].GetType() != "dir" || dir[0].GetName() != "dev-rds" || dir[1].GetName() != "dev" {
			t.Fatalf("dir: %v %v", dir, err)
		}
		_, root, _, err := gh.Repositories.GetContents(ctx, o, r, "", nil)
		if err != nil || len(root) != 3 {
			t.Fatalf("root: %v %v", root, err)
		}
		_, _, _, err = gh.Repositories.GetContents(ctx, o, r, "missing.txt", nil)
		wantErr(t, err, 404, "Not Found")
		_, _, _, err = gh.Repositories.GetContents(ctx, o, r, "README.md", &github.RepositoryContentGetOptions{Ref: "nope"})
		wantErr(t, err, 404, "No commit found for the ref nope")
		commits, _, err := gh.Repositories.ListCommits(ctx, o, r, &github.CommitsListOptions{SHA: "main"})
		if err != nil || len(commits) != 1 || commits[0].GetSHA() != mainSHA {
			t.Fatalf("commits: %v %v", commits, err)
		}
		c, _, err := gh.Repositories.GetCommit(ctx, o, r, "main", nil)
		if err != nil || c.GetSHA() != mainSHA || len(c.Files) != len(seedFiles) || c.Files[0].GetStatus() != "added" {
			t.Fatalf("commit: %v %v", c, err)
		}
		_, _, err = gh.Repositories.GetCommit(ctx, o, r, "does-not-exist", nil)
		wantErr(t, err, 422, "No commit found for SHA: does-not-exist")
	})

	t.Run("git data", func(t *testing.T) {
		ref, _, err := gh.Git.GetRef(ctx, o, r, "heads/main")
		if err != nil || ref.GetObject().GetSHA() != mainSHA || ref.GetRef() != "refs/heads/main" {
			t.Fatalf("ref: %v %v", ref, err)
		}
		_, _, err = gh.Git.GetRef(ctx, o, r, "heads/nope")
		wantErr(t, err, 404, "Not Found")
		legacy, _ := gh.NewRequest("GET", "repos/acme/infra/git/refs/heads/main", nil)
		var legacyRef github.Reference
		if _, err := gh.Do(ctx, legacy, &legacyRef); err != nil || legacyRef.GetObject().GetSHA() != mainSHA {
			t.Fatalf("legacy git/refs: %v %v", legacyRef, err)
		}
		refs, _, err := gh.Git.ListMatchingRefs(ctx, o, r, &github.ReferenceListOptions{Ref: "heads/"})
		if err != nil || len(refs) != 1 {
			t.Fatalf("matching refs: %v %v", refs, err)
		}
		blob, _, err := gh.Git.CreateBlob(ctx, o, r, &github.Blob{Content: github.String("hello\n"), Encoding: github.String("utf-8")})
		if err != nil || blob.GetSHA() != objectID(objBlob, []byte("hello\n")) {
			t.Fatalf("utf-8 blob: %v %v", blob, err)
		}
		bin := []byte{0, 1, 2, 255}
		blob64, _, err := gh.Git.CreateBlob(ctx, o, r, &github.Blob{Content: github.String(base64.StdEncoding.EncodeToString(bin)), Encoding: github.String("base64")})
		if err != nil || blob64.GetSHA() != objectID(objBlob, bin) {
			t.Fatalf("base64 blob: %v %v", blob64, err)
		}
		_, _, err = gh.Git.CreateBlob(ctx, o, r, &github.Blob{Content: github.String("x"), Encoding: github.String("rot13")})
		wantErr(t, err, 422, "encoding")
		got, _, err := gh.Git.GetBlob(ctx, o, r, blob64.GetSHA())
		if dec, _ := base64.StdEncoding.DecodeString(strings.ReplaceAll(got.GetContent(), "\n", "")); err != nil || string(dec) != string(bin) {
			t.Fatalf("get blob: %v %v", got, err)
		}
		base, _, err := gh.Git.GetCommit(ctx, o, r, mainSHA)
		if err != nil {
			t.Fatal(err)
		}
		tree, _, err := gh.Git.CreateTree(ctx, o, r, base.GetTree().GetSHA(), []*github.TreeEntry{
			{Path: github.String("envs/dev-rds/terraform.tfvars"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("application_databases = {\n  orders = {}\n}\n")},
			{Path: github.String("envs/new/nested/a.tfvars"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("a = 1\n")},
			{Path: github.String("bin.dat"), Mode: github.String("100644"), Type: github.String("blob"), SHA: blob64.SHA},
			{Path: github.String("README.md"), Mode: github.String("100644"), Type: github.String("blob")}, // sha: null deletes
		})
		if err != nil {
			t.Fatal(err)
		}
		full, _, err := gh.Git.GetTree(ctx, o, r, tree.GetSHA(), true)
		if err != nil {
			t.Fatal(err)
		}
		paths := map[string]string{}
		for _, e := range full.Entries {
			paths[e.GetPath()] = e.GetType()
		}
		if paths["envs/new/nested/a.tfvars"] != "blob" || paths["envs/new/nested"] != "tree" || paths["bin.dat"] != "blob" || paths["README.md"] != "" {
			t.Fatalf("recursive tree: %v", paths)
		}
		_, _, err = gh.Git.CreateTree(ctx, o, r, "", []*github.TreeEntry{{Path: github.String("x"), Mode: github.String("100644"), Type: github.String("blob"), SHA: github.String(strings.Repeat("ab", 20))}})
		wantErr(t, err, 422, "is not a valid blob")
		_, _, err = gh.Git.CreateTree(ctx, o, r, "", []*github.TreeEntry{{Path: github.String("/abs"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("x")}})
		wantErr(t, err, 422, "malformed path")
		commit, _, err := gh.Git.CreateCommit(ctx, o, r, &github.Commit{
			Message: github.String("Add orders"), Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: github.String(mainSHA)}},
			Author: &github.CommitAuthor{Name: github.String("rdsbot"), Email: github.String("bot@example.com")},
		}, nil)
		if err != nil || len(commit.Parents) != 1 || commit.GetAuthor().GetName() != "rdsbot" {
			t.Fatalf("commit: %v %v", commit, err)
		}
		featureSHA = commit.GetSHA()
		if gc, _, err := gh.Git.GetCommit(ctx, o, r, featureSHA); err != nil || gc.GetMessage() != "Add orders" || gc.GetTree().GetSHA() != tree.GetSHA() {
			t.Fatalf("get commit: %v %v", gc, err)
		}
		_, _, err = gh.Git.CreateCommit(ctx, o, r, &github.Commit{Message: github.String("x"), Tree: &github.Tree{SHA: github.String(strings.Repeat("0", 40))}}, nil)
		wantErr(t, err, 422, "Tree SHA does not exist")
		_, _, err = gh.Git.CreateCommit(ctx, o, r, &github.Commit{Message: github.String("x"), Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: tree.SHA}}}, nil)
		wantErr(t, err, 422, "Parent SHA does not exist")

		newRef := &github.Reference{Ref: github.String("refs/heads/rds/dev/orders"), Object: &github.GitObject{SHA: github.String(featureSHA)}}
		if _, _, err := gh.Git.CreateRef(ctx, o, r, newRef); err != nil {
			t.Fatal(err)
		}
		_, _, err = gh.Git.CreateRef(ctx, o, r, newRef)
		wantErr(t, err, 422, "Reference already exists")
		_, _, err = gh.Git.CreateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/x"), Object: &github.GitObject{SHA: github.String(featureSHA)}})
		wantErr(t, err, 422, "Reference name must start with 'refs/'")
		_, _, err = gh.Git.CreateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/y"), Object: &github.GitObject{SHA: github.String(strings.Repeat("1", 40))}})
		wantErr(t, err, 422, "Object does not exist")
		// A sibling commit of feature: moving the branch to it is not a fast forward.
		sibling, _, err := gh.Git.CreateCommit(ctx, o, r, &github.Commit{Message: github.String("sibling"), Tree: base.Tree, Parents: []*github.Commit{{SHA: github.String(mainSHA)}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		move := &github.Reference{Ref: github.String("refs/heads/rds/dev/orders"), Object: &github.GitObject{SHA: sibling.SHA}}
		_, _, err = gh.Git.UpdateRef(ctx, o, r, move, false)
		wantErr(t, err, 422, "Update is not a fast forward")
		if moved, _, err := gh.Git.UpdateRef(ctx, o, r, move, true); err != nil || moved.GetObject().GetSHA() != sibling.GetSHA() {
			t.Fatalf("forced update: %v %v", moved, err)
		}
		back := &github.Reference{Ref: github.String("refs/heads/rds/dev/orders"), Object: &github.GitObject{SHA: github.String(featureSHA)}}
		if _, _, err := gh.Git.UpdateRef(ctx, o, r, back, true); err != nil {
			t.Fatal(err)
		}
		_, _, err = gh.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/none"), Object: back.Object}, false)
		wantErr(t, err, 422, "Reference does not exist")
		tmp := &github.Reference{Ref: github.String("refs/heads/tmp"), Object: &github.GitObject{SHA: github.String(mainSHA)}}
		if _, _, err := gh.Git.CreateRef(ctx, o, r, tmp); err != nil {
			t.Fatal(err)
		}
		if _, err := gh.Git.DeleteRef(ctx, o, r, "heads/tmp"); err != nil {
			t.Fatal(err)
		}
		_, err = gh.Git.DeleteRef(ctx, o, r, "heads/tmp")
		wantErr(t, err, 422, "Reference does not exist")
		cmp, _, err := gh.Repositories.CompareCommits(ctx, o, r, "main", "rds/dev/orders", nil)
		if err != nil || cmp.GetStatus() != "ahead" || cmp.GetAheadBy() != 1 || len(cmp.Files) != 4 {
			t.Fatalf("compare: %v %v", cmp, err)
		}
	})

	t.Run("pull requests", func(t *testing.T) {
		pr, _, err := gh.PullRequests.Create(ctx, o, r, &github.NewPullRequest{
			Title: github.String("RDS: orders (dev)"), Head: github.String("rds/dev/orders"), Base: github.String("main"), Body: github.String("body"),
		})
		if err != nil {
			t.Fatal(err)
		}
		prNumber = pr.GetNumber()
		if pr.GetHead().GetSHA() != featureSHA || pr.GetBase().GetSHA() != mainSHA || pr.GetUser().GetLogin() != "rdsbot[bot]" ||
			!pr.GetMergeable() || pr.GetMergeableState() != "clean" || pr.GetChangedFiles() != 4 {
			t.Fatalf("created PR: %+v", pr)
		}
		_, _, err = gh.PullRequests.Create(ctx, o, r, &github.NewPullRequest{Title: github.String("again"), Head: github.String("acme:rds/dev/orders"), Base: github.String("main")})
		wantErr(t, err, 422, "A pull request already exists for acme:rds/dev/orders.")
		_, _, err = gh.PullRequests.Create(ctx, o, r, &github.NewPullRequest{Title: github.String("x"), Head: github.String("nope"), Base: github.String("main")})
		wantErr(t, err, 422, "Validation Failed")
		list, _, err := gh.PullRequests.List(ctx, o, r, &github.PullRequestListOptions{Head: "acme:rds/dev/orders", Base: "main"})
		if err != nil || len(list) != 1 || list[0].GetNumber() != prNumber {
			t.Fatalf("list: %v %v", list, err)
		}
		if closed, _, _ := gh.PullRequests.List(ctx, o, r, &github.PullRequestListOptions{State: "closed"}); len(closed) != 0 {
			t.Fatalf("closed PRs: %v", closed)
		}
		edited, _, err := gh.PullRequests.Edit(ctx, o, r, prNumber, &github.PullRequest{Body: github.String("new body")})
		if err != nil || edited.GetBody() != "new body" {
			t.Fatalf("edit: %v %v", edited, err)
		}
		// Retarget the PR at another base and back.
		if _, _, err := gh.Git.CreateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/release"), Object: &github.GitObject{SHA: github.String(mainSHA)}}); err != nil {
			t.Fatal(err)
		}
		for _, base := range []string{"release", "main"} {
			if moved, _, err := gh.PullRequests.Edit(ctx, o, r, prNumber, &github.PullRequest{Base: &github.PullRequestBranch{Ref: github.String(base)}}); err != nil || moved.GetBase().GetRef() != base {
				t.Fatalf("retarget to %s: %v %v", base, moved, err)
			}
		}
		_, _, err = gh.PullRequests.Edit(ctx, o, r, prNumber, &github.PullRequest{Base: &github.PullRequestBranch{Ref: github.String("nope")}})
		wantErr(t, err, 422, "Validation Failed")
		files, _, err := gh.PullRequests.ListFiles(ctx, o, r, prNumber, nil)
		if err != nil || len(files) != 4 {
			t.Fatalf("files: %v %v", files, err)
		}
		byName := map[string]*github.CommitFile{}
		for _, fl := range files {
			byName[fl.GetFilename()] = fl
		}
		tf := byName["envs/dev-rds/terraform.tfvars"]
		if tf.GetStatus() != "modified" || tf.GetAdditions() != 1 || tf.GetDeletions() != 0 || !strings.Contains(tf.GetPatch(), "+  orders = {}") ||
			byName["README.md"].GetStatus() != "removed" || byName["envs/new/nested/a.tfvars"].GetStatus() != "added" {
			t.Fatalf("file list: %v", files)
		}
		commits, _, err := gh.PullRequests.ListCommits(ctx, o, r, prNumber, nil)
		if err != nil || len(commits) != 1 || commits[0].GetSHA() != featureSHA {
			t.Fatalf("commits: %v %v", commits, err)
		}
		if merged, _, err := gh.PullRequests.IsMerged(ctx, o, r, prNumber); err != nil || merged {
			t.Fatalf("is merged: %v %v", merged, err)
		}
		_, _, err = gh.PullRequests.Get(ctx, o, r, 9999)
		wantErr(t, err, 404, "Not Found")
	})

	t.Run("issues, comments and labels", func(t *testing.T) {
		if _, _, err := gh.Issues.CreateLabel(ctx, o, r, &github.Label{Name: github.String("platform-approval"), Color: github.String("b60205")}); err != nil {
			t.Fatal(err)
		}
		_, _, err := gh.Issues.CreateLabel(ctx, o, r, &github.Label{Name: github.String("Platform-Approval")})
		wantErr(t, err, 422, "already_exists")
		if l, _, err := gh.Issues.GetLabel(ctx, o, r, "platform-approval"); err != nil || l.GetColor() != "b60205" {
			t.Fatalf("label: %v %v", l, err)
		}
		is, _, err := alice.Issues.Create(ctx, o, r, &github.IssueRequest{Title: github.String("RDS request: orders"), Body: github.String("### Database name\n\norders"), Labels: &[]string{"rds-request"}})
		if err != nil || is.GetUser().GetLogin() != "alice" || is.GetAuthorAssociation() != "MEMBER" {
			t.Fatalf("issue: %v %v", is, err)
		}
		issueNumber = is.GetNumber()
		if issueNumber != prNumber+1 {
			t.Fatalf("issues and pull requests share one number space: issue %d after PR %d", issueNumber, prNumber)
		}
		_, _, err = alice.Issues.Create(ctx, o, r, &github.IssueRequest{Title: github.String("")})
		wantErr(t, err, 422, "missing_field")
		if got, _, err := gh.Issues.Get(ctx, o, r, issueNumber); err != nil || got.GetBody() != is.GetBody() {
			t.Fatalf("get: %v %v", got, err)
		}
		if got, _, err := gh.Issues.Get(ctx, o, r, prNumber); err != nil || !got.IsPullRequest() {
			t.Fatalf("PR as issue: %v %v", got, err)
		}
		if ed, _, err := alice.Issues.Edit(ctx, o, r, issueNumber, &github.IssueRequest{Body: github.String("edited"), Labels: &[]string{"rds-request", "needs-info"}}); err != nil || len(ed.Labels) != 2 {
			t.Fatalf("edit with labels: %v %v", ed, err)
		}
		if _, _, err := alice.Issues.Edit(ctx, o, r, issueNumber, &github.IssueRequest{Labels: &[]string{"rds-request"}}); err != nil {
			t.Fatal(err)
		}
		list, _, err := gh.Issues.ListByRepo(ctx, o, r, &github.IssueListByRepoOptions{Labels: []string{"rds-request"}, Creator: "alice"})
		if err != nil || len(list) != 1 || list[0].GetNumber() != issueNumber {
			t.Fatalf("list by label: %v %v", list, err)
		}
		if all, _, _ := gh.Issues.ListByRepo(ctx, o, r, &github.IssueListByRepoOptions{State: "all"}); len(all) != 2 {
			t.Fatalf("all issues (PR included): %d", len(all))
		}
		cm, _, err := gh.Issues.CreateComment(ctx, o, r, issueNumber, &github.IssueComment{Body: github.String("Thanks, validating.")})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := gh.Issues.EditComment(ctx, o, r, cm.GetID(), &github.IssueComment{Body: github.String("Validated.")}); err != nil {
			t.Fatal(err)
		}
		if got, _, err := gh.Issues.GetComment(ctx, o, r, cm.GetID()); err != nil || got.GetBody() != "Validated." {
			t.Fatalf("comment: %v %v", got, err)
		}
		if cms, _, err := gh.Issues.ListComments(ctx, o, r, issueNumber, nil); err != nil || len(cms) != 1 {
			t.Fatalf("comments: %v %v", cms, err)
		}
		_, _, err = gh.Issues.CreateComment(ctx, o, r, issueNumber, &github.IssueComment{Body: github.String(" ")})
		wantErr(t, err, 422, "missing_field")
		// Labels with who added them.
		if _, _, err := dana.Issues.AddLabelsToIssue(ctx, o, r, prNumber, []string{"platform-approval"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := alice.Issues.AddLabelsToIssue(ctx, o, r, prNumber, []string{"rds-request"}); err != nil {
			t.Fatal(err)
		}
		if ls, _, err := gh.Issues.ListLabelsByIssue(ctx, o, r, prNumber, nil); err != nil || len(ls) != 2 {
			t.Fatalf("labels: %v %v", ls, err)
		}
		if _, err := gh.Issues.RemoveLabelForIssue(ctx, o, r, prNumber, "rds-request"); err != nil {
			t.Fatal(err)
		}
		_, err = gh.Issues.RemoveLabelForIssue(ctx, o, r, prNumber, "rds-request")
		wantErr(t, err, 404, "Label does not exist")
		events, _, err := gh.Issues.ListIssueEvents(ctx, o, r, prNumber, nil)
		if err != nil {
			t.Fatalf("events: %v %v", events, err)
		}
		who := []string{}
		for _, e := range events {
			if e.GetEvent() == "labeled" || e.GetEvent() == "unlabeled" {
				who = append(who, e.GetEvent()+":"+e.GetLabel().GetName()+":"+e.GetActor().GetLogin())
			}
		}
		if want := []string{"labeled:platform-approval:dana", "labeled:rds-request:alice", "unlabeled:rds-request:rdsbot[bot]"}; !slices.Equal(who, want) {
			t.Fatalf("event actors: %v want %v", who, want)
		}
		if ls := f.Labels(repoName, prNumber); len(ls) != 1 || ls[0].AddedBy != "dana" {
			t.Fatalf("labels with adders: %v", ls)
		}
		if _, _, err := gh.Issues.ReplaceLabelsForIssue(ctx, o, r, issueNumber, []string{"rds-request", "dev"}); err != nil {
			t.Fatal(err)
		}
		if ls, _, _ := gh.Issues.ListLabels(ctx, o, r, nil); len(ls) != 4 {
			t.Fatalf("repo labels: %v", ls)
		}
		if tl, _, err := gh.Issues.ListIssueTimeline(ctx, o, r, issueNumber, nil); err != nil || len(tl) == 0 {
			t.Fatalf("timeline: %v %v", tl, err)
		}
		closed, _, err := gh.Issues.Edit(ctx, o, r, issueNumber, &github.IssueRequest{State: github.String("closed")})
		if err != nil || closed.GetState() != "closed" || closed.GetClosedBy().GetLogin() != "rdsbot[bot]" {
			t.Fatalf("close: %v %v", closed, err)
		}
	})

	t.Run("reviews", func(t *testing.T) {
		_, _, err := gh.PullRequests.CreateReview(ctx, o, r, prNumber, &github.PullRequestReviewRequest{Event: github.String("APPROVE")})
		wantErr(t, err, 422, "Can not approve your own pull request")
		_, _, err = dana.PullRequests.CreateReview(ctx, o, r, prNumber, &github.PullRequestReviewRequest{Event: github.String("REQUEST_CHANGES")})
		wantErr(t, err, 422, "Body can't be blank")
		approve, _, err := dana.PullRequests.CreateReview(ctx, o, r, prNumber, &github.PullRequestReviewRequest{Event: github.String("APPROVE")})
		if err != nil || approve.GetState() != "APPROVED" || approve.GetCommitID() != featureSHA || approve.GetUser().GetLogin() != "dana" {
			t.Fatalf("approve: %v %v", approve, err)
		}
		comment, _, err := alice.PullRequests.CreateReview(ctx, o, r, prNumber, &github.PullRequestReviewRequest{Event: github.String("COMMENT"), Body: github.String("looks fine")})
		if err != nil || comment.GetState() != "COMMENTED" {
			t.Fatalf("comment review: %v %v", comment, err)
		}
		if rs, _, err := gh.PullRequests.ListReviews(ctx, o, r, prNumber, nil); err != nil || len(rs) != 2 {
			t.Fatalf("reviews: %v %v", rs, err)
		}
		if rv, _, err := gh.PullRequests.GetReview(ctx, o, r, prNumber, approve.GetID()); err != nil || rv.GetState() != "APPROVED" {
			t.Fatalf("review: %v %v", rv, err)
		}
		_, _, err = gh.PullRequests.DismissReview(ctx, o, r, prNumber, comment.GetID(), &github.PullRequestReviewDismissalRequest{Message: github.String("no")})
		wantErr(t, err, 422, "Can not dismiss a commented pull request review")
		dismissed, _, err := gh.PullRequests.DismissReview(ctx, o, r, prNumber, approve.GetID(), &github.PullRequestReviewDismissalRequest{Message: github.String("stale")})
		if err != nil || dismissed.GetState() != "DISMISSED" {
			t.Fatalf("dismiss: %v %v", dismissed, err)
		}
		if _, _, err := dana.PullRequests.CreateReview(ctx, o, r, prNumber, &github.PullRequestReviewRequest{Event: github.String("APPROVE")}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("check runs and statuses", func(t *testing.T) {
		cr, _, err := gh.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "rdsbot/approval", HeadSHA: featureSHA, Status: github.String("in_progress"),
			Output: &github.CheckRunOutput{Title: github.String("Waiting"), Summary: github.String("dba approval missing")}})
		if err != nil || cr.GetStatus() != "in_progress" || cr.GetApp().GetID() != h.app.ID || len(cr.PullRequests) != 1 {
			t.Fatalf("check run: %v %v", cr, err)
		}
		_, _, err = alice.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "x", HeadSHA: featureSHA})
		wantErr(t, err, 403, "GitHub App")
		_, _, err = gh.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "x", HeadSHA: strings.Repeat("9", 40)})
		wantErr(t, err, 422, "No commit found for SHA")
		_, _, err = gh.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{HeadSHA: featureSHA})
		wantErr(t, err, 422, "missing_field")
		_, _, err = gh.Checks.UpdateCheckRun(ctx, o, r, cr.GetID(), github.UpdateCheckRunOptions{Status: github.String("completed")})
		wantErr(t, err, 422, "conclusion")
		done, _, err := gh.Checks.UpdateCheckRun(ctx, o, r, cr.GetID(), github.UpdateCheckRunOptions{Conclusion: github.String("success")})
		if err != nil || done.GetStatus() != "completed" || done.GetConclusion() != "success" || done.GetName() != "rdsbot/approval" || done.CompletedAt == nil {
			t.Fatalf("update: %v %v", done, err)
		}
		if got, _, err := gh.Checks.GetCheckRun(ctx, o, r, cr.GetID()); err != nil || got.GetConclusion() != "success" {
			t.Fatalf("get: %v %v", got, err)
		}
		for _, ref := range []string{featureSHA, "rds/dev/orders"} {
			runs, _, err := gh.Checks.ListCheckRunsForRef(ctx, o, r, ref, &github.ListCheckRunsOptions{CheckName: github.String("rdsbot/approval")})
			if err != nil || runs.GetTotal() != 1 {
				t.Fatalf("list for %s: %v %v", ref, runs, err)
			}
		}
		st, _, err := gh.Repositories.CreateStatus(ctx, o, r, featureSHA, &github.RepoStatus{State: github.String("success"), Context: github.String("ci"), Description: github.String("ok")})
		if err != nil || st.GetCreator().GetLogin() != "rdsbot[bot]" {
			t.Fatalf("status: %v %v", st, err)
		}
		_, _, err = gh.Repositories.CreateStatus(ctx, o, r, featureSHA, &github.RepoStatus{State: github.String("great")})
		wantErr(t, err, 422, "state")
		if sts, _, err := gh.Repositories.ListStatuses(ctx, o, r, "rds/dev/orders", nil); err != nil || len(sts) != 1 {
			t.Fatalf("statuses: %v %v", sts, err)
		}
		comb, _, err := gh.Repositories.GetCombinedStatus(ctx, o, r, featureSHA, nil)
		if err != nil || comb.GetState() != "success" || comb.GetTotalCount() != 1 {
			t.Fatalf("combined: %v %v", comb, err)
		}
	})

	t.Run("teams", func(t *testing.T) {
		m, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, o, "dba", "dana")
		if err != nil || m.GetRole() != "member" || m.GetState() != "active" {
			t.Fatalf("membership: %v %v", m, err)
		}
		_, _, err = gh.Teams.GetTeamMembershipBySlug(ctx, o, "dba", "alice")
		wantErr(t, err, 404, "Not Found")
		_, _, err = gh.Teams.GetTeamMembershipBySlug(ctx, o, "nope", "dana")
		wantErr(t, err, 404, "Not Found")
		members, _, err := gh.Teams.ListTeamMembersBySlug(ctx, o, "dba", nil)
		if err != nil || len(members) != 2 || members[0].GetLogin() != "dana" {
			t.Fatalf("members: %v %v", members, err)
		}
		if team, _, err := gh.Teams.GetTeamBySlug(ctx, o, "platform"); err != nil || team.GetSlug() != "platform" {
			t.Fatalf("team: %v %v", team, err)
		}
		_, _, err = h.as("outsider").Teams.GetTeamBySlug(ctx, o, "platform")
		wantErr(t, err, 404, "Not Found")
	})

	t.Run("merge", func(t *testing.T) {
		// Two more branches from the old main: one conflicts with the PR, one does not.
		pat := f.As("pat")
		if _, err := pat.Push(repoName, "conflict", Change{Files: map[string]string{"envs/dev-rds/terraform.tfvars": "application_databases = { other = {} }\n"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := pat.Push(repoName, "docs", Change{Files: map[string]string{"docs/x.md": "x\n"}}); err != nil {
			t.Fatal(err)
		}
		conflictPR, _ := pat.OpenPR(repoName, "conflict", "main", "conflicting", "")
		docsPR, _ := pat.OpenPR(repoName, "docs", "main", "docs", "")
		if err := f.SetRequiredChecks(repoName, "main", "rdsbot/approval"); err != nil {
			t.Fatal(err)
		}
		_, _, err := gh.PullRequests.Merge(ctx, o, r, docsPR, "", nil)
		wantErr(t, err, 405, `Required status check "rdsbot/approval" is expected.`)
		if pr, _, _ := gh.PullRequests.Get(ctx, o, r, docsPR); pr.GetMergeableState() != "blocked" {
			t.Fatalf("docs PR state %q, want blocked", pr.GetMergeableState())
		}
		_, _, err = gh.PullRequests.Merge(ctx, o, r, prNumber, "", &github.PullRequestOptions{SHA: mainSHA})
		wantErr(t, err, 409, "Head branch was modified")
		res, _, err := gh.PullRequests.Merge(ctx, o, r, prNumber, "", &github.PullRequestOptions{SHA: featureSHA, MergeMethod: "merge"})
		if err != nil || !res.GetMerged() {
			t.Fatalf("merge: %v %v", res, err)
		}
		merged, _, err := gh.PullRequests.Get(ctx, o, r, prNumber)
		if err != nil || !merged.GetMerged() || merged.GetMergeCommitSHA() != res.GetSHA() || merged.GetState() != "closed" || merged.GetMergedBy().GetLogin() != "rdsbot[bot]" {
			t.Fatalf("merged PR: %+v", merged)
		}
		mc, _, _ := gh.Git.GetCommit(ctx, o, r, res.GetSHA())
		if len(mc.Parents) != 2 || mc.Parents[0].GetSHA() != mainSHA || mc.Parents[1].GetSHA() != featureSHA {
			t.Fatalf("merge commit parents: %v", mc.Parents)
		}
		if f.BranchSHA(repoName, "main") != res.GetSHA() {
			t.Fatal("main did not move to the merge commit")
		}
		if yes, _, _ := gh.PullRequests.IsMerged(ctx, o, r, prNumber); !yes {
			t.Fatal("IsMerged")
		}
		_, _, err = gh.PullRequests.Merge(ctx, o, r, prNumber, "", nil)
		wantErr(t, err, 405, "Pull Request is not mergeable")
		// The base moved with a conflicting change to the same file.
		cp, _, _ := gh.PullRequests.Get(ctx, o, r, conflictPR)
		if cp.GetMergeable() || cp.GetMergeableState() != "dirty" {
			t.Fatalf("conflict PR: mergeable=%v state=%s", cp.GetMergeable(), cp.GetMergeableState())
		}
		_, _, err = gh.PullRequests.Merge(ctx, o, r, conflictPR, "", nil)
		wantErr(t, err, 405, "Pull Request is not mergeable")
		// The base moved without conflict: squash-merge still works once the check passed.
		docsHead := f.BranchSHA(repoName, "docs")
		if _, _, err := gh.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "rdsbot/approval", HeadSHA: docsHead, Conclusion: github.String("success")}); err != nil {
			t.Fatal(err)
		}
		sq, _, err := gh.PullRequests.Merge(ctx, o, r, docsPR, "", &github.PullRequestOptions{MergeMethod: "squash"})
		if err != nil {
			t.Fatal(err)
		}
		sc, _, _ := gh.Git.GetCommit(ctx, o, r, sq.GetSHA())
		if len(sc.Parents) != 1 || sc.Parents[0].GetSHA() != res.GetSHA() || !strings.HasPrefix(sc.GetMessage(), "docs (#") {
			t.Fatalf("squash commit: %v", sc)
		}
		for _, p := range []string{"docs/x.md", "envs/new/nested/a.tfvars"} {
			if _, err := f.File(repoName, "main", p); err != nil {
				t.Fatalf("%s after both merges: %v", p, err)
			}
		}
		// Pull requests of a commit: on main, the merged ones that brought it
		// (its squash commit); elsewhere, the open ones that contain it (a
		// squashed pull request's own commit: none). (#prNumber's label has no description, which
		// GitHub sends as null and its OpenAPI description calls a string:
		// the bot tests cover merge commits.)
		for _, c := range []struct {
			sha  string
			want []int
		}{
			{docsHead, nil},
			{sq.GetSHA(), []int{docsPR}},
			{mainSHA, nil},
			{f.BranchSHA(repoName, "conflict"), []int{conflictPR}},
		} {
			prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, o, r, c.sha, nil)
			var got []int
			for _, pr := range prs {
				got = append(got, pr.GetNumber())
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("pull requests of %.7s: %v %v, want %v", c.sha, got, err, c.want)
			}
		}
		_, _, err = gh.PullRequests.ListPullRequestsWithCommit(ctx, o, r, "0000000000000000000000000000000000000000", nil)
		wantErr(t, err, 422, "No commit found")
		_, _, err = gh.PullRequests.Merge(ctx, o, r, conflictPR, "", &github.PullRequestOptions{MergeMethod: "rebase"})
		wantErr(t, err, 405, "Pull Request is not mergeable")
		if _, _, err := gh.PullRequests.Edit(ctx, o, r, conflictPR, &github.PullRequest{State: github.String("closed")}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("actions", func(t *testing.T) {
		wfs, _, err := gh.Actions.ListWorkflows(ctx, o, r, nil)
		if err != nil || wfs.GetTotalCount() != 2 {
			t.Fatalf("workflows: %v %v", wfs, err)
		}
		wf, _, err := gh.Actions.GetWorkflowByFileName(ctx, o, r, "create-rds-database.yml")
		if err != nil || wf.GetName() != "Create RDS Database" {
			t.Fatalf("workflow: %v %v", wf, err)
		}
		if byID, _, err := gh.Actions.GetWorkflowByID(ctx, o, r, wf.GetID()); err != nil || byID.GetPath() != wf.GetPath() {
			t.Fatalf("workflow by id: %v %v", byID, err)
		}
		dispatch := func(file, ref string, inputs map[string]any) error {
			_, err := alice.Actions.CreateWorkflowDispatchEventByFileName(ctx, o, r, file, github.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: inputs})
			return err
		}
		if err := dispatch("create-rds-database.yml", "main", map[string]any{"database_name": "orders", "environment": "dev"}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, dispatch("create-rds-database.yml", "main", map[string]any{"environment": "dev"}), 422, "Required input 'database_name' not provided")
		wantErr(t, dispatch("create-rds-database.yml", "main", map[string]any{"database_name": "x", "environment": "dev", "size": "xl"}), 422, `Unexpected inputs provided: ["size"]`)
		wantErr(t, dispatch("create-rds-database.yml", "main", map[string]any{"database_name": "x", "environment": "qa"}), 422, "not in the list of allowed values")
		wantErr(t, dispatch("ci.yml", "main", nil), 422, "Workflow does not have 'workflow_dispatch' trigger")
		wantErr(t, dispatch("nope.yml", "main", nil), 404, "Not Found")
		wantErr(t, dispatch("create-rds-database.yml", "no-such-branch", nil), 422, "No ref found for: no-such-branch")
		if _, err := f.As("pat").Push(repoName, "no-workflow", Change{Delete: []string{".github/workflows/create-rds-database.yml"}}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, dispatch("create-rds-database.yml", "no-workflow", map[string]any{"database_name": "x", "environment": "dev"}), 422, "Workflow does not exist at ref")
		// Newer GitHub: return_run_details answers 200 with the run.
		req, _ := alice.NewRequest("POST", "repos/acme/infra/actions/workflows/create-rds-database.yml/dispatches",
			map[string]any{"ref": "main", "inputs": map[string]any{"database_name": "billing", "environment": "prod"}, "return_run_details": true})
		var details struct {
			ID      int64  `json:"workflow_run_id"`
			RunURL  string `json:"run_url"`
			HTMLURL string `json:"html_url"`
		}
		if _, err := alice.Do(ctx, req, &details); err != nil || details.ID == 0 || !strings.HasSuffix(details.RunURL, "/actions/runs/"+strconv.FormatInt(details.ID, 10)) {
			t.Fatalf("return_run_details: %+v %v", details, err)
		}
		runs, _, err := gh.Actions.ListWorkflowRunsByFileName(ctx, o, r, "create-rds-database.yml", nil)
		if err != nil || runs.GetTotalCount() != 2 || runs.WorkflowRuns[0].GetID() != details.ID || runs.WorkflowRuns[0].GetEvent() != "workflow_dispatch" {
			t.Fatalf("runs: %v %v", runs, err)
		}
		if err := f.StartRun(repoName, details.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.CompleteRun(repoName, details.ID, "failure"); err != nil {
			t.Fatal(err)
		}
		run, _, err := gh.Actions.GetWorkflowRunByID(ctx, o, r, details.ID)
		if err != nil || run.GetStatus() != "completed" || run.GetConclusion() != "failure" || run.GetActor().GetLogin() != "alice" {
			t.Fatalf("run: %v %v", run, err)
		}
		// Re-runs keep the run id and count attempts (rerun_test.go has more).
		if _, err := alice.Actions.RerunFailedJobsByID(ctx, o, r, details.ID); err != nil {
			t.Fatal(err)
		}
		_, err = alice.Actions.RerunWorkflowByID(ctx, o, r, details.ID)
		wantErr(t, err, 403, "already running")
		if err := f.CompleteRun(repoName, details.ID, "success"); err != nil {
			t.Fatal(err)
		}
		_, err = alice.Actions.RerunFailedJobsByID(ctx, o, r, details.ID)
		wantErr(t, err, 403, "cannot be retried")
		if _, err := alice.Actions.RerunWorkflowByID(ctx, o, r, details.ID); err != nil {
			t.Fatal(err)
		}
		if run, _, err := gh.Actions.GetWorkflowRunByID(ctx, o, r, details.ID); err != nil || run.GetRunAttempt() != 3 || run.GetStatus() != "queued" {
			t.Fatalf("re-run: %v %v", run, err)
		}
		if _, _, err := gh.Repositories.Dispatch(ctx, o, r, github.DispatchRequestOptions{EventType: "rds-request", ClientPayload: rawJSON(`{"database_name":"orders"}`)}); err != nil {
			t.Fatal(err)
		}
		_, _, err = gh.Repositories.Dispatch(ctx, o, r, github.DispatchRequestOptions{})
		wantErr(t, err, 422, "missing_field")
		all, _, err := gh.Actions.ListRepositoryWorkflowRuns(ctx, o, r, &github.ListWorkflowRunsOptions{Event: "repository_dispatch"})
		if err != nil || all.GetTotalCount() != 1 || all.WorkflowRuns[0].GetName() != "CI" {
			t.Fatalf("repository_dispatch runs: %v %v", all, err)
		}
	})

	t.Run("approval gate", func(t *testing.T) { gateEndpoints(t, h) })

	t.Run("webhooks", func(t *testing.T) {
		h.quiesce()
		got := h.hooks.events(0)
		for _, want := range []string{"push", "pull_request.opened", "pull_request.edited", "pull_request.labeled", "pull_request.unlabeled",
			"issues.opened", "issues.edited", "issues.labeled", "issues.unlabeled", "issues.closed", "issue_comment.created", "issue_comment.edited",
			"pull_request_review.submitted", "pull_request_review.dismissed", "check_run.created", "check_run.completed",
			"pull_request.closed", "workflow_dispatch", "workflow_run.requested", "workflow_run.in_progress", "workflow_run.completed",
			"repository_dispatch.rds-request", "status", "merge_group.checks_requested", "merge_group.destroyed",
			"membership.added", "membership.removed", "organization.member_invited", "organization.member_added",
			"organization.member_removed", "team.created", "team.edited", "pull_request.review_requested",
			"pull_request.ready_for_review", "pull_request.converted_to_draft", "pull_request.enqueued",
			"pull_request.dequeued", "pull_request_review.edited"} {
			if !slices.Contains(got, want) {
				t.Errorf("no %s webhook received; got %v", want, got)
			}
		}
		if h.hooks.rejected != 0 {
			t.Fatalf("%d deliveries failed signature verification", h.hooks.rejected)
		}
		var push struct {
			Ref     string `json:"ref"`
			Before  string `json:"before"`
			Created bool   `json:"created"`
			Commits []struct {
				ID string `json:"id"`
			} `json:"commits"`
		}
		for _, d := range h.hooks.all() {
			if d.Event == "push" {
				_ = json.Unmarshal(d.Body, &push)
				break
			}
		}
		if push.Ref != "refs/heads/rds/dev/orders" || !push.Created || push.Before != zeroSHA || len(push.Commits) != 1 || push.Commits[0].ID != featureSHA {
			t.Fatalf("first push: %+v", push)
		}
		// The delivery log through the App API, with cursor paging and redelivery.
		ds, resp, err := h.jwt.Apps.ListHookDeliveries(ctx, &github.ListCursorOptions{PerPage: 5})
		if err != nil || len(ds) != 5 || resp.Cursor == "" {
			t.Fatalf("deliveries: %v %v", ds, err)
		}
		if more, _, err := h.jwt.Apps.ListHookDeliveries(ctx, &github.ListCursorOptions{PerPage: 5, Cursor: resp.Cursor}); err != nil || len(more) != 5 || more[0].GetID() >= ds[4].GetID() {
			t.Fatalf("next page: %v %v", more, err)
		}
		d, _, err := h.jwt.Apps.GetHookDelivery(ctx, ds[0].GetID())
		if err != nil || d.GetStatusCode() != 200 || d.Request.Headers["X-Github-Event"] != d.GetEvent() {
			t.Fatalf("delivery: %v %v", d, err)
		}
		n := len(h.hooks.all())
		_, _, err = h.jwt.Apps.RedeliverHookDelivery(ctx, ds[0].GetID())
		var accepted *github.AcceptedError
		if !errors.As(err, &accepted) {
			t.Fatalf("redeliver: want 202, got %v", err)
		}
		h.quiesce()
		if all := h.hooks.all(); len(all) != n+1 || all[n].GUID != d.GetGUID() {
			t.Fatalf("redelivery not received with the same GUID")
		}
		// A dropped delivery is logged as not delivered and can be redelivered.
		f.DropWebhooks(1, "issue_comment")
		if _, err := f.As("alice").Comment(repoName, issueNumber, "dropped?"); err != nil {
			t.Fatal(err)
		}
		h.quiesce()
		if len(h.hooks.all()) != n+1 {
			t.Fatal("a dropped delivery reached the receiver")
		}
		log := f.Deliveries()
		last := log[len(log)-1]
		if last.Delivered || last.Event != "issue_comment" || last.Status != "dropped by fault injection" {
			t.Fatalf("dropped delivery: %+v", last)
		}
		if err := f.Redeliver(last.ID); err != nil {
			t.Fatal(err)
		}
		h.quiesce()
		if all := h.hooks.all(); len(all) != n+2 || all[n+1].Event != "issue_comment" {
			t.Fatal("redelivered drop not received")
		}
		// A wrong secret is refused by the receiver and logged as a failed delivery.
		f.SetWebhookSecret("wrong")
		_, _ = f.As("alice").Comment(repoName, issueNumber, "bad signature")
		h.quiesce()
		log = f.Deliveries()
		if last := log[len(log)-1]; last.Delivered || last.StatusCode != 401 || h.hooks.rejected != 1 {
			t.Fatalf("mis-signed delivery: %+v", last)
		}
		f.SetWebhookSecret(testSecret)
	})

	t.Run("contents writes", func(t *testing.T) { contentsWrites(t, h, mainSHA) })

	t.Run("schemas", func(t *testing.T) {
		checkConformance(t, h)
	})

	t.Run("every route exercised", func(t *testing.T) {
		calls := f.Calls()
		for _, key := range f.Routes() {
			if calls[key] == 0 {
				t.Errorf("route not exercised: %s", key)
			}
		}
	})
}

func rawJSON(s string) *json.RawMessage {
	m := json.RawMessage(s)
	return &m
}

// contentsWrites drives PUT contents: an update by blob sha (a
// compare-and-swap), a stale or missing sha, a new file, an unknown branch
// and a push that branch protection refuses.
func contentsWrites(t *testing.T, h *harness, base string) {
	ctx, gh, f := h.ctx, h.gh, h.f
	const o, r, branch = "acme", "infra", "status"
	if _, _, err := gh.Git.CreateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(base)}}); err != nil {
		t.Fatal(err)
	}
	blob := objectID(objBlob, []byte(seedFiles["README.md"]))
	put := func(p, sha, b string) (*github.RepositoryContentResponse, error) {
		opts := &github.RepositoryContentFileOptions{Message: github.String("status [skip ci]"), Content: []byte("# infra, v2\n"), Branch: github.String(b)}
		if sha != "" {
			opts.SHA = github.String(sha)
		}
		res, _, err := gh.Repositories.UpdateFile(ctx, o, r, p, opts)
		return res, err
	}
	res, err := put("README.md", blob, branch)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.BranchSHA(repoName, branch); got != res.Commit.GetSHA() || len(res.Commit.Parents) != 1 || res.Commit.Parents[0].GetSHA() != base {
		t.Fatalf("branch at %s, commit %v", got, res.Commit)
	}
	if b, _ := f.File(repoName, branch, "README.md"); string(b) != "# infra, v2\n" || res.Content.GetSHA() != objectID(objBlob, b) {
		t.Fatalf("file %q, content sha %s", b, res.Content.GetSHA())
	}
	_, err = put("README.md", blob, branch)
	wantErr(t, err, 409, "README.md does not match "+blob)
	_, err = put("README.md", "", branch)
	wantErr(t, err, 422, `"sha" wasn't supplied`)
	if res, err := put("docs/new.md", "", branch); err != nil || res.Content.GetPath() != "docs/new.md" {
		t.Fatalf("new file: %v %v", res, err)
	}
	_, err = put("README.md", blob, "nope")
	wantErr(t, err, 404, "Branch nope not found")
	if err := f.ProtectBranch(repoName, branch, Protection{RequiredApprovals: 1}); err != nil {
		t.Fatal(err)
	}
	defer f.UnprotectBranch(repoName, branch)
	head := f.BranchSHA(repoName, branch)
	_, err = put("README.md", objectID(objBlob, []byte("# infra, v2\n")), branch)
	wantErr(t, err, 409, "Changes must be made through a pull request")
	if f.BranchSHA(repoName, branch) != head {
		t.Fatal("a refused write moved the branch")
	}
}
