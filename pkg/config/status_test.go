package config

import (
	"strings"
	"testing"
)

func TestStatusCommitsConfig(t *testing.T) {
	tests := []struct {
		name, doc string
		want      StatusMode // the mode, or the text the error must hold
		ok        bool
	}{
		{name: "default", doc: "", want: StatusDirect, ok: true},
		{name: "direct", doc: "status_commits: direct\n", want: StatusDirect, ok: true},
		{name: "pull request", doc: "status_commits: pull_request\n", want: StatusPullRequest, ok: true},
		{name: "unknown mode", doc: "status_commits: pr\n", want: `status_commits: must be direct or pull_request, got "pr"`},
		{name: "empty", doc: "status_commits: \"\"\n", want: `status_commits: must be direct or pull_request, got ""`},
		{name: "not a scalar", doc: "status_commits: {mode: direct}\n", want: "status_commits (line 1): must be direct or pull_request, not a map"},
		{name: "request branch on the status branches", doc: "branch: rdsbot/status/{env}/{database}\n",
			want: "branch: must not start with rdsbot/status/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.doc))
			if tc.ok {
				if err != nil || c.StatusCommits != tc.want {
					t.Fatalf("mode %v, err %v; want %s", c, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), string(tc.want)) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if got := StatusBranch("prod"); got != "rdsbot/status/prod" {
		t.Errorf("status branch %q", got)
	}
}
