package tfvars

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func loadVars(t *testing.T, name string) *Variables {
	t.Helper()
	path := filepath.Join("testdata", "typecheck", name+".variables.tf")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ParseVariables(SourceFile{Name: path, Src: src})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func readTC(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "typecheck", name+".tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func problemStrings(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestCheck(t *testing.T) {
	standalone := loadVars(t, "standalone")
	coupled := loadVars(t, "coupled")
	tests := []struct {
		name string
		vars *Variables
		file string
		src  []byte
		want []string
	}{
		{"spec §3.1 tfvars is clean", standalone, "envs/dev-rds/terraform.tfvars", readInput(t, "standalone"), nil},
		{"spec §3.2 tfvars is clean (optional attributes left out)", coupled, "envs/dev/terraform.tfvars", readInput(t, "coupled"), nil},
		{"only enabled set: every optional attribute has a default", coupled, "envs/dev/terraform.tfvars",
			[]byte("environment = \"dev\"\nrds_config = { enabled = true }\n"), nil},
		{"every problem at once", standalone, "envs/dev-rds/terraform.tfvars", readTC(t, "standalone-bad"), []string{
			`envs/dev-rds/terraform.tfvars:3: multi_az: must be a bool, got the string "yes"`,
			`envs/dev-rds/terraform.tfvars:4: allocated_storage: must be a number, got the string "twenty"`,
			`envs/dev-rds/terraform.tfvars:5: instance_class: the value must be a literal: Variables not allowed: Variables may not be used here.`,
			`envs/dev-rds/terraform.tfvars:6: rds_databases: no variable "rds_databases" is declared; Terraform would ignore this value`,
			`envs/dev-rds/terraform.tfvars:13: application_databases["orders"]: attribute "username" is required`,
			`envs/dev-rds/terraform.tfvars:19: application_databases["payments"]: unexpected attribute "access_level": the type declared for variable "application_databases" allows only database_name, username here, so Terraform would silently drop it`,
			`envs/dev-rds/terraform.tfvars:22: application_databases["ledger"].database_name: must be a string, got a list`,
			`envs/dev-rds/terraform.tfvars:24: application_databases["ledger"]: attribute "username" is set twice (also on line 23)`,
			`envs/dev-rds/terraform.tfvars:26: application_databases: key "keycloak" is set twice (also on line 9); only the last would count`,
			`envs/dev-rds/terraform.tfvars:30: application_databases["reports"]: must be an object, got the string "reports"`,
			`envs/dev-rds/terraform.tfvars:33: blocks (locals) are not allowed in a tfvars file, only name = value`,
			`envs/dev-rds/terraform.tfvars: info: aws_region: variable "aws_region" has no default and is not set in this file; it must come from elsewhere (-var, TF_VAR_aws_region, another .tfvars file)`,
		}},
		{"coupled rds_config problems", coupled, "envs/dev/terraform.tfvars", readTC(t, "coupled-bad"), []string{
			`envs/dev/terraform.tfvars:3: rds_config: attribute "enabled" is required`,
			`envs/dev/terraform.tfvars:5: rds_config.multi_az: must be a bool, got the number 1`,
			`envs/dev/terraform.tfvars:6: rds_config: unexpected attribute "engine": the type declared for variable "rds_config" allows only allocated_storage, application_databases, backup_retention_days, deletion_protection, enabled, engine_version, identifier, instance_class, max_allocated_storage, multi_az, skip_final_snapshot here, so Terraform would silently drop it`,
			`envs/dev/terraform.tfvars:12: rds_config.application_databases["orders"]: attribute "database_name" is required`,
		}},
		{"syntax errors are problems", standalone, "t.tfvars", []byte("environment = \n"), []string{
			`t.tfvars:1: Invalid expression: Expected the start of an expression, but found an invalid expression token.`,
		}},
		{"convertible values pass like in Terraform", standalone, "t.tfvars",
			[]byte("environment = \"dev\"\naws_region = \"x\"\nmulti_az = \"true\"\nallocated_storage = \"30\"\nengine_version = 15\nvpc_name = null\n"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problemStrings(tc.vars.Check(tc.src, tc.file))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestCheckErrHelpers(t *testing.T) {
	ps := loadVars(t, "coupled").Check(readTC(t, "coupled-bad"), "envs/dev/terraform.tfvars")
	if len(ps.Errors()) != 4 || ps.Err() == nil || strings.Count(ps.Err().Error(), "\n") != 3 {
		t.Fatalf("Errors/Err: %v", ps.Err())
	}
	clean := loadVars(t, "standalone").Check([]byte("environment = \"dev\"\n"), "t")
	if len(clean) != 1 || clean[0].Severity != SeverityInfo || clean.Err() != nil {
		t.Fatalf("a missing required variable is only an info: %v", clean)
	}
}

// The editor's output type-checks, and the checker catches what Terraform
// would drop (spec G-16: access_level is not in the type).
func TestEditedFilesTypeCheck(t *testing.T) {
	standalone, coupled := loadVars(t, "standalone"), loadVars(t, "coupled")
	out, err := UpsertEntry(readInput(t, "standalone"), "envs/dev-rds/terraform.tfvars", adb, "orders", db("orders", "orders_user"))
	if err != nil {
		t.Fatal(err)
	}
	if err := standalone.Check(out, "envs/dev-rds/terraform.tfvars").Err(); err != nil {
		t.Fatal(err)
	}
	out, err = UpsertEntry(readInput(t, "coupled-nomap"), "envs/staging/terraform.tfvars", nestedADB, "orders", db("orders", "orders_user"))
	if err != nil {
		t.Fatal(err)
	}
	if err := coupled.Check(out, "envs/staging/terraform.tfvars").Err(); err != nil {
		t.Fatal(err)
	}
	withLevel := append(db("orders", "orders_user"), Attr{"access_level", cty.StringVal("owner")})
	out, err = UpsertEntry(readInput(t, "coupled"), "envs/dev/terraform.tfvars", nestedADB, "orders", withLevel)
	if err != nil {
		t.Fatal(err)
	}
	err = coupled.Check(out, "envs/dev/terraform.tfvars").Err()
	if err == nil || !strings.Contains(err.Error(), `envs/dev/terraform.tfvars:31: rds_config.application_databases["orders"]: unexpected attribute "access_level"`) {
		t.Fatalf("access_level not reported: %v", err)
	}
}

func TestParseVariablesErrors(t *testing.T) {
	src := []byte(`variable "a" {
  type = strang
}
variable "b" {
  type    = number
  default = "many"
}
variable "c" {
  type = object({ x = optional(string, 5) })
}
variable "b" {}
variable {}
variable "d" {
  nullable = "maybe"
}
`)
	_, err := ParseVariables(SourceFile{Name: "variables.tf", Src: src}, SourceFile{Name: "broken.tf", Src: []byte("variable \"e\" {\n")})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`variables.tf:2: variable "a": invalid type`,
		`variables.tf:6: variable "b": the default does not match the type number`,
		`variables.tf:11: variable "b" is already declared at variables.tf:4`,
		`variables.tf:12: a variable block needs exactly one label`,
		`variables.tf:14: variable "d": nullable must be true or false`,
		`broken.tf:`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	var all interface{ Unwrap() []error }
	if !errors.As(err, &all) || len(all.Unwrap()) < 6 {
		t.Errorf("want every problem at once, got %v", err)
	}
}

func TestVariables(t *testing.T) {
	vs := loadVars(t, "coupled")
	rc, ok := vs.Lookup("rds_config")
	if !ok || rc.Required() || rc.Defaults == nil || !rc.Type.IsObjectType() || !rc.Type.AttributeOptional("application_databases") {
		t.Fatalf("rds_config: %+v", rc)
	}
	env, _ := vs.Lookup("environment")
	if !env.Required() {
		t.Fatal("environment has no default")
	}
	if got := strings.Join(vs.Names(), ","); got != "aws_region,build_id,cluster_lifecycle,environment,rds_config" {
		t.Fatal(got)
	}
	// Terraform's conversion with the optional defaults applied.
	val := rc.Defaults.Apply(cty.ObjectVal(map[string]cty.Value{"enabled": cty.True}))
	if got := val.GetAttr("identifier"); !got.RawEquals(cty.StringVal("goldenpath-platform-db")) {
		t.Fatalf("default not applied: %#v", got)
	}
}
