package bot

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/apply"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
)

func TestPlanTargets(t *testing.T) {
	envs := []string{"dev", "test", "staging", "prod"}
	def := config.Default()
	two := config.Default()
	two.Apply.Roots = []string{"envs/{env}-rds", "envs/{env}"}
	files := func(ps ...string) []forge.PullFile {
		var out []forge.PullFile
		for _, p := range ps {
			from, to, ok := strings.Cut(p, "->")
			if ok {
				out = append(out, forge.PullFile{Path: to, PreviousPath: from, Status: "renamed"})
			} else {
				out = append(out, forge.PullFile{Path: p})
			}
		}
		return out
	}
	for _, c := range []struct {
		name  string
		cfg   *config.Config
		known []string
		files []forge.PullFile
		want  string
	}{
		{"standalone tfvars", def, envs, files("envs/test-rds/terraform.tfvars"), "test:envs/test-rds"},
		{"coupled and standalone: the env's roots", def, envs, files("envs/test/terraform.tfvars", "envs/test-rds/terraform.tfvars"), "test:envs/test-rds"},
		{"coupled tfvars alone: every root of the env", def, envs, files("envs/dev/terraform.tfvars"), "dev:envs/dev-rds"},
		{"catalog only: nothing", def, envs, files("rds-catalog/test.yaml"), ""},
		{"request contract yaml: nothing", def, envs, files("rds-requests/test/orders.yaml"), ""},
		{"generated auto tfvars in a root", def, envs, files("envs/test-rds/orders.auto.tfvars.json", "rds-requests/test/orders.yaml"), "test:envs/test-rds"},
		{"a module inside a root", def, envs, files("envs/prod-rds/modules/db/main.tf"), "prod:envs/prod-rds"},
		{"unrelated files", def, envs, files("README.md", ".github/workflows/ci.yml"), ""},
		{"two environments, sorted", def, envs, files("envs/prod-rds/main.tf", "envs/dev-rds/variables.tf"), "dev:envs/dev-rds prod:envs/prod-rds"},
		{"renamed out of a root plans both", def, envs, files("envs/dev-rds/x.tf->envs/test-rds/x.tf"), "dev:envs/dev-rds test:envs/test-rds"},
		{"unknown environment ignored", def, envs, files("envs/qa-rds/main.tf"), ""},
		{"any environment when none are known", def, nil, files("envs/qa-rds/main.tf"), "qa:envs/qa-rds"},
		{"two roots: only the touched one", two, envs, files("envs/test-rds/terraform.tfvars"), "test:envs/test-rds"},
		{"two roots: the coupled root itself", two, envs, files("envs/test/terraform.tfvars"), "test:envs/test"},
		{"two roots: both touched, configured order", two, envs, files("envs/test/terraform.tfvars", "envs/test-rds/main.tf"), "test:envs/test-rds,envs/test"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, tg := range planTargets(c.cfg, c.known, c.files) {
				got = append(got, tg.env+":"+strings.Join(tg.roots, ","))
			}
			if g := strings.Join(got, " "); g != c.want {
				t.Errorf("got %q, want %q", g, c.want)
			}
		})
	}
}

func TestPlanCheck(t *testing.T) {
	pass := &apply.Outcome{Status: apply.Succeeded, Roots: []apply.RootResult{{Root: "envs/test-rds", Status: apply.Succeeded,
		Plan: &apply.Summary{Add: 2, Changes: []apply.Change{{Address: "aws_db_instance.x[\"a\"]", Action: "create"}}}, PlanText: "+ create"}}}
	refused := &apply.Outcome{Status: apply.Refused, Reason: "protected", Roots: []apply.RootResult{{Root: "envs/prod-rds", Status: apply.Refused,
		Plan: &apply.Summary{Add: 1, Destroy: 2, Changes: []apply.Change{
			{Address: "aws_db_instance.main", Action: "delete", Protected: "aws_db_instance"},
			{Address: "null_resource.x", Action: "delete"},
			{Address: "aws_kms_key.k", Action: "create"},
		}}}}}
	failed := &apply.Outcome{Status: apply.Failed, Reason: "init failed", Roots: []apply.RootResult{{Root: "envs/dev-rds", Status: apply.Failed}}}
	for _, c := range []struct {
		name       string
		results    []planResult
		conclusion string
		title      string
		first      string // the first listed resource in the summary
	}{
		{"passes", []planResult{{env: "test", out: pass}}, "success", "Plan: 2 to add, 0 to change, 0 to destroy", ""},
		{"destroys an instance", []planResult{{env: "test", out: pass}, {env: "prod", out: refused}}, "failure", "Would destroy or replace 1 protected resource(s)", "aws_db_instance.main"},
		{"terraform failed", []planResult{{env: "dev", out: failed}}, "failure", "Plan failed in dev", ""},
		{"all skipped", []planResult{{env: "prod", skipped: true}}, "neutral", "Not planned: plans are skipped for prod", ""},
		{"some skipped", []planResult{{env: "prod", skipped: true}, {env: "test", out: pass}}, "success", "Plan: 2 to add, 0 to change, 0 to destroy", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := planCheck(c.results, "0123456789abcdef")
			if ch.Status != "completed" || ch.Conclusion != c.conclusion || ch.Title != c.title {
				t.Fatalf("%s/%s %q, want %s %q\n%s", ch.Status, ch.Conclusion, ch.Title, c.conclusion, c.title, ch.Summary)
			}
			if c.first != "" {
				i := strings.Index(ch.Summary, c.first)
				if i < 0 || strings.Contains(ch.Summary[:i], "`null_resource") || strings.Contains(ch.Summary[:i], "\n- `") {
					t.Errorf("%s is not called out first:\n%s", c.first, ch.Summary)
				}
				if !strings.Contains(ch.Text, c.first) {
					t.Errorf("the report does not name %s:\n%s", c.first, ch.Text)
				}
			}
			if len(ch.Summary) > 65535 || len(ch.Text) > 65535 {
				t.Errorf("summary %d, text %d bytes", len(ch.Summary), len(ch.Text))
			}
		})
	}
}

// Big plans of several environments stay within a check run's limit.
func TestPlanCheckFitsCheckRun(t *testing.T) {
	var results []planResult
	for i := range 4 {
		text := strings.Repeat(fmt.Sprintf("  # resource %d will be created\n", i), 5000)
		results = append(results, planResult{env: fmt.Sprintf("e%d", i), out: &apply.Outcome{Status: apply.Succeeded,
			Roots: []apply.RootResult{{Root: "r", Status: apply.Succeeded, Plan: &apply.Summary{Add: 1}, PlanText: text}}}})
	}
	ch := planCheck(results, "abc")
	if len(ch.Text) > 65535 {
		t.Errorf("text is %d bytes", len(ch.Text))
	}
	if !strings.Contains(ch.Text, "Plan of e3") {
		t.Errorf("the last environment's report is missing")
	}
}
