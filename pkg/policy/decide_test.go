package policy_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/internal/golden"
	"github.com/rdsbot/rdsbot/pkg/md/mdtest"
	"github.com/rdsbot/rdsbot/pkg/policy"
)

func TestBreakGlassLetsAMergePastTheCheckProceed(t *testing.T) {
	pol, _ := newPolicy(t)
	dg := realDigests(t)
	r := evaluate(t, pol, dg, gateCase{req: req(policy.KindCreate, "prod", "high", "small"), facts: policy.Static{
		ReviewList: []policy.Review{approve(alice, dg.plan, 1)},
		LabelList:  []policy.Label{label("rds-break-glass", olive, dg.plan, 2)},
	}})
	if r.Satisfied {
		t.Fatal("break-glass must not satisfy the policy")
	}
	if c := r.Check(); c.Conclusion == policy.ConclusionOK {
		t.Errorf("break-glass turned the check green: %+v", c)
	}
	m := r.Merge()
	if !m.Proceed || !m.BreakGlass || !strings.Contains(m.Reason, "olive") {
		t.Errorf("merge %+v", m)
	}
	if len(r.RemoveLabels) != 0 {
		t.Errorf("removes a valid break-glass label: %+v", r.RemoveLabels)
	}
}

func TestWarnMode(t *testing.T) {
	p, err := gitops.New(rdsbot.Example())
	if err != nil {
		t.Fatal(err)
	}
	cfg := *p.Config
	cfg.Approvals.EnvironmentModes = map[string]string{"prod": config.ModeWarn}
	pol, err := policy.New(&cfg, p.Schema)
	if err != nil {
		t.Fatal(err)
	}
	dg := realDigests(t)
	r := evaluate(t, pol, dg, gateCase{req: req(policy.KindCreate, "prod", "medium", "xlarge"), facts: policy.Static{
		LabelList: []policy.Label{label("platform-approval", mallory, dg.plan, 1)}}})
	if r.Satisfied {
		t.Fatal("warn mode satisfied the policy")
	}
	c := r.Check()
	if c.Status != policy.StatusCompleted || c.Conclusion != policy.ConclusionOK || !strings.Contains(c.Title, "warn mode") {
		t.Errorf("check %+v", c)
	}
	if m := r.Merge(); !m.Proceed || !m.Warned {
		t.Errorf("merge %+v", m)
	}
	if len(r.RemoveLabels) != 1 {
		t.Errorf("warn mode must still remove unauthorised labels: %+v", r.RemoveLabels)
	}
	// staging keeps the default.
	r = evaluate(t, pol, dg, gateCase{req: req(policy.KindCreate, "staging", "high", "small")})
	if r.Mode != config.ModeEnforce || r.Check().Status != policy.StatusInProgress {
		t.Errorf("staging mode %s, check %+v", r.Mode, r.Check())
	}
}

func TestMayRetry(t *testing.T) {
	pol, _ := newPolicy(t)
	dg := realDigests(t)
	prod := evaluate(t, pol, dg, gateCase{req: req(policy.KindCreate, "prod", "high", "small"), facts: policy.Static{
		ReviewList: []policy.Review{approve(alice, dg.plan, 1), approve(sam, dg.plan, 2)}}})
	dev := evaluate(t, pol, dg, gateCase{req: req(policy.KindCreate, "dev", "low", "small")})
	f := &policy.Static{Members: members()}
	cases := []struct {
		r    *policy.Result
		by   policy.Actor
		want bool
	}{
		{prod, jane, false},      // the requester, although a platform-team member
		{prod, alice, false},     // an approver
		{prod, sam, false},       // the other approver
		{prod, app, false},       // a bot
		{prod, paula, false},     // pending membership
		{prod, mallory, false},   // no team
		{prod, appy, false},      // a team the request does not need
		{prod, pete, true},       // platform-team, did not approve
		{prod, olive, true},      // security-team, did not approve
		{dev, jane, true},        // dev is self-serve
		{dev, dependabot, false}, // still no bot
		{prod, policy.Actor{}, false},
	}
	for _, c := range cases {
		d, err := c.r.MayRetry(context.Background(), f, c.by)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != c.want || d.Reason == "" {
			t.Errorf("%s retry by %q: %+v, want allowed=%v", c.r.Environment, c.by.Login, d, c.want)
		}
	}
}

func TestEvaluateRefusesBadInput(t *testing.T) {
	pol, _ := newPolicy(t)
	_, err := pol.Evaluate(context.Background(), policy.Input{Request: policy.Request{Kind: "rename"}}, &policy.Static{})
	if err == nil || !strings.Contains(err.Error(), `kind "rename"`) || !strings.Contains(err.Error(), "environment is empty") {
		t.Errorf("got %v", err)
	}
}

func TestNewNeedsATeamForEveryGroup(t *testing.T) {
	p, err := gitops.New(rdsbot.Example())
	if err != nil {
		t.Fatal(err)
	}
	cfg := *p.Config
	cfg.Teams = map[string]string{"platform-team": "platform-team"}
	cfg.Labels.AllowDelete = "delete-ok"
	cfg.Approvals.BreakGlass.Label = "platform-approval"
	_, err = policy.New(&cfg, p.Schema)
	for _, want := range []string{`"security-team"`, `"database-team"`, "approval_routing prod-high-risk", "decommission",
		`labels.allow_delete is "delete-ok"`, `break_glass.label "platform-approval" is also an approval label`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

// countingFacts counts membership reads.
type countingFacts struct {
	policy.Static
	reads map[string]int
}

func (c *countingFacts) Membership(ctx context.Context, team, login string) (policy.Membership, error) {
	c.reads[team+"/"+login]++
	return c.Static.Membership(ctx, team, login)
}

// TestMembershipReadOncePerTeamAndLogin: an evaluation asks GitHub about
// each (team, login) at most once, and only about people who acted.
func TestMembershipReadOncePerTeamAndLogin(t *testing.T) {
	pol, _ := newPolicy(t)
	dg := realDigests(t)
	f := &countingFacts{reads: map[string]int{}, Static: policy.Static{Members: members(),
		ReviewList: []policy.Review{approve(bob, dg.plan, 1), approve(alice, dg.plan, 2), approve(sam, dg.plan, 3), review(olive, "COMMENTED", dg.plan, 4)},
		LabelList:  []policy.Label{label("platform-approval", bob, dg.plan, 5), label("rds-break-glass", olive, dg.plan, 6), label("unrelated", mallory, dg.plan, 7)},
	}}
	in := policy.Input{Request: req(policy.KindCreate, "prod", "high", "xlarge"), Pull: pull, Author: app, App: app, Digest: dg.plan}
	r, err := pol.Evaluate(context.Background(), in, f)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Satisfied || !r.BreakGlass.Valid {
		t.Fatalf("want satisfied with valid break-glass:\n%s", policy.Render(r))
	}
	for k, n := range f.reads {
		if n != 1 {
			t.Errorf("%s read %d times", k, n)
		}
		if strings.Contains(k, "mallory") {
			t.Errorf("read %s, whose label grants nothing", k)
		}
	}
}

// TestRenderGolden fixes the approval table of a busy pull request.
func TestRenderGolden(t *testing.T) {
	pol, _ := newPolicy(t)
	dg := realDigests(t)
	D, H := dg.plan, dg.human
	r := evaluate(t, pol, dg, gateCase{req: req(policy.KindCreate, "prod", "high", "xlarge"), in: func(in *policy.Input) { in.Digest = H }, facts: policy.Static{
		ReviewList: []policy.Review{approve(alice, D, 1), approve(bob, H, 2), approve(jane, H, 3), review(olive, "CHANGES_REQUESTED", D, 4), review(dan, "COMMENTED", H, 5)},
		LabelList:  []policy.Label{label("platform-approval", mallory, H, 2), label("rds-break-glass", sam, H, 3)},
		Foreign:    []policy.ForeignCheck{{Name: "rdsbot/approval", Kind: "status", Source: "mallory", State: "success"}},
	}})
	c := r.Check()
	var b bytes.Buffer
	b.WriteString("title: " + c.Title + "\nstatus: " + c.Status + "\n\n" + c.Summary + "\n--- missing\n")
	for _, m := range r.Missing() {
		b.WriteString("- " + m + "\n")
	}
	b.WriteString("\n--- removal comment\n" + policy.RenderRemovals(r.RemoveLabels))
	golden.Assert(t, "testdata/busy.golden", b.Bytes())

	ok := evaluate(t, pol, dg, gateCase{req: req(policy.KindCreate, "prod", "medium", "small"), facts: policy.Static{ReviewList: []policy.Review{approve(alice, D, 1)}}})
	golden.Assert(t, "testdata/approved.golden", []byte(policy.Render(ok)))
}

// TestRenderIsInert: whatever logins, labels and teams hold, the table keeps
// its columns and the markdown links, mentions and embeds nothing.
func TestRenderIsInert(t *testing.T) {
	p, err := gitops.New(rdsbot.Example())
	if err != nil {
		t.Fatal(err)
	}
	cfg := *p.Config
	evil := "evil|team @org/x <img src=x> [l](https://x.example) `a`"
	cfg.Teams = map[string]string{}
	for g := range p.Config.Teams {
		cfg.Teams[g] = evil
	}
	pol, err := policy.New(&cfg, p.Schema)
	if err != nil {
		t.Fatal(err)
	}
	bad := policy.Actor{Login: "x|y @alice <script>x</script> ![i](http://e.example/i.png) #1", ID: 99}
	dg := realDigests(t)
	f := &policy.Static{
		Members:    map[string]map[string]policy.Membership{evil: {bad.Login: policy.Active}},
		ReviewList: []policy.Review{approve(bad, "other", 1)},
		LabelList:  []policy.Label{label("platform-approval", bad, "other", 2)},
		Foreign:    []policy.ForeignCheck{{Name: "rdsbot/approval |", Kind: "status", Source: bad.Login, State: "success"}},
	}
	in := policy.Input{Request: req(policy.KindCreate, "prod", "high", "xlarge"), Pull: pull, Author: app, App: app, Digest: dg.plan}
	r, err := pol.Evaluate(context.Background(), in, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{policy.Render(r), policy.RenderRemovals(r.RemoveLabels)} {
		if f := mdtest.Findings(src); len(f) > 0 {
			t.Errorf("live markdown %v in:\n%s", f, src)
		}
		html := mdtest.Render(src)
		for _, row := range strings.Split(html, "<tr>")[1:] {
			if n := strings.Count(row, "<td>") + strings.Count(row, "<th>"); n != 4 {
				t.Errorf("a row with %d cells:\n%s", n, row)
			}
		}
	}
}
