package githubfake

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// BenchmarkOneCommitChangeSet measures the bot's write path against the
// fake — get commit, create tree (inline content on a base tree of N files),
// create commit, update ref (which emits push) — and reports it as a
// multiple of four bare HTTP round trips to a handler that only answers {}
// (measured in the same run), so the number says what the fake itself costs.
func BenchmarkOneCommitChangeSet(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			files := map[string]string{}
			for i := range n {
				files[fmt.Sprintf("envs/env%03d/terraform.tfvars", i)] = fmt.Sprintf("x = %d\n", i)
			}
			f := New(Options{SecondaryLimits: []Window{}, RateLimit: 1 << 30})
			url, err := f.Start()
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if _, err := f.AddRepo(repoName, files); err != nil {
				b.Fatal(err)
			}
			gh, _ := github.NewClient(&http.Client{Transport: &tokenTransport{f.UserToken("acme"), http.DefaultTransport}}).WithEnterpriseURLs(url+"/", url+"/")
			ctx := context.Background()
			head := f.BranchSHA(repoName, "main")

			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				c, _, err := gh.Git.GetCommit(ctx, "acme", "infra", head)
				if err != nil {
					b.Fatal(err)
				}
				tree, _, err := gh.Git.CreateTree(ctx, "acme", "infra", c.GetTree().GetSHA(), []*github.TreeEntry{{
					Path: github.String("envs/env001/terraform.tfvars"), Mode: github.String("100644"), Type: github.String("blob"),
					Content: github.String(fmt.Sprintf("x = %d\n", i)),
				}})
				if err != nil {
					b.Fatal(err)
				}
				commit, _, err := gh.Git.CreateCommit(ctx, "acme", "infra", &github.Commit{Message: github.String("edit"), Tree: tree, Parents: []*github.Commit{{SHA: github.String(head)}}}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := gh.Git.UpdateRef(ctx, "acme", "infra", &github.Reference{Ref: github.String("refs/heads/main"), Object: &github.GitObject{SHA: commit.SHA}}, false); err != nil {
					b.Fatal(err)
				}
				head = commit.GetSHA()
			}
			fake := time.Since(start)
			b.StopTimer()

			bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("{}"))
			}))
			defer bare.Close()
			bc, _ := github.NewClient(nil).WithEnterpriseURLs(bare.URL+"/", bare.URL+"/")
			start = time.Now()
			for i := 0; i < b.N*4; i++ {
				req, _ := bc.NewRequest("GET", "x", nil)
				if _, err := bc.Do(ctx, req, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(fake)/float64(time.Since(start)), "x_bare_roundtrips")
			_ = f.Quiesce(10 * time.Second)
		})
	}
}
