package apply

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/internal/golden"
)

// TestSummarizeGolden summarises each plan under testdata/plans and
// renders its report; both are golden files (go test -update rewrites them).
func TestSummarizeGolden(t *testing.T) {
	cases := []struct {
		name   string
		policy Policy
		passed bool
	}{
		{"create.jsonl", Policy{}, true},
		{"destroy-protected.jsonl", Policy{Protected: []string{"aws_kms_key"}, AllowDestroy: []string{"aws_db_instance.*", "*"}}, false},
		{"decommission.jsonl", Policy{AllowDestroy: []string{`*["ledger"]`}}, true},
		{"errored.jsonl", Policy{}, false},
		{"injection.jsonl", Policy{Protected: []string{"aws_s3_bucket.*"}}, false},
		{"show.json", Policy{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/plans", tc.name))
			if err != nil {
				t.Fatal(err)
			}
			var s *Summary
			if strings.HasSuffix(tc.name, ".json") {
				s, err = SummarizeShow(data, tc.policy)
			} else {
				s, err = SummarizeUI(data, tc.policy)
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Passed() != tc.passed {
				t.Errorf("passed = %v, want %v (%s)", s.Passed(), tc.passed, s.Verdict())
			}
			out, _ := json.MarshalIndent(s, "", "  ")
			base := strings.TrimSuffix(strings.TrimSuffix(tc.name, ".jsonl"), ".json")
			golden.Assert(t, "testdata/golden/"+base+".summary.json", append(out, '\n'))
			o := &Outcome{Status: Succeeded, Reason: "planned abc123 in envs/dev-rds",
				Roots: []RootResult{{Root: "envs/dev-rds", Status: Succeeded, Plan: s}}}
			if !s.Passed() {
				o.Status, o.Roots[0].Status, o.Reason = Refused, Refused, "the plan of envs/dev-rds "+s.Verdict()
			}
			if text, err := os.ReadFile(filepath.Join("testdata/plans", base+".txt")); err == nil {
				o.Roots[0].PlanText = string(text)
			}
			golden.Assert(t, "testdata/golden/"+base+".md", []byte(Report(o, ReportOptions{Title: "Plan for dev at abc123"})))
		})
	}
}

// The summary never reads values: a sensitive value in show -json stays out.
func TestSummaryReadsNoValues(t *testing.T) {
	data, _ := os.ReadFile("testdata/plans/show.json")
	s, err := SummarizeShow(data, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(s)
	if strings.Contains(string(out), "SENSITIVE") || strings.Contains(Report(&Outcome{Status: Refused, Roots: []RootResult{{Root: "r", Plan: s}}}, ReportOptions{}), "SENSITIVE") {
		t.Fatal("a value from the plan reached the summary")
	}
}

func TestSummarizeRejects(t *testing.T) {
	data, _ := os.ReadFile("testdata/plans/ui-v2.jsonl")
	if _, err := SummarizeUI(data, Policy{}); err == nil || !strings.Contains(err.Error(), "2.0") {
		t.Errorf("UI 2.0 accepted: %v", err)
	}
	if _, err := SummarizeShow([]byte(`{"format_version":"2.0"}`), Policy{}); err == nil {
		t.Error("format_version 2.0 accepted")
	}
	// A plan output without its change summary (cut short) cannot pass.
	data, _ = os.ReadFile("testdata/plans/create.jsonl")
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	s, err := SummarizeUI([]byte(strings.Join(lines[:len(lines)-1], "\n")), Policy{})
	if err != nil || s.Passed() || !s.Incomplete {
		t.Errorf("incomplete plan passed: %+v %v", s, err)
	}
}

func TestPolicyMatching(t *testing.T) {
	cases := []struct {
		c        Change
		patterns []string
		want     string
	}{
		{Change{Address: "module.db.aws_db_instance.main", Action: "delete"}, AlwaysProtected, "aws_db_instance"},
		{Change{Address: `aws_secretsmanager_secret_version.app["x"]`}, AlwaysProtected, "aws_secretsmanager_secret_version"},
		{Change{Address: `aws_kms_key.k["a.b"]`}, []string{"aws_kms_key.*"}, "aws_kms_key.*"},
		{Change{Address: `aws_kms_key.k["a"]`}, []string{`aws_kms_key.k["b"]`}, ""},
		{Change{Address: `aws_kms_key.k["a"]`}, []string{`aws_kms_key.k["a"]`}, `aws_kms_key.k["a"]`},
		{Change{Address: "data.aws_vpc.platform"}, []string{"aws_vpc"}, "aws_vpc"},
		{Change{Address: "aws_s3_bucket.logs"}, []string{"aws_s3_*"}, "aws_s3_*"},
	}
	for _, tc := range cases {
		if got := matchProtected(tc.c, tc.patterns); got != tc.want {
			t.Errorf("%s against %v: %q, want %q", tc.c.Address, tc.patterns, got, tc.want)
		}
	}
}

// A report stays under GitHub's limit, however long the plan, and says
// where the rest is.
func TestReportBounded(t *testing.T) {
	var sb strings.Builder
	for sb.Len() < 300000 {
		sb.WriteString("  # aws_secretsmanager_secret.app[\"x\"] will be created — ünïcödé\n")
	}
	data, _ := os.ReadFile("testdata/plans/create.jsonl")
	s, _ := SummarizeUI(data, Policy{})
	o := &Outcome{Status: Succeeded, Roots: []RootResult{
		{Root: "envs/dev-rds", Status: Succeeded, Plan: s, PlanText: sb.String()},
		{Root: "envs/dev", Status: Succeeded, Plan: s, PlanText: sb.String()[:1000]},
	}}
	for _, limit := range []int{0, 20000, 3000} {
		r := Report(o, ReportOptions{Limit: limit, MoreURL: "https://ci.example/run/1"})
		max := limit
		if max == 0 {
			max = MaxReport
		}
		if len(r) > max || len(r) > 65535 {
			t.Errorf("limit %d: report of %d bytes", limit, len(r))
		}
		if !strings.Contains(r, "https://ci.example/run/1") {
			t.Errorf("limit %d: no pointer to the rest", limit)
		}
		if !strings.Contains(r, "envs/dev-rds") {
			t.Errorf("limit %d: the root is missing", limit)
		}
	}
}

func TestCodeSpans(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "`plain`",
		"a`b":        "``a`b``",
		"`x`":        "`` `x` ``",
		"two\nlines": "`two lines`",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
	if f := fence("```\n````\n"); !strings.HasPrefix(f, "`````text\n") {
		t.Errorf("fence %q", f)
	}
}
