package githubfake

import (
	"encoding/base64"
	"path"
	"strings"
)

// base64Lines encodes like GitHub's contents and blob APIs: base64 with a
// newline after every 60 characters.
func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60])
		b.WriteByte('\n')
		enc = enc[60:]
	}
	b.WriteString(enc)
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}

func (f *Fake) repoAPI(r *repo) string { return f.apiURL() + "/repos/" + r.fullName() }

func (f *Fake) refJSON(r *repo, ref, sha string) obj {
	return obj{
		"ref": ref, "node_id": "REF_" + strings.ReplaceAll(ref, "/", "_"),
		"url":    f.repoAPI(r) + "/git/" + ref,
		"object": obj{"type": "commit", "sha": sha, "url": f.repoAPI(r) + "/git/commits/" + sha},
	}
}

func gitSig(s Signature) obj {
	return obj{"name": s.Name, "email": s.Email, "date": ts(s.Date)}
}

func unverified() obj {
	return obj{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil}
}

// gitCommitJSON is the Git Data API's git-commit.
func (f *Fake) gitCommitJSON(r *repo, sha string, c commitData) obj {
	parents := []obj{}
	for _, p := range c.Parents {
		parents = append(parents, obj{"sha": p, "url": f.repoAPI(r) + "/git/commits/" + p, "html_url": f.baseURL + "/" + r.fullName() + "/commit/" + p})
	}
	return obj{
		"sha": sha, "node_id": "C_" + sha[:16], "url": f.repoAPI(r) + "/git/commits/" + sha,
		"html_url": f.baseURL + "/" + r.fullName() + "/commit/" + sha,
		"author":   gitSig(c.Author), "committer": gitSig(c.Committer), "message": c.Message,
		"tree":         obj{"sha": c.Tree, "url": f.repoAPI(r) + "/git/trees/" + c.Tree},
		"parents":      parents,
		"verification": unverified(),
	}
}

// fileJSON is one entry of a commit's or comparison's file list (diff-entry).
func (f *Fake) fileJSON(r *repo, ref string, fc fileChange) obj {
	o := obj{
		"sha": fc.SHA, "filename": fc.Filename, "status": fc.Status,
		"additions": fc.Additions, "deletions": fc.Deletions, "changes": fc.Additions + fc.Deletions,
		"blob_url":     f.baseURL + "/" + r.fullName() + "/blob/" + ref + "/" + fc.Filename,
		"raw_url":      f.baseURL + "/" + r.fullName() + "/raw/" + ref + "/" + fc.Filename,
		"contents_url": f.repoAPI(r) + "/contents/" + fc.Filename + "?ref=" + ref,
	}
	if fc.Patch != "" {
		o["patch"] = fc.Patch
	}
	return o
}

// repoCommitJSON is the Repos API's commit (GET /repos/{o}/{r}/commits/{ref}).
func (f *Fake) repoCommitJSON(r *repo, sha string, withFiles bool) obj {
	c, _ := r.objects.commit(sha)
	parents := []obj{}
	for _, p := range c.Parents {
		parents = append(parents, obj{"sha": p, "url": f.repoAPI(r) + "/commits/" + p, "html_url": f.baseURL + "/" + r.fullName() + "/commit/" + p})
	}
	o := obj{
		"sha": sha, "node_id": "C_" + sha[:16], "url": f.repoAPI(r) + "/commits/" + sha,
		"html_url":     f.baseURL + "/" + r.fullName() + "/commit/" + sha,
		"comments_url": f.repoAPI(r) + "/commits/" + sha + "/comments",
		"commit": obj{
			"url": f.repoAPI(r) + "/git/commits/" + sha, "author": gitSig(c.Author), "committer": gitSig(c.Committer),
			"message": c.Message, "comment_count": 0, "verification": unverified(),
			"tree": obj{"sha": c.Tree, "url": f.repoAPI(r) + "/git/trees/" + c.Tree},
		},
		"author": f.accountByEmail(c.Author.Email), "committer": f.accountByEmail(c.Committer.Email),
		"parents": parents,
	}
	if withFiles {
		var parent string
		if len(c.Parents) > 0 {
			parent = c.Parents[0]
		}
		files := []obj{}
		adds, dels := 0, 0
		for _, fc := range f.changedFiles(r, parent, sha) {
			files = append(files, f.fileJSON(r, sha, fc))
			adds += fc.Additions
			dels += fc.Deletions
		}
		o["files"] = files
		o["stats"] = obj{"additions": adds, "deletions": dels, "total": adds + dels}
	}
	return o
}

// accountByEmail maps a commit email back to an account, as GitHub does.
func (f *Fake) accountByEmail(email string) any {
	for _, u := range f.users {
		if noreplyEmail(u) == email || (u.Email != "" && u.Email == email) {
			return f.userJSON(u)
		}
	}
	return nil
}

// treeJSON is git-tree; recursive lists every entry below the root.
func (f *Fake) treeJSON(r *repo, sha string, recursive bool) (obj, bool) {
	entries := []obj{}
	var walk func(id, prefix string) bool
	walk = func(id, prefix string) bool {
		list, err := r.objects.tree(id)
		if err != nil {
			return false
		}
		for _, e := range list {
			p := path.Join(prefix, e.Name)
			o := obj{"path": p, "mode": e.Mode, "type": e.entryType(), "sha": e.SHA}
			switch e.entryType() {
			case objBlob:
				b, _ := r.objects.get(e.SHA)
				o["size"] = len(b.data)
				o["url"] = f.repoAPI(r) + "/git/blobs/" + e.SHA
			case objTree:
				o["url"] = f.repoAPI(r) + "/git/trees/" + e.SHA
			}
			entries = append(entries, o)
			if recursive && e.isTree() && !walk(e.SHA, p) {
				return false
			}
		}
		return true
	}
	if !walk(sha, "") {
		return nil, false
	}
	return obj{"sha": sha, "url": f.repoAPI(r) + "/git/trees/" + sha, "tree": entries, "truncated": false}, true
}

// contentJSON is a contents-API entry; withContent adds the base64 body of a file.
func (f *Fake) contentJSON(r *repo, ref, p string, e treeEntry, withContent bool) obj {
	typ := "file"
	switch e.Mode {
	case modeTree:
		typ = "dir"
	case modeSymlink:
		typ = "symlink"
	case modeCommit:
		typ = "submodule"
	}
	self := f.repoAPI(r) + "/contents/" + p + "?ref=" + ref
	html := f.baseURL + "/" + r.fullName() + "/blob/" + ref + "/" + p
	gitURL := f.repoAPI(r) + "/git/blobs/" + e.SHA
	var download any = f.baseURL + "/" + r.fullName() + "/raw/" + ref + "/" + p
	size := 0
	if typ == "dir" {
		html = f.baseURL + "/" + r.fullName() + "/tree/" + ref + "/" + p
		gitURL = f.repoAPI(r) + "/git/trees/" + e.SHA
		download = nil
	} else if o, ok := r.objects.get(e.SHA); ok {
		size = len(o.data)
	}
	out := obj{
		"type": typ, "size": size, "name": path.Base(p), "path": p, "sha": e.SHA,
		"url": self, "git_url": gitURL, "html_url": html, "download_url": download,
		"_links": obj{"self": self, "git": gitURL, "html": html},
	}
	if withContent {
		o, _ := r.objects.get(e.SHA)
		out["content"] = base64Lines(o.data)
		out["encoding"] = "base64"
		if typ == "symlink" {
			out["target"] = string(o.data)
		}
	}
	return out
}
