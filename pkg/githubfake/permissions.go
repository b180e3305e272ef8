package githubfake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Repository roles, weakest first, as GitHub names them.
var repoRoles = []string{"read", "triage", "write", "maintain", "admin"}

// defaultRole is the role of an account on a repository when nothing set
// one: GitHub's is "read" (an organisation's base permission) or none, but
// tests act as many users without seeding collaborators, so the fake's
// default lets anyone write. SetPermission narrows or widens it.
const defaultRole = "write"

func roleRank(role string) int { return slices.Index(repoRoles, role) }

// permission is an account's role on a repository: one set with
// SetPermission, admin for the owner and organisation owners, otherwise
// defaultRole. Callers hold f.mu.
func (f *Fake) permission(r *repo, login string) string {
	key := strings.ToLower(login)
	if role, ok := r.perms[key]; ok {
		return role
	}
	if strings.EqualFold(login, r.owner.Login) {
		return "admin"
	}
	if o := f.orgs[strings.ToLower(r.owner.Login)]; o != nil && o.owners[key] {
		return "admin"
	}
	return defaultRole
}

// requireRole refuses an actor whose role on the repository is below role.
// App bots act with their installation's permissions, which the fake grants
// for everything it serves except administration (see appPermissions).
func (f *Fake) requireRole(r *repo, actor *User, role string) error {
	if actor.Type == "Bot" {
		return nil
	}
	if roleRank(f.permission(r, actor.Login)) >= roleRank(role) {
		return nil
	}
	return &apiError{status: http.StatusForbidden, msg: fmt.Sprintf("Must have %s access to repository.", role)}
}

// isRepoAdmin reports whether an actor may bypass branch protection that does
// not include administrators.
func (f *Fake) isRepoAdmin(r *repo, actor *User) bool {
	return actor.Type != "Bot" && f.permission(r, actor.Login) == "admin"
}

// SetPermission gives login a role on a repository: read, triage, write,
// maintain or admin ("" forgets it, so the default applies again).
func (f *Fake) SetPermission(repoName, login, role string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	if role == "" {
		delete(r.perms, strings.ToLower(login))
		return nil
	}
	if roleRank(role) < 0 {
		return fmt.Errorf("githubfake: role %q is not one of %s", role, strings.Join(repoRoles, ", "))
	}
	f.user(login)
	r.perms[strings.ToLower(login)] = role
	return nil
}

// AddOrgOwner makes login an owner (and member) of an organisation: admin on
// its repositories, allowed to manage its teams.
func (f *Fake) AddOrgOwner(orgLogin, login string) {
	f.AddOrg(orgLogin, login)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.orgs[strings.ToLower(orgLogin)].owners[strings.ToLower(login)] = true
}
