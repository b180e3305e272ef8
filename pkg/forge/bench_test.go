package forge_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// floorCalls is the least a new request can cost: one read, then tree,
// commit, ref, pull request and labels.
const floorCalls = 6

// BenchmarkPropose reports the API cost of a request, in calls, writes
// (content-creating requests, what the secondary limit counts) and
// primary rate-limit points (a 304 costs none), beside the floor of 6:
//
//   - new: a new request on a base already snapshotted (the steady state);
//   - replay: the same request again (a retried job or a redelivered webhook);
//   - moved-base: the same request after an unrelated push to main.
func BenchmarkPropose(b *testing.B) {
	for _, mode := range []string{"new", "replay", "moved-base"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, unlimited)
			ctx := context.Background()
			if _, err := e.client.Propose(ctx, proposal(nil)); err != nil {
				b.Fatal(err)
			}
			e.resetCalls()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := proposal(nil)
				switch mode {
				case "new":
					p = proposal(map[string]string{"databaseName": fmt.Sprintf("db_%07d", i), "username": fmt.Sprintf("u_%07d", i)})
				case "moved-base":
					b.StopTimer()
					if _, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Files: map[string]string{"README.md": fmt.Sprint(i)}}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				res, err := e.client.Propose(ctx, p)
				if err != nil {
					b.Fatal(err)
				}
				if (mode == "replay") == res.Changed() {
					b.Fatalf("%s: changed = %v", mode, res.Changed())
				}
			}
			b.StopTimer()
			s := e.app.Metrics().Snapshot()
			n := float64(b.N)
			b.ReportMetric(float64(s.Total)/n, "calls/request")
			b.ReportMetric(float64(s.Writes)/n, "writes/request")
			b.ReportMetric(float64(s.Points)/n, "points/request")
			b.ReportMetric(float64(s.Total)/n/floorCalls, "calls/floor")
		})
	}
}
