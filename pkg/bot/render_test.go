package bot

import (
	"os"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/internal/golden"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

func loadSet(t *testing.T) *schema.Set {
	t.Helper()
	set, err := schema.Load(os.DirFS("../.."), schema.DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// A dispatched request survives the trip through its issue body: what the
// bot reads back from the issue is what the dispatch asked for.
func TestDispatchIssueRoundTrip(t *testing.T) {
	set := loadSet(t)
	inputs := map[string]any{
		"base_branch": "main", "environment": "staging", "database_name": "orders_service",
		"username": "orders_app", "owner": "app-team", "user": "jane-doe", "domain": "delivery",
		"risk": "medium", "size": "medium", "initial_schema": "none",
	}
	raw, probs := contract.FromInputs(set.Request, contract.SourceDispatch, inputs)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	direct, vp := contract.Validate(set, raw)
	if vp.Err() != nil {
		t.Fatal(vp.Err())
	}
	origin := Origin{Source: contract.SourceDispatch, Delivery: "d-123", Requester: "jane-doe", Sender: "backstage[bot]"}
	title, body := IssueFromRaw(set.Request, raw, nil, origin)
	if title != "RDS request: orders_service (staging)" {
		t.Errorf("title %q", title)
	}
	golden.Assert(t, "testdata/dispatch-issue.golden", []byte(body))
	if got, ok := ParseOrigin(body); !ok || got != origin {
		t.Errorf("origin %+v", got)
	}
	back, probs := RawFromIssue(set.Request, body, "rdsbot[bot]", "rdsbot[bot]")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	viaIssue, vp := contract.Validate(set, back)
	if vp.Err() != nil {
		t.Fatal(vp.Err())
	}
	if viaIssue.Requester != "jane-doe" || viaIssue.DatabaseName != direct.DatabaseName || viaIssue.Size != direct.Size ||
		viaIssue.BaseBranch != direct.BaseBranch || viaIssue.Owner != direct.Owner {
		t.Errorf("round trip:\n direct %+v\n issue  %+v", direct, viaIssue)
	}
	// Someone else's issue carrying a copied origin line does not get to
	// name the requester: the author is the requester.
	forged, _ := RawFromIssue(set.Request, body, "mallory", "rdsbot[bot]")
	if forged.Values["requester"].Text != "mallory" {
		t.Errorf("requester of a forged origin: %q", forged.Values["requester"].Text)
	}
}

func TestRenderStatus(t *testing.T) {
	set := loadSet(t)
	approval := set.Approvals(map[string]string{"environment": "prod", "risk": "high", "size": "large"})
	raw := contract.FromFlags(map[string]string{"databaseName": "Bad|Name", "environment": "dev", "size": "large", "requester": "x"})
	_, probs := contract.Validate(set, raw)
	cases := map[string]Status{
		"invalid": {RequestID: "RDS-0007", Phase: PhaseInvalid, Problems: probs},
		"pr-open": {RequestID: "RDS-0042", Phase: PhasePROpen, Environment: "prod", Database: "pay_db",
			PR:    &PRRef{Number: 43, URL: "https://github.example/acme/infra/pull/43", Branch: "rds/prod/pay_db", Base: "main"},
			Files: []string{"envs/prod-rds/terraform.tfvars", "rds-catalog/prod.yaml"}, Approval: &approval},
		"blocked": {RequestID: "RDS-0042", Phase: PhaseBlocked, Environment: "prod", Database: "pay_db",
			PR:     &PRRef{Number: 43, URL: "https://github.example/acme/infra/pull/43", Branch: "rds/prod/pay_db"},
			Detail: "@someone pushed to `rds/prod/pay_db`; rdsbot no longer updates it."},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			out := RenderStatus(s)
			if !strings.HasPrefix(out, StatusMarker) {
				t.Error("no marker")
			}
			if out != RenderStatus(s) {
				t.Error("not deterministic")
			}
			golden.Assert(t, "testdata/status-"+name+".golden", []byte(out))
		})
	}
}

func TestParseCommand(t *testing.T) {
	cases := []struct {
		body    string
		cmd     Command
		unknown string
		ok      bool
	}{
		{"/rds status", CmdStatus, "", true},
		{"thanks!\n/rds   PLAN\n", CmdPlan, "", true},
		{"> /rds retry\nquoted", "", "", false},
		{"please run `/rds retry`", "", "", false},
		{"/rds destroy", "", "destroy", true},
		{"/rds", "", "", false},
		{"/rdsx status", "", "", false},
	}
	for _, c := range cases {
		cmd, unknown, ok := ParseCommand(c.body)
		if cmd != c.cmd || unknown != c.unknown || ok != c.ok {
			t.Errorf("%q: got %q %q %v", c.body, cmd, unknown, ok)
		}
	}
}
