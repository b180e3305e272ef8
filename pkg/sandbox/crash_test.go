package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
)

// TestMain lets this test binary be the stand-in terraform too: the
// sandbox links the running executable as terraform-standin.
func TestMain(m *testing.M) {
	if tfstandin.Invoked(os.Args[0]) {
		os.Exit(tfstandin.Main(os.Args, os.Stdout, os.Stderr))
	}
	pgtest.Main(m)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// rdsbotBinary builds cmd/rdsbot once per test run.
func rdsbotBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rdsbot-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "rdsbot")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/rdsbot").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// child is `rdsbot serve` running as a real process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

func startServe(t *testing.T, s *Sandbox, addr string, store []string, extra ...string) *child {
	t.Helper()
	return startServeEnv(t, s, addr, store, nil, extra...)
}

// startServeEnv is startServe with variables added to the child's
// environment.
func startServeEnv(t *testing.T, s *Sandbox, addr string, store, env []string, extra ...string) *child {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "app.pem")
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(key, s.App.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte(s.WebhookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--listen", addr, "--github-url", s.GitHubURL,
		"--app-id", strconv.FormatInt(s.App.ID, 10), "--private-key-file", key, "--webhook-secret-file", secret,
		"--reconcile-every", "0", "--shutdown-grace", "2s"}, store...)
	cmd := exec.Command(rdsbotBinary(t), append(args, extra...)...)
	cmd.Env = append(append(os.Environ(), "RDSBOT_LOG_LEVEL=warn"), env...)
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(c.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("rdsbot serve log (%s):\n%s", addr, b)
		}
	})
	if err := waitHTTP(context.Background(), "http://"+addr+"/readyz"); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKilledAfterAcknowledging kills `rdsbot serve` with SIGKILL after it
// acknowledged deliveries and before any job ran; after a restart every
// request gets its pull request exactly once. On SQLite and on Postgres.
func TestKilledAfterAcknowledging(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	stores := map[string]func(t *testing.T) []string{
		"sqlite": func(t *testing.T) []string {
			return []string{"--sqlite", filepath.Join(t.TempDir(), "jobs.db")}
		},
		"postgres": func(t *testing.T) []string {
			return []string{"--database-url", pgtest.New(t)}
		},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			s := start(t, Options{NoServer: true})
			addr := freePort(t)
			args := store(t)
			first := startServe(t, s, addr, args, "--intake-only")
			s.AddWebhook("http://" + addr + "/webhook")

			const n = 5
			issues := map[int]string{}
			for i := range n {
				db := fmt.Sprintf("svc%d_db", i)
				answers := map[string]string{"Database name": db, "Application username": fmt.Sprintf("svc%d_app", i),
					"Environment": []string{"dev", "test", "staging", "prod", "dev"}[i], "Owning team": "app-team", "Domain": "cost",
					"Backup retention (days)": "14", "Multi-AZ": "Yes"}
				num, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, form, db, answers)
				if err != nil {
					t.Fatal(err)
				}
				issues[num] = db
			}
			if err := s.Fake.Quiesce(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			acked := 0
			for _, d := range s.Fake.Deliveries() {
				if d.Delivered {
					acked++
				}
			}
			if acked < n {
				t.Fatalf("only %d deliveries acknowledged", acked)
			}
			if len(requestPulls(s)) != 0 {
				t.Fatal("jobs ran before the kill")
			}
			if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-first.done

			startServe(t, s, addr, args)
			deadline := time.Now().Add(60 * time.Second)
			for len(requestPulls(s)) < n && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if err := s.Fake.Quiesce(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // anything still running would show now
			prs := requestPulls(s)
			if len(prs) != n {
				t.Fatalf("%d pull requests after restart, want %d", len(prs), n)
			}
			for _, pr := range prs {
				cs, err := s.Fake.Commits(s.Repo, pr.Head)
				if err != nil {
					t.Fatal(err)
				}
				base, _ := s.Fake.Commits(s.Repo, "main")
				if len(cs) != len(base)+1 {
					t.Errorf("%s has %d commits on top of main, want 1", pr.Head, len(cs)-len(base))
				}
			}
			for num := range issues {
				if c := botComments(s, num); len(c) != 1 {
					t.Errorf("issue #%d has %d bot comments", num, len(c))
				}
			}
		})
	}
}
