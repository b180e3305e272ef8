package apply_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/apply"
)

const realRoot = `terraform {
  backend "local" {}
}

variable "application_databases" {
  type = map(object({ database_name = string }))
}

# terraform_data is built in: no provider to download, so this runs offline.
resource "terraform_data" "app" {
  for_each = var.application_databases
  input    = each.value.database_name
}
`

// TestRealTerraform runs the local runner with a real terraform or tofu
// (whichever is on PATH; skipped when neither is): the summariser reads the
// real -json output, the saved plan is applied, and a plan that destroys a
// protected resource is refused.
func TestRealTerraform(t *testing.T) {
	var bin string
	for _, name := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("neither terraform nor tofu is on PATH")
	}
	e := newEnv(t)
	tfvars := func(names ...string) string {
		var b strings.Builder
		b.WriteString("application_databases = {\n")
		for _, n := range names {
			b.WriteString("  " + n + " = { database_name = \"" + n + "\" }\n")
		}
		return b.String() + "}\n"
	}
	first, err := e.fake.AddRepo("acme/real", map[string]string{"envs/dev-rds/main.tf": realRoot, "envs/dev-rds/terraform.tfvars": tfvars("orders", "ledger")})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Terraform.Binary = bin
	e.cfg.Terraform.Env = map[string]string{}
	e.cfg.Backend = map[string]string{"path": filepath.Join(t.TempDir(), "{env}.tfstate")}
	e.cfg.Plan.Protected = []string{"terraform_data"}
	ctx := context.Background()
	o, err := e.local().Apply(ctx, apply.Request{Repo: "acme/real", Env: "dev", SHA: first})
	if err != nil || o.Status != apply.Succeeded {
		t.Fatalf("apply: %+v %v\n%s", o, err, o.Excerpt)
	}
	if p := o.Roots[0].Plan; p.Add != 2 || len(p.Changes) != 2 || o.Roots[0].Applied == nil || o.Roots[0].Applied.Add != 2 {
		t.Fatalf("plan %+v applied %+v", p, o.Roots[0].Applied)
	}
	second, err := e.fake.As("alice").Push("acme/real", "main", githubfakeChange("envs/dev-rds/terraform.tfvars", tfvars("orders")))
	if err != nil {
		t.Fatal(err)
	}
	o, err = e.local().Plan(ctx, apply.Request{Repo: "acme/real", Env: "dev", SHA: second})
	if err != nil || o.Status != apply.Refused {
		t.Fatalf("plan: %+v %v", o, err)
	}
	if b := o.Roots[0].Plan.Blocked(); len(b) != 1 || b[0].Address != `terraform_data.app["ledger"]` || !strings.Contains(o.Roots[0].PlanText, "ledger") {
		t.Fatalf("blocked %+v\n%s", b, o.Roots[0].PlanText)
	}
	o, err = e.local().Apply(ctx, apply.Request{Repo: "acme/real", Env: "dev", SHA: second, AllowDestroy: []string{`terraform_data.app["ledger"]`}})
	if err != nil || o.Status != apply.Succeeded || o.Roots[0].Applied.Destroy != 1 {
		t.Fatalf("allowed destroy: %+v %v", o, err)
	}
}
