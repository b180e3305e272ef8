package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// lastPlanFiles are the file digests of the stand-in's last `plan`.
func lastPlanFiles(t *testing.T, s *Sandbox) []string {
	t.Helper()
	calls, err := tfstandin.ReadCalls(s.Rollout.TerraformDir)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(calls) - 1; i >= 0; i-- {
		if len(calls[i].Args) > 0 && calls[i].Args[0] == "plan" {
			var out []string
			for _, f := range calls[i].Files {
				out = append(out, f.SHA256)
			}
			return out
		}
	}
	return nil
}

// An open decommission pull request is planned again when a push moves
// its base in its environment's terraform inputs, at the merge with the
// new base (its head did not change, and a plan of the head alone would
// not hold what the base added); a push that changes no terraform input of
// that environment leaves its plan alone.
func TestPlanAfterBaseMoves(t *testing.T) {
	s, _ := startRollout(t, Options{})
	st := &standin{t: t, dir: s.Rollout.TerraformDir}
	n := activeRequest(t, s)
	if _, err := s.Fake.As(Requester).Comment(s.Repo, n, "/rds decommission retired"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pulls := decommissionPulls(s)
	if len(pulls) != 1 {
		t.Fatalf("%d decommission pull requests", len(pulls))
	}
	pr := pulls[0]
	first := mustCheck(t, s, pr.HeadSHA, planCheck, "completed", "success")
	mainTF, err := s.Fake.File(s.Repo, "main", "envs/test-rds/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	devTF, err := s.Fake.File(s.Repo, "main", "envs/dev-rds/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		files   map[string]string
		replans bool
	}{
		{"documentation", map[string]string{"docs/runbook.md": "# runbook\n"}, false},
		{"another environment's root", map[string]string{"envs/dev-rds/main.tf": string(devTF) + "\n# dev moved\n"}, false},
		{"its environment's root", map[string]string{"envs/test-rds/main.tf": string(mainTF) + "\n# test moved\n"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := st.plans()
			base, err := s.Fake.As(Platform).Push(s.Repo, "main", githubfake.Change{Message: "platform: " + c.name, Files: c.files})
			if err != nil {
				t.Fatal(err)
			}
			settleRollout(t, s)
			now := pullByNumber(s, pr.Number)
			if now.HeadSHA != pr.HeadSHA || now.Issue.State != "open" {
				t.Fatalf("the decommission pull request moved: %s %s", now.Issue.State, now.HeadSHA)
			}
			r := mustCheck(t, s, pr.HeadSHA, planCheck, "completed", "success")
			if n := planRuns(s, pr.HeadSHA); n != 1 {
				t.Errorf("%d plan check runs on the head, want 1 (updated in place)", n)
			}
			if !c.replans {
				if st.plans() != before || r.Summary != first.Summary {
					t.Errorf("%d plans after a push that changes no terraform input of test; summary:\n%s", st.plans()-before, r.Summary)
				}
				return
			}
			if st.plans() == before {
				t.Fatal("no plan after the base moved in the environment")
			}
			text := plain(r.Summary)
			if !strings.Contains(text, "moved since this head") || !strings.Contains(text, base[:7]) {
				t.Errorf("the check does not say it planned the merge with %.7s:\n%s", base, text)
			}
			sum := sha256.Sum256([]byte(c.files["envs/test-rds/main.tf"]))
			if !slices.Contains(lastPlanFiles(t, s), hex.EncodeToString(sum[:])) {
				t.Error("the plan did not run on a tree with the base's new main.tf")
			}
		})
	}
}
