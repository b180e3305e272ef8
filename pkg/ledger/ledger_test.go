package ledger

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stores opens one ledger per backend.
func stores(t *testing.T) map[string]*Ledger {
	t.Helper()
	ctx := context.Background()
	out := map[string]*Ledger{}
	sq, err := Open(ctx, Config{SQLitePath: filepath.Join(t.TempDir(), "ledger.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	out["sqlite"] = sq
	pg, err := Open(ctx, Config{DatabaseURL: pgtest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	out["postgres"] = pg
	return out
}

func TestCommits(t *testing.T) {
	ctx := context.Background()
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if own, err := l.OwnCommit(ctx, "acme/infra", "ABC"); err != nil || own {
				t.Fatalf("unknown commit: %v %v", own, err)
			}
			for range 2 { // idempotent
				if err := l.RecordCommit(ctx, "acme/infra", "ABC"); err != nil {
					t.Fatal(err)
				}
			}
			if own, err := l.OwnCommit(ctx, "acme/infra", "abc"); err != nil || !own {
				t.Fatalf("recorded commit: %v %v", own, err)
			}
			if own, _ := l.OwnCommit(ctx, "acme/other", "abc"); own {
				t.Fatal("a commit is recorded per repository")
			}
		})
	}
}

// Five requests for one name at once: exactly one holds it, the others see
// that holder; the holder keeps it on a second claim; a transfer happens
// only from the current holder.
func TestClaimIsDecidedOnce(t *testing.T) {
	ctx := context.Background()
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			holders := make([]int, 5)
			errs := make([]error, 5)
			for i := range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					holders[i], errs[i] = l.Claim(ctx, "acme/infra", "prod", "orders", 10+i)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("claim %d: %v", i, err)
				}
			}
			winner := holders[0]
			for i, h := range holders {
				if h != winner {
					t.Fatalf("claims disagree: %v", holders)
				}
				if i+10 == winner {
					continue
				}
			}
			if winner < 10 || winner > 14 {
				t.Fatalf("holder %d is none of the claimants", winner)
			}
			if h, _ := l.Claim(ctx, "acme/infra", "prod", "orders", winner); h != winner {
				t.Fatalf("holder lost its claim on a second claim: %d", h)
			}
			loser := 10
			if loser == winner {
				loser = 11
			}
			if ok, _ := l.Transfer(ctx, "acme/infra", "prod", "orders", loser, 99); ok {
				t.Fatal("a transfer from a request that does not hold the name succeeded")
			}
			if ok, err := l.Transfer(ctx, "acme/infra", "prod", "orders", winner, loser); err != nil || !ok {
				t.Fatalf("transfer from the holder: %v %v", ok, err)
			}
			if h, _ := l.Claim(ctx, "acme/infra", "dev", "orders", winner); h != winner {
				t.Fatal("names are per environment")
			}
			if err := l.Release(ctx, "acme/infra", winner, Name{Env: "dev", Name: "orders"}); err != nil {
				t.Fatal(err)
			}
			if names, _ := l.Claims(ctx, "acme/infra", winner); !slices.Equal(names, []Name{{"dev", "orders"}}) {
				t.Fatalf("Release kept the wrong names: %v", names)
			}
			if err := l.Release(ctx, "acme/infra", winner, Name{}); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := l.Holder(ctx, "acme/infra", "dev", "orders"); ok {
				t.Fatal("a released name is still held")
			}
		})
	}
}

func TestOriginsAndDispatches(t *testing.T) {
	ctx := context.Background()
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if holder, err := l.BeginOpening(ctx, "acme/infra", "fp1", "d1", time.Minute); err != nil || holder != "d1" {
				t.Fatalf("first opening: %q %v", holder, err)
			}
			if holder, _ := l.BeginOpening(ctx, "acme/infra", "fp1", "d2", time.Minute); holder != "d1" {
				t.Fatalf("a second delivery took a live reservation: %q", holder)
			}
			o := Origin{Repo: "acme/infra", Issue: 7, Source: "workflow_dispatch", Delivery: "d1", Requester: "jane", Sender: "backstage[bot]", Fingerprint: "fp1"}
			for range 2 {
				if err := l.RecordOrigin(ctx, o); err != nil {
					t.Fatal(err)
				}
			}
			got, ok, err := l.Origin(ctx, "acme/infra", 7)
			if err != nil || !ok || got.Requester != "jane" || got.Sender != "backstage[bot]" || got.Fingerprint != "fp1" {
				t.Fatalf("origin: %+v %v %v", got, ok, err)
			}
			if holder, _ := l.BeginOpening(ctx, "acme/infra", "fp1", "d2", time.Minute); holder != "d2" {
				t.Fatalf("the reservation was not released by RecordOrigin: %q", holder)
			}
			if err := l.RecordJoin(ctx, "acme/infra", "d2", "fp1", 7); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"d1", "d2"} {
				if n, ok, _ := l.DeliveryIssue(ctx, "acme/infra", d); !ok || n != 7 {
					t.Fatalf("delivery %s: issue %d %v", d, n, ok)
				}
			}
			if list, _ := l.IssuesWithFingerprint(ctx, "acme/infra", "fp1"); !slices.Equal(list, []int{7}) {
				t.Fatalf("fingerprint: %v", list)
			}
			// An old origin is never replaced.
			o2 := o
			o2.Requester = "mallory"
			_ = l.RecordOrigin(ctx, o2)
			if got, _, _ := l.Origin(ctx, "acme/infra", 7); got.Requester != "jane" {
				t.Fatal("an origin was replaced")
			}
		})
	}
}

func TestStaleOpeningIsTakenOver(t *testing.T) {
	ctx := context.Background()
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			l.now = func() time.Time { return now }
			_, _ = l.BeginOpening(ctx, "r", "fp", "d1", time.Minute)
			now = now.Add(2 * time.Minute)
			if holder, _ := l.BeginOpening(ctx, "r", "fp", "d2", time.Minute); holder != "d2" {
				t.Fatalf("a stale reservation was kept: %q", holder)
			}
		})
	}
}

func TestAcceptedTextKeepsTheNewest(t *testing.T) {
	ctx := context.Background()
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			_ = l.AcceptText(ctx, "r", 3, Text{Body: "v2", Editor: "alice", At: t0.Add(time.Minute)})
			_ = l.AcceptText(ctx, "r", 3, Text{Body: "v1", Editor: "alice", At: t0}) // late delivery of an older edit
			got, ok, err := l.AcceptedText(ctx, "r", 3)
			if err != nil || !ok || got.Body != "v2" {
				t.Fatalf("accepted text: %+v %v %v", got, ok, err)
			}
		})
	}
}

func TestPullsAndCounters(t *testing.T) {
	ctx := context.Background()
	for name, l := range stores(t) {
		t.Run(name, func(t *testing.T) {
			_ = l.RecordPull(ctx, "r", 12, 3, "rds/dev/orders")
			_ = l.RecordPull(ctx, "r", 12, 3, "rds/dev/orders")
			if is, br, ok, err := l.PullIssue(ctx, "r", 12); err != nil || !ok || is != 3 || br != "rds/dev/orders" {
				t.Fatalf("pull: %d %q %v %v", is, br, ok, err)
			}
			if _, _, ok, _ := l.PullIssue(ctx, "r", 13); ok {
				t.Fatal("an unknown pull request maps to a request")
			}
			if list, _ := l.Pulls(ctx, "r", 3); !slices.Equal(list, []int{12}) {
				t.Fatalf("pulls: %v", list)
			}
			for want := 1; want <= 3; want++ {
				if n, err := l.Bump(ctx, "redeliver", "g1"); err != nil || n != want {
					t.Fatalf("bump %d: %d %v", want, n, err)
				}
			}
			if first, _ := l.Once(ctx, "notice", "x"); !first {
				t.Fatal("Once did not fire the first time")
			}
			if again, _ := l.Once(ctx, "notice", "x"); again {
				t.Fatal("Once fired twice")
			}
			_ = l.Forget(ctx, "notice", "x")
			if first, _ := l.Once(ctx, "notice", "x"); !first {
				t.Fatal("Once did not fire after Forget")
			}
			if n, err := l.Prune(ctx, "redeliver", time.Now().Add(time.Hour)); err != nil || n != 1 {
				t.Fatalf("prune: %d %v", n, err)
			}
		})
	}
}
