package policy_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/policy"
	"github.com/rdsbot/rdsbot/pkg/policy/digest"
)

// Accounts. Team membership is in members below.
var (
	app        = policy.Actor{Login: "rdsbot[bot]", ID: 1, Type: "Bot"}
	jane       = policy.Actor{Login: "jane-doe", ID: 100, Type: "User"} // the requester; also in platform-team
	alice      = policy.Actor{Login: "alice", ID: 2, Type: "User"}      // platform-team
	sam        = policy.Actor{Login: "sam", ID: 3, Type: "User"}        // security-team
	dan        = policy.Actor{Login: "dan", ID: 4, Type: "User"}        // database-team
	paula      = policy.Actor{Login: "paula", ID: 5, Type: "User"}      // platform-team, invitation pending
	ex         = policy.Actor{Login: "ex-member", ID: 6, Type: "User"}  // was platform-team, removed since
	bob        = policy.Actor{Login: "bob", ID: 7, Type: "User"}        // platform-team and security-team
	carl       = policy.Actor{Login: "carl", ID: 8, Type: "User"}       // platform-team, pushed a commit
	dependabot = policy.Actor{Login: "dependabot[bot]", ID: 9, Type: "Bot"}
	olive      = policy.Actor{Login: "olive", ID: 10, Type: "User"} // security-team
	mallory    = policy.Actor{Login: "mallory", ID: 11, Type: "User"}
	appy       = policy.Actor{Login: "appy", ID: 12, Type: "User"} // app-team
	botUser    = policy.Actor{Login: "helper[bot]", ID: 13, Type: "User"}
	pete       = policy.Actor{Login: "pete", ID: 14, Type: "User"} // platform-team
)

func members() map[string]map[string]policy.Membership {
	a := policy.Active
	return map[string]map[string]policy.Membership{
		"platform-team": {"jane-doe": a, "alice": a, "paula": policy.Pending, "bob": a, "carl": a, "dependabot[bot]": a, "rdsbot[bot]": a, "helper[bot]": a, "pete": a},
		"security-team": {"sam": a, "bob": a, "olive": a, "dependabot[bot]": a},
		"database-team": {"dan": a},
		"app-team":      {"appy": a, "jane-doe": a},
	}
}

// Digests of real content: the bot's plan of a prod request, the same
// request re-planned after another request merged, a human edit of it, the
// plan proposed to another base branch, and the plan on top of a merge queue
// neighbour that changed the same keys.
type digests struct{ plan, replan, human, release, queue string }

var (
	dOnce sync.Once
	d     digests
)

func realDigests(t *testing.T) digests {
	t.Helper()
	dOnce.Do(func() {
		repo := rdsbot.Example()
		p, err := gitops.New(repo)
		if err != nil {
			t.Fatal(err)
		}
		day := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		mk := func(repo fs.FS, db string, at time.Time) *gitops.Plan {
			req, probs := contract.Validate(p.Schema, contract.FromFlags(map[string]string{
				"databaseName": db, "username": db + "_app", "owner": "app-team", "environment": "prod",
				"domain": "delivery", "risk": "medium", "size": "small", "requester": "jane-doe",
				"backupRetentionDays": "14", "multiAz": "true",
			}))
			if err := probs.Err(); err != nil {
				t.Fatal(err)
			}
			pl, err := p.PlanRequest(repo, req.WithID("RDS-0042"), at)
			if err != nil {
				t.Fatal(err)
			}
			return pl
		}
		files := func(pl *gitops.Plan) []digest.File {
			var out []digest.File
			for _, c := range pl.Changes {
				out = append(out, digest.File{Path: c.Path, Old: c.Old, New: c.New})
			}
			return out
		}
		vol := digest.VolatileFor(p.Config)
		dig := func(fs []digest.File, base string) string {
			r, err := digest.Compute(fs, digest.Options{Base: base, Volatile: vol})
			if err != nil {
				t.Fatal(err)
			}
			return r.Digest
		}
		first := mk(repo, "orders_service", day)
		other := mk(repo, "payments", day.Add(24*time.Hour))
		again := mk(gitops.Overlay(repo, other.Changes), "orders_service", day.Add(48*time.Hour))
		d.plan, d.replan = dig(files(first), "main"), dig(files(again), "main")
		human := files(first)
		for i := range human {
			if strings.HasSuffix(human[i].Path, ".tfvars") {
				human[i].New = []byte(strings.Replace(string(human[i].New), `username = "orders_service_app"`, `username = "postgres"`, 1))
			}
		}
		d.human = dig(human, "main")
		d.release = dig(files(first), "release")
		queue := files(first)
		for i := range queue {
			if strings.HasSuffix(queue[i].Path, ".tfvars") {
				// another PR in the group added the same entry with another role first
				queue[i].Old = []byte(strings.Replace(string(queue[i].New), `username = "orders_service_app"`, `username = "other_app"`, 1))
			}
		}
		d.queue = dig(queue, "main")
	})
	if d.plan == "" || d.plan != d.replan || d.plan == d.human || d.plan == d.release || d.plan == d.queue {
		t.Fatalf("digests do not behave: %+v", d)
	}
	return d
}

func newPolicy(t testing.TB) (*policy.Policy, *config.Config) {
	t.Helper()
	p, err := gitops.New(rdsbot.Example())
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New(p.Config, p.Schema)
	if err != nil {
		t.Fatal(err)
	}
	return pol, p.Config
}

const pull = 42

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func review(a policy.Actor, state, digest string, minute int) policy.Review {
	return policy.Review{ID: int64(minute + 1000), Pull: pull, Author: a, State: state,
		CommitID: fmt.Sprintf("%040x", minute+1), Submitted: t0.Add(time.Duration(minute) * time.Minute), Digest: digest}
}

func approve(a policy.Actor, digest string, minute int) policy.Review {
	return review(a, "APPROVED", digest, minute)
}

func label(name string, by policy.Actor, digest string, minute int) policy.Label {
	return policy.Label{Name: name, AddedBy: by, AddedAt: t0.Add(time.Duration(minute) * time.Minute), Digest: digest}
}

func req(kind policy.Kind, env, risk, size string) policy.Request {
	return policy.Request{Kind: kind, Environment: env, Risk: risk, Size: size, Requesters: []policy.Actor{jane}}
}

type gateCase struct {
	name  string
	req   policy.Request
	in    func(*policy.Input) // optional changes to the input
	facts policy.Static
	check func(t *testing.T, r *policy.Result) // optional extra assertions
}

func evaluate(t *testing.T, pol *policy.Policy, dg digests, c gateCase) *policy.Result {
	t.Helper()
	in := policy.Input{Request: c.req, Pull: pull, Author: app, App: app, Digest: dg.plan}
	if c.in != nil {
		c.in(&in)
	}
	f := c.facts
	if f.Members == nil {
		f.Members = members()
	}
	r, err := pol.Evaluate(context.Background(), in, &f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func removed(label string) func(*testing.T, *policy.Result) {
	return func(t *testing.T, r *policy.Result) {
		t.Helper()
		for _, x := range r.RemoveLabels {
			if x.Label == label {
				return
			}
		}
		t.Errorf("label %s not marked for removal: %+v", label, r.RemoveLabels)
	}
}

func mergeRefused(t *testing.T, r *policy.Result) {
	t.Helper()
	if m := r.Merge(); m.Proceed {
		t.Errorf("merge-time re-check proceeds: %+v", m)
	}
}

// TestGateAttempts: every attempt to get past the gate fails. Cases that
// depend on GitHub behaviour are written as the facts the bot gathers.
func TestGateAttempts(t *testing.T) {
	pol, _ := newPolicy(t)
	dg := realDigests(t)
	D := dg.plan
	prodSmall := req(policy.KindCreate, "prod", "medium", "small")
	prodXL := req(policy.KindCreate, "prod", "medium", "xlarge")
	prodHigh := req(policy.KindCreate, "prod", "high", "small")
	decom := req(policy.KindDecommission, "prod", "medium", "small")
	testEnv := req(policy.KindCreate, "test", "low", "small")

	cases := []gateCase{
		{name: "approval label added by a non-member", req: prodXL, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}, LabelList: []policy.Label{label("platform-approval", mallory, D, 2)}},
			check: removed("platform-approval")},
		{name: "approval label added by a member who is the requester", req: prodXL, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}, LabelList: []policy.Label{label("platform-approval", jane, D, 2)}},
			check: removed("platform-approval")},
		{name: "self-approval by the requester on the bot's pull request", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{approve(jane, D, 1)}}},
		{name: "requester renamed their account since the request", req: policy.Request{Kind: policy.KindCreate, Environment: "prod", Risk: "medium", Size: "small",
			Requesters: []policy.Actor{{Login: "jane-old-name", ID: 100}}}, facts: policy.Static{
			ReviewList: []policy.Review{approve(jane, D, 1)}}},
		{name: "approval by a bot", req: prodSmall, facts: policy.Static{ReviewList: []policy.Review{approve(dependabot, D, 1)}}},
		{name: "approval by the App itself", req: prodSmall, facts: policy.Static{ReviewList: []policy.Review{approve(app, D, 1)}}},
		{name: "approval by a [bot] login reported as a user", req: prodSmall, facts: policy.Static{ReviewList: []policy.Review{approve(botUser, D, 1)}}},
		{name: "approval before a human push", req: prodSmall, in: func(in *policy.Input) { in.Digest = dg.human }, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}}},
		{name: "approval, then a force-push with other content", req: prodSmall, in: func(in *policy.Input) { in.Digest = dg.human }, facts: policy.Static{
			ReviewList:  []policy.Review{approve(alice, D, 1)},
			CommitFacts: policy.Commits{Authors: []policy.Actor{mallory}}}},
		{name: "approval on a commit whose content rdsbot never recorded", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, "", 1)}}},
		{name: "approval by someone removed from the team since", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{approve(ex, D, 1)}}},
		{name: "approval given on another pull request with the same head", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{func() policy.Review { r := approve(alice, D, 1); r.Pull = 43; return r }()}}},
		{name: "dismissed review (flag)", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{func() policy.Review { r := approve(alice, D, 1); r.Dismissed = true; return r }()}}},
		{name: "dismissed review (webhook state, lower case)", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), review(alice, "dismissed", D, 2)}}},
		{name: "COMMENTED review", req: prodSmall, facts: policy.Static{ReviewList: []policy.Review{review(alice, "COMMENTED", D, 1)}}},
		{name: "PENDING review", req: prodSmall, facts: policy.Static{ReviewList: []policy.Review{review(alice, "PENDING", D, 1)}}},
		{name: "approval superseded by the same reviewer's CHANGES_REQUESTED", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), review(alice, "changes_requested", D, 2)}}},
		{name: "pending team membership", req: prodSmall, facts: policy.Static{ReviewList: []policy.Review{approve(paula, D, 1)}}},
		{name: "an approver who authored a commit", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{approve(carl, D, 1)}, CommitFacts: policy.Commits{Authors: []policy.Actor{{Login: "Carl"}}}}},
		{name: "an approver who opened the (human) pull request", req: prodSmall, in: func(in *policy.Input) { in.Author = alice }, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}}},
		{name: "platform approval alone on a high-risk prod request", req: prodHigh, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}}},
		{name: "one person in two teams approving for both", req: prodHigh, facts: policy.Static{
			ReviewList: []policy.Review{approve(bob, D, 1)}}},
		{name: "prod approved only by the database team", req: prodSmall, facts: policy.Static{ReviewList: []policy.Review{approve(dan, D, 1)}}},
		{name: "xlarge prod without the platform-approval label", req: prodXL, facts: policy.Static{ReviewList: []policy.Review{approve(alice, D, 1)}}},
		{name: "decommission without rds-allow-delete", req: decom, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), approve(sam, D, 2), approve(dan, D, 3)}}},
		{name: "decommission with rds-allow-delete from the security team", req: decom, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), approve(sam, D, 2), approve(dan, D, 3)},
			LabelList:  []policy.Label{label("rds-allow-delete", olive, D, 4)}}, check: removed("rds-allow-delete")},
		{name: "decommission without the security team", req: decom, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), approve(dan, D, 3)},
			LabelList:  []policy.Label{label("rds-allow-delete", alice, D, 4)}}},
		{name: "label removed after approval", req: prodXL, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}, LabelList: nil}},
		{name: "approval label added before a human push", req: prodXL, in: func(in *policy.Input) { in.Digest = dg.human }, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, dg.human, 3)}, LabelList: []policy.Label{label("platform-approval", alice, D, 2)}},
			check: removed("platform-approval")},
		{name: "approval label with no labeled event", req: prodXL, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}, LabelList: []policy.Label{{Name: "platform-approval", Digest: D}}},
			check: removed("platform-approval")},
		{name: "approval label added by a pending member", req: prodXL, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}, LabelList: []policy.Label{label("Platform-Approval", paula, D, 2)}},
			check: removed("Platform-Approval")},
		{name: "approval label added by a bot", req: prodXL, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}, LabelList: []policy.Label{label("platform-approval", app, D, 2)}},
			check: removed("platform-approval")},
		{name: "break-glass added by the requester", req: prodSmall, facts: policy.Static{
			LabelList: []policy.Label{label("rds-break-glass", jane, D, 1)}},
			check: func(t *testing.T, r *policy.Result) {
				removed("rds-break-glass")(t, r)
				mergeRefused(t, r)
			}},
		{name: "break-glass added by the approver", req: prodHigh, facts: policy.Static{
			ReviewList: []policy.Review{approve(sam, D, 1)}, LabelList: []policy.Label{label("rds-break-glass", sam, D, 2)}},
			check: func(t *testing.T, r *policy.Result) {
				removed("rds-break-glass")(t, r)
				mergeRefused(t, r)
			}},
		{name: "break-glass added by an outsider", req: prodSmall, facts: policy.Static{
			LabelList: []policy.Label{label("rds-break-glass", dan, D, 1)}}, check: mergeRefused},
		{name: "break-glass added before the content changed", req: prodSmall, in: func(in *policy.Input) { in.Digest = dg.human }, facts: policy.Static{
			LabelList: []policy.Label{label("rds-break-glass", olive, D, 1)}}, check: mergeRefused},
		{name: "a forged rdsbot/approval status", req: prodSmall, facts: policy.Static{
			Foreign: []policy.ForeignCheck{{Name: "rdsbot/approval", Kind: "status", Source: "mallory", State: "success"}}},
			check: func(t *testing.T, r *policy.Result) {
				if len(r.Foreign) != 1 || !strings.Contains(r.Check().Summary, "another source") {
					t.Errorf("forged status not reported: %+v", r.Foreign)
				}
			}},
		{name: "retargeting the pull request to another base branch", req: prodSmall, in: func(in *policy.Input) { in.Digest = dg.release }, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}}},
		{name: "a merge queue group whose other pull request changes the same entry", req: prodSmall, in: func(in *policy.Input) { in.Digest = dg.queue }, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}}},
		{name: "a commit whose author GitHub cannot link", req: prodSmall, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}, CommitFacts: policy.Commits{Unlinked: []string{strings.Repeat("ab", 20)}}}},
		{name: "no current digest", req: prodSmall, in: func(in *policy.Input) { in.Digest = "" }, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, "", 1)}}},
		{name: "self-serve routing outside dev without a human approval", req: testEnv},
		{name: "self-serve routing outside dev approved by the requester's own team", req: testEnv, facts: policy.Static{
			ReviewList: []policy.Review{approve(appy, D, 1)}}},
		{name: "changes requested by a required-team member", req: prodHigh, facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), approve(sam, D, 2), review(olive, "CHANGES_REQUESTED", D, 3)}}},
		{name: "changes requested long ago, content changed since", req: prodSmall, in: func(in *policy.Input) { in.Digest = dg.human }, facts: policy.Static{
			ReviewList: []policy.Review{review(bob, "CHANGES_REQUESTED", D, 1), approve(alice, dg.human, 2)}}},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d attempts", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := evaluate(t, pol, dg, c)
			if r.Satisfied {
				t.Fatalf("got past the gate:\n%s", policy.Render(r))
			}
			if len(r.Missing()) == 0 {
				t.Errorf("not satisfied, yet nothing is said to be missing")
			}
			if ch := r.Check(); ch.Conclusion == policy.ConclusionOK {
				t.Errorf("check succeeded in enforce mode: %+v", ch)
			}
			if !r.BreakGlass.Valid {
				mergeRefused(t, r)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// TestGatePasses: each routing rule satisfied exactly, with nothing to
// spare: dropping any one review or label fails it.
func TestGatePasses(t *testing.T) {
	pol, _ := newPolicy(t)
	dg := realDigests(t)
	D := dg.plan
	cases := []gateCase{
		{name: "prod-high-risk: platform and security", req: req(policy.KindCreate, "prod", "high", "small"), facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), approve(sam, D, 2)}}},
		{name: "prod-high-risk: bob for one group, another person for the other", req: req(policy.KindCreate, "prod", "high", "small"), facts: policy.Static{
			ReviewList: []policy.Review{approve(bob, D, 1), approve(alice, D, 2)}}},
		{name: "prod: platform", req: req(policy.KindCreate, "prod", "medium", "small"), facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}}},
		{name: "prod xlarge: platform review and platform-approval label by the same person", req: req(policy.KindCreate, "prod", "low", "xlarge"), facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1)}, LabelList: []policy.Label{label("platform-approval", alice, D, 2)}}},
		{name: "high-risk (staging): security", req: req(policy.KindCreate, "staging", "high", "small"), facts: policy.Static{
			ReviewList: []policy.Review{approve(sam, D, 1)}}},
		{name: "dev-test-self-serve in dev: nobody", req: req(policy.KindCreate, "dev", "low", "small")},
		{name: "dev-test-self-serve in test: one human approval", req: req(policy.KindCreate, "test", "low", "small"), facts: policy.Static{
			ReviewList: []policy.Review{approve(pete, D, 1)}}},
		{name: "dev large: only the label", req: req(policy.KindCreate, "dev", "low", "large"), facts: policy.Static{
			LabelList: []policy.Label{label("platform-approval", alice, D, 1)}}},
		{name: "service class databases-rds (staging, medium risk)", req: req(policy.KindCreate, "staging", "medium", "small"), facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), approve(sam, D, 2), approve(dan, D, 3)}}},
		{name: "decommission", req: req(policy.KindDecommission, "prod", "medium", "small"), facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), approve(sam, D, 2), approve(dan, D, 3)},
			LabelList:  []policy.Label{label("rds-allow-delete", pete, D, 4)}}},
		{name: "approvals kept across a bot re-plan on a moved base", req: req(policy.KindCreate, "prod", "high", "small"),
			in: func(in *policy.Input) { in.Digest = dg.replan }, facts: policy.Static{
				ReviewList: []policy.Review{approve(alice, dg.plan, 1), approve(sam, dg.plan, 2)}}},
		{name: "webhook lower-case state", req: req(policy.KindCreate, "prod", "medium", "small"), facts: policy.Static{
			ReviewList: []policy.Review{approve(alice, D, 1), review(alice, "commented", D, 2), {ID: 5, Pull: pull, Author: sam, State: "approved", Submitted: t0, Digest: D}}}},
		{name: "changes requested, then approved by the same person", req: req(policy.KindCreate, "prod", "medium", "small"), facts: policy.Static{
			ReviewList: []policy.Review{review(alice, "CHANGES_REQUESTED", D, 1), approve(alice, D, 2)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := evaluate(t, pol, dg, c)
			if !r.Satisfied {
				t.Fatalf("not satisfied: %v\n%s", r.Missing(), policy.Render(r))
			}
			if ch := r.Check(); ch.Status != policy.StatusCompleted || ch.Conclusion != policy.ConclusionOK {
				t.Errorf("check %+v", ch)
			}
			if m := r.Merge(); !m.Proceed || m.BreakGlass || m.Warned {
				t.Errorf("merge %+v", m)
			}
			if len(r.RemoveLabels) > 0 {
				t.Errorf("removes %+v", r.RemoveLabels)
			}
			// Exactly: without any one approval it fails (the webhook
			// case holds a spare approval by design).
			if strings.HasPrefix(c.name, "webhook") {
				return
			}
			for i := range c.facts.ReviewList {
				less := c
				less.facts.ReviewList = append(append([]policy.Review(nil), c.facts.ReviewList[:i]...), c.facts.ReviewList[i+1:]...)
				if State(c.facts.ReviewList[i].State) != "APPROVED" {
					continue
				}
				if evaluate(t, pol, dg, less).Satisfied {
					t.Errorf("still satisfied without %s's review", c.facts.ReviewList[i].Author.Login)
				}
			}
			for i := range c.facts.LabelList {
				less := c
				less.facts.LabelList = append(append([]policy.Label(nil), c.facts.LabelList[:i]...), c.facts.LabelList[i+1:]...)
				if evaluate(t, pol, dg, less).Satisfied {
					t.Errorf("still satisfied without label %s", c.facts.LabelList[i].Name)
				}
			}
		})
	}
}

func State(s string) string { return policy.State(s) }

// TestFromContract routes a validated request through every field.
func TestFromContract(t *testing.T) {
	p, err := gitops.New(rdsbot.Example())
	if err != nil {
		t.Fatal(err)
	}
	cr, probs := contract.Validate(p.Schema, contract.FromFlags(map[string]string{
		"databaseName": "orders", "username": "orders_app", "owner": "app-team", "environment": "prod",
		"domain": "delivery", "risk": "high", "size": "large", "requester": "jane-doe",
		"backupRetentionDays": "14", "multiAz": "true",
	}))
	if err := probs.Err(); err != nil {
		t.Fatal(err)
	}
	pol, _ := newPolicy(t)
	r, err := pol.Evaluate(context.Background(), policy.Input{Request: policy.FromContract(cr, jane), Pull: pull, App: app, Author: app, Digest: "d"}, &policy.Static{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rule != cr.Approval.Rule || len(r.Requirements) != len(cr.Approval.Reviewers)+len(cr.Approval.Labels) {
		t.Errorf("policy routes %s with %d requirements, the contract %s %+v", r.Rule, len(r.Requirements), cr.Approval.Rule, cr.Approval)
	}
}
