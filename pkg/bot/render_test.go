package bot

import (
	"github.com/rdsbot/rdsbot/pkg/md"
	"os"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/internal/golden"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/md/mdtest"
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
	origin := Origin{Source: contract.SourceDispatch, Requester: "jane-doe", Sender: "backstage[bot]"}
	title, body := IssueFromRaw(set.Request, raw, nil, origin)
	if title != "RDS request: orders_service (staging)" {
		t.Errorf("title %q", title)
	}
	golden.Assert(t, "testdata/dispatch-issue.golden", []byte(body))
	back, probs := RawFromText(set.Request, body, "jane-doe", contract.SourceDispatch)
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
}

// Hostile dispatch inputs render inertly in the issue the bot opens: no
// extra section, no mention, no link, nothing that reads back differently.
func TestDispatchIssueIsInert(t *testing.T) {
	set := loadSet(t)
	inputs := map[string]any{
		"base_branch": "main", "environment": "dev",
		"database_name": "x` @acme/platform-team ![i](https://evil.example/p.png) `",
		"username":      "a\n\n### Owning team\n\nsecurity-team", "owner": "app-team",
		"user": "jane\n## Approved by @acme/security-team", "domain": "delivery",
		"risk": "low", "size": "small", "initial_schema": "none",
	}
	raw, probs := contract.FromInputs(set.Request, contract.SourceDispatch, inputs)
	title, body := IssueFromRaw(set.Request, raw, probs, Origin{Source: contract.SourceDispatch, Requester: inputs["user"].(string), Sender: "backstage[bot]"})
	if strings.Contains(title, "\n") {
		t.Errorf("title spans lines: %q", title)
	}
	if live := mdtest.Findings(body, "@backstage"); len(live) > 0 {
		t.Errorf("live markup in the issue body: %v\n%s", live, body)
	}
	back, _ := RawFromText(set.Request, body, "jane", contract.SourceDispatch)
	if got := back.Values["owner"].Text; got != "app-team" {
		t.Errorf("owner read back as %q", got)
	}
	if n := strings.Count("\n"+body, "\n### "); n != len(set.Request.FormFields()) {
		t.Errorf("%d sections, want %d:\n%s", n, len(set.Request.FormFields()), body)
	}
}

func TestRenderStatus(t *testing.T) {
	set := loadSet(t)
	approval := set.Approvals(map[string]string{"environment": "prod", "risk": "high", "size": "large"})
	raw := contract.FromFlags(map[string]string{"databaseName": "Bad|Name", "environment": "dev", "size": "large", "requester": "x"})
	_, probs := contract.Validate(set, raw)
	pr := &PRRef{Number: 43, URL: "https://github.example/acme/infra/pull/43", Branch: "rds/prod/pay_db", Base: "main"}
	blocked := lifecycle.For(lifecycle.ForeignChange, "@someone pushed to `rds/prod/pay_db`; rdsbot stopped updating it.")
	blocked.Action = "Remove the other commits from the branch, then comment `/rds retry`."
	cases := map[string]View{
		"invalid": {RequestID: "RDS-0007", Status: lifecycle.For(lifecycle.Invalid, ""), Problems: probs},
		"pr-open": {RequestID: "RDS-0042", Status: lifecycle.For(lifecycle.WaitingForApproval, ""), Environment: "prod", Database: "pay_db",
			PR: pr, Files: []string{"envs/prod-rds/terraform.tfvars", "rds-catalog/prod.yaml"}, Approval: &approval},
		"blocked": {RequestID: "RDS-0042", Status: blocked, Environment: "prod", Database: "pay_db", PR: pr},
		"name-taken": {RequestID: "RDS-0044", Environment: "prod", Database: "x`y",
			Status: lifecycle.Status{State: lifecycle.Pending, Reason: lifecycle.NameTaken, Message: "held by #42", Action: "Choose another name."}},
		"merged": {RequestID: "RDS-0042", Status: lifecycle.For(lifecycle.Merged, "Pull request #43 was merged."), Environment: "prod", Database: "pay_db", PR: pr},
		"active": {RequestID: "RDS-0042", Status: lifecycle.For(lifecycle.Provisioned, "The database is ready. Its credentials are in the secret goldenpath/prod/pay_db/postgres."),
			Environment: "prod", Database: "pay_db", PR: pr},
		"failed": {RequestID: "RDS-0042", Status: lifecycle.Status{State: lifecycle.Failed, Reason: lifecycle.ApplyFailed,
			Message: "The rollout stopped. " + md.Text("Terraform failed: `Error` <b>x</b>."), Action: "Fix the cause, then comment `/rds retry` to run the failed step again."},
			Environment: "prod", Database: "pay_db", PR: pr, Notes: []string{"The end of the log:\n\n" + md.Block("text", "Error: AccessDenied\n```\n<script>")}},
		"decommissioned": {RequestID: "RDS-0042", Status: lifecycle.For(lifecycle.DecommissionDone, "The database is decommissioned."),
			Environment: "prod", Database: "pay_db", PR: pr, Decommission: true},
		"withdrawn": {RequestID: "RDS-0042", Status: lifecycle.For(lifecycle.IssueClosed, "closed"), Environment: "prod", Database: "pay_db", PR: &PRRef{Number: 43, Closed: true, Branch: "rds/prod/pay_db"}},
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
