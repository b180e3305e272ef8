package githubfake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Team operations shared by the REST handlers and the test API: nested
// teams, pending memberships (an invitation the user has not accepted) and
// the membership, organization and team webhooks. Callers hold f.mu.

// children lists the teams whose parent is t, by slug.
func (o *org) children(t *team) []*team {
	var out []*team
	for _, c := range o.teams {
		if c.parent == t.Slug {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *team) int { return strings.Compare(a.Slug, b.Slug) })
	return out
}

// subtree is t and every team below it.
func (o *org) subtree(t *team) []*team {
	out := []*team{t}
	for i := 0; i < len(out); i++ {
		out = append(out, o.children(out[i])...)
	}
	return out
}

// membership is a user's state in a team: the direct role, or "member"
// through a child team (a member of a child team is a member of the parent);
// a pending invitation only counts when there is no active membership.
func (o *org) membership(t *team, login string) (role, state string) {
	key := strings.ToLower(login)
	if role, ok := t.members[key]; ok {
		if o.owners[key] {
			role = "maintainer" // GitHub reports organisation owners as maintainers
		}
		return role, "active"
	}
	for _, c := range o.subtree(t)[1:] {
		if _, ok := c.members[key]; ok {
			return "member", "active"
		}
	}
	if role, ok := t.pending[key]; ok {
		return role, "pending"
	}
	return "", ""
}

// activeMembers lists the active members of t and the teams below it.
func (o *org) activeMembers(t *team) map[string]string {
	out := map[string]string{}
	for _, c := range o.subtree(t) {
		for login, role := range c.members {
			if _, ok := out[login]; !ok || c == t {
				out[login] = role
			}
		}
	}
	return out
}

// canManageTeam: organisation owners and the team's maintainers.
func (o *org) canManageTeam(t *team, login string) bool {
	key := strings.ToLower(login)
	return o.owners[key] || t.members[key] == "maintainer"
}

func (f *Fake) orgTeam(orgLogin, slug string) (*org, *team, error) {
	o := f.orgs[strings.ToLower(orgLogin)]
	if o == nil {
		return nil, nil, fmt.Errorf("githubfake: no organisation %s", orgLogin)
	}
	t := o.teams[strings.ToLower(slug)]
	if t == nil {
		return nil, nil, fmt.Errorf("githubfake: no team %s/%s", orgLogin, slug)
	}
	return o, t, nil
}

// setTeamMembership adds login to t with role (member, maintainer) as
// actor: an organisation member becomes active at once (membership added);
// anyone else is invited to the organisation and stays pending until they
// accept (organization member_invited). It returns the state.
func (f *Fake) setTeamMembership(o *org, t *team, login, role string, actor *User) (string, error) {
	if role == "" {
		role = "member"
	}
	if role != "member" && role != "maintainer" {
		return "", &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed",
			errs: []any{obj{"resource": "TeamMember", "code": "invalid", "field": "role"}}}
	}
	u := f.user(login)
	key := strings.ToLower(login)
	if o.members[key] {
		_, was := t.members[key]
		t.members[key] = role
		delete(t.pending, key)
		if !was {
			f.emitOrg(o, "membership", "added", actor, obj{"scope": "team", "member": f.userJSON(u), "team": f.webhookTeamJSON(o, t)})
		}
		return "active", nil
	}
	t.pending[key] = role
	if _, invited := o.invited[key]; !invited {
		o.invited[key] = actor.Login
		f.emitOrg(o, "organization", "member_invited", actor, obj{"user": f.userJSON(u), "invitation": f.invitationJSON(o, u, actor)})
	}
	return "pending", nil
}

// removeTeamMembership removes an active or pending membership.
func (f *Fake) removeTeamMembership(o *org, t *team, login string, actor *User) {
	key := strings.ToLower(login)
	delete(t.pending, key)
	if _, ok := t.members[key]; ok {
		delete(t.members, key)
		f.emitOrg(o, "membership", "removed", actor, obj{"scope": "team", "member": f.userJSON(f.user(login)), "team": f.webhookTeamJSON(o, t)})
	}
}

// acceptInvitation makes an invited user an organisation member: their
// pending team memberships become active.
func (f *Fake) acceptInvitation(o *org, u *User) error {
	key := strings.ToLower(u.Login)
	if _, ok := o.invited[key]; !ok {
		return fmt.Errorf("no pending invitation to %s", o.account.Login)
	}
	delete(o.invited, key)
	o.members[key] = true
	f.emitOrg(o, "organization", "member_added", u, obj{"membership": f.orgMembershipJSON(o, u, "active")})
	for _, t := range sortedTeams(o) {
		if role, ok := t.pending[key]; ok {
			delete(t.pending, key)
			t.members[key] = role
			f.emitOrg(o, "membership", "added", u, obj{"scope": "team", "member": f.userJSON(u), "team": f.webhookTeamJSON(o, t)})
		}
	}
	return nil
}

// removeOrgMember removes a user from the organisation and all its teams.
func (f *Fake) removeOrgMember(o *org, u *User, actor *User) {
	key := strings.ToLower(u.Login)
	delete(o.invited, key)
	for _, t := range sortedTeams(o) {
		delete(t.pending, key)
		if _, ok := t.members[key]; ok {
			delete(t.members, key)
			f.emitOrg(o, "membership", "removed", actor, obj{"scope": "organization", "member": f.userJSON(u), "team": f.webhookTeamJSON(o, t)})
		}
	}
	if o.members[key] {
		delete(o.members, key)
		delete(o.owners, key)
		f.emitOrg(o, "organization", "member_removed", actor, obj{"membership": f.orgMembershipJSON(o, u, "active")})
	}
}

// setParent moves t under parent ("" makes it top-level), refusing cycles.
func (f *Fake) setParent(o *org, t *team, parent string) error {
	parent = strings.ToLower(parent)
	if parent != "" {
		p := o.teams[parent]
		if p == nil {
			return fmt.Errorf("no team %s/%s", o.account.Login, parent)
		}
		if slices.Contains(o.subtree(t), p) {
			return fmt.Errorf("team %s cannot be nested under its own child %s", t.Slug, p.Slug)
		}
	}
	t.parent = parent
	return nil
}

func sortedTeams(o *org) []*team {
	var out []*team
	for _, t := range o.teams {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *team) int { return strings.Compare(a.Slug, b.Slug) })
	return out
}

// orgInstallation is the installation that receives an organisation's
// events (the lowest id on the account), or nil.
func (f *Fake) orgInstallation(o *org) *installation {
	var best *installation
	for _, in := range f.installs {
		if strings.EqualFold(in.account.Login, o.account.Login) && (best == nil || in.ID < best.ID) {
			best = in
		}
	}
	return best
}

// Seeding (no webhooks).

// SetTeamParent nests a team under another ("" makes it top-level).
func (f *Fake) SetTeamParent(orgLogin, slug, parent string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, t, err := f.orgTeam(orgLogin, slug)
	if err != nil {
		return err
	}
	if err := f.setParent(o, t, parent); err != nil {
		return fmt.Errorf("githubfake: %w", err)
	}
	return nil
}

// AddPendingTeamMember records login as invited to the organisation and to
// the team, with the invitation not accepted yet (state pending).
func (f *Fake) AddPendingTeamMember(orgLogin, slug, login string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, t, err := f.orgTeam(orgLogin, slug)
	if err != nil {
		return err
	}
	key := strings.ToLower(login)
	if o.members[key] {
		return fmt.Errorf("githubfake: %s is already a member of %s: a member's team membership is never pending", login, orgLogin)
	}
	f.user(login)
	t.pending[key] = "member"
	if _, ok := o.invited[key]; !ok {
		o.invited[key] = o.account.Login
	}
	return nil
}

// Acting as users (webhooks as GitHub sends them).

// AddTeamMember adds login to a team with role ("" is member) as an
// organisation owner or team maintainer would: active for an organisation
// member (membership added), pending for anyone else, who is invited to the
// organisation (organization member_invited). It returns the state.
func (a *Actor) AddTeamMember(orgLogin, slug, login, role string) (string, error) {
	var state string
	err := a.doOrg(orgLogin, slug, func(o *org, t *team, u *User) error {
		var err error
		state, err = a.f.setTeamMembership(o, t, login, role, u)
		return err
	})
	return state, err
}

// RemoveTeamMember removes login's active or pending membership of a team
// (membership removed for an active one).
func (a *Actor) RemoveTeamMember(orgLogin, slug, login string) error {
	return a.doOrg(orgLogin, slug, func(o *org, t *team, u *User) error {
		a.f.removeTeamMembership(o, t, login, u)
		return nil
	})
}

// CreateTeam creates a team, nested under parent when not "" (team created).
func (a *Actor) CreateTeam(orgLogin, slug, parent string) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	o := a.f.orgs[strings.ToLower(orgLogin)]
	u := a.f.user(a.login)
	switch {
	case o == nil:
		return fmt.Errorf("githubfake: no organisation %s", orgLogin)
	case !o.owners[strings.ToLower(a.login)]:
		return fmt.Errorf("githubfake: %s: 403 only organisation owners create teams here", a.login)
	case o.teams[strings.ToLower(slug)] != nil:
		return fmt.Errorf("githubfake: %s: team %s exists", a.login, slug)
	}
	t := &team{ID: a.f.id(), Slug: strings.ToLower(slug), Name: slug, Org: o.account.Login,
		members: map[string]string{}, pending: map[string]string{}, created: a.f.now()}
	if err := a.f.setParent(o, t, parent); err != nil {
		return fmt.Errorf("githubfake: %s: %w", a.login, err)
	}
	o.teams[t.Slug] = t
	a.f.emitOrg(o, "team", "created", u, obj{"team": a.f.webhookTeamJSON(o, t)})
	return nil
}

// SetTeamParent moves a team under another ("" makes it top-level) as an
// organisation owner (team edited).
func (a *Actor) SetTeamParent(orgLogin, slug, parent string) error {
	return a.doOrg(orgLogin, slug, func(o *org, t *team, u *User) error {
		if !o.owners[strings.ToLower(u.Login)] {
			return fmt.Errorf("403 only organisation owners move teams here")
		}
		if err := a.f.setParent(o, t, parent); err != nil {
			return err
		}
		a.f.emitOrg(o, "team", "edited", u, obj{"changes": obj{}, "team": a.f.webhookTeamJSON(o, t)})
		return nil
	})
}

// AcceptInvitation accepts the actor's pending invitation to an
// organisation (organization member_added, then membership added for every
// team they were invited to).
func (a *Actor) AcceptInvitation(orgLogin string) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	o := a.f.orgs[strings.ToLower(orgLogin)]
	if o == nil {
		return fmt.Errorf("githubfake: no organisation %s", orgLogin)
	}
	if err := a.f.acceptInvitation(o, a.f.user(a.login)); err != nil {
		return fmt.Errorf("githubfake: %s: %w", a.login, err)
	}
	return nil
}

// RemoveOrgMember removes login from an organisation and all its teams, as
// an owner would (membership removed with scope organization, organization
// member_removed).
func (a *Actor) RemoveOrgMember(orgLogin, login string) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	o := a.f.orgs[strings.ToLower(orgLogin)]
	if o == nil {
		return fmt.Errorf("githubfake: no organisation %s", orgLogin)
	}
	if !o.owners[strings.ToLower(a.login)] {
		return fmt.Errorf("githubfake: %s: 403 only organisation owners remove members", a.login)
	}
	a.f.removeOrgMember(o, a.f.user(login), a.f.user(a.login))
	return nil
}

// doOrg runs fn with the fake locked, the team resolved and the actor
// checked as an organisation owner or the team's maintainer.
func (a *Actor) doOrg(orgLogin, slug string, fn func(o *org, t *team, u *User) error) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	o, t, err := a.f.orgTeam(orgLogin, slug)
	if err != nil {
		return err
	}
	if !o.canManageTeam(t, a.login) {
		return fmt.Errorf("githubfake: %s: 403 must be an owner of %s or a maintainer of %s", a.login, orgLogin, slug)
	}
	if err := fn(o, t, a.f.user(a.login)); err != nil {
		return fmt.Errorf("githubfake: %s: %w", a.login, err)
	}
	return nil
}
