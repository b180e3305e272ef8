package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
)

func TestTimelineLookups(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tl := []ledger.HeadDigest{
		{Head: "aaa", Base: "main", Digest: "A", Seen: at(10).Add(300 * time.Millisecond)},
		{Head: "bbb", Base: "main", Digest: "B", Seen: at(20)},
		{Head: "bbb", Base: "release", Digest: "BR", Seen: at(30)},
	}
	for _, c := range []struct {
		name string
		at   time.Time
		want string
	}{
		{"before anything was seen", at(5), ""},
		{"same second as the first head, GitHub's whole second is before it", at(10), ""},
		{"after the first head", at(11), "A"},
		{"at the second head", at(20), "B"},
		{"after the retarget", at(40), "BR"},
	} {
		if got := digestAt(tl, c.at); got != c.want {
			t.Errorf("digestAt %s: %q, want %q", c.name, got, c.want)
		}
	}
	retarget := []time.Time{at(29)}
	for _, c := range []struct {
		name      string
		retargets []time.Time
		at        time.Time
		want      string
	}{
		{"no retarget since: today's base", nil, at(1), "release"},
		{"retargeted after the review: the base then", retarget, at(25), "main"},
		{"retargeted after a review rdsbot saw nothing before", retarget, at(5), ""},
		{"reviewed after the retarget", retarget, at(35), "release"},
	} {
		if got := baseAt(tl, c.retargets, "release", c.at); got != c.want {
			t.Errorf("baseAt %s: %q, want %q", c.name, got, c.want)
		}
	}
	if d := digestOf(tl, "BBB", "main"); d != "B" {
		t.Errorf("digestOf bbb@main %q", d)
	}
	if d := digestOf(tl, "aaa", "release"); d != "" {
		t.Errorf("digestOf a head never seen on that base %q", d)
	}
	if d := digestOf(tl, "bbb", ""); d != "" {
		t.Errorf("digestOf with an unknown base %q", d)
	}
}

func TestWithApproval(t *testing.T) {
	plan := "## Request\n\nbody\n\n---\nRequest: #1\n"
	one := withApproval(plan, "| a |\n")
	two := withApproval(one, "| b |")
	if withApproval(plan, "| b |") != two {
		t.Errorf("replacing the table differs from writing it:\n%q\n%q", withApproval(plan, "| b |"), two)
	}
	if withApproval(two, "") != plan || withApproval(plan, "") != plan {
		t.Errorf("removing the table: %q", withApproval(two, ""))
	}
	if strings.Count(two, approvalStart) != 1 || !strings.Contains(two, "| b |") || strings.Contains(two, "| a |") {
		t.Errorf("table section: %q", two)
	}
	// A person's text after the section stays.
	edited := one + "\nthanks!\n"
	if got := withApproval(edited, "| c |"); !strings.Contains(got, "thanks!") || strings.Contains(got, "| a |") {
		t.Errorf("text after the table: %q", got)
	}
}

func TestGatePaths(t *testing.T) {
	cfg := config.Default()
	g := newGatePaths(cfg)
	for _, c := range []struct {
		path    string
		covered bool
		env     string
	}{
		{"envs/prod-rds/terraform.tfvars", true, "prod"},
		{"envs/prod/terraform.tfvars", true, "prod"},
		{"envs/staging-rds/main.tf", true, "staging"},
		{"envs/staging-rds/outputs.tf", true, "staging"},
		{"envs/staging-rds/modules/x.tf", false, ""},
		{"envs/dev/main.tf", false, ""},
		{"rds-catalog/test.yaml", true, "test"},
		{"docs/20-contracts/rds-requests/prod/RDS-0001.yaml", true, "prod"},
		{"envs/dev-rds/generated/RDS-0001.auto.tfvars.json", true, "dev"},
		{"README.md", false, ""},
		{"schemas/requests/rds.schema.yaml", false, ""},
	} {
		if got := g.covers(c.path); got != c.covered {
			t.Errorf("covers(%s) = %v", c.path, got)
		}
		if c.covered {
			if got := g.envOf(c.path); got != c.env {
				t.Errorf("envOf(%s) = %q, want %q", c.path, got, c.env)
			}
		}
	}
	covered, envs, unknown := g.touched([]forge.PullFile{{Path: "README.md"}, {Path: "envs/prod-rds/terraform.tfvars"},
		{Path: "rds-catalog/dev.yaml", PreviousPath: "rds-catalog/old.yaml"}})
	if strings.Join(covered, ",") != "envs/prod-rds/terraform.tfvars,rds-catalog/dev.yaml,rds-catalog/old.yaml" ||
		strings.Join(envs, ",") != "dev,old,prod" || unknown {
		t.Errorf("touched: %v %v %v", covered, envs, unknown)
	}
	single := config.Default()
	single.Catalog.Layout, single.Catalog.Path = config.LayoutSingleFile, "docs/rds-catalog.yaml"
	if _, _, unknown := newGatePaths(single).touched([]forge.PullFile{{Path: "docs/rds-catalog.yaml"}}); !unknown {
		t.Error("a single-file catalog tells no environment")
	}
}

// Every event a handler takes is one the intake keeps (Handles), so no
// handled delivery is recorded as a no-op.
func TestHandlesCoversEveryHandler(t *testing.T) {
	b := &Bot{}
	for _, h := range b.eventHandlers() {
		for _, ev := range h.Events() {
			if _, ok := handled[ev]; !ok {
				t.Errorf("%T takes %s, which the intake records as a no-op", h, ev)
			}
		}
	}
	for ev := range handled {
		if ev == "issue_comment" {
			if Handles(ev, "edited") || !Handles(ev, "created") {
				t.Error("issue_comment: only created is handled")
			}
		}
	}
	if !Handles("workflow_run", "completed") || Handles("workflow_run", "requested") {
		t.Error("workflow_run: only completed is handled")
	}
	if Handles("projects_v2_item", "edited") {
		t.Error("an event no handler takes is handled")
	}
}
