package githubfake

import (
	"encoding/base64"
	"net/http"
	"path"
	"strings"
)

// Repositories, branches, contents, commits and comparisons.

func (f *Fake) getRepo(c *call) {
	if r, ok := c.repo(); ok {
		c.json(http.StatusOK, f.repoJSON(r, false))
	}
}

func (f *Fake) getBranch(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	branch := c.param("branch")
	sha := r.branchSHA(branch)
	if sha == "" {
		c.fail(http.StatusNotFound, "Branch not found")
		return
	}
	c.json(http.StatusOK, obj{
		"name": branch, "commit": f.repoCommitJSON(r, sha, false),
		"protected":      r.protection[branch] != nil || len(r.activeRulesets(branch)) > 0,
		"protection":     f.branchProtectionSummary(r, branch),
		"protection_url": f.repoAPI(r) + "/branches/" + branch + "/protection",
		"_links":         obj{"self": f.repoAPI(r) + "/branches/" + branch, "html": f.baseURL + "/" + r.fullName() + "/tree/" + branch},
	})
}

// getContents answers a file (base64) or a directory listing at ?ref.
func (f *Fake) getContents(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	ref := c.query("ref")
	if ref == "" {
		ref = r.defaultBranch
	}
	sha, found := r.resolve(ref)
	if !found {
		c.fail(http.StatusNotFound, "No commit found for the ref "+ref)
		return
	}
	cd, _ := r.objects.commit(sha)
	p := strings.Trim(c.param("path"), "/")
	e, found := r.objects.lookupPath(cd.Tree, p)
	if !found {
		c.notFound()
		return
	}
	if !e.isTree() {
		c.json(http.StatusOK, f.contentJSON(r, ref, p, e, true))
		return
	}
	entries, _ := r.objects.tree(e.SHA)
	out := []obj{}
	for _, child := range entries {
		out = append(out, f.contentJSON(r, ref, path.Join(p, child.Name), child, false))
	}
	c.json(http.StatusOK, out)
}

// getRepoCommit answers GET commits/{ref}; an unknown ref is 422 like GitHub.
func (f *Fake) getRepoCommit(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	sha, found := r.resolve(c.param("ref"))
	if !found {
		c.invalid("No commit found for SHA: " + c.param("ref"))
		return
	}
	c.json(http.StatusOK, f.repoCommitJSON(r, sha, true))
}

// listCommits answers GET commits?sha=&path=, newest first.
func (f *Fake) listCommits(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	start := c.query("sha")
	tip, found := r.resolve(start)
	if !found {
		if start == "" {
			c.fail(http.StatusConflict, "Git Repository is empty.")
			return
		}
		c.notFound()
		return
	}
	filter := strings.Trim(c.query("path"), "/")
	var ids []string
	for _, id := range r.objects.history(tip, 0) {
		if filter != "" {
			cd, _ := r.objects.commit(id)
			var parent string
			if len(cd.Parents) > 0 {
				parent = cd.Parents[0]
			}
			touched := false
			for _, fc := range f.changedPaths(r, parent, id) {
				if fc.Filename == filter || strings.HasPrefix(fc.Filename, filter+"/") {
					touched = true
					break
				}
			}
			if !touched {
				continue
			}
		}
		ids = append(ids, id)
	}
	out := []obj{}
	for _, id := range paginate(c, ids) {
		out = append(out, f.repoCommitJSON(r, id, false))
	}
	c.json(http.StatusOK, out)
}

// compareCommits answers GET compare/{base}...{head}.
func (f *Fake) compareCommits(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	baseRef, headRef, found := strings.Cut(c.param("basehead"), "...")
	if !found {
		c.notFound()
		return
	}
	base, okB := r.resolve(baseRef)
	head, okH := r.resolve(headRef)
	if !okB || !okH {
		c.notFound()
		return
	}
	mb := r.objects.mergeBase(base, head)
	ahead := commitsBetween(r.objects, base, head)
	behind := commitsBetween(r.objects, head, base)
	status := "diverged"
	switch {
	case len(ahead) == 0 && len(behind) == 0:
		status = "identical"
	case len(behind) == 0:
		status = "ahead"
	case len(ahead) == 0:
		status = "behind"
	}
	commits := []obj{}
	for _, id := range ahead {
		commits = append(commits, f.repoCommitJSON(r, id, false))
	}
	files := []obj{}
	for _, fc := range f.changedFiles(r, mb, head) {
		files = append(files, f.fileJSON(r, head, fc))
	}
	html := f.baseURL + "/" + r.fullName() + "/compare/" + baseRef + "..." + headRef
	var mbObj any
	if mb != "" {
		mbObj = f.repoCommitJSON(r, mb, false)
	}
	c.json(http.StatusOK, obj{
		"url": f.repoAPI(r) + "/compare/" + baseRef + "..." + headRef, "html_url": html,
		"permalink_url": f.baseURL + "/" + r.fullName() + "/compare/" + base[:7] + "..." + head[:7],
		"diff_url":      html + ".diff", "patch_url": html + ".patch",
		"base_commit": f.repoCommitJSON(r, base, false), "merge_base_commit": mbObj,
		"status": status, "ahead_by": len(ahead), "behind_by": len(behind), "total_commits": len(ahead),
		"commits": commits, "files": files,
	})
}

// putContents answers PUT contents/{path}: one commit on the branch head
// (default: the default branch) that sets one file, the file's mode kept.
// Updating an existing file needs its blob sha, a compare-and-swap: another
// sha is 409 "<path> does not match <sha>". A new path ignores sha. A
// refusal by branch protection or a ruleset is 409 with the rule's message
// (the Git Data API's ref update says 422), and the ref move emits push like
// any other.
func (f *Fake) putContents(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		Message   *string     `json:"message"`
		Content   *string     `json:"content"`
		SHA       string      `json:"sha"`
		Branch    string      `json:"branch"`
		Author    *sigRequest `json:"author"`
		Committer *sigRequest `json:"committer"`
	}
	if !c.decode(&req) {
		return
	}
	p := strings.Trim(c.param("path"), "/")
	switch {
	case req.Message == nil:
		c.invalid("Invalid request.\n\n\"message\" wasn't supplied.")
		return
	case req.Content == nil:
		c.invalid("Invalid request.\n\n\"content\" wasn't supplied.")
		return
	case p == "" || path.Clean(p) != p || strings.HasPrefix(p, "../"):
		c.invalid("path contains a malformed path component")
		return
	}
	data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(*req.Content, "\n", ""))
	if err != nil {
		c.invalid("Invalid request.\n\ncontent is not valid Base64")
		return
	}
	branch := req.Branch
	if branch == "" {
		branch = r.defaultBranch
	}
	head := r.branchSHA(branch)
	if head == "" {
		c.fail(http.StatusNotFound, "Branch "+branch+" not found")
		return
	}
	files := f.commitFiles(r, head)
	old, exists := files[p]
	if e, found := r.objects.lookupPath(mustTree(r, head), p); found && e.isTree() {
		c.invalid("Invalid request.\n\n" + p + " is a directory")
		return
	}
	switch {
	case exists && req.SHA == "":
		c.invalid("Invalid request.\n\n\"sha\" wasn't supplied.")
		return
	case exists && !strings.EqualFold(req.SHA, old.SHA):
		c.fail(http.StatusConflict, p+" does not match "+req.SHA)
		return
	}
	mode := modeFile
	if exists {
		mode = old.Mode
	}
	files[p] = fileEntry{Mode: mode, SHA: r.objects.putBlob(data)}
	tree, err := r.objects.buildTree(files)
	if err != nil {
		c.invalid("Invalid request.\n\n" + err.Error())
		return
	}
	def := Signature{Name: c.p.user.Login, Email: noreplyEmail(c.p.user), Date: f.now()}
	committer, okC := f.signature(req.Committer, def)
	author, okA := f.signature(req.Author, committer)
	if !okA || !okC {
		c.invalid("Invalid request.\n\nFor 'properties/date', is not a date-time.")
		return
	}
	cd := commitData{Tree: tree, Parents: []string{head}, Author: author, Committer: committer, Message: *req.Message}
	sha := r.objects.putCommit(cd)
	if err := f.refWriteAllowed(r, "refs/heads/"+branch, sha, c.p.user); err != nil {
		if ae, ok := err.(*apiError); ok && ae.status == http.StatusUnprocessableEntity {
			err = &apiError{status: http.StatusConflict, msg: ae.msg}
		}
		c.answer(err)
		return
	}
	f.setRef(r, "refs/heads/"+branch, sha, c.p.user)
	e, _ := r.objects.lookupPath(tree, p)
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
	}
	c.json(status, obj{"content": f.contentJSON(r, branch, p, e, false), "commit": f.gitCommitJSON(r, sha, cd)})
}

// mustTree is a commit's root tree.
func mustTree(r *repo, sha string) string {
	cd, _ := r.objects.commit(sha)
	return cd.Tree
}
