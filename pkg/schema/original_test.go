package schema

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/internal/golden"
)

const originalRepo = "testdata/original-repo"

func loadDir(t *testing.T, dir string) *Set {
	t.Helper()
	set, err := Load(os.DirFS(dir), DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func describe(set *Set) string {
	var b strings.Builder
	b.WriteString(set.Request.Describe())
	b.WriteString("format: " + set.Request.Format + "\ndocumented defaults used:\n")
	for _, n := range set.Request.Notes {
		b.WriteString("  " + n + "\n")
	}
	for _, k := range set.Enums.Defaulted() {
		b.WriteString("  enums: " + k + "\n")
	}
	if meta := set.Enums.Meta(); len(meta) > 0 {
		b.WriteString("enums metadata: version=" + meta["version"] + "\n")
	}
	return b.String()
}

// TestOriginalFormatLoads: the original system's enums.yaml (with its
// top-level version and no rds.initial_schemas) and rds.schema.yaml
// (properties, required, when/then rules, size mapping, unnamed approval
// routing) load into the same model as rdsbot's own files; the golden
// file shows the model and every documented default used.
func TestOriginalFormatLoads(t *testing.T) {
	orig := loadDir(t, originalRepo)
	golden.Assert(t, "testdata/original.golden", []byte(describe(orig)))
	golden.Assert(t, "testdata/example.golden", []byte(describe(loadDir(t, "../.."))))
	if got := orig.Approvals(map[string]string{"environment": "prod", "risk": "high"}); got.Rule != "environment=prod, risk=high" || got.Tier != "platform-and-security" {
		t.Errorf("original routing: %+v", got)
	}
	if errs := orig.Request.CheckSurfaces(); len(errs) > 0 {
		t.Errorf("the original schema with the documented defaults must serve every surface: %v", errs)
	}
}

// TestEquivalentFormats: the example's schema rewritten in the original
// format loads to exactly the same model.
func TestEquivalentFormats(t *testing.T) {
	example := loadDir(t, "../..")
	data, err := os.ReadFile("testdata/equivalent/rds.schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eq, err := ParseRequestSchema(data, "equivalent.yaml", example.Enums)
	if err != nil {
		t.Fatal(err)
	}
	if eq.Format != FormatOriginal || len(eq.Notes) != 0 {
		t.Errorf("format %s, notes %v", eq.Format, eq.Notes)
	}
	if a, b := example.Request.Describe(), eq.Describe(); a != b {
		t.Errorf("the two formats load differently:\n--- rdsbot format\n%s\n--- original format\n%s", a, b)
	}
}

// TestSchemaErrorsPointToLines: a broken original-format schema reports
// every problem at its line with the shape that was expected.
func TestSchemaErrorsPointToLines(t *testing.T) {
	enums := loadDir(t, originalRepo).Enums
	data, _ := os.ReadFile(originalRepo + "/schemas/requests/rds.schema.yaml")
	broken := string(data)
	for _, r := range []struct{ old, new string }{
		{"    enum_from: domains\n", "    enum_from: domain\n"},
		{"    minimum: 1\n    maximum: 35\n", "    minimun: 1\n    maximum: 35\n"},
		{"      backupRetentionDays:\n        minimum: 14\n", "      backupRetentions:\n        minimum: 14\n"},
		{"  - requester\n", "  - requester\n  - region\n"},
		{"  large:\n    instance_class: db.t3.medium\n", "  large:\n    instance_klass: db.t3.medium\n"},
		{"  - when:\n      risk: high\n", "  - when:\n      risk: high\n      colour: red\n"},
		{"default: postgres\n", "default: mysql\n"},
	} {
		if !strings.Contains(broken, r.old) {
			t.Fatalf("fixture lacks %q", r.old)
		}
		broken = strings.Replace(broken, r.old, r.new, 1)
	}
	_, err := ParseRequestSchema([]byte(broken), "schemas/requests/rds.schema.yaml", enums)
	if err == nil {
		t.Fatal("broken schema accepted")
	}
	golden.Assert(t, "testdata/broken-original.golden", []byte(err.Error()+"\n"))
	if strings.Contains(err.Error(), ":0:") {
		t.Errorf("an error without a line:\n%v", err)
	}
}

func TestFormatErrors(t *testing.T) {
	enums, err := ParseEnums([]byte("version: 1\nenvironments: [dev]\n"), "enums.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ doc, want string }{
		{"id: X\n", `x.yaml:1: no fields: expected ` + "`fields:`"},
		{"id: X\nfields: {}\nproperties: {}\n", "x.yaml:3: both fields (rdsbot format) and properties (original format)"},
		{"id: X\nfields:\n  e: {type: string, enum_from: version}\n", `x.yaml:3: field e: enum_from "version" names a single value (1) in enums.yaml, not a list`},
		{"- a\n- b\n", "x.yaml:1: expected a request schema: a mapping with id"},
		{"id: X\nid: Y\nfields: {}\n", `x.yaml:2: key "id" is given twice`},
		{"id: [X\n", "x.yaml:1: not valid YAML"},
		{"id: X\nfields:\n  n: {type: integer, default: 7.0}\n", `x.yaml:3: field n: default: "7.0" is not a whole number`},
		{"id: X\nproperties:\n  n: {type: integer, required: true}\n", `x.yaml:3: field n: unknown key "required"`},
	}
	for _, c := range cases {
		_, err := ParseRequestSchema([]byte(c.doc), "x.yaml", enums)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: want %q, got %v", c.doc, c.want, err)
		}
	}
	if _, err := ParseEnums([]byte("rds:\n  sizes: [a]\n"), "enums.yaml"); err == nil || !strings.Contains(err.Error(), "enums.yaml:2: rds.sizes must be a mapping {description, values: [...]}") {
		t.Errorf("grouped list without values: %v", err)
	}
}

// TestEmbeddedDefaults: the documented reserved names are the example's
// file, byte for byte, and the defaults file loads.
func TestEmbeddedDefaults(t *testing.T) {
	ex, err := os.ReadFile("../../schemas/metadata/reserved_names.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ex, DefaultReservedFile()) {
		t.Error("pkg/schema/defaults/reserved_names.yaml differs from schemas/metadata/reserved_names.yaml; copy one over the other")
	}
	if builtinOriginal() == nil || len(builtinEnums()) == 0 {
		t.Error("defaults did not load")
	}
	r := DefaultReservedNames()
	for name, kind := range map[string]string{"postgres": ReservedDatabases, "template0": ReservedDatabases, "PG_MONITOR": ReservedRoles, "rds_superuser": ReservedRoles, "public": ReservedRoles} {
		if _, ok := r.Check(kind, "dev", name); !ok {
			t.Errorf("%s %s is not reserved", kind, name)
		}
	}
	for _, ok := range []string{"orders", "pgbouncer_app", "records"} {
		if why, bad := r.Check(ReservedRoles, "dev", ok); bad && ok != "records" {
			t.Errorf("%s reserved: %s", ok, why)
		}
	}
}

// TestResolveConditionalDefaults: the first matching conditional default
// fills a field left empty; a value given wins; others take plain defaults.
func TestResolveConditionalDefaults(t *testing.T) {
	s := loadDir(t, "../..").Request
	vals, from := s.Resolve(map[string]Value{"environment": {Str: "prod"}, "multiAz": {Bool: false}})
	if vals["backupRetentionDays"].Int != 35 || from["backupRetentionDays"] != "prod_settings" {
		t.Errorf("prod backups: %v from %s", vals["backupRetentionDays"], from["backupRetentionDays"])
	}
	if vals["multiAz"].Bool || from["multiAz"] != "" {
		t.Errorf("a given multiAz was overridden: %v %q", vals["multiAz"], from["multiAz"])
	}
	if vals["size"].Str != "small" || from["size"] != FromDefault {
		t.Errorf("size: %v %q", vals["size"], from["size"])
	}
	vals, _ = s.Resolve(map[string]Value{"environment": {Str: "dev"}})
	if vals["backupRetentionDays"].Int != 7 || vals["maxStorageGb"].Int != 50 {
		t.Errorf("dev: %v", vals)
	}
}

// TestCheckSurfaces names the rule, the surface and the environment when a
// surface cannot satisfy a rule, and a required field a surface cannot send.
func TestCheckSurfaces(t *testing.T) {
	set := loadDir(t, "../..")
	if errs := set.Request.CheckSurfaces(); len(errs) > 0 {
		t.Fatalf("the example schema: %v", errs)
	}
	data, _ := os.ReadFile("../../schemas/requests/rds.schema.yaml")
	src := string(data)
	// No conditional defaults, and the requester is no longer a dispatch input.
	src = src[:strings.Index(src, "conditional_defaults:\n")] + src[strings.Index(src, "# Evaluated in order"):]
	src = strings.Replace(src, "    input: user\n", "", 1)
	s, err := ParseRequestSchema([]byte(src), "rds.schema.yaml", set.Enums)
	if err != nil {
		t.Fatal(err)
	}
	got := s.CheckSurfaces().Error()
	for _, want := range []string{
		"field requester is required but the workflow_dispatch inputs cannot send it and it has no default",
		"field requester is required but the Backstage template cannot send it",
		`conditional rule "prod_requires_backup" cannot be satisfied by the workflow_dispatch inputs in environment prod: it cannot send backupRetentionDays, and the value rdsbot fills in, 7 (its default), breaks it`,
		`conditional rule "prod_requires_backup" cannot be satisfied by the Backstage template in environment prod`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, not := range []string{"by the issue form", "by the CLI flags", "by a contract file", "field requester is required but the issue form"} {
		if strings.Contains(got, not) {
			t.Errorf("%q should be satisfiable:\n%s", not, got)
		}
	}
}
