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

// teamJSON is GitHub's team-full.
func (f *Fake) teamJSON(o *org, t *team) obj {
	out := f.teamSimpleJSON(o, t)
	out["parent"] = f.parentTeamJSON(o, t)
	out["members_count"] = len(o.activeMembers(t))
	out["repos_count"] = 0
	out["created_at"] = ts(t.created)
	out["updated_at"] = ts(t.created)
	out["organization"] = f.teamOrgJSON(o)
	return out
}

func (f *Fake) parentTeamJSON(o *org, t *team) any {
	if p := o.teams[t.parent]; p != nil {
		return f.teamSimpleJSON(o, p)
	}
	return nil
}

func (f *Fake) getTeam(c *call) {
	if o, t, ok := f.teamByParam(c); ok {
		c.json(http.StatusOK, f.teamJSON(o, t))
	}
}

// listTeamMembers lists a team's active members, members of its child
// teams included, as GitHub does; pending invitations are not listed.
func (f *Fake) listTeamMembers(c *call) {
	o, t, ok := f.teamByParam(c)
	if !ok {
		return
	}
	var logins []string
	for login, role := range o.activeMembers(t) {
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

// getTeamMembership answers a user's membership: active (directly or
// through a child team) or pending (invited, not accepted); 404 otherwise.
func (f *Fake) getTeamMembership(c *call) {
	o, t, ok := f.teamByParam(c)
	if !ok {
		return
	}
	role, state := o.membership(t, c.param("username"))
	if state == "" {
		c.notFound()
		return
	}
	c.json(http.StatusOK, f.teamMembershipJSON(o, t, c.param("username"), role, state))
}

func (f *Fake) teamMembershipJSON(o *org, t *team, login, role, state string) obj {
	return obj{
		"url":  fmt.Sprintf("%s/organizations/%d/team/%d/memberships/%s", f.apiURL(), o.account.ID, t.ID, f.user(login).Login),
		"role": role, "state": state,
	}
}

// putTeamMembership adds or updates a membership: organisation owners and
// team maintainers may; an App needs members write, which the fake's Apps
// do not have.
func (f *Fake) putTeamMembership(c *call) {
	o, t, ok := f.teamByParam(c)
	if !ok {
		return
	}
	if !f.mayManageTeam(c, o, t) {
		return
	}
	var req struct {
		Role string `json:"role"`
	}
	if !c.decode(&req) {
		return
	}
	login := c.param("username")
	state, err := f.setTeamMembership(o, t, login, req.Role, c.p.user)
	if err != nil {
		c.answer(err)
		return
	}
	role, _ := o.membership(t, login)
	if state == "pending" {
		role = t.pending[strings.ToLower(login)]
	}
	c.json(http.StatusOK, f.teamMembershipJSON(o, t, login, role, state))
}

func (f *Fake) deleteTeamMembership(c *call) {
	o, t, ok := f.teamByParam(c)
	if !ok {
		return
	}
	if !f.mayManageTeam(c, o, t) {
		return
	}
	f.removeTeamMembership(o, t, c.param("username"), c.p.user)
	c.noContent()
}

func (f *Fake) mayManageTeam(c *call, o *org, t *team) bool {
	if c.p.inst != nil {
		c.fail(http.StatusForbidden, "Resource not accessible by integration")
		return false
	}
	if !o.canManageTeam(t, c.p.user.Login) {
		c.fail(http.StatusForbidden, "You must be an organization owner or team maintainer to add a team membership.")
		return false
	}
	return true
}

// listChildTeams lists the teams directly under a team.
func (f *Fake) listChildTeams(c *call) {
	o, t, ok := f.teamByParam(c)
	if !ok {
		return
	}
	out := []obj{}
	for _, child := range paginate(c, o.children(t)) {
		tj := f.teamSimpleJSON(o, child)
		tj["parent"] = f.parentTeamJSON(o, child)
		out = append(out, tj)
	}
	c.json(http.StatusOK, out)
}

// teamSimpleJSON is GitHub's team-simple.
func (f *Fake) teamSimpleJSON(o *org, t *team) obj {
	api := fmt.Sprintf("%s/organizations/%d/team/%d", f.apiURL(), o.account.ID, t.ID)
	return obj{
		"id": t.ID, "node_id": nodeID("T", t.ID), "url": api,
		"html_url": f.baseURL + "/orgs/" + o.account.Login + "/teams/" + t.Slug,
		"name":     t.Name, "slug": t.Slug, "description": nil, "privacy": "closed",
		"notification_setting": "notifications_enabled", "permission": "pull",
		"members_url": api + "/members{/member}", "repositories_url": api + "/repos",
		"type": "organization", "organization_id": o.account.ID,
	}
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
