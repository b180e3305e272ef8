package forge

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"
)

// queueRefRE is a merge group's branch: gh-readonly-queue/<base>/pr-<n>-<sha
// of the commit the group was built on>.
var queueRefRE = regexp.MustCompile(`^refs/heads/gh-readonly-queue/(.+)/pr-([0-9]+)-([0-9a-f]{40})$`)

// MergeGroupPulls returns the pull requests a merge group holds, first
// queued first: the group's own (named by its branch) and those of the
// groups it was built on, found by following each group's base through the
// merge queue's branches, which only GitHub can write. headRef and headSHA
// are merge_group.head_ref and head_sha. ErrNotFound: the group is gone
// (merged, or destroyed because it failed or was invalidated).
func (c *Client) MergeGroupPulls(ctx context.Context, repo, headRef, headSHA string) ([]int, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	m := queueRefRE.FindStringSubmatch(headRef)
	if m == nil {
		return nil, fmt.Errorf("forge: merge group of %s: %q is not a merge queue branch", repo, headRef)
	}
	base := m[1]
	type group struct {
		number  int
		builtOn string
	}
	groups := map[string]group{} // head sha -> group
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
			groups[strings.ToLower(ref.GetObject().GetSHA())] = group{number: n, builtOn: rm[3]}
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
	if strconv.Itoa(g.number) != m[2] {
		return nil, fmt.Errorf("forge: merge group %.12s of %s in %s is on the branch of #%d, not %s", headSHA, base, repo, g.number, headRef)
	}
	var out []int
	seen := map[string]bool{}
	for sha := strings.ToLower(headSHA); ok && !seen[sha]; g, ok = groups[sha] {
		seen[sha] = true
		out = append(out, g.number)
		sha = g.builtOn
	}
	slices.Reverse(out)
	return out, nil
}
