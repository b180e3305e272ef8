package sandbox

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/repocheck"
)

// repoAt reads the whole repository at a ref of the fake.
func repoAt(t *testing.T, s *Sandbox, ref string) fstest.MapFS {
	t.Helper()
	files, err := s.Fake.Files(s.Repo, ref)
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, p := range files {
		b, err := s.Fake.File(s.Repo, ref, p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = &fstest.MapFile{Data: b}
	}
	return out
}

func validate(t *testing.T, repo fs.FS) []repocheck.Finding {
	t.Helper()
	p, err := gitops.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	return repocheck.Check(repo, p.Config, p.Schema)
}

// TestContractModeEndToEnd runs the contract-mode example repository over
// githubfake: a Backstage dispatch for a prod/large database gives one pull
// request holding the request contract, its generated files (with the prod
// defaults the ten inputs cannot express) and the catalog entry, and no
// tfvars change; replays write nothing; the branch validates; a hand edit
// of the generated JSON fails validation naming both files; after the
// merge, a second request in the same environment is re-planned and merges
// too.
func TestContractModeEndToEnd(t *testing.T) {
	s := start(t, Options{Content: rdsbot.ContractExample()})
	in := backstageInputs("payments", "prod")
	in["size"] = "large"
	if _, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", in); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	prs := requestPulls(s)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests, want 1", len(prs))
	}
	pr := prs[0]
	if pr.Head != "rds/prod/payments" {
		t.Errorf("branch %s", pr.Head)
	}
	is := s.Fake.Issues(s.Repo)
	id := ""
	for _, i := range is {
		if !i.IsPR {
			id = contract.RequestID(i.Number)
		}
	}
	contractPath := "docs/20-contracts/rds-requests/prod/" + id + ".yaml"
	genPath := "envs/prod-rds/generated/" + id + ".auto.tfvars.json"
	want := []string{contractPath, genPath, "gitops/kustomize/overlays/prod/apps/payments/externalsecrets/" + id + ".yaml", "rds-catalog/prod.yaml"}
	if got := prFiles(s, pr); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("pull request files %v, want %v", got, want)
	}
	gen, _ := s.Fake.File(s.Repo, pr.Head, genPath)
	for _, w := range []string{`"backup_retention_period": 35`, `"multi_az": true`, `"instance_class": "db.t3.medium"`} {
		if !strings.Contains(string(gen), w) {
			t.Errorf("generated JSON lacks %s:\n%s", w, gen)
		}
	}
	ct, _ := s.Fake.File(s.Repo, pr.Head, contractPath)
	if !strings.Contains(string(ct), "status: pending") || !strings.Contains(string(ct), "requester: "+Requester) {
		t.Errorf("contract:\n%s", ct)
	}
	if !strings.Contains(pr.Issue.Body, "| Backup retention | 35 days |") || !strings.Contains(pr.Issue.Body, "| Multi-AZ | yes |") {
		t.Errorf("pull request body does not show the prod defaults:\n%s", pr.Issue.Body)
	}

	// Replays of the dispatch change nothing.
	before := snapshot(t, s, pr.Number)
	writes := s.Server.App().Metrics().Snapshot().Writes
	d := findDelivery(t, s, "workflow_dispatch", "")
	for range 3 {
		if err := s.Fake.Redeliver(d.ID); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s)
	if after := snapshot(t, s, pr.Number); after != before {
		t.Errorf("replays changed the state:\n before %+v\n after  %+v", before, after)
	}
	if w := s.Server.App().Metrics().Snapshot().Writes - writes; w != 0 {
		t.Errorf("replays made %d writes", w)
	}

	// The branch is a consistent repository; a hand edit of the generated
	// JSON is caught, naming the generated file and its contract.
	branch := repoAt(t, s, pr.Head)
	if f := validate(t, branch); len(f) > 0 {
		t.Errorf("the pull request branch does not validate: %v", f)
	}
	branch[genPath] = &fstest.MapFile{Data: []byte(strings.Replace(string(gen), `"backup_retention_period": 35`, `"backup_retention_period": 7`, 1))}
	f := validate(t, branch)
	if len(f) != 1 || f[0].File != genPath || !strings.Contains(f[0].Message, "does not match its contract "+contractPath) ||
		!strings.Contains(f[0].Message, "backup_retention_period is 7, the contract gives 35") {
		t.Errorf("a hand edit of the generated JSON: %v", f)
	}

	// A second request in prod while the first is open; merging the first
	// moves main's catalog, and the second is re-planned onto it.
	second := backstageInputs("ledger", "prod")
	if _, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", second); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	heads := map[string]int{}
	for _, p := range requestPulls(s) {
		heads[p.Head] = p.Number
	}
	if _, err := s.Fake.As(Platform).Merge(s.Repo, heads["rds/prod/payments"], "merge"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pr2, _ := s.Fake.PullRequest(s.Repo, heads["rds/prod/ledger"])
	if !pr2.Mergeable {
		t.Fatalf("second pull request not mergeable after the first merged (%s)", pr2.MergeableState)
	}
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr2.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	main := repoAt(t, s, "main")
	if f := validate(t, main); len(f) > 0 {
		t.Errorf("main after both merges does not validate: %v", f)
	}
	tfvars, _ := fs.ReadFile(main, "envs/prod-rds/terraform.tfvars")
	orig, _ := fs.ReadFile(rdsbot.ContractExample(), "envs/prod-rds/terraform.tfvars")
	if string(tfvars) != string(orig) {
		t.Error("the contract mode edited the tfvars")
	}
	catalog, _ := fs.ReadFile(main, "rds-catalog/prod.yaml")
	if !strings.Contains(string(catalog), "payments:") || !strings.Contains(string(catalog), "ledger:") {
		t.Errorf("catalog on main:\n%s", catalog)
	}
}
