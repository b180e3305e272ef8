package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Environment of the crash test's child process.
const (
	envCrashChild   = "JOBS_CRASH_CHILD" // "block" or "process"
	envCrashSQLite  = "JOBS_CRASH_SQLITE"
	envCrashDBURL   = "JOBS_CRASH_DATABASE_URL"
	envCrashDir     = "JOBS_CRASH_DIR" // addr, started and processed files
	crashSecret     = "crash-test-secret"
	crashDeliveries = 200
)

// TestCrashLosesNothing runs a real server in a child process (this test
// binary, re-executed), posts signed deliveries to it over HTTP, SIGKILLs it
// while its handlers are stuck in the middle of jobs, restarts it with working
// handlers, and checks that every acknowledged delivery is processed exactly
// once, and that a one-attempt kind (like an apply) that was running is not
// run again but reported. Recovery goes through River's rescuer (nothing
// writes River's tables but River).
func TestCrashLosesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		dir := t.TempDir()
		env := []string{envCrashDir + "=" + dir, envCrashSQLite + "=" + cfg.SQLitePath, envCrashDBURL + "=" + cfg.DatabaseURL}

		// Phase 1: a server whose handlers block. It acknowledges every
		// delivery; its workers take some jobs and hang in them.
		child := startCrashChild(t, "block", env)
		addr := waitForFile(t, filepath.Join(dir, "addr"), child)
		ids := postDeliveries(t, addr, crashDeliveries)
		waitFor(t, "every worker of the child stuck in a job", func() bool {
			return len(readLines(filepath.Join(dir, "started"))) >= jobs.WorkersDefault &&
				len(readLines(filepath.Join(dir, "once-started"))) == 1
		})
		running := readLines(filepath.Join(dir, "started"))
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = child.Wait()
		t.Logf("killed the server with %d jobs running and %d deliveries acknowledged", len(running), len(ids))

		// Phase 2: the same store, working handlers.
		restarted := time.Now()
		_ = os.Remove(filepath.Join(dir, "addr"))
		child = startCrashChild(t, "process", env)
		waitForFile(t, filepath.Join(dir, "addr"), child)
		processed := filepath.Join(dir, "processed")
		// Leadership passes to the new process once the dead one's term
		// ends (River's TTL, about 15 s); its rescuer then hands the jobs
		// back.
		waitForWithin(t, 2*time.Minute, "all deliveries processed after the restart", func() bool { return len(readLines(processed)) >= len(ids) })
		waitForWithin(t, time.Minute, "the interrupted one-attempt job reported", func() bool {
			return len(readLines(filepath.Join(dir, "once-discarded"))) == 1
		})
		t.Logf("restarted server processed them all in %s", time.Since(restarted).Round(time.Millisecond))
		// Stop gracefully; anything processed twice would have shown by now.
		if err := child.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := child.Wait(); err != nil {
			t.Errorf("child did not stop cleanly: %v", err)
		}

		got := readLines(processed)
		slices.Sort(got)
		if !slices.Equal(got, ids) {
			t.Fatalf("processed %d deliveries (%d distinct), want each of %d exactly once",
				len(got), len(slices.Compact(slices.Clone(got))), len(ids))
		}
		for _, id := range running {
			if !slices.Contains(got, id) {
				t.Errorf("delivery %s, running at the crash, was not processed", id)
			}
		}
		if again := readLines(filepath.Join(dir, "once-started")); len(again) != 1 {
			t.Errorf("the one-attempt job ran %d times, want once", len(again))
		}
	})
}

func startCrashChild(t *testing.T, mode string, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), envCrashChild+"="+mode), env...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestCrashChild is the server of TestCrashLosesNothing; it does nothing in
// a normal test run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(envCrashChild)
	if mode == "" {
		t.Skip("helper process of TestCrashLosesNothing")
	}
	dir := os.Getenv(envCrashDir)
	cfg := jobs.Config{
		SQLitePath:   os.Getenv(envCrashSQLite),
		DatabaseURL:  os.Getenv(envCrashDBURL),
		Logger:       testLogger(t),
		RecoverAfter: time.Second,
		ReportEvery:  time.Second,
		RedriveEvery: -1,
		RetryDelay:   func(int) time.Duration { return 10 * time.Millisecond },
	}
	q, err := jobs.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	reg.Queue("test_once", 1)
	once := &funcWorker[onceArgs]{
		work: func(ctx context.Context, job *river.Job[onceArgs]) error {
			appendLine(t, filepath.Join(dir, "once-started"), job.Args.Commit)
			<-ctx.Done()
			return ctx.Err()
		},
		discarded: func(ctx context.Context, job *river.Job[onceArgs], err error) error {
			appendLine(t, filepath.Join(dir, "once-discarded"), job.Args.Commit)
			return nil
		},
	}
	jobs.AddWorker(reg, discardingWorker[onceArgs]{once})
	switch mode {
	case "block":
		reg.HandleDeliveries(func(ctx context.Context, d webhook.Delivery) error {
			appendLine(t, filepath.Join(dir, "started"), d.ID)
			<-ctx.Done()
			return ctx.Err()
		})
	case "process":
		reg.HandleDeliveries(func(ctx context.Context, d webhook.Delivery) error {
			appendLine(t, filepath.Join(dir, "processed"), d.ID)
			return nil
		})
	}
	if err := q.Start(context.Background(), reg); err != nil {
		t.Fatal(err)
	}
	if mode == "block" {
		if err := q.Enqueue(context.Background(), onceArgs{Env: "prod", Commit: "crash"}); err != nil {
			t.Fatal(err)
		}
	}
	handler, err := webhook.NewHandler(webhook.Config{Secrets: []string{crashSecret}, Store: q, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	// Written last and renamed into place: the parent starts posting once it
	// sees the file.
	tmp := filepath.Join(dir, "addr.tmp")
	if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "addr")); err != nil {
		t.Fatal(err)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if err := q.Stop(ctx); err != nil {
		t.Error(err)
	}
	if err := q.Close(); err != nil {
		t.Error(err)
	}
}

// postDeliveries posts n signed deliveries (and a replay of every tenth) from
// concurrent clients and returns the sorted ids, all acknowledged.
func postDeliveries(t *testing.T, addr string, n int) []string {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	post := func(id string) int {
		body := fmt.Appendf(nil, `{"action":"opened","n":%q,"repository":{"full_name":"acme/infra"},"installation":{"id":7}}`, id)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(webhook.HeaderEvent, "issues")
		req.Header.Set(webhook.HeaderDelivery, id)
		req.Header.Set(webhook.HeaderSignature256, webhook.Sign([]byte(crashSecret), body))
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("POST %s: %v", id, err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("crash-%04d", i)
	}
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for id := range work {
				if code := post(id); code != http.StatusAccepted {
					t.Errorf("delivery %s answered %d, want 202", id, code)
				}
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	for i := 0; i < n; i += 10 {
		if code := post(ids[i]); code != http.StatusOK {
			t.Errorf("replay of %s answered %d, want 200", ids[i], code)
		}
	}
	return ids
}

// waitForFile waits for path to appear (the child writes it when ready).
func waitForFile(t *testing.T, path string, child *exec.Cmd) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		if child.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("child never wrote %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var appendMu sync.Mutex

func appendLine(t testing.TB, path, line string) {
	appendMu.Lock()
	defer appendMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Error(err)
	}
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}
