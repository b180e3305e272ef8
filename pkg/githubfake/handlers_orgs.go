package githubfake

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Teams and team membership.

// teamByParam resolves {org}/{team_slug}; callers outside the organisation
// (and installations on other accounts) get 404 like on GitHub.
func (f *Fake) teamByParam(c *call) (*org, *team, bool) {
	o := f.orgs[strings.ToLower(c.param("org"))]
	if o == nil || !f.canSeeOrg(c.p, o) {
		c.notFound()
		return nil, nil, false
	}
	t := o.teams[strings.ToLower(c.param("team_slug"))]
	if t == nil {
		c.notFound()
		return nil, nil, false
	}
	return o, t, true
}

func (f *Fake) canSeeOrg(p *principal, o *org) bool {
	if p.inst != nil {
		return strings.EqualFold(p.inst.account.Login, o.account.Login)
	}
	return p.user != nil && o.members[strings.ToLower(p.user.Login)]
}

func (f *Fake) teamJSON(o *org, t *team) obj {
	api := fmt.Sprintf("%s/organizations/%d/team/%d", f.apiURL(), o.account.ID, t.ID)
	return obj{
		"id": t.ID, "node_id": nodeID("T", t.ID), "url": api,
		"html_url": f.baseURL + "/orgs/" + o.account.Login + "/teams/" + t.Slug,
		"name":     t.Name, "slug": t.Slug, "description": nil, "privacy": "closed",
		"notification_setting": "notifications_enabled", "permission": "pull",
		"members_url": api + "/members{/member}", "repositories_url": api + "/repos", "parent": nil,
		"members_count": len(t.members), "repos_count": 0,
		"created_at": ts(o.account.created), "updated_at": ts(o.account.created),
		"organization": f.teamOrgJSON(o), "type": "organization",
	}
}

func (f *Fake) getTeam(c *call) {
	if o, t, ok := f.teamByParam(c); ok {
		c.json(http.StatusOK, f.teamJSON(o, t))
	}
}

func (f *Fake) listTeamMembers(c *call) {
	_, t, ok := f.teamByParam(c)
	if !ok {
		return
	}
	var logins []string
	for login, role := range t.members {
		if r := c.query("role"); r == "" || r == "all" || r == role {
			logins = append(logins, login)
		}
	}
	sort.Strings(logins)
	out := []obj{}
	for _, l := range paginate(c, logins) {
		out = append(out, f.userJSON(f.user(l)))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) getTeamMembership(c *call) {
	o, t, ok := f.teamByParam(c)
	if !ok {
		return
	}
	login := strings.ToLower(c.param("username"))
	role, member := t.members[login]
	if !member {
		c.notFound()
		return
	}
	c.json(http.StatusOK, obj{
		"url":  fmt.Sprintf("%s/organizations/%d/team/%d/memberships/%s", f.apiURL(), o.account.ID, t.ID, f.user(login).Login),
		"role": role, "state": "active",
	})
}

// teamOrgJSON is the organisation as a team embeds it (team-organization).
func (f *Fake) teamOrgJSON(o *org) obj {
	out := f.orgJSON(o.account)
	out["html_url"] = f.baseURL + "/" + o.account.Login
	out["has_organization_projects"] = false
	out["has_repository_projects"] = false
	out["public_repos"] = 0
	out["public_gists"] = 0
	out["followers"] = 0
	out["following"] = 0
	out["type"] = "Organization"
	out["created_at"] = ts(o.account.created)
	out["updated_at"] = ts(o.account.created)
	out["archived_at"] = nil
	return out
}
