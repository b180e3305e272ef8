package sandbox

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A person acts as sandbox users from another process: through the session
// file and GitHub's REST API with each user's token.
func TestActThroughTheSession(t *testing.T) {
	s := start(t, Options{})
	path := filepath.Join(t.TempDir(), "session.json")
	if err := WriteSession(path, s.Session()); err != nil {
		t.Fatal(err)
	}
	sess, err := ReadSession(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	act := func(user, verb string, args ...string) string {
		t.Helper()
		out, err := Act(ctx, sess, user, verb, args)
		if err != nil {
			t.Fatalf("%s %s %v: %v", user, verb, args, err)
		}
		return out
	}
	out := act(Requester, "request", "Database name=ledger", "Application username=ledger_app", "Environment=dev",
		"Owning team=app-team", "Domain=cost")
	if !strings.Contains(out, "opened request #") {
		t.Fatalf("request: %s", out)
	}
	settle(t, s)
	prs := requestPulls(s)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests", len(prs))
	}
	n := prs[0].Number
	act(Requester, "comment", "1", "/rds", "status")
	act(Platform, "merge", strconv.Itoa(n))
	settle(t, s)
	if !pullByNumber(s, n).Merged {
		t.Error("the pull request did not merge")
	}
	if shown := act(Requester, "show", "1"); !strings.Contains(shown, "rdsbot[bot]") {
		t.Errorf("show: %s", shown)
	}
	for _, bad := range [][]string{{"nobody", "comment", "1", "x"}, {Requester, "fly", "1"}, {Requester, "request", "Colour=blue"}, {Requester, "merge", "x"}} {
		if _, err := Act(ctx, sess, bad[0], bad[1], bad[2:]); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
