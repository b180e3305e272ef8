package githubfake

import (
	"fmt"
	"strings"
)

// Shapes for teams in webhooks, organisation memberships, branch protection
// and rulesets.

// webhookTeamJSON is the webhook schema's team (with its parent).
func (f *Fake) webhookTeamJSON(o *org, t *team) obj {
	out := f.webhookTeamFields(o, t)
	var parent any
	if p := o.teams[t.parent]; p != nil {
		parent = f.webhookTeamFields(o, p)
	}
	out["parent"] = parent
	return out
}

func (f *Fake) webhookTeamFields(o *org, t *team) obj {
	s := f.teamSimpleJSON(o, t)
	out := obj{}
	for _, k := range []string{"name", "id", "node_id", "slug", "description", "privacy", "url", "html_url",
		"members_url", "repositories_url", "permission", "notification_setting"} {
		out[k] = s[k]
	}
	return out
}

// orgMembershipJSON is the webhook's membership (organization member_added, member_removed).
func (f *Fake) orgMembershipJSON(o *org, u *User, state string) obj {
	role := "member"
	if o.owners[strings.ToLower(u.Login)] {
		role = "admin"
	}
	return obj{
		"url":   fmt.Sprintf("%s/orgs/%s/memberships/%s", f.apiURL(), o.account.Login, u.Login),
		"state": state, "role": role, "organization_url": f.apiURL() + "/orgs/" + o.account.Login,
		"user": f.userJSON(u),
	}
}

// invitationJSON is organization member_invited's invitation.
func (f *Fake) invitationJSON(o *org, u, inviter *User) obj {
	teams := 0
	for _, t := range o.teams {
		if _, ok := t.pending[strings.ToLower(u.Login)]; ok {
			teams++
		}
	}
	id := f.id()
	return obj{
		"id": id, "node_id": nodeID("OI", id), "login": u.Login, "email": nil, "role": "direct_member",
		"created_at": ts(f.now()), "failed_at": nil, "failed_reason": nil, "inviter": f.userJSON(inviter),
		"team_count": teams, "invitation_teams_url": fmt.Sprintf("%s/organizations/%d/invitations/%d/teams", f.apiURL(), o.account.ID, id),
	}
}

// requiredChecksJSON is a protection's required_status_checks
// (status-check-policy): contexts, and checks with the App they are
// pinned to (null: any source).
func (f *Fake) requiredChecksJSON(r *repo, branch string, p *Protection) obj {
	url := f.repoAPI(r) + "/branches/" + branch + "/protection/required_status_checks"
	contexts, checks := []string{}, []obj{}
	for _, rc := range p.RequiredChecks {
		contexts = append(contexts, rc.Context)
		var app any
		if rc.AppID != 0 {
			app = rc.AppID
		}
		checks = append(checks, obj{"context": rc.Context, "app_id": app})
	}
	return obj{"url": url, "strict": p.Strict, "contexts": contexts, "checks": checks, "contexts_url": url + "/contexts"}
}

// protectionJSON is GitHub's branch-protection (GET protection).
func (f *Fake) protectionJSON(r *repo, branch string, p *Protection) obj {
	url := f.repoAPI(r) + "/branches/" + branch + "/protection"
	out := obj{
		"url": url, "required_status_checks": f.requiredChecksJSON(r, branch, p),
		"enforce_admins":          obj{"url": url + "/enforce_admins", "enabled": p.EnforceAdmins},
		"required_linear_history": obj{"enabled": false}, "allow_force_pushes": obj{"enabled": false},
		"allow_deletions": obj{"enabled": false}, "block_creations": obj{"enabled": false},
		"required_conversation_resolution": obj{"enabled": false}, "lock_branch": obj{"enabled": false},
		"allow_fork_syncing":  obj{"enabled": false},
		"required_signatures": obj{"url": url + "/required_signatures", "enabled": false},
	}
	if p.RequiredApprovals > 0 || p.DismissStaleReviews || p.RequirePullRequest {
		out["required_pull_request_reviews"] = obj{
			"url":                             url + "/required_pull_request_reviews",
			"dismiss_stale_reviews":           p.DismissStaleReviews,
			"require_code_owner_reviews":      false,
			"required_approving_review_count": p.RequiredApprovals,
			"require_last_push_approval":      false,
		}
	}
	return out
}

// branchProtectionSummary is the protection a branch listing shows to
// anyone who can read the repository.
func (f *Fake) branchProtectionSummary(r *repo, branch string) obj {
	p := r.protection[branch]
	if p == nil {
		return obj{"enabled": false, "required_status_checks": obj{"enforcement_level": "off", "contexts": []string{}, "checks": []obj{}}}
	}
	rsc := f.requiredChecksJSON(r, branch, p)
	level := "non_admins"
	if p.EnforceAdmins {
		level = "everyone"
	}
	return obj{"enabled": true, "required_status_checks": obj{
		"enforcement_level": level, "contexts": rsc["contexts"], "checks": rsc["checks"], "strict": p.Strict}}
}

// rulesJSON are a ruleset's rules (repository-rule).
func (f *Fake) rulesJSON(rs *Ruleset) []obj {
	var out []obj
	if len(rs.RequiredChecks) > 0 {
		checks := []obj{}
		for _, rc := range rs.RequiredChecks {
			c := obj{"context": rc.Context}
			if rc.AppID != 0 {
				c["integration_id"] = rc.AppID
			}
			checks = append(checks, c)
		}
		out = append(out, obj{"type": "required_status_checks", "parameters": obj{
			"required_status_checks": checks, "strict_required_status_checks_policy": rs.Strict, "do_not_enforce_on_create": false}})
	}
	if mq := rs.MergeQueue; mq != nil {
		out = append(out, obj{"type": "merge_queue", "parameters": obj{
			"check_response_timeout_minutes": mq.CheckResponseTimeoutMinutes, "grouping_strategy": mq.GroupingStrategy,
			"max_entries_to_build": mq.MaxEntriesToBuild, "max_entries_to_merge": mq.MaxEntriesToMerge,
			"merge_method": mq.MergeMethod, "min_entries_to_merge": mq.MinEntriesToMerge,
			"min_entries_to_merge_wait_minutes": mq.MinEntriesToMergeWaitMinutes}})
	}
	return out
}

// rulesetJSON is GitHub's repository-ruleset; full adds conditions and rules.
func (f *Fake) rulesetJSON(r *repo, rs *Ruleset, full bool) obj {
	self := fmt.Sprintf("%s/rulesets/%d", f.repoAPI(r), rs.ID)
	out := obj{
		"id": rs.ID, "name": rs.Name, "target": "branch", "source_type": "Repository", "source": r.fullName(),
		"enforcement": rs.Enforcement, "node_id": nodeID("RRS", rs.ID),
		"_links":     obj{"self": obj{"href": self}, "html": obj{"href": fmt.Sprintf("%s/%s/rules/%d", f.baseURL, r.fullName(), rs.ID)}},
		"created_at": ts(rs.created), "updated_at": ts(rs.created),
	}
	if full {
		bypass := []obj{}
		if rs.AdminsBypass {
			bypass = append(bypass, obj{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"})
		}
		rules := f.rulesJSON(rs)
		if rules == nil {
			rules = []obj{}
		}
		out["bypass_actors"] = bypass
		out["conditions"] = obj{"ref_name": obj{"include": nonNil(rs.Include), "exclude": nonNil(rs.Exclude)}}
		out["rules"] = rules
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
