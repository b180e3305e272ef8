package githubfake

import (
	"fmt"
	"net/url"
	"strings"
)

// labelJSON is GitHub's label.
func (f *Fake) labelJSON(r *repo, l *Label) obj {
	return obj{
		"id": l.ID, "node_id": nodeID("LA", l.ID),
		"url":  f.apiURL() + "/repos/" + r.fullName() + "/labels/" + url.PathEscape(l.Name),
		"name": l.Name, "color": l.Color, "description": nullable(l.Description), "default": l.Default,
	}
}

func (f *Fake) issueLabelsJSON(r *repo, is *Issue) []obj {
	out := []obj{}
	for _, il := range is.Labels {
		if l := r.label(il.Name); l != nil {
			out = append(out, f.labelJSON(r, l))
		}
	}
	return out
}

func (f *Fake) usersJSON(logins []string) []obj {
	out := []obj{}
	for _, l := range logins {
		out = append(out, f.userJSON(f.user(l)))
	}
	return out
}

// issueJSON is GitHub's issue. The webhook form leaves out closed_by, which
// the webhook schema does not allow.
func (f *Fake) issueJSON(r *repo, is *Issue, webhook bool) obj {
	api := fmt.Sprintf("%s/repos/%s/issues/%d", f.apiURL(), r.fullName(), is.Number)
	html := fmt.Sprintf("%s/%s/issues/%d", f.baseURL, r.fullName(), is.Number)
	var assignee any
	if len(is.Assignees) > 0 {
		assignee = f.userJSON(f.user(is.Assignees[0]))
	}
	o := obj{
		"url": api, "repository_url": f.apiURL() + "/repos/" + r.fullName(),
		"labels_url": api + "/labels{/name}", "comments_url": api + "/comments",
		"events_url": api + "/events", "html_url": html, "timeline_url": api + "/timeline",
		"id": is.ID, "node_id": nodeID("I", is.ID), "number": is.Number, "title": is.Title,
		"user": f.userJSON(f.user(is.User)), "labels": f.issueLabelsJSON(r, is),
		"state": is.State, "state_reason": nullable(is.StateReason), "locked": false,
		"assignee": assignee, "assignees": f.usersJSON(is.Assignees), "milestone": nil,
		"comments": len(is.Comments), "created_at": ts(is.CreatedAt), "updated_at": ts(is.UpdatedAt),
		"closed_at": ts(is.ClosedAt), "author_association": f.authorAssociation(r, is.User),
		"active_lock_reason": nil, "body": nullable(is.Body), "reactions": reactions(api),
		"performed_via_github_app": nil,
	}
	if is.IsPR {
		pr := r.pulls[is.Number]
		html := fmt.Sprintf("%s/%s/pull/%d", f.baseURL, r.fullName(), is.Number)
		o["pull_request"] = obj{
			"url": fmt.Sprintf("%s/repos/%s/pulls/%d", f.apiURL(), r.fullName(), is.Number), "html_url": html,
			"diff_url": html + ".diff", "patch_url": html + ".patch", "merged_at": ts(pr.MergedAt),
		}
		o["draft"] = pr.Draft
	}
	if !webhook {
		o["closed_by"] = f.userJSONByLogin(is.ClosedBy)
	}
	return o
}

// commentJSON is GitHub's issue-comment.
func (f *Fake) commentJSON(r *repo, c *Comment) obj {
	api := fmt.Sprintf("%s/repos/%s/issues/comments/%d", f.apiURL(), r.fullName(), c.ID)
	kind := "issues"
	if is := r.issues[c.IssueNumber]; is != nil && is.IsPR {
		kind = "pull"
	}
	return obj{
		"id": c.ID, "node_id": nodeID("IC", c.ID), "url": api,
		"html_url":  fmt.Sprintf("%s/%s/%s/%d#issuecomment-%d", f.baseURL, r.fullName(), kind, c.IssueNumber, c.ID),
		"issue_url": fmt.Sprintf("%s/repos/%s/issues/%d", f.apiURL(), r.fullName(), c.IssueNumber),
		"body":      c.Body, "user": f.userJSON(f.user(c.User)),
		"created_at": ts(c.CreatedAt), "updated_at": ts(c.UpdatedAt),
		"author_association": f.authorAssociation(r, c.User), "performed_via_github_app": nil,
		"reactions": reactions(api),
	}
}

// branchJSON is a pull request's head or base.
func (f *Fake) branchJSON(r *repo, branch, sha string, webhook bool) obj {
	return obj{
		"label": r.owner.Login + ":" + branch, "ref": branch, "sha": sha,
		"user": f.userJSON(r.owner), "repo": f.repoJSON(r, webhook),
	}
}

// pullJSON is GitHub's pull-request; webhook selects the webhook schema's form.
func (f *Fake) pullJSON(r *repo, pr *PullRequest, webhook bool) obj {
	is := pr.issue
	api := fmt.Sprintf("%s/repos/%s/pulls/%d", f.apiURL(), r.fullName(), pr.Number)
	issueAPI := fmt.Sprintf("%s/repos/%s/issues/%d", f.apiURL(), r.fullName(), pr.Number)
	html := fmt.Sprintf("%s/%s/pull/%d", f.baseURL, r.fullName(), pr.Number)
	headSHA, baseSHA := f.pullSHAs(r, pr)
	st := f.pullState(r, pr)
	var assignee any
	if len(is.Assignees) > 0 {
		assignee = f.userJSON(f.user(is.Assignees[0]))
	}
	href := func(u string) obj { return obj{"href": u} }
	o := obj{
		"url": api, "id": pr.ID, "node_id": nodeID("PR", pr.ID), "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issueAPI,
		"number": pr.Number, "state": is.State, "locked": false, "title": is.Title,
		"user": f.userJSON(f.user(is.User)), "body": nullable(is.Body),
		"created_at": ts(is.CreatedAt), "updated_at": ts(is.UpdatedAt), "closed_at": ts(is.ClosedAt),
		"merged_at": ts(pr.MergedAt), "merge_commit_sha": nullable(st.mergeCommitSHA),
		"assignee": assignee, "assignees": f.usersJSON(is.Assignees),
		"requested_reviewers": f.usersJSON(pr.RequestedReviewers), "requested_teams": f.pullTeamsJSON(r, pr, webhook),
		"labels": f.issueLabelsJSON(r, is), "milestone": nil, "draft": pr.Draft,
		"commits_url": api + "/commits", "review_comments_url": api + "/comments",
		"review_comment_url": f.apiURL() + "/repos/" + r.fullName() + "/pulls/comments{/number}",
		"comments_url":       issueAPI + "/comments",
		"statuses_url":       f.apiURL() + "/repos/" + r.fullName() + "/statuses/" + headSHA,
		"head":               f.branchJSON(r, pr.Head, headSHA, webhook),
		"base":               f.branchJSON(r, pr.Base, baseSHA, webhook),
		"_links": obj{
			"self": href(api), "html": href(html), "issue": href(issueAPI),
			"comments": href(issueAPI + "/comments"), "review_comments": href(api + "/comments"),
			"review_comment": href(f.apiURL() + "/repos/" + r.fullName() + "/pulls/comments{/number}"),
			"commits":        href(api + "/commits"),
			"statuses":       href(f.apiURL() + "/repos/" + r.fullName() + "/statuses/" + headSHA),
		},
		"author_association": f.authorAssociation(r, is.User), "auto_merge": nil,
		"active_lock_reason": nil, "merged": pr.Merged, "mergeable": st.mergeable,
		"rebaseable": st.rebaseable, "mergeable_state": st.state,
		"merged_by": f.userJSONByLogin(pr.MergedBy), "comments": len(is.Comments),
		"review_comments": 0, "maintainer_can_modify": false, "commits": st.commits,
		"additions": st.additions, "deletions": st.deletions, "changed_files": st.changedFiles,
	}
	return o
}

// pullSimpleJSON is the list form (pull-request-simple) and the webhook's
// simple-pull-request: no mergeability or counts.
func (f *Fake) pullSimpleJSON(r *repo, pr *PullRequest) obj {
	o := f.pullJSON(r, pr, false)
	for _, k := range []string{"merged", "mergeable", "rebaseable", "mergeable_state", "merged_by",
		"comments", "review_comments", "maintainer_can_modify", "commits", "additions", "deletions", "changed_files"} {
		delete(o, k)
	}
	return o
}

// reviewJSON is GitHub's pull-request-review. Webhooks report the state in
// lower case, as GitHub does.
func (f *Fake) reviewJSON(r *repo, rv *Review, webhook bool) obj {
	html := fmt.Sprintf("%s/%s/pull/%d#pullrequestreview-%d", f.baseURL, r.fullName(), rv.PRNumber, rv.ID)
	prURL := fmt.Sprintf("%s/repos/%s/pulls/%d", f.apiURL(), r.fullName(), rv.PRNumber)
	state := rv.State
	var body any = rv.Body
	if webhook {
		state = strings.ToLower(state)
		body = nullable(rv.Body)
	}
	return obj{
		"id": rv.ID, "node_id": nodeID("PRR", rv.ID), "user": f.userJSON(f.user(rv.User)),
		"body": body, "state": state, "html_url": html, "pull_request_url": prURL,
		"_links":       obj{"html": obj{"href": html}, "pull_request": obj{"href": prURL}},
		"submitted_at": ts(rv.SubmittedAt), "commit_id": rv.CommitID,
		"author_association": f.authorAssociation(r, rv.User),
	}
}

// pullTeamsJSON is a pull request's requested teams, in the REST or the
// webhook form.
func (f *Fake) pullTeamsJSON(r *repo, pr *PullRequest, webhook bool) []obj {
	if !webhook {
		return f.requestedTeamsJSON(r, pr)
	}
	out := []obj{}
	if o := f.orgs[strings.ToLower(r.owner.Login)]; o != nil {
		for _, slug := range pr.RequestedTeams {
			if t := o.teams[slug]; t != nil {
				out = append(out, f.webhookTeamJSON(o, t))
			}
		}
	}
	return out
}
