package sandbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
)

// BenchmarkMergeToActive measures, in the sandbox's production-like
// setting (GitHub's limits and forge's pacer on, real Postgres, the
// stand-in terraform), a request from its merge to `active` on main: the
// wall time with terraform's own time taken out, and rdsbot's GitHub calls
// and writes per request, beside the floor of writes the lifecycle needs:
// four status commits, each one write (PUT contents) but the last, which
// adds the audit rows and takes three (tree, commit, ref), one edit of the
// issue's status comment, the pull request's outcome comment and closing
// the issue (9). Each iteration is one request in its own
// environment's catalog (test), merged after one approval.
func BenchmarkMergeToActive(b *testing.B) {
	cl := pgtest.SharedRDS(b)
	m := cl.NewRDSMaster(b)
	s, err := Start(context.Background(), Options{Rollout: &Rollout{Debounce: -1, Master: &Master{Host: m.Host, Port: m.Port,
		User: m.User, Password: m.Password, Database: m.Database, SSLMode: "verify-full", RootCAFile: m.CAFile}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const floor = 9
	var wall, terraform time.Duration
	var calls, writes int64
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench_%d", i)
		n, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, name, withAnswer(withAnswer(ordersAnswers, "Database name", name), "Application username", name+"_app"))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Settle(ctx, 60*time.Second); err != nil {
			b.Fatal(err)
		}
		var pr int
		for _, p := range requestPulls(s) {
			if p.Head == "rds/test/"+name {
				pr = p.Number
			}
		}
		s.Fake.Advance(2 * time.Second)
		if _, err := s.Fake.As(Platform).Approve(s.Repo, pr); err != nil {
			b.Fatal(err)
		}
		if err := s.Settle(ctx, 60*time.Second); err != nil {
			b.Fatal(err)
		}
		before := s.Server.App().Metrics().Snapshot()
		callsBefore, _ := tfstandin.ReadCalls(s.Rollout.TerraformDir)
		start := time.Now()
		if _, err := s.Fake.As(Platform).Merge(s.Repo, pr, "merge"); err != nil {
			b.Fatal(err)
		}
		for {
			if src, err := s.Fake.File(s.Repo, "main", "rds-catalog/test.yaml"); err == nil {
				f, err := catalog.Parse(src, catalog.Options{Layout: catalog.LayoutPerEnv, Environment: "test", Filename: "rds-catalog/test.yaml"})
				if err != nil {
					b.Fatal(err)
				}
				if e, ok := f.Get(name, "test"); ok && e.Metadata.Status == catalog.StatusActive {
					if is, _ := s.Fake.Issue(s.Repo, n); is.State == "closed" {
						break
					}
				}
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("%s did not become active", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		wall += time.Since(start)
		if err := s.Settle(ctx, 60*time.Second); err != nil {
			b.Fatal(err)
		}
		after := s.Server.App().Metrics().Snapshot()
		calls += after.Total - before.Total - (after.NotModified - before.NotModified)
		writes += after.Writes - before.Writes
		all, _ := tfstandin.ReadCalls(s.Rollout.TerraformDir)
		for j := len(callsBefore); j+1 < len(all); j++ {
			terraform += all[j+1].Time.Sub(all[j].Time) // each call until the next: an upper bound
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64((wall-terraform).Milliseconds())/n, "ms-to-active-without-terraform")
	b.ReportMetric(float64(calls)/n, "calls/request")
	b.ReportMetric(float64(writes)/n, "writes/request")
	b.ReportMetric(floor, "floor-writes")
	b.ReportMetric(float64(writes)/n/floor, "writes-ratio")
}
