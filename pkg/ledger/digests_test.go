package ledger

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestDigestTimeline(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			see := func(pull int, head, base, digest string, at time.Time) {
				t.Helper()
				if err := l.SeeHead(ctx, HeadDigest{Repo: "acme/infra", Pull: pull, Head: head, Base: base, Digest: digest, Seen: at}); err != nil {
					t.Fatal(err)
				}
			}
			see(7, "AAA", "main", "v1:a", t0)
			see(7, "aaa", "main", "v1:a", t0.Add(time.Minute)) // the same head again: nothing new
			see(7, "bbb", "main", "v1:a", t0.Add(2*time.Minute))
			see(7, "bbb", "release", "v1:r", t0.Add(3*time.Minute)) // retargeted
			see(7, "aaa", "main", "v1:a", t0.Add(4*time.Minute))    // back again: a new entry
			see(8, "ccc", "main", "v1:c", t0)
			tl, err := l.Timeline(ctx, "acme/infra", 7)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range tl {
				got = append(got, h.Head+"@"+h.Base+"="+h.Digest+"+"+h.Seen.Sub(t0).String())
			}
			want := []string{"aaa@main=v1:a+0s", "bbb@main=v1:a+2m0s", "bbb@release=v1:r+3m0s", "aaa@main=v1:a+4m0s"}
			if !slices.Equal(got, want) {
				t.Fatalf("timeline\n got %v\nwant %v", got, want)
			}
			if pulls, err := l.GatedPulls(ctx, "acme/infra"); err != nil || !slices.Equal(pulls, []int{7, 8}) {
				t.Fatalf("gated pulls %v %v", pulls, err)
			}
			// A clock that steps back never reorders the timeline.
			see(8, "ddd", "main", "v1:d", t0.Add(-time.Hour))
			tl, _ = l.Timeline(ctx, "acme/infra", 8)
			if len(tl) != 2 || tl[1].Head != "ddd" || !tl[1].Seen.After(tl[0].Seen) {
				t.Fatalf("timeline after a clock step back: %+v", tl)
			}
			if err := l.SeeHead(ctx, HeadDigest{Repo: "acme/infra", Pull: 9, Head: "x", Base: "main"}); err == nil {
				t.Fatal("a head without a digest was recorded")
			}
		})
	}
}

func TestApprovalAndMergeCheck(t *testing.T) {
	ctx := context.Background()
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if _, ok, err := l.Approval(ctx, "acme/infra", 3); err != nil || ok {
				t.Fatalf("no approval yet: %v %v", ok, err)
			}
			a := Approval{Repo: "acme/infra", Pull: 3, Issue: 2, Table: "| a |", Digest: "v1:x"}
			for i, want := range []bool{true, false} {
				changed, err := l.SaveApproval(ctx, a)
				if err != nil || changed != want {
					t.Fatalf("save %d: changed %v %v", i, changed, err)
				}
			}
			a.Satisfied = true
			if changed, _ := l.SaveApproval(ctx, a); !changed {
				t.Fatal("satisfaction changed but the save reports nothing")
			}
			got, ok, err := l.Approval(ctx, "acme/infra", 3)
			if err != nil || !ok || got.Table != "| a |" || !got.Satisfied || got.Issue != 2 || got.Digest != "v1:x" {
				t.Fatalf("approval %+v %v %v", got, ok, err)
			}

			m := MergeCheck{Repo: "acme/infra", Pull: 3, MergeSHA: "ABC", Reason: "merged without approval"}
			if err := l.RecordMergeCheck(ctx, m); err != nil {
				t.Fatal(err)
			}
			m.Proceed, m.Reason = true, "a replay"
			if err := l.RecordMergeCheck(ctx, m); err != nil {
				t.Fatal(err)
			}
			mc, ok, err := l.MergeCheckOf(ctx, "acme/infra", 3)
			if err != nil || !ok || mc.Proceed || mc.Reason != "merged without approval" || mc.MergeSHA != "abc" {
				t.Fatalf("merge check %+v %v %v", mc, ok, err)
			}
		})
	}
}
