package githubfake

import (
	"fmt"
	"maps"
	"net/http"
)

// MergeMethods are a repository's merge button settings
// (allow_merge_commit, allow_squash_merge, allow_rebase_merge). A new
// repository allows all three, as GitHub's do.
type MergeMethods struct {
	Merge, Squash, Rebase bool
}

// SetMergeMethods changes which merge methods a repository allows.
func (f *Fake) SetMergeMethods(repoName string, m MergeMethods) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	r.mergeMethods = m
	return nil
}

// methodAllowed refuses a merge method the repository does not allow, with
// GitHub's message.
func methodAllowed(r *repo, method string) error {
	allowed, what := false, ""
	switch method {
	case "merge":
		allowed, what = r.mergeMethods.Merge, "Merge commits"
	case "squash":
		allowed, what = r.mergeMethods.Squash, "Squash merges"
	case "rebase":
		allowed, what = r.mergeMethods.Rebase, "Rebase merges"
	default:
		return &apiError{status: http.StatusUnprocessableEntity, msg: fmt.Sprintf("Invalid merge_method %q", method)}
	}
	if !allowed {
		return &apiError{status: http.StatusMethodNotAllowed, msg: what + " are not allowed on this repository."}
	}
	return nil
}

// replayed is one commit of a rebase: the pull request's commit and the
// files it has once applied on the commits replayed before it.
type replayed struct {
	orig  string
	files map[string]fileEntry
}

// replay applies a pull request's commits one by one on base, as a rebase
// merge does: each commit's change against its parent is merged three-way
// into the result so far. Merge commits are left out (git rebase drops
// them). ok is false when a commit does not apply cleanly, or when the
// result differs from what a merge would give (merged): GitHub refuses
// such a rebase as unsafe.
func (f *Fake) replay(r *repo, base, head string, merged map[string]fileEntry) ([]replayed, bool) {
	cur := f.commitFiles(r, base)
	var out []replayed
	for _, id := range topoCommits(r.objects, r.objects.mergeBase(base, head), head) {
		c, err := r.objects.commit(id)
		if err != nil || len(c.Parents) > 1 {
			continue
		}
		parent := ""
		if len(c.Parents) == 1 {
			parent = c.Parents[0]
		}
		next, conflicts := mergeTrees(r.objects, f.commitFiles(r, parent), cur, f.commitFiles(r, id))
		if len(conflicts) > 0 {
			return nil, false
		}
		cur = next
		out = append(out, replayed{orig: id, files: next})
	}
	if len(out) == 0 || !maps.Equal(cur, merged) {
		return nil, false
	}
	return out, true
}

// topoCommits lists the commits reachable from to but not from from,
// parents before children.
func topoCommits(s *objectStore, from, to string) []string {
	exclude := map[string]bool{}
	if from != "" {
		for _, id := range s.history(from, 0) {
			exclude[id] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		if seen[id] || exclude[id] {
			return
		}
		seen[id] = true
		c, err := s.commit(id)
		if err != nil {
			return
		}
		for _, p := range c.Parents {
			visit(p)
		}
		out = append(out, id)
	}
	visit(to)
	return out
}

// rebaseCommits writes a rebase merge's commits on base: each replayed
// commit keeps its author and message, the merger is the committer. It
// returns the new commits, oldest first.
func (f *Fake) rebaseCommits(r *repo, base string, steps []replayed, committer Signature) ([]string, error) {
	var out []string
	parent := base
	for _, st := range steps {
		c, err := r.objects.commit(st.orig)
		if err != nil {
			return nil, err
		}
		tree, err := r.objects.buildTree(st.files)
		if err != nil {
			return nil, err
		}
		parent = r.objects.putCommit(commitData{Tree: tree, Parents: []string{parent}, Author: c.Author,
			Committer: committer, Message: c.Message})
		out = append(out, parent)
	}
	return out, nil
}
