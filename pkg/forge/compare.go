package forge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"
)

// MaxCompareFiles is how many changed files GitHub lists in a comparison.
const MaxCompareFiles = 300

// ErrTooManyFiles: a comparison changes more files than GitHub lists, so
// what it changes cannot all be known (a gate must fail closed).
var ErrTooManyFiles = errors.New("comparison changes more files than GitHub lists")

// Comparison is what head changes against its merge base with base.
type Comparison struct {
	Base      string // as asked (a branch or a commit)
	Head      string
	MergeBase string // the merge base commit
	Status    string // ahead, behind, diverged, identical
	Files     []PullFile
}

// Compare asks GitHub what head changes since its merge base with base
// (GET compare/{base}...{head}): the merge base and the changed files.
// base and head are branches or commits. A comparison listing
// MaxCompareFiles files may have been cut by GitHub: ErrTooManyFiles.
func (c *Client) Compare(ctx context.Context, repo, base, head string) (*Comparison, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	// Files come with the first page whatever its size; one commit per page
	// keeps the answer small.
	cmp, _, err := c.gh.Repositories.CompareCommits(ctx, owner, name, base, head, &github.ListOptions{PerPage: 1})
	if err != nil {
		return nil, wrap(fmt.Sprintf("compare %.40s...%.40s in %s", base, head, repo), err)
	}
	out := &Comparison{Base: base, Head: head, MergeBase: cmp.GetMergeBaseCommit().GetSHA(), Status: cmp.GetStatus()}
	if out.MergeBase == "" {
		return nil, fmt.Errorf("forge: compare %.40s...%.40s in %s: no merge base: %w", base, head, repo, ErrNotFound)
	}
	for _, f := range cmp.Files {
		out.Files = append(out.Files, PullFile{Path: f.GetFilename(), Status: f.GetStatus(), PreviousPath: f.GetPreviousFilename(),
			Additions: f.GetAdditions(), Deletions: f.GetDeletions()})
	}
	if len(out.Files) >= MaxCompareFiles {
		return nil, fmt.Errorf("forge: compare %.40s...%.40s in %s: %d files listed: %w", base, head, repo, len(out.Files), ErrTooManyFiles)
	}
	return out, nil
}

// AppID is the App this client acts for (0 when unknown): its check runs
// are the only ones with rdsbot's names that count.
func (c *Client) AppID() int64 { return c.appID }

// QueueGroup is one merge group of a merge queue: the pull request it adds,
// its head, and the commit it was built on (the group ahead of it, or the
// base branch's tip).
type QueueGroup struct {
	Pull    int
	HeadSHA string
	BuiltOn string
}

// MergeGroupChain is MergeGroupPulls with each group's head and the commit
// it was built on, first queued first, so that what each pull request adds
// to the group is the comparison BuiltOn...HeadSHA. ErrNotFound: the group
// is gone.
func (c *Client) MergeGroupChain(ctx context.Context, repo, headRef, headSHA string) ([]QueueGroup, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	m := queueRefRE.FindStringSubmatch(headRef)
	if m == nil {
		return nil, fmt.Errorf("forge: merge group of %s: %q is not a merge queue branch", repo, headRef)
	}
	base := m[1]
	groups := map[string]QueueGroup{}
	opt := &github.ReferenceListOptions{Ref: "heads/gh-readonly-queue/" + base, ListOptions: github.ListOptions{PerPage: 100}}
	for {
		refs, resp, err := c.gh.Git.ListMatchingRefs(ctx, owner, name, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list merge queue branches of %s in %s", base, repo), err)
		}
		for _, ref := range refs {
			rm := queueRefRE.FindStringSubmatch(ref.GetRef())
			if rm == nil || rm[1] != base {
				continue
			}
			n, err := strconv.Atoi(rm[2])
			if err != nil {
				continue
			}
			sha := strings.ToLower(ref.GetObject().GetSHA())
			groups[sha] = QueueGroup{Pull: n, HeadSHA: sha, BuiltOn: rm[3]}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	g, ok := groups[strings.ToLower(headSHA)]
	if !ok {
		return nil, fmt.Errorf("forge: merge group %.12s of %s in %s: %w", headSHA, base, repo, ErrNotFound)
	}
	if strconv.Itoa(g.Pull) != m[2] {
		return nil, fmt.Errorf("forge: merge group %.12s of %s in %s is on the branch of #%d, not %s", headSHA, base, repo, g.Pull, headRef)
	}
	var out []QueueGroup
	seen := map[string]bool{}
	for ok && !seen[g.HeadSHA] {
		seen[g.HeadSHA] = true
		out = append([]QueueGroup{g}, out...)
		g, ok = groups[g.BuiltOn]
	}
	return out, nil
}

// CommitParents returns a commit's parents, first parent first (read once
// per commit: commits are immutable).
func (c *Client) CommitParents(ctx context.Context, repo, sha string) ([]string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	ci, err := c.commit(ctx, owner, name, strings.ToLower(sha))
	if err != nil {
		return nil, err
	}
	return append([]string(nil), ci.Parents...), nil
}
