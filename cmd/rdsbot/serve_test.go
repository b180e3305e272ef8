package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeIntakeOnlyNeedsNoAppKey: an intake replica stores deliveries
// with the webhook secret alone; it never calls GitHub, so it needs neither
// the App's id nor its key.
func TestServeIntakeOnlyNeedsNoAppKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const secret = "intake-secret"
	env := map[string]string{"RDSBOT_WEBHOOK_SECRET": secret, "RDSBOT_LOG_LEVEL": "warn"}
	var stderr syncBuffer
	c := &cli{stdout: &stderr, stderr: &stderr, getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--intake-only", "--listen", addr, "--sqlite", filepath.Join(t.TempDir(), "jobs.db")}, c)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve --intake-only exited with %d:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --intake-only never became ready:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	body := []byte(`{"action":"opened","repository":{"full_name":"acme/infra"},"installation":{"id":1}}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhook", bytes.NewReader(body))
	req.Header.Set(webhook.HeaderEvent, "issues")
	req.Header.Set(webhook.HeaderDelivery, "intake-1")
	req.Header.Set(webhook.HeaderSignature256, webhook.Sign([]byte(secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("delivery to the intake: %d, want 202", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeNeedsAppKeyToWork: a replica that works jobs needs both.
func TestServeNeedsAppKeyToWork(t *testing.T) {
	var out syncBuffer
	env := map[string]string{"RDSBOT_WEBHOOK_SECRET": "s"}
	c := &cli{stdout: &out, stderr: &out, getenv: func(k string) string { return env[k] }}
	code := run(context.Background(), []string{"serve", "--sqlite", filepath.Join(t.TempDir(), "jobs.db")}, c)
	if code != exitInvalid {
		t.Errorf("exit %d, want %d", code, exitInvalid)
	}
	for _, want := range []string{`--app-id: "" is not a GitHub App id`, "--private-key-file is required (unless --intake-only)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
