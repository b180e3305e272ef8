package githubfake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

// Git Data API: refs, blobs, trees, commits.

func (f *Fake) getRef(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	ref := "refs/" + strings.TrimPrefix(c.param("ref"), "refs/")
	sha, exists := r.refs[ref]
	if !exists {
		c.notFound()
		return
	}
	c.json(http.StatusOK, f.refJSON(r, ref, sha))
}

func (f *Fake) listMatchingRefs(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	prefix := "refs/" + strings.TrimPrefix(c.param("ref"), "refs/")
	var names []string
	for ref := range r.refs {
		if strings.HasPrefix(ref, prefix) {
			names = append(names, ref)
		}
	}
	sort.Strings(names)
	out := []obj{}
	for _, ref := range paginate(c, names) {
		out = append(out, f.refJSON(r, ref, r.refs[ref]))
	}
	c.json(http.StatusOK, out)
}

// validRefName applies GitHub's rule for created refs.
func validRefName(ref string) bool {
	return strings.HasPrefix(ref, "refs/") && strings.Count(ref, "/") >= 2 &&
		!strings.Contains(ref, "..") && !strings.HasSuffix(ref, "/") && !strings.ContainsAny(ref, " ~^:?*[\\")
}

func (f *Fake) createRef(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if !c.decode(&req) {
		return
	}
	switch {
	case req.Ref == "" || req.SHA == "":
		c.invalid("Invalid request.\n\n\"ref\" and \"sha\" are required.")
	case !validRefName(req.Ref):
		c.invalid("Reference name must start with 'refs/' and have at least two slashes.")
	case r.refs[req.Ref] != "":
		c.invalid("Reference already exists")
	default:
		if o, exists := r.objects.get(req.SHA); !exists || o.typ != objCommit {
			c.invalid("Object does not exist")
			return
		}
		sha := strings.ToLower(req.SHA)
		if err := f.refWriteAllowed(r, req.Ref, sha, c.p.user); err != nil {
			c.answer(err)
			return
		}
		f.setRef(r, req.Ref, sha, c.p.user)
		c.json(http.StatusCreated, f.refJSON(r, req.Ref, sha))
	}
}

func (f *Fake) updateRef(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
	}
	if !c.decode(&req) {
		return
	}
	ref := "refs/" + strings.TrimPrefix(c.param("ref"), "refs/")
	old := r.refs[ref]
	if old == "" {
		c.invalid("Reference does not exist")
		return
	}
	if o, exists := r.objects.get(req.SHA); !exists || o.typ != objCommit {
		c.invalid("Object does not exist")
		return
	}
	sha := strings.ToLower(req.SHA)
	if !req.Force && !r.objects.isAncestor(old, sha) {
		c.invalid("Update is not a fast forward")
		return
	}
	if err := f.refWriteAllowed(r, ref, sha, c.p.user); err != nil {
		c.answer(err)
		return
	}
	f.setRef(r, ref, sha, c.p.user)
	c.json(http.StatusOK, f.refJSON(r, ref, sha))
}

func (f *Fake) deleteRef(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	ref := "refs/" + strings.TrimPrefix(c.param("ref"), "refs/")
	if r.refs[ref] == "" {
		c.invalid("Reference does not exist")
		return
	}
	if err := f.refWriteAllowed(r, ref, "", c.p.user); err != nil {
		c.answer(err)
		return
	}
	f.setRef(r, ref, "", c.p.user)
	c.noContent()
}

func (f *Fake) createBlob(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Content == nil {
		c.invalid("Invalid request.\n\n\"content\" wasn't supplied.")
		return
	}
	data := []byte(*req.Content)
	switch req.Encoding {
	case "", "utf-8", "utf8":
	case "base64":
		dec, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(*req.Content, "\n", ""))
		if err != nil {
			c.invalid("Invalid request.\n\n\"content\" is not valid base64.")
			return
		}
		data = dec
	default:
		c.invalid("Invalid request.\n\nencoding must be one of utf-8, base64.")
		return
	}
	sha := r.objects.putBlob(data)
	c.json(http.StatusCreated, obj{"sha": sha, "url": f.repoAPI(r) + "/git/blobs/" + sha})
}

func (f *Fake) getBlob(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	sha := strings.ToLower(c.param("file_sha"))
	o, exists := r.objects.get(sha)
	if !exists || o.typ != objBlob {
		c.notFound()
		return
	}
	c.json(http.StatusOK, obj{
		"sha": sha, "node_id": "B_" + sha[:16], "size": len(o.data), "url": f.repoAPI(r) + "/git/blobs/" + sha,
		"content": base64Lines(o.data), "encoding": "base64",
	})
}

// treeChange is one entry of a create-tree request.
type treeChange struct {
	Path    string          `json:"path"`
	Mode    string          `json:"mode"`
	Type    string          `json:"type"`
	SHA     json.RawMessage `json:"sha"`
	Content *string         `json:"content"`
}

// createTree answers POST git/trees: entries are applied on top of
// base_tree by path; nested paths create subtrees; sha null deletes.
func (f *Fake) createTree(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		BaseTree string       `json:"base_tree"`
		Tree     []treeChange `json:"tree"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Tree == nil {
		c.invalid("Invalid request.\n\n\"tree\" wasn't supplied.")
		return
	}
	files := map[string]fileEntry{}
	if req.BaseTree != "" {
		base := strings.ToLower(req.BaseTree)
		if o, exists := r.objects.get(base); exists && o.typ == objCommit {
			cd, _ := r.objects.commit(base)
			base = cd.Tree
		}
		flat, err := r.objects.flatten(base)
		if err != nil {
			c.invalid("Invalid request.\n\nbase_tree " + req.BaseTree + " is not a valid tree.")
			return
		}
		files = flat
	}
	if msg := f.applyTreeChanges(r, files, req.Tree); msg != "" {
		c.invalid(msg)
		return
	}
	sha, err := r.objects.buildTree(files)
	if err != nil {
		c.invalid("Invalid request.\n\n" + err.Error())
		return
	}
	body, _ := f.treeJSON(r, sha, false)
	c.json(http.StatusCreated, body)
}

// applyTreeChanges edits a flattened tree; it returns GitHub's 422 message
// for the first bad entry.
func (f *Fake) applyTreeChanges(r *repo, files map[string]fileEntry, changes []treeChange) string {
	for _, ch := range changes {
		p := ch.Path
		if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || path.Clean(p) != p || strings.HasPrefix(p, "../") {
			return "tree.path contains a malformed path component"
		}
		switch ch.Mode {
		case modeFile, modeExec, modeSymlink, modeTree, modeCommit, "40000":
		default:
			return "Must supply a valid tree.mode"
		}
		if ch.Mode == "40000" {
			ch.Mode = modeTree
		}
		deleting := string(ch.SHA) == "null"
		var sha string
		if len(ch.SHA) > 0 && !deleting {
			if err := json.Unmarshal(ch.SHA, &sha); err != nil {
				return "tree.sha must be a string"
			}
		}
		if sha != "" && ch.Content != nil {
			return "Must supply either tree.sha or tree.content, not both"
		}
		for k := range files {
			if k == p || strings.HasPrefix(k, p+"/") {
				delete(files, k)
			}
		}
		if deleting {
			continue
		}
		if ch.Content != nil {
			if ch.Mode == modeTree || ch.Mode == modeCommit {
				return "tree.content can only be used with blob modes"
			}
			files[p] = fileEntry{Mode: ch.Mode, SHA: r.objects.putBlob([]byte(*ch.Content))}
			continue
		}
		if sha == "" {
			return "Must supply tree.sha or tree.content. Request will be rejected if both are present."
		}
		sha = strings.ToLower(sha)
		o, exists := r.objects.get(sha)
		switch {
		case ch.Mode == modeCommit:
			files[p] = fileEntry{Mode: modeCommit, SHA: sha}
		case !exists:
			return "tree.sha " + sha + " is not a valid " + map[bool]string{true: "tree", false: "blob"}[ch.Mode == modeTree]
		case ch.Mode == modeTree:
			if o.typ != objTree {
				return "tree.sha " + sha + " is not a valid tree"
			}
			sub, _ := r.objects.flatten(sha)
			for k, v := range sub {
				files[p+"/"+k] = v
			}
		default:
			if o.typ != objBlob {
				return "tree.sha " + sha + " is not a valid blob"
			}
			files[p] = fileEntry{Mode: ch.Mode, SHA: sha}
		}
	}
	return ""
}

func (f *Fake) getTree(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	sha := strings.ToLower(c.param("tree_sha"))
	if o, exists := r.objects.get(sha); exists && o.typ == objCommit {
		cd, _ := r.objects.commit(sha)
		sha = cd.Tree
	} else if !exists {
		if resolved, found := r.resolve(c.param("tree_sha")); found {
			cd, _ := r.objects.commit(resolved)
			sha = cd.Tree
		}
	}
	body, found := f.treeJSON(r, sha, c.query("recursive") != "")
	if !found {
		c.notFound()
		return
	}
	c.json(http.StatusOK, body)
}

// sigRequest is an author or committer in a create-commit request.
type sigRequest struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date"`
}

func (f *Fake) signature(s *sigRequest, fallback Signature) (Signature, bool) {
	if s == nil {
		return fallback, true
	}
	out := Signature{Name: s.Name, Email: s.Email, Date: fallback.Date}
	if s.Date != "" {
		t, err := time.Parse(time.RFC3339, s.Date)
		if err != nil {
			return out, false
		}
		out.Date = t
	}
	return out, true
}

func (f *Fake) createCommit(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		Message   *string     `json:"message"`
		Tree      string      `json:"tree"`
		Parents   []string    `json:"parents"`
		Author    *sigRequest `json:"author"`
		Committer *sigRequest `json:"committer"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Message == nil {
		c.invalid("Invalid request.\n\n\"message\" wasn't supplied.")
		return
	}
	if o, exists := r.objects.get(req.Tree); !exists || o.typ != objTree {
		c.invalid("Tree SHA does not exist")
		return
	}
	parents := []string{}
	for _, p := range req.Parents {
		if o, exists := r.objects.get(p); !exists || o.typ != objCommit {
			c.invalid("Parent SHA does not exist or is not a commit object")
			return
		}
		parents = append(parents, strings.ToLower(p))
	}
	def := Signature{Name: c.p.user.Login, Email: noreplyEmail(c.p.user), Date: f.now()}
	author, okA := f.signature(req.Author, def)
	committer, okC := f.signature(req.Committer, author)
	if !okA || !okC {
		c.invalid("Invalid request.\n\nFor 'properties/date', is not a date-time.")
		return
	}
	cd := commitData{Tree: strings.ToLower(req.Tree), Parents: parents, Author: author, Committer: committer, Message: *req.Message}
	sha := r.objects.putCommit(cd)
	c.json(http.StatusCreated, f.gitCommitJSON(r, sha, cd))
}

func (f *Fake) getGitCommit(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	sha := strings.ToLower(c.param("commit_sha"))
	cd, err := r.objects.commit(sha)
	if err != nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, f.gitCommitJSON(r, sha, cd))
}
