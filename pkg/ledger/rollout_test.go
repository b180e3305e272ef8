package ledger

import (
	"context"
	"slices"
	"testing"
)

// A rollout's records on both stores: merges in order, an apply's steps,
// the last applied commit, a retry of a failed step, and the audit lines.
func TestRolloutRecords(t *testing.T) {
	ctx := context.Background()
	const repo, env = "acme/infra", "test"
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for i, sha := range []string{"AAA", "bbb", "ccc"} {
				if err := l.RecordMerge(ctx, Merge{Repo: repo, Env: env, SHA: sha, Pull: i + 1, Proceed: sha != "bbb", Reason: "r"}); err != nil {
					t.Fatal(err)
				}
			}
			// A replay records nothing new.
			if err := l.RecordMerge(ctx, Merge{Repo: repo, Env: env, SHA: "aaa", Pull: 9, Proceed: false}); err != nil {
				t.Fatal(err)
			}
			ms, err := l.Merges(ctx, repo, env)
			if err != nil || len(ms) != 3 || ms[0].SHA != "aaa" || ms[0].Pull != 1 || !ms[0].Proceed || ms[1].Proceed {
				t.Fatalf("merges %+v %v", ms, err)
			}
			if ok, err := l.MergeRecorded(ctx, repo, "CCC"); err != nil || !ok {
				t.Fatalf("merge recorded: %v %v", ok, err)
			}
			if last, err := l.LastApplied(ctx, repo, env); err != nil || last != "" {
				t.Fatalf("last applied before any apply: %q %v", last, err)
			}
			if err := l.StartApply(ctx, repo, env, "aaa", StepApply); err != nil {
				t.Fatal(err)
			}
			if err := l.FinishApply(ctx, Apply{Repo: repo, Env: env, SHA: "aaa", State: ApplySucceeded, Step: StepDone, RunURL: "https://run"}); err != nil {
				t.Fatal(err)
			}
			if last, err := l.LastApplied(ctx, repo, env); err != nil || last != "aaa" {
				t.Fatalf("last applied %q %v", last, err)
			}
			if err := l.StartApply(ctx, repo, env, "ccc", StepApply); err != nil {
				t.Fatal(err)
			}
			if err := l.FinishApply(ctx, Apply{Repo: repo, Env: env, SHA: "ccc", State: ApplyFailed, Step: StepApply, Reason: "boom", Excerpt: "log"}); err != nil {
				t.Fatal(err)
			}
			f, ok, err := l.FailedApply(ctx, repo, env)
			if err != nil || !ok || f.SHA != "ccc" || f.Reason != "boom" || f.Attempts != 1 {
				t.Fatalf("failed apply %+v %v %v", f, ok, err)
			}
			for i, want := range []bool{true, false} {
				if retried, err := l.RetryApply(ctx, repo, env, "ccc"); err != nil || retried != want {
					t.Fatalf("retry %d: %v %v", i, retried, err)
				}
			}
			if err := l.StartApply(ctx, repo, env, "ccc", StepApply); err != nil {
				t.Fatal(err)
			}
			if a, _, _ := l.ApplyOf(ctx, repo, env, "ccc"); a.State != ApplyRunning || a.Attempts != 2 || a.Reason != "" {
				t.Fatalf("restarted apply %+v", a)
			}
			if err := l.AppendAudit(ctx, repo, env, "ccc", []string{"a\n", "b\n"}); err != nil {
				t.Fatal(err)
			}
			if err := l.AppendAudit(ctx, repo, env, "ccc", []string{"c\n"}); err != nil {
				t.Fatal(err)
			}
			if lines, err := l.AuditLines(ctx, repo, env, "CCC"); err != nil || !slices.Equal(lines, []string{"a\n", "b\n", "c\n"}) {
				t.Fatalf("audit lines %q %v", lines, err)
			}
		})
	}
}

// A retried apply step owes a re-run of the workflow run it failed in
// until an outcome is recorded again: starting the step (a job that dies
// before the re-run) keeps it; the next outcome ends it and records the
// newer run. A retried provisioning step owes none. A skipped apply keeps
// its reason through the steps after it.
func TestApplyRerunOwed(t *testing.T) {
	ctx := context.Background()
	const repo, env = "acme/infra", "test"
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, sha := range []string{"aaa", "bbb", "ccc"} {
				if err := l.RecordMerge(ctx, Merge{Repo: repo, Env: env, SHA: sha, Proceed: true}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.StartApply(ctx, repo, env, "aaa", StepApply); err != nil {
				t.Fatal(err)
			}
			if err := l.FinishApply(ctx, Apply{Repo: repo, Env: env, SHA: "aaa", State: ApplyFailed, Step: StepApply,
				Reason: "failed", RunURL: "https://run/7", Run: 7, RunAttempt: 1}); err != nil {
				t.Fatal(err)
			}
			if a, _, _ := l.ApplyOf(ctx, repo, env, "aaa"); a.Run != 7 || a.RunAttempt != 1 || a.Rerun {
				t.Fatalf("failed apply %+v", a)
			}
			if ok, err := l.RetryApply(ctx, repo, env, "AAA"); err != nil || !ok {
				t.Fatalf("retry: %v %v", ok, err)
			}
			for i := 0; i < 2; i++ { // started, then started again after a crash
				if err := l.StartApply(ctx, repo, env, "aaa", StepApply); err != nil {
					t.Fatal(err)
				}
				if a, _, _ := l.ApplyOf(ctx, repo, env, "aaa"); a.State != ApplyRunning || !a.Rerun || a.Run != 7 || a.RunAttempt != 1 {
					t.Fatalf("start %d after the retry: %+v", i, a)
				}
			}
			if err := l.FinishApply(ctx, Apply{Repo: repo, Env: env, SHA: "aaa", State: ApplySucceeded, Step: StepDone, Run: 7, RunAttempt: 2}); err != nil {
				t.Fatal(err)
			}
			if a, _, _ := l.ApplyOf(ctx, repo, env, "aaa"); a.Rerun || a.RunAttempt != 2 || a.RunURL != "https://run/7" {
				t.Fatalf("after the re-run's outcome %+v", a)
			}

			// Provisioning failed: a retry owes no workflow re-run.
			if err := l.StartApply(ctx, repo, env, "bbb", StepProvision); err != nil {
				t.Fatal(err)
			}
			if err := l.FinishApply(ctx, Apply{Repo: repo, Env: env, SHA: "bbb", State: ApplyFailed, Step: StepProvision}); err != nil {
				t.Fatal(err)
			}
			if ok, err := l.RetryApply(ctx, repo, env, "bbb"); err != nil || !ok {
				t.Fatalf("retry: %v %v", ok, err)
			}
			if a, _, _ := l.ApplyOf(ctx, repo, env, "bbb"); a.State != ApplyRetry || a.Rerun {
				t.Fatalf("retried provisioning %+v", a)
			}

			const why = "terraform inputs unchanged since aaa"
			if err := l.StartApply(ctx, repo, env, "ccc", StepApply); err != nil {
				t.Fatal(err)
			}
			if err := l.FinishApply(ctx, Apply{Repo: repo, Env: env, SHA: "ccc", State: ApplyRunning, Step: StepProvision, Skipped: why}); err != nil {
				t.Fatal(err)
			}
			if err := l.StartApply(ctx, repo, env, "ccc", StepProvision); err != nil {
				t.Fatal(err)
			}
			if err := l.FinishApply(ctx, Apply{Repo: repo, Env: env, SHA: "ccc", State: ApplySucceeded, Step: StepDone}); err != nil {
				t.Fatal(err)
			}
			if a, _, _ := l.ApplyOf(ctx, repo, env, "ccc"); a.Skipped != why || a.State != ApplySucceeded {
				t.Fatalf("skipped apply %+v", a)
			}
			if last, err := l.LastApplied(ctx, repo, env); err != nil || last != "ccc" {
				t.Fatalf("last applied %q %v", last, err)
			}
		})
	}
}

func TestAskers(t *testing.T) {
	ctx := context.Background()
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, who := range []string{"Bob", "bob", "alice"} {
				if err := l.RecordAsker(ctx, "acme/infra", 7, who); err != nil {
					t.Fatal(err)
				}
			}
			got, err := l.Askers(ctx, "acme/infra", 7)
			if err != nil || len(got) != 2 || !slices.Contains(got, "bob") || !slices.Contains(got, "alice") {
				t.Fatalf("askers %v %v", got, err)
			}
			if got, _ := l.Askers(ctx, "acme/infra", 8); len(got) != 0 {
				t.Fatalf("askers of another issue: %v", got)
			}
		})
	}
}
