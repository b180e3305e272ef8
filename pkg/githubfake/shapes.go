package githubfake

import (
	"fmt"
	"strings"
	"time"
)

// obj is a JSON object. Shapes are maps rather than go-github structs so
// that fields GitHub sends as null are present (go-github omits them).
type obj = map[string]any

// ts formats a timestamp like GitHub; the zero time is null.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// nullable turns "" into null.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nodeID(prefix string, id int64) string { return fmt.Sprintf("%s_kgDO%08d", prefix, id) }

// user returns the account with that login, creating a plain user the first
// time an unknown login acts (tests need not seed every actor). Callers hold f.mu.
func (f *Fake) user(login string) *User {
	if u := f.users[strings.ToLower(login)]; u != nil {
		return u
	}
	u := &User{ID: f.id(), Login: login, Type: "User", created: f.now()}
	f.users[strings.ToLower(login)] = u
	return u
}

// userJSON is GitHub's simple-user (also the webhook `user` and `sender`).
func (f *Fake) userJSON(u *User) obj {
	if u == nil {
		return nil
	}
	api := f.apiURL() + "/users/" + u.Login
	html := f.baseURL + "/" + u.Login
	if u.Type == "Bot" {
		html = f.baseURL + "/apps/" + strings.TrimSuffix(u.Login, "[bot]")
	}
	return obj{
		"login": u.Login, "id": u.ID, "node_id": nodeID("U", u.ID),
		"avatar_url": f.baseURL + "/avatars/" + u.Login, "gravatar_id": "",
		"url": api, "html_url": html,
		"followers_url": api + "/followers", "following_url": api + "/following{/other_user}",
		"gists_url": api + "/gists{/gist_id}", "starred_url": api + "/starred{/owner}{/repo}",
		"subscriptions_url": api + "/subscriptions", "organizations_url": api + "/orgs",
		"repos_url": api + "/repos", "events_url": api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                u.Type, "site_admin": false,
	}
}

func (f *Fake) userJSONByLogin(login string) any {
	if login == "" {
		return nil
	}
	return f.userJSON(f.user(login))
}

// orgJSON is the organization-simple shape (webhook `organization`).
func (f *Fake) orgJSON(u *User) obj {
	api := f.apiURL() + "/orgs/" + u.Login
	return obj{
		"login": u.Login, "id": u.ID, "node_id": nodeID("O", u.ID), "url": api,
		"repos_url": api + "/repos", "events_url": api + "/events", "hooks_url": api + "/hooks",
		"issues_url": api + "/issues", "members_url": api + "/members{/member}",
		"public_members_url": api + "/public_members{/member}",
		"avatar_url":         f.baseURL + "/avatars/" + u.Login, "description": nil,
	}
}

// repoJSON is GitHub's repository. The webhook form carries exactly the
// properties the webhook schema allows; the REST form adds the rest of
// full-repository.
func (f *Fake) repoJSON(r *repo, webhook bool) obj {
	api := f.apiURL() + "/repos/" + r.fullName()
	html := f.baseURL + "/" + r.fullName()
	host := strings.TrimPrefix(strings.TrimPrefix(f.baseURL, "http://"), "https://")
	open := 0
	for _, is := range r.issues {
		if is.State == "open" {
			open++
		}
	}
	o := obj{
		"id": r.ID, "node_id": nodeID("R", r.ID), "name": r.name, "full_name": r.fullName(),
		"private": r.private, "owner": f.userJSON(r.owner), "html_url": html, "description": nil,
		"fork": false, "url": api,
		"forks_url": api + "/forks", "keys_url": api + "/keys{/key_id}",
		"collaborators_url": api + "/collaborators{/collaborator}", "teams_url": api + "/teams",
		"hooks_url": api + "/hooks", "issue_events_url": api + "/issues/events{/number}",
		"events_url": api + "/events", "assignees_url": api + "/assignees{/user}",
		"branches_url": api + "/branches{/branch}", "tags_url": api + "/tags",
		"blobs_url": api + "/git/blobs{/sha}", "git_tags_url": api + "/git/tags{/sha}",
		"git_refs_url": api + "/git/refs{/sha}", "trees_url": api + "/git/trees{/sha}",
		"statuses_url": api + "/statuses/{sha}", "languages_url": api + "/languages",
		"stargazers_url": api + "/stargazers", "contributors_url": api + "/contributors",
		"subscribers_url": api + "/subscribers", "subscription_url": api + "/subscription",
		"commits_url": api + "/commits{/sha}", "git_commits_url": api + "/git/commits{/sha}",
		"comments_url": api + "/comments{/number}", "issue_comment_url": api + "/issues/comments{/number}",
		"contents_url": api + "/contents/{+path}", "compare_url": api + "/compare/{base}...{head}",
		"merges_url": api + "/merges", "archive_url": api + "/{archive_format}{/ref}",
		"downloads_url": api + "/downloads", "issues_url": api + "/issues{/number}",
		"pulls_url": api + "/pulls{/number}", "milestones_url": api + "/milestones{/number}",
		"notifications_url": api + "/notifications{?since,all,participating}",
		"labels_url":        api + "/labels{/name}", "releases_url": api + "/releases{/id}",
		"deployments_url": api + "/deployments",
		"created_at":      ts(r.created), "updated_at": ts(r.pushed), "pushed_at": ts(r.pushed),
		"git_url":   "git://" + host + "/" + r.fullName() + ".git",
		"ssh_url":   "git@" + host + ":" + r.fullName() + ".git",
		"clone_url": html + ".git", "svn_url": html,
		"homepage": nil, "size": len(r.objects.objects), "stargazers_count": 0, "watchers_count": 0,
		"language": "HCL", "has_issues": true, "has_projects": false, "has_downloads": true,
		"has_wiki": false, "has_pages": false, "has_discussions": false, "forks_count": 0, "mirror_url": nil,
		"archived": false, "disabled": false, "open_issues_count": open, "license": nil,
		"allow_forking": false, "is_template": false, "web_commit_signoff_required": false,
		"topics": []string{}, "visibility": visibility(r.private), "forks": 0, "open_issues": open,
		"watchers": 0, "default_branch": r.defaultBranch, "custom_properties": obj{},
	}
	if !webhook {
		o["network_count"] = 0
		o["subscribers_count"] = 0
		o["permissions"] = obj{"admin": false, "maintain": false, "push": true, "triage": true, "pull": true}
		o["allow_merge_commit"] = r.mergeMethods.Merge
		o["allow_squash_merge"] = r.mergeMethods.Squash
		o["allow_rebase_merge"] = r.mergeMethods.Rebase
		o["delete_branch_on_merge"] = false
		if org := f.orgs[strings.ToLower(r.owner.Login)]; org != nil {
			o["organization"] = f.userJSON(org.account)
		}
	}
	return o
}

func visibility(private bool) string {
	if private {
		return "private"
	}
	return "public"
}

// appJSON is GitHub's integration (GET /app, check_run.app).
func (f *Fake) appJSON(a *App) obj {
	owner := f.user(a.Owner)
	return obj{
		"id": a.ID, "slug": a.Slug, "node_id": nodeID("A", a.ID), "client_id": fmt.Sprintf("Iv1.%016d", a.ID),
		"owner": f.userJSON(owner), "name": a.Name, "description": "", "external_url": f.baseURL,
		"html_url": f.baseURL + "/apps/" + a.Slug, "created_at": ts(a.created), "updated_at": ts(a.created),
		"permissions": appPermissions(), "events": appEvents(), "installations_count": f.installCount(a),
	}
}

func (f *Fake) installCount(a *App) int {
	n := 0
	for _, in := range f.installs {
		if in.app == a {
			n++
		}
	}
	return n
}

// appPermissions are every App's permissions in the fake. Without
// administration, an App gets 403 from branch protection endpoints (it
// reads the branch and its rules instead); without members write, it cannot
// change team memberships.
func appPermissions() obj {
	return obj{
		"actions": "write", "checks": "write", "contents": "write", "issues": "write",
		"members": "read", "merge_queues": "read", "metadata": "read", "pull_requests": "write", "statuses": "write",
	}
}

func appEvents() []string {
	return []string{"check_run", "issue_comment", "issues", "membership", "merge_group", "organization",
		"pull_request", "pull_request_review", "push", "repository_dispatch", "status", "team",
		"workflow_dispatch", "workflow_run"}
}

// installationJSON is GitHub's installation.
func (f *Fake) installationJSON(in *installation) obj {
	sel := "all"
	if in.repos != nil {
		sel = "selected"
	}
	api := f.apiURL()
	return obj{
		"id": in.ID, "account": f.userJSON(in.account), "repository_selection": sel,
		"access_tokens_url": fmt.Sprintf("%s/app/installations/%d/access_tokens", api, in.ID),
		"repositories_url":  api + "/installation/repositories",
		"html_url":          fmt.Sprintf("%s/organizations/%s/settings/installations/%d", f.baseURL, in.account.Login, in.ID),
		"app_id":            in.app.ID, "app_slug": in.app.Slug, "target_id": in.account.ID,
		"target_type": in.account.Type, "permissions": appPermissions(), "events": appEvents(),
		"created_at": ts(in.created), "updated_at": ts(in.created),
		"single_file_name": nil, "has_multiple_single_files": false, "single_file_paths": []string{},
		"suspended_by": nil, "suspended_at": nil,
	}
}

// reactions is the empty reaction rollup GitHub attaches to issues and comments.
func reactions(url string) obj {
	return obj{"url": url + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
		"hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}
}

// authorAssociation is the user's relation to the repository.
func (f *Fake) authorAssociation(r *repo, login string) string {
	if strings.EqualFold(login, r.owner.Login) {
		return "OWNER"
	}
	if o := f.orgs[strings.ToLower(r.owner.Login)]; o != nil && o.members[strings.ToLower(login)] {
		return "MEMBER"
	}
	return "NONE"
}
