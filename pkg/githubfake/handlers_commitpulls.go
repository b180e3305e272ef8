package githubfake

import (
	"net/http"
	"slices"
	"sort"
)

// listCommitPulls answers GET commits/{commit_sha}/pulls as GitHub does: a
// commit on the default branch lists the merged pull requests that brought
// it (its merge or squash commit, a commit its rebase merge wrote, or one
// of the pull request's own commits); any other commit lists the open pull requests that contain it.
// Oldest pull request first.
func (f *Fake) listCommitPulls(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	sha, found := r.resolve(c.param("commit_sha"))
	if !found {
		c.invalid("No commit found for SHA: " + c.param("commit_sha"))
		return
	}
	tip := r.branchSHA(r.defaultBranch)
	onDefault := tip != "" && (tip == sha || r.objects.isAncestor(sha, tip))
	var list []*PullRequest
	for _, pr := range r.pulls {
		head, base := f.pullSHAs(r, pr)
		own := func() bool {
			return slices.Contains(commitsBetween(r.objects, r.objects.mergeBase(base, head), head), sha)
		}
		switch {
		case onDefault && pr.Merged && (pr.MergeCommitSHA == sha || slices.Contains(pr.RebasedSHAs, sha) || own()):
			list = append(list, pr)
		case !onDefault && pr.issue.State == "open" && own():
			list = append(list, pr)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Number < list[j].Number })
	out := []obj{}
	for _, pr := range paginate(c, list) {
		out = append(out, f.pullSimpleJSON(r, pr))
	}
	c.json(http.StatusOK, out)
}
