package githubfake

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// TestActorScenario drives a request the way the bot's tests will: users act
// through the test API, state is inspected through it, events are recorded.
func TestActorScenario(t *testing.T) {
	f := New(Options{})
	t.Cleanup(func() { _ = f.Close() })
	f.AddTeam("acme", "dba", "dana")
	if _, err := f.AddRepo(repoName, seedFiles); err != nil {
		t.Fatal(err)
	}
	alice, dana, pat := f.As("alice"), f.As("dana"), f.As("pat")

	n, err := alice.OpenIssueForm(repoName, ".github/ISSUE_TEMPLATE/rds-request.yml", "orders", map[string]string{
		"databaseName": "orders", "ack": "I am on call",
	})
	if err != nil {
		t.Fatal(err)
	}
	is, _ := f.Issue(repoName, n)
	wantBody := "### Database name\n\norders\n\n### Environment\n\ndev\n\n### Acknowledgements\n\n- [ ] I read the docs\n- [X] I am on call"
	if is.Title != "RDS request: orders" || is.Body != wantBody || len(is.Labels) != 1 || is.Labels[0].Name != "rds-request" || is.Labels[0].AddedBy != "alice" {
		t.Fatalf("issue form: %q %q %v", is.Title, is.Body, is.Labels)
	}

	first, err := pat.Push(repoName, "rds/dev/orders", Change{Message: "Add orders", Files: map[string]string{"envs/dev-rds/terraform.tfvars": "application_databases = { orders = {} }\n"}})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := pat.OpenPR(repoName, "rds/dev/orders", "main", "RDS: orders", "Closes #1")
	if err != nil || pr != n+1 {
		t.Fatalf("PR number %d (%v), want %d", pr, err, n+1)
	}
	rid, err := dana.Review(repoName, pr, "APPROVE", "")
	if err != nil {
		t.Fatal(err)
	}
	second, _ := pat.Push(repoName, "rds/dev/orders", Change{Message: "Tweak", Files: map[string]string{"envs/dev-rds/terraform.tfvars": "application_databases = { orders = { size = \"small\" } }\n"}})
	reviews := f.Reviews(repoName, pr)
	info, _ := f.PullRequest(repoName, pr)
	if len(reviews) != 1 || reviews[0].ID != rid || reviews[0].CommitID != first || info.HeadSHA != second {
		t.Fatalf("an approval records the head it saw: %+v head %s", reviews, info.HeadSHA)
	}
	if err := pat.AddLabels(repoName, pr, "platform-approval"); err != nil {
		t.Fatal(err)
	}
	if err := f.As("rdsbot[bot]").RemoveLabel(repoName, pr, "platform-approval"); err != nil {
		t.Fatal(err)
	}
	if _, err := pat.Review(repoName, pr, "APPROVE", ""); err == nil || !strings.Contains(err.Error(), "Can not approve your own pull request") {
		t.Fatalf("self-approval: %v", err)
	}
	mergeSHA, err := dana.Merge(repoName, pr, "squash")
	if err != nil {
		t.Fatal(err)
	}
	content, _ := f.File(repoName, "main", "envs/dev-rds/terraform.tfvars")
	commits, _ := f.Commits(repoName, "main")
	if !strings.Contains(string(content), "small") || commits[0].SHA != mergeSHA || len(commits[0].Parents) != 1 || commits[0].Message != "RDS: orders (#2)\n\n* Add orders\n\n* Tweak" {
		t.Fatalf("after squash: %q %+v", content, commits[0])
	}
	if info, _ := f.PullRequest(repoName, pr); !info.Merged || info.MergedBy != "dana" || info.Issue.State != "closed" {
		t.Fatalf("merged PR: %+v", info)
	}
	if is, _ := f.Issue(repoName, n); is.State != "closed" || is.StateReason != "completed" || is.ClosedBy != "dana" {
		t.Fatalf("'Closes #1' did not close the request issue on merge: %+v", is)
	}

	run, err := alice.DispatchWorkflow(repoName, "create-rds-database.yml", "main", map[string]any{"database_name": "orders", "environment": "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.DispatchWorkflow(repoName, "create-rds-database.yml", "main", map[string]any{"environment": "dev", "x": "1"}); err == nil ||
		!strings.Contains(err.Error(), `Unexpected inputs provided: ["x"]`) {
		t.Fatalf("undeclared input: %v", err)
	}
	if err := f.CompleteRun(repoName, run, "success"); err != nil {
		t.Fatal(err)
	}
	if err := f.CompleteRun(repoName, run, "success"); err == nil {
		t.Fatal("completing twice must fail")
	}
	runs := f.WorkflowRuns(repoName)
	if len(runs) != 1 || runs[0].Conclusion != "success" || runs[0].Inputs["dry_run"] != "false" || runs[0].Actor != "alice" {
		t.Fatalf("runs: %+v", runs)
	}
	if err := alice.RepositoryDispatch(repoName, "rds-request", map[string]any{"database_name": "orders"}); err != nil {
		t.Fatal(err)
	}

	var names []string
	for _, ev := range f.Events() {
		name := ev.Name
		if ev.Action != "" {
			name += "." + ev.Action
		}
		names = append(names, name)
	}
	want := []string{
		"issues.opened", "push", "pull_request.opened", "pull_request_review.submitted", "push", "pull_request.synchronize",
		"pull_request.labeled", "pull_request.unlabeled", "push", "pull_request.closed", "issues.closed",
		"workflow_dispatch", "workflow_run.requested", "workflow_run.completed",
		"repository_dispatch.rds-request", "workflow_run.requested",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("events:\n got %v\nwant %v", names, want)
	}
	if f.TotalCalls() != 0 {
		t.Fatalf("the test API made %d HTTP calls", f.TotalCalls())
	}
}

func TestIssueFormReportsEveryProblem(t *testing.T) {
	f := New(Options{})
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.AddRepo(repoName, seedFiles); err != nil {
		t.Fatal(err)
	}
	_, err := f.As("alice").OpenIssueForm(repoName, ".github/ISSUE_TEMPLATE/rds-request.yml", "x", map[string]string{"environment": "qa", "size": "xl"})
	for _, want := range []string{"Database name: required", `Environment: "qa" is not one of dev, test, prod`, "size: not a field of this form"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if len(f.Issues(repoName)) != 0 {
		t.Fatal("a rejected form must not open an issue")
	}
	if body := IssueFormBody([]FormField{{Label: "A", Value: ""}, {Label: "B", Value: " b "}}); body != "### A\n\n_No response_\n\n### B\n\nb" {
		t.Fatalf("body %q", body)
	}
}

func TestConcurrentRequestsGetUniqueNumbers(t *testing.T) {
	h := newHarness(t, Options{SecondaryLimits: []Window{{Max: 1000, Per: time.Minute}}})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 5 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			login := fmt.Sprintf("user%d", w)
			h.f.AddOrg("acme", login)
			c := h.as(login)
			for i := range 8 {
				if _, _, err := c.Issues.Create(h.ctx, "acme", "infra", &github.IssueRequest{Title: github.String(fmt.Sprint("http ", w, i))}); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 8 {
				if _, err := h.f.As(fmt.Sprintf("api%d", w)).OpenIssue(repoName, fmt.Sprint("api ", w, i), ""); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var numbers []int
	for _, is := range h.f.Issues(repoName) {
		numbers = append(numbers, is.Number)
	}
	if len(numbers) != 80 || numbers[0] != 1 || numbers[79] != 80 {
		t.Fatalf("numbers: %v", numbers)
	}
	h.quiesce()
	if got := len(h.hooks.all()); got != 80 {
		t.Fatalf("webhooks: %d, want 80", got)
	}
}

func TestPaginationLinks(t *testing.T) {
	h := newHarness(t, Options{})
	for i := range 25 {
		if _, err := h.f.As("alice").OpenIssue(repoName, fmt.Sprint("issue ", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	opts := &github.IssueListByRepoOptions{ListOptions: github.ListOptions{PerPage: 10}}
	seen := 0
	pages := 0
	for {
		list, resp, err := h.gh.Issues.ListByRepo(h.ctx, "acme", "infra", opts)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(list)
		pages++
		if resp.NextPage == 0 {
			if resp.LastPage != 0 || resp.PrevPage != 2 {
				t.Fatalf("last page links: %+v", resp)
			}
			break
		}
		opts.Page = resp.NextPage
	}
	if seen != 25 || pages != 3 {
		t.Fatalf("seen %d on %d pages", seen, pages)
	}
}

func TestServingModes(t *testing.T) {
	t.Run("ListenAndServe", func(t *testing.T) {
		f := New(Options{})
		done := make(chan error, 1)
		go func() { done <- f.ListenAndServe("127.0.0.1:0") }()
		deadline := time.Now().Add(5 * time.Second)
		for f.URL() == "http://github.fake" && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		resp, err := http.Get(f.URL() + "/api/v3/no/such/route")
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown route: %v %v", resp, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("ListenAndServe returned %v", err)
		}
	})
	t.Run("root without /api/v3", func(t *testing.T) {
		h := newHarness(t, Options{})
		c := github.NewClient(&http.Client{Transport: &tokenTransport{h.f.UserToken("alice"), http.DefaultTransport}})
		c.BaseURL, _ = c.BaseURL.Parse(h.url + "/")
		repo, _, err := c.Repositories.Get(h.ctx, "acme", "infra")
		if err != nil || repo.GetName() != "infra" || !strings.HasPrefix(repo.GetURL(), h.url+"/api/v3/") || repo.GetHTMLURL() != h.url+"/acme/infra" {
			t.Fatalf("repo via root: %v %v", repo, err)
		}
	})
}

func TestCallCounting(t *testing.T) {
	h := newHarness(t, Options{})
	h.f.ResetCalls()
	for range 2 {
		if _, _, err := h.gh.Git.GetRef(h.ctx, "acme", "infra", "heads/main"); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := h.gh.Git.CreateRef(h.ctx, "acme", "infra", &github.Reference{Ref: github.String("refs/heads/main"), Object: &github.GitObject{SHA: github.String(h.f.BranchSHA(repoName, "main"))}})
	wantErr(t, err, 422, "Reference already exists")
	calls := h.f.Calls()
	if calls["GET /repos/{owner}/{repo}/git/ref/{ref}"] != 2 || h.f.CallsByStatus()["POST /repos/{owner}/{repo}/git/refs"][422] != 1 {
		t.Fatalf("calls: %v", h.f.CallsByStatus())
	}
	// ghinstallation's token request is counted too.
	if calls["POST /app/installations/{installation_id}/access_tokens"] != 1 || h.f.TotalCalls() != 4 {
		t.Fatalf("total %d: %v", h.f.TotalCalls(), calls)
	}
}

func TestRepoFromDirKeepsExecutableBit(t *testing.T) {
	dir := t.TempDir()
	for p, mode := range map[string]os.FileMode{"bin/run.sh": 0o755, "envs/dev/terraform.tfvars": 0o644, ".git/HEAD": 0o644} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p+"\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	f := New(Options{})
	t.Cleanup(func() { _ = f.Close() })
	sha, err := f.AddRepoFromDir("acme/fromdir", dir)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := f.Files("acme/fromdir", "main")
	if !slices.Equal(files, []string{"bin/run.sh", "envs/dev/terraform.tfvars"}) || f.BranchSHA("acme/fromdir", "main") != sha {
		t.Fatalf("files %v", files)
	}
	f.mu.Lock()
	mode := f.commitFiles(f.repos["acme/fromdir"], sha)["bin/run.sh"].Mode
	f.mu.Unlock()
	if mode != modeExec {
		t.Fatalf("mode %s, want 100755", mode)
	}
	if commits, _ := f.Commits("acme/fromdir", "main"); len(commits) != 1 {
		t.Fatalf("want one initial commit, got %d", len(commits))
	}
	if _, err := f.AddRepoFromDir("acme/fromdir", dir); err == nil {
		t.Fatal("a second repository with the same name must fail")
	}
	if bot := f.AddBot("dependabot[bot]"); bot.Type != "Bot" {
		t.Fatalf("bot type %s", bot.Type)
	}
	if _, err := f.RegisterApp(77, "fixed", "acme", &testKey(t).PublicKey); err != nil {
		t.Fatal(err)
	}
	if _, err := f.RegisterApp(77, "other", "acme", &testKey(t).PublicKey); err == nil {
		t.Fatal("duplicate app id accepted")
	}
}

func testKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, _, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
