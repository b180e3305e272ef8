package ledger

import (
	"context"
	"testing"
)

// The guard's records: pushers, baselines, unreviewed commits and their
// releases, first record wins, per repository and environment.
func TestGuardRecords(t *testing.T) {
	ctx := context.Background()
	const repo = "acme/infra"
	const sha = "0123456789abcdef0123456789abcdef01234567"
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if err := l.RecordPush(ctx, repo, "Bob", []string{sha, "", "FFFF"}); err != nil {
				t.Fatal(err)
			}
			if err := l.RecordPush(ctx, repo, "mallory", []string{sha}); err != nil {
				t.Fatal(err)
			}
			if who, ok, err := l.Pusher(ctx, repo, sha); err != nil || !ok || who != "bob" {
				t.Fatalf("pusher %q %v %v, want the first push's sender", who, ok, err)
			}
			if _, ok, _ := l.Pusher(ctx, "acme/other", sha); ok {
				t.Fatal("a push is recorded per repository")
			}

			for _, b := range []string{"AAA", "bbb"} {
				if err := l.RecordBaseline(ctx, repo, "test", b); err != nil {
					t.Fatal(err)
				}
			}
			if b, err := l.Baseline(ctx, repo, "test"); err != nil || b != "aaa" {
				t.Fatalf("baseline %q %v, want the first", b, err)
			}
			if b, _ := l.Baseline(ctx, repo, "prod"); b != "" {
				t.Fatalf("prod baseline %q", b)
			}

			u := Unreviewed{Repo: repo, Env: "test", SHA: sha, Files: []string{"envs/test-rds/terraform.tfvars", "rds-catalog/test.yaml"}}
			for i, want := range []bool{true, false} {
				if fresh, err := l.RecordUnreviewed(ctx, u); err != nil || fresh != want {
					t.Fatalf("record %d: fresh %v %v, want %v", i, fresh, err, want)
				}
			}
			for _, tc := range []struct {
				prefix string
				n      int
			}{
				{sha[:12], 1}, {sha, 1}, {sha[:6], 0}, {"0123456z", 0}, {"0123457", 0}, {"%%%%%%%", 0}, {sha[:7] + "%", 0},
			} {
				got, err := l.FindUnreviewed(ctx, repo, "test", tc.prefix)
				if err != nil || len(got) != tc.n {
					t.Errorf("find %q: %d %v, want %d", tc.prefix, len(got), err, tc.n)
				}
				if len(got) == 1 && (got[0].SHA != sha || len(got[0].Files) != 2) {
					t.Errorf("find %q: %+v", tc.prefix, got[0])
				}
			}
			if got, _ := l.FindUnreviewed(ctx, repo, "prod", sha); len(got) != 0 {
				t.Errorf("unreviewed is per environment: %+v", got)
			}

			if _, ok, err := l.Released(ctx, repo, "test", sha); err != nil || ok {
				t.Fatalf("released before a release: %v %v", ok, err)
			}
			if _, err := l.RecordRelease(ctx, Release{Repo: repo, Env: "test", SHA: sha}); err == nil {
				t.Error("a release without who gave it was recorded")
			}
			for i, who := range []string{"Carol", "dave"} {
				fresh, err := l.RecordRelease(ctx, Release{Repo: repo, Env: "test", SHA: sha, By: who, Reason: "hotfix for INC-42"})
				if err != nil || fresh != (i == 0) {
					t.Fatalf("release %d: %v %v", i, fresh, err)
				}
			}
			r, ok, err := l.Released(ctx, repo, "test", sha[:0]+sha)
			if err != nil || !ok || r.By != "carol" || r.Reason != "hotfix for INC-42" || r.At.IsZero() {
				t.Fatalf("release %+v %v %v", r, ok, err)
			}
			if _, ok, _ := l.Released(ctx, repo, "prod", sha); ok {
				t.Error("a release is per environment")
			}
		})
	}
}
