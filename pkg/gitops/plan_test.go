package gitops_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/diff"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/internal/golden"
	"github.com/rdsbot/rdsbot/pkg/repocheck"
)

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func planner(t testing.TB, repo fs.FS) *gitops.Planner {
	t.Helper()
	p, err := gitops.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func request(t testing.TB, p *gitops.Planner, fields map[string]string) *contract.Request {
	t.Helper()
	base := map[string]string{
		"databaseName": "orders_service", "username": "orders_app", "owner": "app-team",
		"domain": "delivery", "risk": "medium", "size": "small", "requester": "jane-doe",
		"backupRetentionDays": "14", "multiAz": "true",
	}
	for k, v := range fields {
		base[k] = v
	}
	req, probs := contract.Validate(p.Schema, contract.FromFlags(base))
	if err := probs.Err(); err != nil {
		t.Fatal(err)
	}
	return req.WithID("RDS-0042")
}

// render is a plan as a reviewer sees it: metadata, diffs and body.
func render(p *gitops.Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "branch: %s\nbase: %s\ntitle: %s\nlabels: %s\ncoupled: %v\n\ncommit message:\n%s\n",
		p.Branch, p.Base, p.Title, strings.Join(p.Labels, ", "), p.Coupled, p.CommitMessage)
	for _, c := range p.Changes {
		b.WriteString(diff.Unified(c.Path, c.Old, c.New))
	}
	b.WriteString("\nbody:\n" + p.Body)
	return b.String()
}

// TestPlanEachEnvironment plans one request per environment of the example
// repository: dev (standalone, bare keys with `},`), test (coupled mode on,
// quoted keys), staging (an empty map) and prod (a one-line map). Each plan
// edits exactly the expected files, planning again on the result changes
// nothing, and the result passes the whole-repository check.
func TestPlanEachEnvironment(t *testing.T) {
	repo := rdsbot.Example()
	p := planner(t, repo)
	cases := []struct {
		env   string
		size  string
		files []string
	}{
		{"dev", "small", []string{"envs/dev-rds/terraform.tfvars", "rds-catalog/dev.yaml"}},
		{"test", "small", []string{"envs/test-rds/terraform.tfvars", "envs/test/terraform.tfvars", "rds-catalog/test.yaml"}},
		{"staging", "medium", []string{"envs/staging-rds/terraform.tfvars", "rds-catalog/staging.yaml"}},
		{"prod", "xlarge", []string{"envs/prod-rds/terraform.tfvars", "rds-catalog/prod.yaml"}},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			req := request(t, p, map[string]string{"environment": tc.env, "size": tc.size})
			plan, err := p.PlanRequest(repo, req, now)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range plan.Changes {
				got = append(got, c.Path)
			}
			if strings.Join(got, " ") != strings.Join(tc.files, " ") {
				t.Errorf("changed %v, want %v", got, tc.files)
			}
			golden.Assert(t, "testdata/plan-"+tc.env+".golden", []byte(render(plan)))

			after := gitops.Overlay(repo, plan.Changes)
			again, err := p.PlanRequest(after, req, now.Add(48*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if !again.Empty() {
				t.Errorf("a replay changes %d files", len(again.Changes))
			}
			if f := repocheck.Check(after, p.Config, p.Schema); len(f) > 0 {
				t.Errorf("repository inconsistent after the plan: %v", f)
			}
			same, err := p.PlanRequest(repo, req, now)
			if err != nil || render(same) != render(plan) {
				t.Errorf("same input gave different output (%v)", err)
			}
		})
	}
}

// TestPlanUpdatesPendingRequest: an edited request (another username) updates
// its own entries in place.
func TestPlanUpdatesPendingRequest(t *testing.T) {
	repo := rdsbot.Example()
	p := planner(t, repo)
	first, err := p.PlanRequest(repo, request(t, p, map[string]string{"environment": "test"}), now)
	if err != nil {
		t.Fatal(err)
	}
	after := gitops.Overlay(repo, first.Changes)
	edited, err := p.PlanRequest(after, request(t, p, map[string]string{"environment": "test", "username": "orders_rw", "size": "medium"}), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/plan-edit.golden", []byte(render(edited)))
}

func TestPlanRefuses(t *testing.T) {
	repo := rdsbot.Example()
	p := planner(t, repo)
	withFile := func(path, content string) fs.FS {
		return gitops.Overlay(repo, []gitops.Change{{Path: path, New: []byte(content)}})
	}
	ephemeral, _ := fs.ReadFile(repo, "envs/test/terraform.tfvars")
	cases := []struct {
		name   string
		repo   fs.FS
		fields map[string]string
		want   []string
	}{
		{"database used by another key", repo, map[string]string{"environment": "test", "databaseName": "backstage_plugin_catalog"},
			[]string{`entry "backstage" already creates database "backstage_plugin_catalog"`}},
		{"role used by another key", repo, map[string]string{"environment": "dev", "username": "keycloak_user"},
			[]string{`entry "keycloak" already uses role "keycloak_user"`}},
		{"takeover of an active database", repo, map[string]string{"environment": "dev", "databaseName": "keycloak", "username": "keycloak_user"},
			[]string{"rds-catalog/dev.yaml"}},
		{"coupled on an ephemeral cluster", withFile("envs/test/terraform.tfvars", strings.Replace(string(ephemeral), `"persistent"`, `"ephemeral"`, 1)),
			map[string]string{"environment": "test"}, []string{`cluster_lifecycle is "ephemeral"`}},
		{"no standalone root", fstest.MapFS{}, map[string]string{"environment": "dev"}, []string{"envs/dev-rds/terraform.tfvars not found"}},
		{"base branch not allowed", repo, map[string]string{"environment": "dev", "baseBranch": "development"}, []string{`baseBranch "development" is not allowed`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pl := p
			if _, ok := tc.repo.(fstest.MapFS); ok {
				pl = planner(t, repo)
			}
			_, err := pl.PlanRequest(tc.repo, request(t, p, tc.fields), now)
			if err == nil {
				t.Fatal("plan accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestDecommission removes the entries from both roots of the coupled
// environment and moves the catalog entry to decommissioning.
func TestDecommission(t *testing.T) {
	repo := rdsbot.Example()
	p := planner(t, repo)
	plan, err := p.PlanDecommission(repo, gitops.Decommission{Environment: "test", Database: "backstage", RequestID: "RDS-0077", Requester: "ops-lead", Reason: "replaced by backstage_v2"}, now)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/decommission-test.golden", []byte(render(plan)))
	after := gitops.Overlay(repo, plan.Changes)
	if f := repocheck.Check(after, p.Config, p.Schema); len(f) > 0 {
		t.Errorf("inconsistent after decommission: %v", f)
	}
	if _, err := p.PlanDecommission(repo, gitops.Decommission{Environment: "dev", Database: "ghost"}, now); err == nil {
		t.Error("decommissioning an unknown database was accepted")
	}
	// A pending request cannot be decommissioned: the state machine refuses.
	created, err := p.PlanRequest(repo, request(t, p, map[string]string{"environment": "dev"}), now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.PlanDecommission(gitops.Overlay(repo, created.Changes), gitops.Decommission{Environment: "dev", Database: "orders_service"}, now)
	if !errors.Is(err, catalog.ErrIllegalTransition) {
		t.Errorf("decommission of a pending entry: %v", err)
	}
}

func TestCoupledMode(t *testing.T) {
	repo := rdsbot.Example()
	p := planner(t, repo)
	plan, err := p.PlanCoupledMode(repo, "dev", true)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/coupled-enable-dev.golden", []byte(render(plan)))
	after := gitops.Overlay(repo, plan.Changes)
	if f := repocheck.Check(after, p.Config, p.Schema); len(f) > 0 {
		t.Errorf("inconsistent after enabling coupled mode: %v", f)
	}
	// Now a dev request edits both roots.
	req, err := p.PlanRequest(after, request(t, p, map[string]string{"environment": "dev"}), now)
	if err != nil || !req.Coupled || len(req.Changes) != 3 {
		t.Errorf("dev request after enabling coupled mode: coupled=%v changes=%d err=%v", req != nil && req.Coupled, len(req.Changes), err)
	}
	src, _ := fs.ReadFile(repo, "envs/dev/terraform.tfvars")
	eph := gitops.Overlay(repo, []gitops.Change{{Path: "envs/dev/terraform.tfvars", New: []byte(strings.Replace(string(src), `"persistent"`, `"ephemeral"`, 1))}})
	if _, err := p.PlanCoupledMode(eph, "dev", true); err == nil || !strings.Contains(err.Error(), "refusing to enable coupled mode") {
		t.Errorf("enabling coupled mode on an ephemeral cluster: %v", err)
	}
}

// TestSingleFileCatalog: a repository that keeps the original single catalog
// file (keyed by database name) is planned without moving anything; the
// same name in a second environment is refused, never overwritten.
func TestSingleFileCatalog(t *testing.T) {
	repo := gitops.Overlay(rdsbot.Example(), []gitops.Change{
		{Path: "rdsbot.yaml", New: []byte("catalog:\n  layout: single-file\n  path: docs/rds-catalog.yaml\n")},
		{Path: "docs/rds-catalog.yaml", New: []byte("version: \"1.0\"\ndomain: platform-core\nowner: platform-team\nlast_updated: \"2026-01-31\"\nmanaged_by: platform-team\ndatabases: {}\n# Example structure:\n#   <name>:\n#     metadata: {...}\n")},
	})
	p := planner(t, repo)
	plan, err := p.PlanRequest(repo, request(t, p, map[string]string{"environment": "dev"}), now)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, c := range plan.Changes {
		paths = append(paths, c.Path)
	}
	if strings.Join(paths, " ") != "docs/rds-catalog.yaml envs/dev-rds/terraform.tfvars" {
		t.Fatalf("changed %v", paths)
	}
	golden.Assert(t, "testdata/single-file-catalog.golden", plan.Files()["docs/rds-catalog.yaml"])
	after := gitops.Overlay(repo, plan.Changes)
	_, err = p.PlanRequest(after, request(t, p, map[string]string{"environment": "staging"}), now)
	if !errors.Is(err, catalog.ErrConflict) {
		t.Errorf("the same name in a second environment: %v", err)
	}
}
