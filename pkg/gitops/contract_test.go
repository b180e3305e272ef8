package gitops_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/internal/golden"
	"github.com/rdsbot/rdsbot/pkg/repocheck"
)

func paths(p *gitops.Plan) string {
	var out []string
	for _, c := range p.Changes {
		mark := "M "
		switch {
		case c.Deletes():
			mark = "D "
		case c.Old == nil:
			mark = "A "
		}
		out = append(out, mark+c.Path)
	}
	return strings.Join(out, "\n")
}

func consistent(t *testing.T, p *gitops.Planner, repo fs.FS) {
	t.Helper()
	if f := repocheck.Check(repo, p.Config, p.Schema); len(f) > 0 {
		t.Errorf("repository inconsistent: %v", f)
	}
}

// TestContractModePlan: in the contract mode a request adds its contract,
// the rds_databases JSON, the ExternalSecret and the catalog entry; the
// tfvars stay as they are; a replay changes nothing; validate passes.
func TestContractModePlan(t *testing.T) {
	repo := rdsbot.ContractExample()
	p := planner(t, repo)
	if !p.Config.ContractMode() {
		t.Fatal("the contract example is not in the contract mode")
	}
	consistent(t, p, repo)
	req := request(t, p, map[string]string{"environment": "staging", "size": "medium"})
	plan, err := p.PlanRequest(repo, req, now)
	if err != nil {
		t.Fatal(err)
	}
	want := "A docs/20-contracts/rds-requests/staging/RDS-0042.yaml\n" +
		"A envs/staging-rds/generated/RDS-0042.auto.tfvars.json\n" +
		"A gitops/kustomize/overlays/staging/apps/orders_service/externalsecrets/RDS-0042.yaml\n" +
		"M rds-catalog/staging.yaml"
	if got := paths(plan); got != want {
		t.Fatalf("changes:\n%s\nwant\n%s", got, want)
	}
	golden.Assert(t, "testdata/contract-staging.golden", []byte(render(plan)))
	after := gitops.Overlay(repo, plan.Changes)
	consistent(t, p, after)
	again, err := p.PlanRequest(after, req, now.Add(72*time.Hour))
	if err != nil || !again.Empty() {
		t.Errorf("replay: %v, %s", err, paths(again))
	}

	// The request moves on: approved, applying, active; contract and
	// catalog move together and stay consistent.
	cur := after
	for _, st := range []catalog.Status{catalog.StatusApproved, catalog.StatusApplying, catalog.StatusActive} {
		sp, err := p.PlanStatus(cur, "staging", "orders_service", st, now.Add(time.Hour), "test")
		if err != nil {
			t.Fatal(err)
		}
		if got := paths(sp); got != "M docs/20-contracts/rds-requests/staging/RDS-0042.yaml\nM rds-catalog/staging.yaml" {
			t.Errorf("status %s changed:\n%s", st, got)
		}
		cur = gitops.Overlay(cur, sp.Changes)
		consistent(t, p, cur)
	}

	// Decommission: the generated files go, the contract and the catalog
	// entry move to decommissioning, the tfvars stay.
	dec, err := p.PlanDecommission(cur, gitops.Decommission{Environment: "staging", Database: "orders_service", RequestID: "RDS-0077"}, now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want = "M docs/20-contracts/rds-requests/staging/RDS-0042.yaml\n" +
		"D envs/staging-rds/generated/RDS-0042.auto.tfvars.json\n" +
		"D gitops/kustomize/overlays/staging/apps/orders_service/externalsecrets/RDS-0042.yaml\n" +
		"M rds-catalog/staging.yaml"
	if got := paths(dec); got != want {
		t.Errorf("decommission:\n%s\nwant\n%s", got, want)
	}
	golden.Assert(t, "testdata/contract-decommission.golden", []byte(render(dec)))
	cur = gitops.Overlay(cur, dec.Changes)
	consistent(t, p, cur)
	if _, err := fs.ReadFile(cur, "envs/staging-rds/generated/RDS-0042.auto.tfvars.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("generated file after decommission: %v", err)
	}
	// Once decommissioning, the request cannot come back by re-planning.
	if _, err := p.PlanRequest(cur, req, now); !errors.Is(err, gitops.ErrInvalidRequest) {
		t.Errorf("re-plan of a decommissioning request: %v", err)
	}
	fin, err := p.PlanStatus(cur, "staging", "orders_service", catalog.StatusDecommissioned, now.Add(96*time.Hour), "done")
	if err != nil {
		t.Fatal(err)
	}
	consistent(t, p, gitops.Overlay(cur, fin.Changes))
}

// TestContractModeRefuses: one source of truth per database.
func TestContractModeRefuses(t *testing.T) {
	repo := rdsbot.ContractExample()
	p := planner(t, repo)
	first, err := p.PlanRequest(repo, request(t, p, map[string]string{"environment": "dev"}), now)
	if err != nil {
		t.Fatal(err)
	}
	after := gitops.Overlay(repo, first.Changes)
	coupledOn := gitops.Overlay(rdsbot.Example(), []gitops.Change{{Path: "rdsbot.yaml", New: []byte("request_mode: contract\n")}})
	other := func(fields map[string]string, id string) error {
		req := request(t, p, fields).WithID(id)
		_, err := p.PlanRequest(after, req, now)
		return err
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"database held by a tfvars entry", other(map[string]string{"environment": "dev", "databaseName": "keycloak", "username": "kc_new"}, "RDS-0050"),
			`entry "keycloak" of application_databases already creates database "keycloak"`},
		{"role held by a tfvars entry", other(map[string]string{"environment": "dev", "databaseName": "kc2", "username": "keycloak_user"}, "RDS-0050"),
			`already uses role "keycloak_user"`},
		{"database held by another contract", other(map[string]string{"environment": "dev", "username": "other_app"}, "RDS-0050"),
			`database "orders_service" belongs to request RDS-0042`},
		{"role held by another contract", other(map[string]string{"environment": "dev", "databaseName": "other_db"}, "RDS-0050"),
			`role "orders_app" is used by request RDS-0042`},
		{"another environment for the same request", other(map[string]string{"environment": "staging"}, "RDS-0042"),
			"already has its contract in docs/20-contracts/rds-requests/dev/RDS-0042.yaml"},
	}
	for _, c := range cases {
		if !errors.Is(c.err, gitops.ErrInvalidRequest) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
	pc := planner(t, coupledOn)
	_, err = pc.PlanRequest(coupledOn, request(t, pc, map[string]string{"environment": "test"}), now)
	if !errors.Is(err, gitops.ErrInvalidRequest) || !strings.Contains(err.Error(), "coupled mode is on for test") {
		t.Errorf("contract mode with coupled mode: %v", err)
	}
	// validate says so before any request fails.
	if f := repocheck.Check(coupledOn, pc.Config, pc.Schema); len(f) != 1 || f[0].File != "envs/test/terraform.tfvars" || !strings.Contains(f[0].Message, "coupled mode is on, but request_mode is contract") {
		t.Errorf("contract mode with coupled mode on in test: %v", f)
	}
}

// TestReservedInstanceNames: the planner reads each environment's master
// username and admin database from its root; a request cannot take them.
func TestReservedInstanceNames(t *testing.T) {
	repo := rdsbot.Example()
	p := planner(t, repo)
	names, err := p.InstanceNames(repo, "dev")
	if err != nil || len(names) != 2 || names[0].Name != "platform_admin" || names[1].Name != "platform" {
		t.Fatalf("dev instance names: %+v", names)
	}
	for _, c := range []struct{ field, value, want string }{
		{"username", "platform_admin", "the master user of the dev instance (master_username in envs/dev-rds/terraform.tfvars)"},
		{"databaseName", "platform", "the admin database of the dev instance (database_name in envs/dev-rds/terraform.tfvars)"},
	} {
		fields := map[string]string{
			"databaseName": "orders_service", "username": "orders_app", "owner": "app-team", "domain": "delivery",
			"requester": "jane-doe", "environment": "dev", c.field: c.value,
		}
		_, probs := contract.Validate(p.Schema, contract.FromFlags(fields))
		if probs.Err() == nil || !strings.Contains(probs.Err().Error(), c.want) {
			t.Errorf("%s %s in dev: %v", c.field, c.value, probs)
		}
	}
}

// ContractStatus has a contract follow its catalog entry; ContractStatusOnly
// tells that change from any other edit of the contract.
func TestContractStatus(t *testing.T) {
	repo := rdsbot.ContractExample()
	p := planner(t, repo)
	plan, err := p.PlanRequest(repo, request(t, p, map[string]string{"environment": "staging", "size": "medium"}), now)
	if err != nil {
		t.Fatal(err)
	}
	after := gitops.Overlay(repo, plan.Changes)
	ch, ok, err := p.ContractStatus(after, "staging", "orders_service", catalog.StatusApproved)
	if err != nil || !ok || ch.Path != "docs/20-contracts/rds-requests/staging/RDS-0042.yaml" || !strings.Contains(string(ch.New), "status: approved") {
		t.Fatalf("ContractStatus: %v %v %+v", err, ok, ch)
	}
	if !p.ContractStatusOnly(ch.Path, ch.Old, ch.New) {
		t.Error("a status change is not taken for one")
	}
	for name, edit := range map[string]func(string) string{
		"size":          func(s string) string { return strings.Replace(s, "medium", "large", 1) },
		"unknown state": func(s string) string { return strings.Replace(s, "status: approved", "status: shipped", 1) },
		"a comment":     func(s string) string { return s + "# note\n" },
	} {
		if p.ContractStatusOnly(ch.Path, ch.Old, []byte(edit(string(ch.New)))) {
			t.Errorf("%s: taken for a status change", name)
		}
	}
	if _, ok, err := p.ContractStatus(gitops.Overlay(after, []gitops.Change{ch}), "staging", "orders_service", catalog.StatusApproved); err != nil || ok {
		t.Errorf("a contract there already: %v %v", ok, err)
	}
	if _, ok, err := p.ContractStatus(after, "staging", "nobody", catalog.StatusApproved); err != nil || ok {
		t.Errorf("no contract: %v %v", ok, err)
	}
}
