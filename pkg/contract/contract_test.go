package contract

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/internal/golden"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

func loadSet(t testing.TB) *schema.Set {
	t.Helper()
	set, err := schema.Load(os.DirFS("../.."), schema.DefaultPaths)
	if err != nil {
		t.Fatalf("load schemas: %v", err)
	}
	return set
}

// backstageInputs are the ten inputs the Backstage template dispatches.
func backstageInputs() map[string]any {
	return map[string]any{
		"base_branch": "main", "environment": "staging", "database_name": "orders_service",
		"username": "orders_app", "owner": "app-team", "user": "jane-doe", "domain": "delivery",
		"risk": "medium", "size": "medium", "initial_schema": "none",
	}
}

func TestFromInputsValid(t *testing.T) {
	set := loadSet(t)
	raw, probs := FromInputs(set.Request, SourceDispatch, backstageInputs())
	if len(probs) > 0 {
		t.Fatalf("parse problems: %v", probs)
	}
	req, probs := Validate(set, raw)
	if err := probs.Err(); err != nil {
		t.Fatal(err)
	}
	want := Request{
		Service: "postgres", Environment: "staging", DatabaseName: "orders_service", Username: "orders_app",
		Owner: "app-team", Domain: "delivery", Risk: "medium", Size: "medium", InitialSchema: "none",
		// staging_settings: 14 days of backups, Multi-AZ, up to 100 GB.
		BaseBranch: "main", Requester: "jane-doe", StorageGB: 20, MaxStorageGB: 100, BackupRetentionDays: 14,
		MultiAZ: true, PerformanceInsights: true, InstanceClass: "db.t3.small", MaxConnections: 200,
	}
	got := *req
	got.Values, got.types, got.Approval, got.Source = nil, nil, schema.Approval{}, ""
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("request:\n got %+v\nwant %+v", got, want)
	}
	if req.SecretPath("") != "goldenpath/staging/orders_service/postgres" {
		t.Errorf("secret path %q", req.SecretPath(""))
	}
	if req.SecretPath("acme/") != "acme/staging/orders_service/postgres" {
		t.Errorf("prefixed secret path %q", req.SecretPath("acme/"))
	}
	if req.CatalogID() != "DATABASE_ORDERS_SERVICE" {
		t.Errorf("catalog id %q", req.CatalogID())
	}
	// staging matches no approval_routing rule: the databases-rds service class applies.
	if req.Approval.Rule != "service-class:databases-rds" || strings.Join(req.Approval.Reviewers, ",") != "platform-team,security-team,database-team" {
		t.Errorf("approval %+v", req.Approval)
	}
}

func TestFromIssueForm(t *testing.T) {
	set := loadSet(t)
	body := "### Database name\n\nbilling_db\n\n### Application username\n\nbilling_app\n\n" +
		"### Environment\n\ndev\n\n### Owning team\n\napp-team\n\n### Domain\n\ncost\n\n" +
		"### Risk\n\n_No response_\n\n### Size tier\n\nsmall\n\n### Multi-AZ\n\nfalse\n\n" +
		"### Storage (GB)\n\n30\n"
	raw, probs := FromIssueForm(set.Request, body)
	if len(probs) > 0 {
		t.Fatalf("parse problems: %v", probs)
	}
	raw.Set("requester", RawValue{Text: "octocat", Kind: KindString, Origin: "issue author"})
	req, probs := Validate(set, raw)
	if err := probs.Err(); err != nil {
		t.Fatal(err)
	}
	if req.DatabaseName != "billing_db" || req.Risk != "low" || req.StorageGB != 30 || req.Requester != "octocat" {
		t.Errorf("request %+v", req)
	}
	if !req.Approval.SelfServe() || req.Approval.Tier != "self-serve" {
		t.Errorf("dev request should be self-serve, got %+v", req.Approval)
	}
}

func TestIssueFormCRLFAndDuplicates(t *testing.T) {
	set := loadSet(t)
	body := "### Database name\r\n\r\nbilling_db\r\n\r\n### database  NAME\r\n\r\nother_db\r\n"
	raw, probs := FromIssueForm(set.Request, body)
	if raw.Values["databaseName"].Text != "billing_db" {
		t.Errorf("first answer should win, got %q", raw.Values["databaseName"].Text)
	}
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "answered twice") {
		t.Errorf("problems %v", probs)
	}
}

func TestFromYAML(t *testing.T) {
	set := loadSet(t)
	doc := `id: RDS-0001
service: postgres
environment: prod
owner: platform-team
requester: platform-team
metadata:
  title: "Backstage catalog"
  created: "2026-01-15"
spec:
  databaseName: backstage_db
  username: backstage_app
  size: large
  domain: catalog
  storageGb: 20
  maxStorageGb: 50
  backupRetentionDays: 14
  multiAz: true
  performanceInsights: true
  risk: high
`
	raw, probs := FromYAML(set.Request, []byte(doc), "RDS-0001.yaml")
	if len(probs) > 0 {
		t.Fatalf("parse problems: %v", probs)
	}
	req, probs := Validate(set, raw)
	if err := probs.Err(); err != nil {
		t.Fatal(err)
	}
	if req.ID != "RDS-0001" || req.Title != "Backstage catalog" || req.InstanceClass != "db.t3.medium" || !req.MultiAZ {
		t.Errorf("request %+v", req)
	}
	if req.Approval.Rule != "prod-high-risk" || len(req.Approval.Labels) != 1 || req.Approval.Labels[0].Label != "platform-approval" {
		t.Errorf("approval %+v", req.Approval)
	}
}

// TestInvalidReportsEverything checks that one bad request lists every
// problem at once, with the field, the value and the rule; the rendered list
// is a golden file so the wording requesters see is reviewed.
func TestInvalidReportsEverything(t *testing.T) {
	set := loadSet(t)
	cases := []struct {
		name string
		raw  func() (Raw, Problems)
	}{
		{"dispatch", func() (Raw, Problems) {
			in := backstageInputs()
			in["database_name"] = "Orders-DB"
			in["username"] = "x"
			in["environment"] = "dev"
			in["size"] = "large"
			in["owner"] = "group:default/app-team"
			in["user"] = "Jane Doe"
			in["colour"] = "blue"
			delete(in, "domain")
			return FromInputs(set.Request, SourceDispatch, in)
		}},
		{"yaml-types", func() (Raw, Problems) {
			doc := "id: RDS-1\nenvironment: prod\nowner: platform-team\nrequester: ops-bot\n" +
				"databaseName: top_level\nspec:\n  databaseName: ok_db\n  username: ok_user\n  domain: cost\n" +
				"  multiAz: \"false\"\n  storageGb: \"20\"\n  maxStorageGb: 20\n  backupRetentionDays: 7\n  sizee: small\n"
			return FromYAML(set.Request, []byte(doc), "bad.yaml")
		}},
		{"ephemeral-and-ranges", func() (Raw, Problems) {
			return FromFlags(map[string]string{
				"databaseName": "eph_db", "username": "eph_user", "environment": "ephemeral",
				"owner": "app-team", "domain": "cost", "requester": "me", "storageGb": "600",
				"backupRetentionDays": "0", "multiAz": "maybe",
			}), nil
		}},
		{"prod-warning-only", func() (Raw, Problems) {
			return FromFlags(map[string]string{
				"databaseName": "pay_db", "username": "pay_user", "environment": "prod",
				"owner": "app-team", "domain": "cost", "requester": "me", "backupRetentionDays": "14", "multiAz": "false",
			}), nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, parseProbs := tc.raw()
			req, probs := Validate(set, raw)
			all := append(parseProbs, probs...)
			var b strings.Builder
			for _, p := range all {
				fmt.Fprintf(&b, "%s\t%s\t[%s]\n", p.Severity, p.String(), p.Origin)
			}
			golden.Assert(t, "testdata/problems-"+tc.name+".golden", []byte(b.String()))
			if tc.name == "prod-warning-only" {
				if req == nil || len(all.Warnings()) != 1 {
					t.Errorf("want a valid request with one warning, got %v", all)
				}
			} else if req != nil {
				t.Errorf("invalid request accepted: %+v", req)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	for n, want := range map[int]string{1: "RDS-0001", 42: "RDS-0042", 12345: "RDS-12345"} {
		if got := RequestID(n); got != want {
			t.Errorf("RequestID(%d) = %q", n, got)
		}
		if back, ok := IssueNumber(want); !ok || back != n {
			t.Errorf("IssueNumber(%q) = %d, %v", want, back, ok)
		}
	}
	for _, bad := range []string{"RDS-1", "RDS-INT-001", "DATABASE_X", "RDS-0000"} {
		if _, ok := IssueNumber(bad); ok {
			t.Errorf("IssueNumber(%q) accepted", bad)
		}
	}
}

// TestBackstageProdGetsSafeDefaults: the ten Backstage inputs cannot say
// anything about backups or Multi-AZ; a prod/large request still passes,
// with the prod settings of the schema's conditional defaults.
func TestBackstageProdGetsSafeDefaults(t *testing.T) {
	set := loadSet(t)
	in := backstageInputs()
	in["environment"], in["size"], in["risk"] = "prod", "large", "low"
	raw, probs := FromInputs(set.Request, SourceDispatch, in)
	req, vprobs := Validate(set, raw)
	if all := append(probs, vprobs...); len(all) > 0 {
		t.Fatalf("problems: %v", all)
	}
	if req.BackupRetentionDays != 35 || !req.MultiAZ || req.StorageGB != 50 || req.MaxStorageGB != 500 {
		t.Errorf("prod defaults not applied: %+v", req)
	}
	// A value the requester gives wins over the conditional default.
	in["environment"], in["size"] = "dev", "small"
	raw, _ = FromInputs(set.Request, SourceDispatch, in)
	if req, probs := Validate(set, raw); probs.Err() != nil || req.BackupRetentionDays != 7 || req.MultiAZ {
		t.Errorf("dev: %v %+v", probs, req)
	}
	raw = FromFlags(map[string]string{"databaseName": "pay_db", "username": "pay_app", "environment": "prod",
		"owner": "app-team", "domain": "cost", "requester": "me", "backupRetentionDays": "10"})
	_, probs = Validate(set, raw)
	if probs.Err() == nil || !strings.Contains(probs.Err().Error(), "--backup-retention-days must be at least 14 when --environment is prod") {
		t.Errorf("an explicit 10 days in prod: %v", probs)
	}
}

func validateYAML(t *testing.T, set *schema.Set, doc string) (*Request, Problems) {
	t.Helper()
	raw, probs := FromYAML(set.Request, []byte(doc), "req.yaml")
	req, vprobs := Validate(set, raw)
	return req, append(probs, vprobs...)
}

const goodSpec = "id: RDS-0009\nenvironment: dev\nowner: app-team\nrequester: jane\nspec:\n  databaseName: ok_db\n  username: ok_user\n  domain: cost\n"

// TestStrictYAML: everything that would make a file mean something other
// than what it shows is refused with its line; a syntax error comes alone.
func TestStrictYAML(t *testing.T) {
	set := loadSet(t)
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"duplicate key", goodSpec + "  domain: delivery\n", []string{`key "domain" is given twice (first on line 8); keep one [req.yaml:9]`}},
		{"camel and snake", goodSpec + "  database_name: other_db\n", []string{"spec.database_name: is not a field of RDS_REQUEST_V1 (did you mean databaseName?)"}},
		{"alias", strings.Replace(goodSpec, "databaseName: ok_db", "databaseName: &u ok_db", 1) + "  size: *u\n", []string{"alias *u is not allowed", "anchor &u is not allowed"}},
		{"tag", strings.Replace(goodSpec, "domain: cost", "domain: !!str cost", 1), []string{"tag !!str is not allowed; write the value plainly (quote it to make it text) [req.yaml:8]"}},
		{"second document", goodSpec + "---\nid: RDS-0010\n", []string{"a second YAML document"}},
		{"unknown metadata", goodSpec + "metadata:\n  titel: x\n", []string{"metadata.titel: is not a metadata key"}},
		{"unknown top-level", goodSpec + "colour: blue\n", []string{"colour: is not a key of an RDS_REQUEST_V1 file"}},
		{"syntax error alone", "id: RDS-0009\nspec: [\n", []string{"req.yaml is not valid YAML"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, probs := validateYAML(t, set, c.doc)
			if probs.Err() == nil {
				t.Fatalf("accepted")
			}
			var lines []string
			for _, p := range probs {
				lines = append(lines, fmt.Sprintf("%s [%s]", p, p.Origin))
			}
			all := strings.Join(lines, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems do not mention %q:\n%s", w, all)
				}
			}
			if c.name == "syntax error alone" && len(probs) != 1 {
				t.Errorf("a syntax error must come alone, got:\n%s", all)
			}
		})
	}
}

// TestNumbersInRequesterWords: 7.0 is seven, 7.5 is not a whole number, a
// quoted number is text (and the message says so), 0x10 is refused.
func TestNumbersInRequesterWords(t *testing.T) {
	set := loadSet(t)
	cases := []struct{ value, want string }{
		{"20.0", ""},
		{"20.5", "spec.storageGb: \"20.5\" must be a whole number, not a fraction"},
		{`"20"`, "written in quotes, which makes it text: remove the quotes"},
		{"0x14", "must be a whole number written in plain digits"},
		{"[20]", "must be a whole number, not a list"},
		{"true", "must be a whole number, not true or false"},
	}
	for _, c := range cases {
		req, probs := validateYAML(t, set, goodSpec+"  storageGb: "+c.value+"\n")
		switch {
		case c.want == "" && (probs.Err() != nil || req.StorageGB != 20):
			t.Errorf("%s: %v", c.value, probs)
		case c.want != "" && (probs.Err() == nil || !strings.Contains(probs.Err().Error(), c.want)):
			t.Errorf("%s: want %q, got %v", c.value, c.want, probs)
		}
	}
	for _, c := range []struct{ value, want string }{
		{`"false"`, "must be true or false; it is written in quotes"},
		{"maybe", "must be true or false"},
		{"yes", ""},
	} {
		_, probs := validateYAML(t, set, goodSpec+"  multiAz: "+c.value+"\n")
		if (c.want == "") != (probs.Err() == nil) || (c.want != "" && !strings.Contains(probs.Err().Error(), c.want)) {
			t.Errorf("multiAz %s: %v", c.value, probs)
		}
	}
	_, probs := validateYAML(t, set, strings.Replace(goodSpec, "ok_db", "42", 1))
	if probs.Err() == nil || !strings.Contains(probs.Err().Error(), "must be text, not a number; put 42 in quotes") {
		t.Errorf("a number for a text field: %v", probs)
	}
	// JSON numbers: 7.0 is seven there too.
	in, jprobs := ParseJSONObject([]byte(`{"databaseName": "a_db", "username": "a_app", "environment": "dev", "owner": "app-team",
		"domain": "cost", "requester": "me", "storageGb": 30.0, "multiAz": false}`), "payload.json")
	raw, probs := FromInputs(set.Request, SourceRepositoryDispatch, in)
	req, vprobs := Validate(set, raw)
	if all := append(append(jprobs, probs...), vprobs...); all.Err() != nil || req.StorageGB != 30 {
		t.Errorf("json 30.0: %v", all)
	}
}

func TestStrictJSONAndAliases(t *testing.T) {
	set := loadSet(t)
	_, probs := ParseJSONObject([]byte("{\n  \"inputs\": {\"database_name\": \"a\",\n  \"database_name\": \"b\"}\n}"), "in.json")
	if len(probs) != 1 || !strings.Contains(probs[0].String(), "inputs.database_name: is given twice") || probs[0].Origin != "in.json:3:3" {
		t.Errorf("duplicate JSON key: %v %v", probs, probs[0].Origin)
	}
	for _, bad := range []string{`{"a": 1} {"b": 2}`, `[1]`, `{"a": `} {
		if _, probs := ParseJSONObject([]byte(bad), "in.json"); len(probs) != 1 || probs.Err() == nil {
			t.Errorf("%s: %v", bad, probs)
		}
	}
	raw, probs := FromInputs(set.Request, SourceRepositoryDispatch, map[string]any{"databaseName": "a_db", "database_name": "b_db"})
	if len(probs) != 1 || !strings.Contains(probs[0].String(), "database_name: is the same field as databaseName") {
		t.Errorf("two names for one field: %v", probs)
	}
	if _, ok := raw.Values["databaseName"]; ok {
		t.Error("neither of two conflicting values may be kept")
	}
}

func TestIssueFormUnknownSection(t *testing.T) {
	set := loadSet(t)
	body := "Preamble rdsbot writes.\n\n### Database name\n\nbilling_db\n\n### Why we need it\n\nreporting\n"
	_, probs := FromIssueForm(set.Request, body)
	if len(probs) != 1 || !strings.Contains(probs[0].String(), "Why we need it: is not a question of this form (line 7)") {
		t.Errorf("problems %v", probs)
	}
	// Problems name the field by its label on the issue form.
	raw, _ := FromIssueForm(set.Request, "### Database name\n\nBad Name\n\n### Environment\n\ndev\n")
	_, vprobs := Validate(set, raw)
	text := vprobs.Err().Error()
	for _, want := range []string{`Database name: "Bad Name" must be`, "Application username: is required", "Owning team"} {
		if strings.Contains(want, "Owning") {
			if strings.Contains(text, want) {
				t.Errorf("owner has a default and must not be required: %s", text)
			}
			continue
		}
		if !strings.Contains(text, want) {
			t.Errorf("%q not in:\n%s", want, text)
		}
	}
}

// TestReservedNames: PostgreSQL's and RDS's own names, the pg_ and rds
// prefixes, and the environment's own admin database and master user.
func TestReservedNames(t *testing.T) {
	set := loadSet(t)
	set.Reserved.AddInstance("dev", schema.ReservedRoles, "platform_admin", "the master user of the dev instance")
	set.Reserved.AddInstance("dev", schema.ReservedDatabases, "platform", "the dev instance's admin database")
	cases := []struct{ db, user, want string }{
		{"postgres", "ok_user", `database_name: "postgres" is reserved: PostgreSQL's default database`},
		{"template1", "ok_user", `"template1" is reserved`},
		{"rdsadmin", "ok_user", `"rdsadmin" is reserved: Amazon RDS's own administration database`},
		{"ok_db", "rdsadmin", `username: "rdsadmin" is reserved`},
		{"ok_db", "pg_monitor", `"pg_monitor" is reserved: PostgreSQL reserves names starting with pg_`},
		{"rds_data", "ok_user", `"rds_data" is reserved: Amazon RDS reserves names starting with rds`},
		{"platform", "ok_user", `"platform" is reserved: the dev instance's admin database`},
		{"ok_db", "platform_admin", `"platform_admin" is reserved: the master user of the dev instance`},
		{"ok_db", "public", `"public" is reserved`},
	}
	for _, c := range cases {
		in := backstageInputs()
		in["environment"], in["database_name"], in["username"] = "dev", c.db, c.user
		in["size"] = "small"
		raw, _ := FromInputs(set.Request, SourceDispatch, in)
		_, probs := Validate(set, raw)
		if probs.Err() == nil || !strings.Contains(probs.Err().Error(), c.want) {
			t.Errorf("%s/%s: want %q, got %v", c.db, c.user, c.want, probs)
		}
	}
	// The instance names are reserved only in their own environment.
	in := backstageInputs()
	in["database_name"] = "platform"
	raw, _ := FromInputs(set.Request, SourceDispatch, in)
	if _, probs := Validate(set, raw); probs.Err() != nil {
		t.Errorf("platform in staging: %v", probs)
	}
}

// TestContractRoundTrip: a request rendered as a contract file reads back
// to the same values, with its status and creation date.
func TestContractRoundTrip(t *testing.T) {
	set := loadSet(t)
	in := backstageInputs()
	in["environment"], in["size"] = "prod", "large"
	raw, _ := FromInputs(set.Request, SourceDispatch, in)
	req, probs := Validate(set, raw)
	if probs.Err() != nil {
		t.Fatal(probs)
	}
	req = req.WithID("RDS-0042")
	b, err := req.ContractYAML(set.Request, "pending", "2026-11-27")
	if err != nil {
		t.Fatal(err)
	}
	back, probs := validateYAML(t, set, string(b))
	if probs.Err() != nil {
		t.Fatalf("%v\n%s", probs, b)
	}
	if fmt.Sprint(back.Fields()) != fmt.Sprint(req.Fields()) {
		t.Errorf("round trip:\n got %v\nwant %v", back.Fields(), req.Fields())
	}
	raw2, _ := FromYAML(set.Request, b, "RDS-0042.yaml")
	if raw2.Status != "pending" || raw2.Created != "2026-11-27" {
		t.Errorf("status %q created %q", raw2.Status, raw2.Created)
	}
	again, _ := back.ContractYAML(set.Request, "pending", "2026-11-27")
	if string(again) != string(b) {
		t.Errorf("not byte-stable:\n%s\n%s", b, again)
	}
}
