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
		BaseBranch: "main", Requester: "jane-doe", StorageGB: 20, MaxStorageGB: 50, BackupRetentionDays: 7,
		MultiAZ: false, PerformanceInsights: true, InstanceClass: "db.t3.small", MaxConnections: 200,
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
		"### Storage (GB)\n\n30\n\n### Why we need it\n\nfree text the bot ignores\n"
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
				"owner": "app-team", "domain": "cost", "requester": "me", "backupRetentionDays": "14",
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
