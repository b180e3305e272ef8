package forge

import (
	"net/url"
	"strings"
)

// Endpoints are counted under GitHub's route templates (the notation of
// GitHub's REST docs and of githubfake's call counts), for example
// "POST /repos/{owner}/{repo}/git/refs". A segment "{name*}" spans one or
// more path segments (refs with slashes, file paths).
var routeTemplates = compileRoutes([]string{
	"GET /app",
	"GET /app/installations/{installation_id}",
	"POST /app/installations/{installation_id}/access_tokens",
	"GET /repos/{owner}/{repo}/installation",
	"GET /rate_limit",
	"GET /repos/{owner}/{repo}",
	"GET /repos/{owner}/{repo}/branches/{branch*}",
	"GET /repos/{owner}/{repo}/rules/branches/{branch*}",
	"GET /repos/{owner}/{repo}/contents/{path*}",
	"PUT /repos/{owner}/{repo}/contents/{path*}",
	"GET /repos/{owner}/{repo}/commits/{ref*}/check-runs",
	"GET /repos/{owner}/{repo}/commits/{ref*}/status",
	"GET /repos/{owner}/{repo}/commits/{ref*}/statuses",
	"GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls",
	"GET /repos/{owner}/{repo}/commits/{ref*}",
	"GET /repos/{owner}/{repo}/compare/{basehead*}",
	"GET /repos/{owner}/{repo}/git/ref/{ref*}",
	"GET /repos/{owner}/{repo}/git/matching-refs/{ref*}",
	"POST /repos/{owner}/{repo}/git/refs",
	"PATCH /repos/{owner}/{repo}/git/refs/{ref*}",
	"DELETE /repos/{owner}/{repo}/git/refs/{ref*}",
	"GET /repos/{owner}/{repo}/git/trees/{tree_sha}",
	"POST /repos/{owner}/{repo}/git/trees",
	"GET /repos/{owner}/{repo}/git/blobs/{file_sha}",
	"POST /repos/{owner}/{repo}/git/blobs",
	"GET /repos/{owner}/{repo}/git/commits/{commit_sha}",
	"POST /repos/{owner}/{repo}/git/commits",
	"GET /repos/{owner}/{repo}/issues",
	"POST /repos/{owner}/{repo}/issues",
	"GET /repos/{owner}/{repo}/issues/comments/{comment_id}",
	"PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
	"GET /repos/{owner}/{repo}/issues/{issue_number}",
	"PATCH /repos/{owner}/{repo}/issues/{issue_number}",
	"GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
	"POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
	"GET /repos/{owner}/{repo}/issues/{issue_number}/labels",
	"POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
	"PUT /repos/{owner}/{repo}/issues/{issue_number}/labels",
	"DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
	"GET /repos/{owner}/{repo}/issues/{issue_number}/events",
	"GET /repos/{owner}/{repo}/labels",
	"POST /repos/{owner}/{repo}/labels",
	"GET /repos/{owner}/{repo}/labels/{name}",
	"GET /repos/{owner}/{repo}/pulls",
	"POST /repos/{owner}/{repo}/pulls",
	"GET /repos/{owner}/{repo}/pulls/{pull_number}",
	"PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
	"GET /repos/{owner}/{repo}/pulls/{pull_number}/files",
	"GET /repos/{owner}/{repo}/pulls/{pull_number}/commits",
	"PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
	"GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
	"POST /repos/{owner}/{repo}/check-runs",
	"GET /repos/{owner}/{repo}/check-runs/{check_run_id}",
	"PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
	"POST /repos/{owner}/{repo}/statuses/{sha}",
	"GET /orgs/{org}/teams/{team_slug}/memberships/{username}",
	"GET /orgs/{org}/teams/{team_slug}/members",
	"GET /orgs/{org}/teams/{team_slug}/teams",
	"GET /orgs/{org}/teams/{team_slug}",
	"GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
	"POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
	"GET /repos/{owner}/{repo}/actions/runs/{run_id}",
	"GET /repos/{owner}/{repo}/actions/runs",
	"POST /repos/{owner}/{repo}/dispatches",
})

type routeTemplate struct {
	method, key string
	segs        []string
	star        int // index of the "{x*}" segment, -1 when none
}

func compileRoutes(keys []string) []routeTemplate {
	out := make([]routeTemplate, 0, len(keys))
	for _, k := range keys {
		method, tmpl, _ := strings.Cut(k, " ")
		rt := routeTemplate{method: method, key: method + " " + strings.ReplaceAll(tmpl, "*}", "}"),
			segs: strings.Split(strings.Trim(tmpl, "/"), "/"), star: -1}
		for i, s := range rt.segs {
			if strings.HasSuffix(s, "*}") {
				rt.star = i
			}
		}
		out = append(out, rt)
	}
	return out
}

// routeKey names a request by its route template; unknown paths are
// "<METHOD> (other)".
func routeKey(method string, u *url.URL) string {
	p := u.EscapedPath()
	if i := strings.Index(p, "/api/v3"); i >= 0 && (len(p) == i+7 || p[i+7] == '/') {
		p = p[i+7:]
	}
	var segs []string
	if t := strings.Trim(p, "/"); t != "" {
		segs = strings.Split(t, "/")
	}
	for _, rt := range routeTemplates {
		if rt.method == method && rt.match(segs) {
			return rt.key
		}
	}
	return method + " (other)"
}

func (rt routeTemplate) match(segs []string) bool {
	if rt.star < 0 {
		if len(segs) != len(rt.segs) {
			return false
		}
		return fixedMatch(rt.segs, segs)
	}
	tail := len(rt.segs) - rt.star - 1
	if len(segs) < len(rt.segs) {
		return false
	}
	return fixedMatch(rt.segs[:rt.star], segs[:rt.star]) &&
		fixedMatch(rt.segs[rt.star+1:], segs[len(segs)-tail:])
}

func fixedMatch(tmpl, segs []string) bool {
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if t != segs[i] {
			return false
		}
	}
	return true
}
