package repocheck_test

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/contract"
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

func planned(t *testing.T, repo fs.FS, env string) (*gitops.Planner, fs.FS) {
	t.Helper()
	p, err := gitops.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{"databaseName": "orders_service", "username": "orders_app", "owner": "app-team",
		"domain": "delivery", "requester": "jane-doe", "environment": env}
	req, probs := contract.Validate(p.Schema, contract.FromFlags(fields))
	if probs.Err() != nil {
		t.Fatal(probs)
	}
	plan, err := p.PlanRequest(repo, req.WithID("RDS-0042"), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return p, gitops.Overlay(repo, plan.Changes)
}

func findings(p *gitops.Planner, repo fs.FS) string {
	var b strings.Builder
	for _, f := range repocheck.Check(repo, p.Config, p.Schema) {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// TestContractDrift: a hand edit that makes a generated file disagree with
// its contract is reported on the generated file, naming the contract and
// what differs; so are a missing file, an orphan and a status mismatch.
func TestContractDrift(t *testing.T) {
	p, repo := planned(t, rdsbot.ContractExample(), "staging")
	if f := findings(p, repo); f != "" {
		t.Fatalf("clean plan has findings:\n%s", f)
	}
	const (
		ct   = "docs/20-contracts/rds-requests/staging/RDS-0042.yaml"
		gen  = "envs/staging-rds/generated/RDS-0042.auto.tfvars.json"
		es   = "gitops/kustomize/overlays/staging/apps/orders_service/externalsecrets/RDS-0042.yaml"
		orph = "envs/staging-rds/generated/RDS-0099.auto.tfvars.json"
	)
	edit := func(repo fs.FS, path, old, new string) gitops.Change {
		b, err := fs.ReadFile(repo, path)
		if err != nil || !strings.Contains(string(b), old) {
			t.Fatalf("%s: %v, does not hold %q", path, err, old)
		}
		return gitops.Change{Path: path, Old: b, New: []byte(strings.Replace(string(b), old, new, 1))}
	}
	genBytes, _ := fs.ReadFile(repo, gen)
	broken := gitops.Overlay(repo, []gitops.Change{
		edit(repo, gen, `"backup_retention_period": 14`, `"backup_retention_period": 7`),
		edit(repo, es, "refreshInterval: 1h", "refreshInterval: 24h"),
		{Path: orph, New: genBytes},
	})
	golden.Assert(t, "testdata/contract-drift.golden", []byte(findings(p, broken)))

	missing := gitops.Overlay(repo, []gitops.Change{{Path: gen, Old: genBytes}, edit(repo, ct, "status: pending", "status: approved")})
	out := findings(p, missing)
	for _, want := range []string{
		gen + ": is missing: the contract " + ct + " needs it",
		ct + `: status is "approved" but the catalog entry rds-catalog/staging.yaml`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("findings do not mention %q:\n%s", want, out)
		}
	}
	// A generated file in a direct-mode repository would be applied with no
	// request behind it.
	direct := gitops.Overlay(rdsbot.Example(), []gitops.Change{{Path: orph, New: genBytes}})
	pd, _ := gitops.New(direct)
	if out := findings(pd, direct); !strings.Contains(out, orph+": request_mode is direct, but this generated file is here") {
		t.Errorf("direct mode with a generated file:\n%s", out)
	}
}

// TestReservedNamesInRepository: entries already in tfvars that take a
// reserved name or the instance's own names are reported.
func TestReservedNamesInRepository(t *testing.T) {
	repo := rdsbot.Example()
	b, _ := fs.ReadFile(repo, "envs/dev-rds/terraform.tfvars")
	src := strings.Replace(string(b), `    database_name = "keycloak"`, `    database_name = "template1"`, 1)
	src = strings.Replace(src, `    username      = "backstage_user"`, `    username      = "platform_admin"`, 1)
	broken := gitops.Overlay(repo, []gitops.Change{{Path: "envs/dev-rds/terraform.tfvars", Old: b, New: []byte(src)}})
	p, err := gitops.New(broken)
	if err != nil {
		t.Fatal(err)
	}
	out := findings(p, broken)
	for _, want := range []string{
		`application_databases["keycloak"].database_name "template1" is reserved: PostgreSQL's template for every new database`,
		`application_databases["backstage"].username "platform_admin" is reserved: the master user of the dev instance`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("findings do not mention %q:\n%s", want, out)
		}
	}
}

// TestUnsatisfiableRuleIsReported: a rule a surface cannot satisfy is a
// finding naming the rule, the surface and the environment.
func TestUnsatisfiableRuleIsReported(t *testing.T) {
	repo := rdsbot.Example()
	b, _ := fs.ReadFile(repo, "schemas/requests/rds.schema.yaml")
	src := strings.Replace(string(b), "    set: {backupRetentionDays: 35, multiAz: true, storageGb: 50, maxStorageGb: 500}", "    set: {multiAz: true, storageGb: 50, maxStorageGb: 500}", 1)
	broken := gitops.Overlay(repo, []gitops.Change{{Path: "schemas/requests/rds.schema.yaml", Old: b, New: []byte(src)}})
	p, err := gitops.New(broken)
	if err != nil {
		t.Fatal(err)
	}
	out := findings(p, broken)
	for _, want := range []string{
		`conditional rule "prod_requires_backup" cannot be satisfied by the workflow_dispatch inputs in environment prod: it cannot send backupRetentionDays, and the value rdsbot fills in, 7 (its default), breaks it`,
		`conditional rule "prod_requires_backup" cannot be satisfied by the Backstage template in environment prod`,
		`conditional rule "prod_requires_backup" cannot be satisfied by the issue form`,
	} {
		if strings.Contains(want, "issue form") {
			if strings.Contains(out, want) {
				t.Errorf("the issue form has a backup field and can satisfy the rule:\n%s", out)
			}
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("findings do not mention %q:\n%s", want, out)
		}
	}
}
