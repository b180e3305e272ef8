package provision

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// BenchmarkProvision100 provisions 100 databases (each with its owner role)
// on the harness's RDS-shaped server (TLS, SCRAM, non-superuser master,
// every statement logged), then runs again with nothing to do. It reports
// both times, the ratio and the rerun's DDL (goal: rerun under 5% of the
// fresh run, 0 DDL), measured in the same iteration, and the fresh run
// against a floor: the same 100 bare CREATE DATABASE statements sent by the
// superuser on as many connections as the engine uses, which is what any
// provisioner must at least pay.
func BenchmarkProvision100(b *testing.B) {
	const n = 100
	c := pgtest.SharedRDS(b)
	var fresh, rerun, floor time.Duration
	var freshDDL, rerunDDL int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		m := c.NewRDSMaster(b)
		store := secrets.NewMemory()
		ctx := context.Background()
		master := secrets.Credentials{Username: m.User, Password: m.Password, Host: m.Host, Port: m.Port, DBName: m.Database}
		if _, err := store.Create(ctx, MasterSecretPath("goldenpath", "dev"), master.JSON(), secrets.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		prefix := "b" + randHex(4)
		var entries []Entry
		for j := range n {
			en := Entry{Key: fmt.Sprintf("%sk%d", prefix, j), Database: fmt.Sprintf("%s_db%d", prefix, j), Username: fmt.Sprintf("%s_app%d", prefix, j), Access: Owner, CreateDB: true}
			cr := secrets.Credentials{Username: en.Username, Password: "pw-" + randHex(12)}
			if _, err := store.Create(ctx, SecretPath("goldenpath", "dev", en.Key), cr.JSON(), secrets.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			entries = append(entries, en)
		}
		opts := Options{Environment: "dev", Entries: entries, Secrets: store,
			Admin: Admin{SSLMode: "verify-full", RootCAFile: m.CAFile, RetryFor: -1}}
		b.StartTimer()

		start := time.Now()
		rep, err := Run(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		fresh += time.Since(start)
		freshDDL += rep.DDL

		start = time.Now()
		rep, err = Run(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		rerun += time.Since(start)
		rerunDDL += rep.DDL

		floor += createDatabasesFloor(b, c, prefix+"_floor", n, opts.Parallel)
	}
	b.ReportMetric(float64(fresh.Milliseconds())/float64(b.N), "fresh-ms")
	b.ReportMetric(float64(rerun.Milliseconds())/float64(b.N), "rerun-ms")
	b.ReportMetric(100*rerun.Seconds()/fresh.Seconds(), "rerun/fresh-%")
	b.ReportMetric(float64(floor.Milliseconds())/float64(b.N), "floor-ms")
	b.ReportMetric(fresh.Seconds()/floor.Seconds(), "fresh/floor")
	b.ReportMetric(float64(freshDDL)/float64(b.N), "fresh-DDL")
	b.ReportMetric(float64(rerunDDL)/float64(b.N), "rerun-DDL")
	if rerunDDL != 0 {
		b.Errorf("the rerun sent %d DDL statements", rerunDDL)
	}
}

// createDatabasesFloor times n CREATE DATABASE statements sent by the
// superuser over parallel connections.
func createDatabasesFloor(b *testing.B, c *pgtest.Cluster, prefix string, n, parallel int) time.Duration {
	ctx := context.Background()
	if parallel <= 0 {
		parallel = 4
	}
	conns := make([]*pgx.Conn, parallel)
	for i := range conns {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		conns[i] = conn
	}
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	start := time.Now()
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s_%d", prefix, i)); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
