package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The committed rdsbot.yaml documents the defaults; it must equal them.
func TestRepositoryFileEqualsDefaults(t *testing.T) {
	data, err := os.ReadFile("../../" + FileName)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("rdsbot.yaml differs from Default():\n%+v\n%+v", c, Default())
	}
	empty, err := Parse(nil)
	if err != nil || !reflect.DeepEqual(empty, Default()) {
		t.Errorf("an empty file must give the defaults: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"unknown key":     "base_brnch: main\n",
		"layout":          "catalog: {layout: per-database}\n",
		"per-env path":    "catalog: {path: rds-catalog.yaml}\n",
		"branch":          "branch: rds/{database}\n",
		"branch var":      "branch: rds/{env}/{db}/{database}\n",
		"approvals":       "approvals: {mode: lenient}\n",
		"standalone path": "paths: {standalone_tfvars: envs/dev-rds/terraform.tfvars}\n",
	}
	for name, doc := range cases {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: %q accepted", name, doc)
		}
	}
	_, err := Parse([]byte("catalog: {layout: x}\napprovals: {mode: y}\n"))
	if err == nil || !strings.Contains(err.Error(), "catalog.layout") || !strings.Contains(err.Error(), "approvals.mode") {
		t.Errorf("want both problems, got %v", err)
	}
}

func TestBranchAndBase(t *testing.T) {
	c := Default()
	if got := c.BranchFor("prod", "orders"); got != "rds/prod/orders" {
		t.Errorf("branch %q", got)
	}
	if b, err := c.BaseFor(""); err != nil || b != "main" {
		t.Errorf("base %q %v", b, err)
	}
	if _, err := c.BaseFor("development"); err == nil {
		t.Error("a base branch outside the allowed list was accepted")
	}
	c.AllowedBaseBranches = []string{"development"}
	if b, err := c.BaseFor("development"); err != nil || b != "development" {
		t.Errorf("allowed base %q %v", b, err)
	}
}

func TestApprovalPolicyKeys(t *testing.T) {
	c, err := Parse([]byte("approvals:\n  mode: blocking\n  environment_modes: {prod: warn}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Approvals.ModeFor("dev") != ModeEnforce || c.Approvals.ModeFor("prod") != ModeWarn {
		t.Errorf("modes: dev %s prod %s", c.Approvals.ModeFor("dev"), c.Approvals.ModeFor("prod"))
	}
	if !c.Approvals.SelfServe("dev") || c.Approvals.SelfServe("test") {
		t.Error("default self-serve environments must be [dev]")
	}
	_, err = Parse([]byte("approvals:\n  environment_modes: {prod: lax}\n  human_approval_groups: []\n  break_glass: {label: \"\", groups: [nobody]}\n"))
	for _, want := range []string{"approvals.environment_modes.prod", "approvals.human_approval_groups", "approvals.break_glass.label", `group "nobody" has no team`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

func TestContractConfig(t *testing.T) {
	for name, doc := range map[string]string{
		"mode":            "request_mode: contracts\n",
		"no id":           "contract: {path: docs/requests/{env}/request.yaml}\n",
		"id in dir":       "contract: {path: docs/{id}/request.yaml}\n",
		"env in name":     "contract: {path: docs/{env}-{id}.yaml}\n",
		"generated env":   "contract: {generated_tfvars: generated/{id}.json}\n",
		"unknown var":     "contract: {external_secret: gitops/{db}/{id}.yaml}\n",
		"empty store":     "contract: {secret_store: \"\"}\n",
		"reserved":        "reserved: {master_username: \"\"}\n",
		"unknown sub-key": "contract: {folder: x}\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: %q accepted", name, doc)
		}
	}
	c, err := Parse([]byte("request_mode: contract\n"))
	if err != nil || !c.ContractMode() {
		t.Fatalf("contract mode: %v", err)
	}
	if got := c.ContractPath("dev", "RDS-0042"); got != "docs/20-contracts/rds-requests/dev/RDS-0042.yaml" {
		t.Errorf("contract path %q", got)
	}
	if got := c.ExternalSecretPath("dev", "orders", "RDS-0042"); got != "gitops/kustomize/overlays/dev/apps/orders/externalsecrets/RDS-0042.yaml" {
		t.Errorf("external secret path %q", got)
	}
	pat := c.GeneratedTfvarsFiles("dev")
	if pat.Dir != "envs/dev-rds/generated" {
		t.Errorf("generated dir %q", pat.Dir)
	}
	if id, ok := pat.Match("RDS-0042.auto.tfvars.json"); !ok || id != "RDS-0042" {
		t.Errorf("match %q %v", id, ok)
	}
	if _, ok := pat.Match("notes.txt"); ok {
		t.Error("an unrelated file matched")
	}
}

func TestApplyConfig(t *testing.T) {
	c, err := Parse([]byte("apply:\n  runners: {dev: local}\n  plan: {protected: ['aws_kms_key.*']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Apply.RunnerFor("dev") != RunnerLocal || c.Apply.RunnerFor("prod") != RunnerActions {
		t.Errorf("runners: dev %s prod %s", c.Apply.RunnerFor("dev"), c.Apply.RunnerFor("prod"))
	}
	if got := c.Apply.Plan.DecommissionDestroys; len(got) != 2 || got[0] != `aws_secretsmanager_secret.app["{db}"]` {
		t.Errorf("decommission_destroys %v, want the default", got)
	}
	if got := c.Apply.RootsFor("prod"); !reflect.DeepEqual(got, []string{"envs/prod-rds"}) {
		t.Errorf("roots %v", got)
	}
	want := []string{"bucket=goldenpath-idp-dev-bucket", "dynamodb_table=goldenpath-idp-dev-db-key", "encrypt=true",
		"key=envs/dev-rds/terraform.tfstate", "region=eu-west-2"}
	if got := c.Apply.BackendFor("dev", "envs/dev-rds"); !reflect.DeepEqual(got, want) {
		t.Errorf("backend %v", got)
	}
	bad := `apply:
  runner: jenkins
  runners: {prod: remote}
  roots: [envs/rds, "../{env}"]
  backend: {Bucket: x, key: "{region}"}
  terraform: {binary: "", lock_timeout: 0s, kill_grace: -1s, pass_env: ["AWS KEY"], env: {"1X": y}}
  plan: {protected: [" "], decommission_destroys: ['aws_secretsmanager_secret.all', 'aws_db_instance.db["{db}"]', 'x.y["{db}"] *']}
  actions: {workflow: "../x.yml", poll_every: 0s}
`
	_, err = Parse([]byte(bad))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, field := range []string{"apply.runner:", "apply.runners.prod", "apply.roots[0]", "apply.roots[1]",
		"apply.backend.Bucket", "apply.backend.key", "apply.terraform.binary", "apply.terraform.lock_timeout",
		"apply.terraform.kill_grace", "apply.terraform.pass_env[0]", "apply.terraform.env.1X", "apply.plan.protected[0]",
		"apply.plan.decommission_destroys[0]", "apply.plan.decommission_destroys[1]", "apply.plan.decommission_destroys[2]",
		"apply.actions.workflow", "apply.actions.poll_every"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("no problem reported for %s in:\n%v", field, err)
		}
	}
}
