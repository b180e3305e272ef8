package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/sandbox"
	"github.com/rdsbot/rdsbot/pkg/server"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const form = ".github/ISSUE_TEMPLATE/rds-request.yml"

// TestShutdownUnderLoadWithinGrace: with requests arriving and jobs busy
// calling a slow GitHub, Serve returns within its grace once its context
// ends: deliveries stop, running jobs get the grace and are then handed back.
// Before, a 3-second grace took 33 seconds (a job waiting for a mutex that
// Stop held, then an HTTP shutdown of its own 10 seconds).
func TestShutdownUnderLoadWithinGrace(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			sb, err := sandbox.Start(context.Background(), sandbox.Options{NoServer: true})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			// Every GitHub call takes a while: jobs are busy when the stop
			// comes.
			sb.Fake.InjectFault(githubfake.Fault{Latency: 2 * time.Second})
			cfg := server.Config{
				GitHubURL: sb.GitHubURL, AppID: sb.App.ID, PrivateKey: sb.App.PEM, WebhookSecrets: []string{sb.WebhookSecret},
				Workers: 4, ReconcileEvery: -1, Pacing: []forge.Window{}, ShutdownGrace: 3 * time.Second,
				Logger: slog.New(slog.DiscardHandler),
			}
			if store == "sqlite" {
				cfg.SQLitePath = filepath.Join(t.TempDir(), "jobs.db")
			} else {
				cfg.DatabaseURL = pgtest.New(t)
			}
			srv, err := server.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx, ln) }()
			url := "http://" + ln.Addr().String()
			waitReady(t, url)
			sb.AddWebhook(url + "/webhook")

			stopLoad := make(chan struct{})
			loadDone := make(chan struct{})
			go func() { // requests keep coming until after the stop
				defer close(loadDone)
				for i := 0; ; i++ {
					select {
					case <-stopLoad:
						return
					default:
					}
					db := fmt.Sprintf("load%d_db", i)
					_, _ = sb.Fake.As(sandbox.Requester).OpenIssueForm(sb.Repo, form, db, map[string]string{
						"Database name": db, "Application username": fmt.Sprintf("load%d_app", i), "Environment": "dev",
						"Owning team": "app-team", "Domain": "cost", "Backup retention (days)": "7", "Multi-AZ": "No",
					})
					time.Sleep(20 * time.Millisecond)
				}
			}()
			deadline := time.Now().Add(30 * time.Second)
			for {
				st, err := srv.Queue().Stats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				busy := int64(0)
				for _, k := range st.Kinds {
					busy += k.Running
				}
				if busy >= 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the server never got busy")
				}
				time.Sleep(20 * time.Millisecond)
			}
			begin := time.Now()
			cancel()
			select {
			case err := <-done:
				t.Logf("Serve returned after %s: %v", time.Since(begin).Round(time.Millisecond), err)
			case <-time.After(60 * time.Second):
				t.Fatal("Serve never returned")
			}
			// A bound on a deadline, not a speed target: Kubernetes kills
			// the pod at the end of its grace.
			if took := time.Since(begin); took > cfg.ShutdownGrace+time.Second {
				t.Errorf("shutdown took %s with a grace of %s", took.Round(time.Millisecond), cfg.ShutdownGrace)
			}
			close(stopLoad)
			<-loadDone
		})
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
