package schema

import (
	"os"
	"strings"
	"testing"
)

func TestLoadRepositorySchemas(t *testing.T) {
	set, err := Load(os.DirFS("../.."), DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	sizes, _ := set.Enums.Values("rds.instance_sizes")
	if strings.Join(sizes, ",") != "small,medium,large,xlarge" {
		t.Errorf("sizes %v", sizes)
	}
	env := set.Request.Fields["environment"]
	if strings.Join(env.Enum, ",") != "dev,test,staging,prod" {
		t.Errorf("environment enum should exclude ephemeral: %v", env.Enum)
	}
	if n := len(set.Request.InputFields()); n != 10 {
		t.Errorf("%d dispatch inputs, want the 10 of create-rds-database.yml", n)
	}
	for _, f := range set.Request.FormFields() {
		if f.Name == "requester" || f.Name == "id" {
			t.Errorf("%s must not be asked in the issue form", f.Name)
		}
	}
	if sc, ok := set.Request.Size("xlarge"); !ok || sc.InstanceClass != "db.r6g.large" {
		t.Errorf("xlarge maps to %+v", sc)
	}
}

func TestApprovals(t *testing.T) {
	set, err := Load(os.DirFS("../.."), DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fields    map[string]string
		rule      string
		reviewers string
		labels    string
	}{
		{map[string]string{"environment": "prod", "risk": "high", "size": "small"}, "prod-high-risk", "platform-team,security-team", ""},
		{map[string]string{"environment": "prod", "risk": "access", "size": "xlarge"}, "prod", "platform-team", "platform-approval"},
		{map[string]string{"environment": "staging", "risk": "high", "size": "small"}, "high-risk", "security-team", ""},
		{map[string]string{"environment": "dev", "risk": "low", "size": "small"}, "dev-test-self-serve", "", ""},
		{map[string]string{"environment": "staging", "risk": "low", "size": "large"}, "service-class:databases-rds", "platform-team,security-team,database-team", "platform-approval"},
	}
	for _, c := range cases {
		a := set.Approvals(c.fields)
		var labels []string
		for _, l := range a.Labels {
			labels = append(labels, l.Label)
		}
		if a.Rule != c.rule || strings.Join(a.Reviewers, ",") != c.reviewers || strings.Join(labels, ",") != c.labels {
			t.Errorf("%v: got rule %q reviewers %v labels %v", c.fields, a.Rule, a.Reviewers, labels)
		}
	}
	if d := set.DecommissionApproval(); d.Labels[0].Label != "rds-allow-delete" {
		t.Errorf("decommission %+v", d)
	}
}

// TestBrokenSchemaReportsEverything: a schema with several mistakes names all of them.
func TestBrokenSchemaReportsEverything(t *testing.T) {
	enums, err := ParseEnums([]byte("environments: [dev, prod]\nrds:\n  instance_sizes:\n    values: [small]\n"), "enums.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := `id: X
field_order: [nope]
fields:
  environment: {type: string, enum_from: environmentz}
  size: {type: string, enum_from: rds.instance_sizes, default: huge}
  n: {type: integr}
  p: {type: string, pattern: "([a-z"}
conditional_rules:
  - name: r1
    when: {field: environment, equals: dev}
    then: {field: ghost, minimum: 1}
    message: m
approval_routing:
  - name: a1
    when: {colour: red}
    tier: self-serve
`
	_, err = ParseRequestSchema([]byte(doc), "rds.schema.yaml", enums)
	if err == nil {
		t.Fatal("broken schema accepted")
	}
	for _, want := range []string{
		`enum_from "environmentz" names no list`,
		`default "huge" breaks its own rule`,
		`type "integr"`,
		`pattern: error parsing regexp`,
		`field_order names unknown field "nope"`,
		`then.field "ghost" is not a field`,
		`size_mapping has no row for size "small"`,
		`tests unknown field "colour"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestEnumsRejectDuplicates(t *testing.T) {
	_, err := ParseEnums([]byte("owners: [a, b, a]\n"), "enums.yaml")
	if err == nil || !strings.Contains(err.Error(), `"a" is listed twice`) {
		t.Fatalf("got %v", err)
	}
}
