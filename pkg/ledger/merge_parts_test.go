package ledger

import (
	"context"
	"testing"
)

// A rebase merge's earlier commits count once their merge is recorded,
// for its environment only, and are never merges themselves.
func TestMergeParts(t *testing.T) {
	ctx := context.Background()
	const repo = "acme/infra"
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if err := l.RecordMergeParts(ctx, repo, "test", "CCC", []string{"AAA", "bbb"}); err != nil {
				t.Fatal(err)
			}
			// Not yet: the merge itself is not recorded (a crash between the two).
			if ps, err := l.MergeParts(ctx, repo, "test"); err != nil || len(ps) != 0 {
				t.Fatalf("parts before the merge: %+v %v", ps, err)
			}
			if ok, err := l.PartRecorded(ctx, repo, "aaa"); err != nil || ok {
				t.Fatalf("part recorded before the merge: %v %v", ok, err)
			}
			if err := l.RecordMerge(ctx, Merge{Repo: repo, Env: "test", SHA: "ccc", Pull: 3, Proceed: true}); err != nil {
				t.Fatal(err)
			}
			ps, err := l.MergeParts(ctx, repo, "test")
			if err != nil || len(ps) != 2 || ps[0] != (MergePart{SHA: "aaa", MergeSHA: "ccc", Pos: 0}) || ps[1].SHA != "bbb" || ps[1].Pos != 1 {
				t.Fatalf("parts: %+v %v", ps, err)
			}
			if ok, err := l.PartRecorded(ctx, repo, "BBB"); err != nil || !ok {
				t.Fatalf("part recorded: %v %v", ok, err)
			}
			if ps, err := l.MergeParts(ctx, repo, "staging"); err != nil || len(ps) != 0 {
				t.Fatalf("another environment's parts: %+v %v", ps, err)
			}
			if ms, err := l.Merges(ctx, repo, "test"); err != nil || len(ms) != 1 || ms[0].SHA != "ccc" {
				t.Fatalf("merges: %+v %v", ms, err)
			}
		})
	}
}
