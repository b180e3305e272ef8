package githubfake

import (
	"encoding/json"
	"fmt"
	"strings"
)

// installationFor returns the installation that receives a repository's
// events (the lowest id that covers it), or nil.
func (f *Fake) installationFor(r *repo) *installation {
	var best *installation
	for _, in := range f.installs {
		if in.covers(r) && (best == nil || in.ID < best.ID) {
			best = in
		}
	}
	return best
}

// emit sends an event with the envelope GitHub adds to every repository
// event: action, repository, sender, installation, organization. Callers hold f.mu.
func (f *Fake) emit(r *repo, event, action string, actor *User, body obj) {
	p := obj{}
	if action != "" {
		p["action"] = action
	}
	for k, v := range body {
		p[k] = v
	}
	if _, ok := p["repository"]; !ok {
		p["repository"] = f.repoJSON(r, true)
	}
	p["sender"] = f.userJSON(actor)
	var instID, appID int64
	if in := f.installationFor(r); in != nil {
		instID, appID = in.ID, in.app.ID
		p["installation"] = obj{"id": in.ID, "node_id": nodeID("MDIz", in.ID)}
	}
	if o := f.orgs[strings.ToLower(r.owner.Login)]; o != nil {
		p["organization"] = f.orgJSON(o.account)
	}
	data, err := json.Marshal(p)
	if err != nil {
		f.log.Error("githubfake: encode event", "event", event, "err", err)
		return
	}
	f.hooks.enqueue(event, action, data, instID, r.ID, appID)
}

// emitIssue sends issues.<action> for an issue, or pull_request.<action> when
// the issue is a pull request (labels, edits, close and reopen).
func (f *Fake) emitIssue(r *repo, is *Issue, action string, actor *User, extra obj) {
	if is.IsPR {
		f.emitPull(r, r.pulls[is.Number], action, actor, extra)
		return
	}
	body := obj{"issue": f.issueJSON(r, is, true)}
	for k, v := range extra {
		body[k] = v
	}
	f.emit(r, "issues", action, actor, body)
}

func (f *Fake) emitPull(r *repo, pr *PullRequest, action string, actor *User, extra obj) {
	body := obj{"number": pr.Number, "pull_request": f.pullJSON(r, pr, true)}
	for k, v := range extra {
		body[k] = v
	}
	f.emit(r, "pull_request", action, actor, body)
}

func (f *Fake) emitComment(r *repo, is *Issue, c *Comment, action string, actor *User, changes obj) {
	body := obj{"issue": f.issueJSON(r, is, true), "comment": f.commentJSON(r, c)}
	if changes != nil {
		body["changes"] = changes
	}
	f.emit(r, "issue_comment", action, actor, body)
}

func (f *Fake) emitReview(r *repo, pr *PullRequest, rv *Review, action string, actor *User, changes obj) {
	pull := f.pullJSON(r, pr, true)
	for _, k := range []string{"merged", "mergeable", "rebaseable", "mergeable_state", "merged_by",
		"comments", "review_comments", "maintainer_can_modify", "commits", "additions", "deletions", "changed_files"} {
		delete(pull, k)
	}
	body := obj{"review": f.reviewJSON(r, rv, true), "pull_request": pull}
	if changes != nil {
		body["changes"] = changes
	}
	f.emit(r, "pull_request_review", action, actor, body)
}

func (f *Fake) emitCheckRun(r *repo, cr *CheckRun, action string, actor *User) {
	f.emit(r, "check_run", action, actor, obj{"check_run": f.checkRunJSON(r, cr, true)})
}

func (f *Fake) emitWorkflowRun(r *repo, run *WorkflowRun, action string, actor *User) {
	wf := r.workflows[run.WorkflowPath]
	f.emit(r, "workflow_run", action, actor, obj{
		"workflow": f.workflowJSON(r, wf), "workflow_run": f.runJSON(r, run, true),
	})
}

// pushCommitJSON is a commit as push events list it.
func (f *Fake) pushCommitJSON(r *repo, sha string) obj {
	c, err := r.objects.commit(sha)
	if err != nil {
		return nil
	}
	var parent string
	if len(c.Parents) > 0 {
		parent = c.Parents[0]
	}
	added, removed, modified := []string{}, []string{}, []string{}
	for _, fc := range f.changedPaths(r, parent, sha) {
		switch fc.Status {
		case "added":
			added = append(added, fc.Filename)
		case "removed":
			removed = append(removed, fc.Filename)
		default:
			modified = append(modified, fc.Filename)
		}
	}
	sig := func(s Signature) obj { return obj{"name": s.Name, "email": s.Email, "date": ts(s.Date)} }
	return obj{
		"id": sha, "tree_id": c.Tree, "distinct": true, "message": c.Message,
		"timestamp": ts(c.Committer.Date), "url": fmt.Sprintf("%s/%s/commit/%s", f.baseURL, r.fullName(), sha),
		"author": sig(c.Author), "committer": sig(c.Committer),
		"added": added, "removed": removed, "modified": modified,
	}
}

// emitPush sends push for a ref update. As on GitHub, the push event's
// repository reports created_at and pushed_at as Unix seconds.
func (f *Fake) emitPush(r *repo, ref, before, after string, forced bool, actor *User) {
	var commits []string
	if after != "" {
		from := before
		if from == "" {
			from = r.branchSHA(r.defaultBranch)
			if from == after {
				from = ""
			}
		}
		commits = commitsBetween(r.objects, from, after)
		if before == "" && from == "" {
			commits = []string{after}
		}
	}
	list := []obj{}
	for _, id := range commits {
		list = append(list, f.pushCommitJSON(r, id))
	}
	var head any
	if after != "" {
		head = f.pushCommitJSON(r, after)
	}
	repoObj := f.repoJSON(r, true)
	repoObj["created_at"] = r.created.Unix()
	repoObj["pushed_at"] = r.pushed.Unix()
	b, a := before, after
	if b == "" {
		b = zeroSHA
	}
	if a == "" {
		a = zeroSHA
	}
	f.emit(r, "push", "", actor, obj{
		"ref": ref, "before": b, "after": a, "created": before == "", "deleted": after == "",
		"forced": forced, "base_ref": nil,
		"compare": fmt.Sprintf("%s/%s/compare/%s...%s", f.baseURL, r.fullName(), b[:12], a[:12]),
		"commits": list, "head_commit": head, "repository": repoObj,
		"pusher": obj{"name": actor.Login, "email": noreplyEmail(actor)},
	})
}
