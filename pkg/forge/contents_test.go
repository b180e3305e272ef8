package forge_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// TestPutFile writes the catalog with the Contents API against githubfake:
// one write that moves the branch and is recorded as the bot's, or the
// error the rollout branches on.
func TestPutFile(t *testing.T) {
	const path = "rds-catalog/dev.yaml"
	content := []byte("version: \"1.0\"\ndatabases: {}\n")
	tests := []struct {
		name    string
		branch  string
		sha     func(e *env) string // the blob sha sent
		setup   func(t *testing.T, e *env)
		wantErr error
	}{
		{name: "success", branch: "main", sha: current(path)},
		{name: "stale blob sha", branch: "main", sha: current(path), setup: func(t *testing.T, e *env) {
			// Someone changes the catalog after it was read.
			if _, err := e.fake.As("acme").Push(repo, "main", githubfake.Change{Files: map[string]string{path: "# edited\n"}}); err != nil {
				t.Fatal(err)
			}
		}, wantErr: forge.ErrFileMoved},
		{name: "unknown branch", branch: "nope", sha: current(path), wantErr: forge.ErrNotFound},
		{name: "refused push", branch: "main", sha: current(path), setup: func(t *testing.T, e *env) {
			if err := e.fake.ProtectBranch(repo, "main", githubfake.Protection{RequirePullRequest: true}); err != nil {
				t.Fatal(err)
			}
		}, wantErr: forge.ErrProtected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			sha := tc.sha(e)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			before := e.fake.BranchSHA(repo, "main")
			e.resetCalls()
			commit, err := e.client.PutFile(ctx, repo, tc.branch, path, content, sha, "rds(dev): status [skip ci]")
			calls := e.calls()
			if n := calls["PUT /repos/{owner}/{repo}/contents/{path}"]; n != 1 || e.fake.TotalCalls() != 1 {
				t.Errorf("calls %v, want one PUT contents", calls)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if errors.Is(err, forge.ErrFileMoved) && errors.Is(err, forge.ErrProtected) {
					t.Errorf("err %v is both a moved file and a refusal", err)
				}
				if now := e.fake.BranchSHA(repo, "main"); now != before {
					t.Errorf("main moved from %.12s to %.12s", before, now)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if head := e.fake.BranchSHA(repo, "main"); head != commit {
				t.Errorf("main at %.12s, want the new commit %.12s", head, commit)
			}
			if got := must[[]byte](t)(e.fake.File(repo, "main", path)); string(got) != string(content) {
				t.Errorf("catalog on main = %q", got)
			}
			parents := must[[]string](t)(e.client.CommitParents(ctx, repo, commit))
			if len(parents) != 1 || parents[0] != before {
				t.Errorf("parents %v, want [%.12s]", parents, before)
			}
			if own := must[bool](t)(e.cfg.Ledger.OwnCommit(ctx, repo, commit)); !own {
				t.Error("the commit is not in the ledger")
			}
		})
	}
}

// current is the blob sha of a file on main as the test starts.
func current(path string) func(e *env) string {
	return func(e *env) string {
		b, err := e.fake.File(repo, "main", path)
		if err != nil {
			e.t.Fatal(err)
		}
		return forge.BlobSHA(b)
	}
}
