package repocheck_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/internal/golden"
	"github.com/rdsbot/rdsbot/pkg/repocheck"
)

func TestExampleRepositoryIsConsistent(t *testing.T) {
	p, err := gitops.New(rdsbot.Example())
	if err != nil {
		t.Fatal(err)
	}
	if f := repocheck.Check(rdsbot.Example(), p.Config, p.Schema); len(f) > 0 {
		t.Errorf("findings on the example repository: %v", f)
	}
}

// TestEveryProblemAtOnce breaks the example repository in several ways and
// expects one finding per break, each with its file and, where it has one,
// its line.
func TestEveryProblemAtOnce(t *testing.T) {
	repo := rdsbot.Example()
	edit := func(path, old, new string) gitops.Change {
		b, err := fs.ReadFile(repo, path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s does not contain %q", path, old)
		}
		return gitops.Change{Path: path, Old: b, New: []byte(strings.Replace(string(b), old, new, 1))}
	}
	broken := gitops.Overlay(repo, []gitops.Change{
		// a tfvars entry without its catalog entry, and a value Terraform rejects
		edit("envs/dev-rds/terraform.tfvars", "  backstage = {", "  orphan = {\n    database_name = \"orphan\"\n    username      = 42\n    access_level  = \"owner\"\n  }\n  backstage = {"),
		// lowered protection
		edit("envs/staging-rds/terraform.tfvars", "rotation_days           = 14", "rotation_days           = 14\ndeletion_protection = false"),
		edit("envs/prod-rds/main.tf", "deletion_protection          = true", "deletion_protection          = false"),
		// coupled drift: a key only in the coupled map
		edit("envs/test/terraform.tfvars", "    \"backstage\" = {", "    \"extra\" = {\n      database_name = \"extra\"\n      username      = \"extra_app\"\n    }\n    \"backstage\" = {"),
		// catalog: enum and size mismatches, and an entry whose tfvars entry is gone
		edit("rds-catalog/prod.yaml", "size_tier: large", "size_tier: huge"),
		edit("rds-catalog/staging.yaml", "databases: {}", "databases:\n  ghost:\n    metadata:\n      id: DATABASE_GHOST\n      owner: app-team\n      requested_by: x\n      domain: cost\n      risk: low\n      environment: staging\n      status: active\n      created_date: \"2026-01-01\"\n    configuration:\n      username: ghost_app\n      size_tier: small\n      instance_class: db.t3.micro\n      secret_path: goldenpath/staging/ghost/postgres\n"),
	})
	p, err := gitops.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range repocheck.Check(broken, p.Config, p.Schema) {
		b.WriteString(f.String() + "\n")
	}
	golden.Assert(t, "testdata/broken.golden", []byte(b.String()))
}
