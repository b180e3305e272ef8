package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
)

// TestStory plays `make demo`'s story, as `rdsbot sandbox` does, on a
// throwaway RDS-shaped Postgres: every request ends active with its issue
// closed, and the whole story fits in GitHub's secondary limit of 80
// writes a minute, so the paced App never waits a window out (the demo's
// promise to finish within a minute rests on that count, not on a clock).
func TestStory(t *testing.T) {
	if testing.Short() {
		t.Skip("plays the whole demo")
	}
	cl := pgtest.SharedRDS(t)
	m := cl.NewRDSMaster(t)
	rec := &Recorder{}
	s := start(t, Options{Observer: rec, Rollout: &Rollout{Master: &Master{Host: m.Host, Port: m.Port, User: m.User,
		Password: m.Password, Database: m.Database, SSLMode: "verify-full", RootCAFile: m.CAFile}}})
	var out bytes.Buffer
	st := &Story{S: s, Rec: rec, W: &out, Postgres: fmt.Sprintf("%s:%d", m.Host, m.Port)}
	if err := st.Play(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()

	for _, db := range []string{"orders_service", "payments"} {
		if e := catalogEntry(t, s, "test", db); e.Metadata.Status != catalog.StatusActive {
			t.Errorf("%s is %s on main, want active", db, e.Metadata.Status)
		}
	}
	for _, is := range s.Fake.Issues(s.Repo) {
		if is.IsPR {
			continue
		}
		if is.State != "closed" {
			t.Errorf("issue #%d %q is %s, want closed", is.Number, is.Title, is.State)
		}
	}
	for _, want := range []string{
		"orders_service   active", "payments         active",
		"platform-approval", // erin's label, removed with a comment
		"psql \"host=127.0.0.1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the story's output lacks %q:\n%s", want, text)
		}
	}

	snap := s.Server.App().Metrics().Snapshot()
	if snap.Writes > 80 {
		var lines []string
		for k, v := range snap.Calls {
			if !strings.HasPrefix(k, "GET ") {
				var n int64
				for _, c := range v {
					n += c
				}
				lines = append(lines, fmt.Sprintf("%4d %s", n, k))
			}
		}
		slices.Sort(lines)
		t.Errorf("the story made %d writes; GitHub allows 80 a minute, so the demo would wait for the window:\n%s",
			snap.Writes, strings.Join(lines, "\n"))
	}
	t.Logf("%d calls, %d writes", snap.Total, snap.Writes)
}
