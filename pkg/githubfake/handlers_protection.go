package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Branch protection, rulesets, requested reviewers and review edits.

// adminOnly answers 403 unless the caller administers the repository. An
// App needs the administration permission, which the fake's Apps do not
// have (see appPermissions): rdsbot reads required checks from the branch
// and its rules instead, which need only read access.
func (f *Fake) adminOnly(c *call, r *repo) bool {
	if c.p.inst != nil {
		c.fail(http.StatusForbidden, "Resource not accessible by integration")
		return false
	}
	if f.permission(r, c.p.user.Login) != "admin" {
		c.fail(http.StatusForbidden, "Must have admin rights to Repository.")
		return false
	}
	return true
}

func (f *Fake) protectedBranch(c *call) (*repo, string, *Protection, bool) {
	r, ok := c.repo()
	if !ok || !f.adminOnly(c, r) {
		return nil, "", nil, false
	}
	branch := c.param("branch")
	p := r.protection[branch]
	if p == nil {
		c.fail(http.StatusNotFound, "Branch not protected")
		return nil, "", nil, false
	}
	return r, branch, p, true
}

func (f *Fake) getProtection(c *call) {
	if r, branch, p, ok := f.protectedBranch(c); ok {
		c.json(http.StatusOK, f.protectionJSON(r, branch, p))
	}
}

func (f *Fake) getRequiredStatusChecks(c *call) {
	if r, branch, p, ok := f.protectedBranch(c); ok {
		c.json(http.StatusOK, f.requiredChecksJSON(r, branch, p))
	}
}

func (f *Fake) deleteProtection(c *call) {
	if r, branch, _, ok := f.protectedBranch(c); ok {
		delete(r.protection, branch)
		c.noContent()
	}
}

// putProtection answers PUT branches/{branch}/protection. A required check
// given without app_id is pinned, as on GitHub, to the App that most
// recently reported a check run of that name in the repository, or to any
// source when none did; app_id -1 asks for any source.
func (f *Fake) putProtection(c *call) {
	r, ok := c.repo()
	if !ok || !f.adminOnly(c, r) {
		return
	}
	branch := c.param("branch")
	if r.branchSHA(branch) == "" {
		c.fail(http.StatusNotFound, "Branch not found")
		return
	}
	var req struct {
		RequiredStatusChecks *struct {
			Strict   bool      `json:"strict"`
			Contexts *[]string `json:"contexts"`
			Checks   *[]struct {
				Context string `json:"context"`
				AppID   *int64 `json:"app_id"`
			} `json:"checks"`
		} `json:"required_status_checks"`
		EnforceAdmins              *bool `json:"enforce_admins"`
		RequiredPullRequestReviews *struct {
			DismissStaleReviews          bool `json:"dismiss_stale_reviews"`
			RequiredApprovingReviewCount int  `json:"required_approving_review_count"`
		} `json:"required_pull_request_reviews"`
	}
	if !c.decode(&req) {
		return
	}
	p := Protection{}
	if rsc := req.RequiredStatusChecks; rsc != nil {
		p.Strict = rsc.Strict
		if rsc.Checks != nil {
			for _, ch := range *rsc.Checks {
				rc := RequiredCheck{Context: ch.Context}
				switch {
				case ch.AppID == nil:
					rc.AppID = r.lastCheckApp(ch.Context)
				case *ch.AppID > 0:
					if f.apps[*ch.AppID] == nil {
						c.invalid("Validation Failed", obj{"resource": "StatusCheck", "code": "invalid", "field": "app_id",
							"message": fmt.Sprintf("App %d does not exist", *ch.AppID)})
						return
					}
					rc.AppID = *ch.AppID
				}
				p.RequiredChecks = append(p.RequiredChecks, rc)
			}
		} else if rsc.Contexts != nil {
			for _, ctx := range *rsc.Contexts {
				p.RequiredChecks = append(p.RequiredChecks, RequiredCheck{Context: ctx, AppID: r.lastCheckApp(ctx)})
			}
		}
	}
	if req.EnforceAdmins != nil {
		p.EnforceAdmins = *req.EnforceAdmins
	}
	if rv := req.RequiredPullRequestReviews; rv != nil {
		p.DismissStaleReviews, p.RequiredApprovals = rv.DismissStaleReviews, rv.RequiredApprovingReviewCount
		p.RequirePullRequest = true
	}
	if err := validateChecks(p.RequiredChecks); err != nil {
		c.invalid("Validation Failed", obj{"resource": "Protection", "code": "invalid", "message": err.Error()})
		return
	}
	r.protection[branch] = &p
	c.json(http.StatusOK, f.protectionJSON(r, branch, &p))
}

// lastCheckApp is the App that most recently created a check run with that
// name in the repository (0: none).
func (r *repo) lastCheckApp(name string) int64 {
	for i := len(r.checkRuns) - 1; i >= 0; i-- {
		if r.checkRuns[i].Name == name {
			return r.checkRuns[i].AppID
		}
	}
	return 0
}

// getBranchRules lists the rules of the active rulesets on a branch: what
// anyone who can read the repository sees, and what rdsbot reads.
func (f *Fake) getBranchRules(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var out []obj
	for _, rs := range r.activeRulesets(c.param("branch")) {
		for _, rule := range f.rulesJSON(rs) {
			rule["ruleset_source_type"] = "Repository"
			rule["ruleset_source"] = r.fullName()
			rule["ruleset_id"] = rs.ID
			out = append(out, rule)
		}
	}
	page := paginate(c, out)
	if page == nil {
		page = []obj{}
	}
	c.json(http.StatusOK, page)
}

func (f *Fake) listRulesets(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	out := []obj{}
	for _, rs := range paginate(c, r.rulesets) {
		out = append(out, f.rulesetJSON(r, rs, false))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) getRuleset(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	id, ok := c.number("ruleset_id")
	if !ok {
		return
	}
	for _, rs := range r.rulesets {
		if rs.ID == id {
			c.json(http.StatusOK, f.rulesetJSON(r, rs, true))
			return
		}
	}
	c.notFound()
}

// createRuleset answers POST rulesets for the rule types the fake
// enforces: required_status_checks and merge_queue.
func (f *Fake) createRuleset(c *call) {
	r, ok := c.repo()
	if !ok || !f.adminOnly(c, r) {
		return
	}
	var req struct {
		Name         string `json:"name"`
		Target       string `json:"target"`
		Enforcement  string `json:"enforcement"`
		BypassActors []struct {
			ActorID   *int64 `json:"actor_id"`
			ActorType string `json:"actor_type"`
		} `json:"bypass_actors"`
		Conditions *struct {
			RefName struct {
				Include []string `json:"include"`
				Exclude []string `json:"exclude"`
			} `json:"ref_name"`
		} `json:"conditions"`
		Rules []struct {
			Type       string          `json:"type"`
			Parameters json.RawMessage `json:"parameters"`
		} `json:"rules"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Target != "" && req.Target != "branch" {
		c.invalid("Validation Failed", obj{"resource": "Ruleset", "code": "invalid", "field": "target", "message": "only branch rulesets are served by githubfake"})
		return
	}
	rs := Ruleset{Name: req.Name, Enforcement: req.Enforcement}
	if req.Conditions != nil {
		rs.Include, rs.Exclude = req.Conditions.RefName.Include, req.Conditions.RefName.Exclude
	}
	for _, b := range req.BypassActors {
		if b.ActorType == "RepositoryRole" && b.ActorID != nil && *b.ActorID == 5 {
			rs.AdminsBypass = true
		}
	}
	for _, rule := range req.Rules {
		switch rule.Type {
		case "required_status_checks":
			var p struct {
				Checks []struct {
					Context       string `json:"context"`
					IntegrationID int64  `json:"integration_id"`
				} `json:"required_status_checks"`
				Strict bool `json:"strict_required_status_checks_policy"`
			}
			if err := json.Unmarshal(rule.Parameters, &p); err != nil {
				c.invalid("Invalid request.\n\nInvalid property /rules/required_status_checks: " + err.Error())
				return
			}
			for _, ch := range p.Checks {
				rs.RequiredChecks = append(rs.RequiredChecks, RequiredCheck{Context: ch.Context, AppID: ch.IntegrationID})
			}
			rs.Strict = p.Strict
		case "merge_queue":
			var p struct {
				MergeMethod                  string `json:"merge_method"`
				GroupingStrategy             string `json:"grouping_strategy"`
				MaxEntriesToBuild            int    `json:"max_entries_to_build"`
				MaxEntriesToMerge            int    `json:"max_entries_to_merge"`
				MinEntriesToMerge            int    `json:"min_entries_to_merge"`
				MinEntriesToMergeWaitMinutes int    `json:"min_entries_to_merge_wait_minutes"`
				CheckResponseTimeoutMinutes  int    `json:"check_response_timeout_minutes"`
			}
			if err := json.Unmarshal(rule.Parameters, &p); err != nil {
				c.invalid("Invalid request.\n\nInvalid property /rules/merge_queue: " + err.Error())
				return
			}
			rs.MergeQueue = &MergeQueueRule{MergeMethod: p.MergeMethod, GroupingStrategy: p.GroupingStrategy,
				MaxEntriesToBuild: p.MaxEntriesToBuild, MaxEntriesToMerge: p.MaxEntriesToMerge, MinEntriesToMerge: p.MinEntriesToMerge,
				MinEntriesToMergeWaitMinutes: p.MinEntriesToMergeWaitMinutes, CheckResponseTimeoutMinutes: p.CheckResponseTimeoutMinutes}
		default:
			c.invalid("Validation Failed", obj{"resource": "Ruleset", "code": "invalid", "field": "rules",
				"message": fmt.Sprintf("rule type %q is not served by githubfake (required_status_checks, merge_queue)", rule.Type)})
			return
		}
	}
	nr, err := f.addRuleset(r, rs)
	if err != nil {
		c.invalid("Validation Failed", obj{"resource": "Ruleset", "code": "invalid", "message": err.Error()})
		return
	}
	f.checksChanged(r)
	c.json(http.StatusCreated, f.rulesetJSON(r, nr, true))
}

// requestReviewers answers POST requested_reviewers: each reviewer gets a
// review_requested event and webhook.
func (f *Fake) requestReviewers(c *call) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return
	}
	var req struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if !c.decode(&req) {
		return
	}
	if err := f.requestReviewersOp(r, pr, c.p.user, req.Reviewers, req.TeamReviewers); err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusCreated, f.pullSimpleJSON(r, pr))
}

func (f *Fake) requestReviewersOp(r *repo, pr *PullRequest, actor *User, users, teams []string) error {
	if err := f.requireRole(r, actor, "triage"); err != nil {
		return err
	}
	o := f.orgs[strings.ToLower(r.owner.Login)]
	for _, login := range users {
		if strings.EqualFold(login, pr.issue.User) {
			return &apiError{status: http.StatusUnprocessableEntity, msg: "Review cannot be requested from pull request author."}
		}
	}
	for _, slug := range teams {
		if o == nil || o.teams[strings.ToLower(slug)] == nil {
			return &apiError{status: http.StatusUnprocessableEntity, msg: "Reviews may only be requested from collaborators. One or more of the teams you specified is not a collaborator of the " + r.fullName() + " repository."}
		}
	}
	now := f.now()
	for _, login := range users {
		u := f.user(login)
		if containsFold(pr.RequestedReviewers, u.Login) {
			continue
		}
		pr.RequestedReviewers = append(pr.RequestedReviewers, u.Login)
		pr.issue.Events = append(pr.issue.Events, &IssueEvent{ID: f.id(), Event: "review_requested", Actor: actor.Login,
			ReviewRequester: actor.Login, RequestedReviewer: u.Login, CreatedAt: now})
		f.emitPull(r, pr, "review_requested", actor, obj{"requested_reviewer": f.userJSON(u)})
	}
	for _, slug := range teams {
		t := o.teams[strings.ToLower(slug)]
		if containsFold(pr.RequestedTeams, t.Slug) {
			continue
		}
		pr.RequestedTeams = append(pr.RequestedTeams, t.Slug)
		pr.issue.Events = append(pr.issue.Events, &IssueEvent{ID: f.id(), Event: "review_requested", Actor: actor.Login,
			ReviewRequester: actor.Login, RequestedTeam: t.Slug, CreatedAt: now})
		f.emitPull(r, pr, "review_requested", actor, obj{"requested_team": f.webhookTeamJSON(o, t)})
	}
	return nil
}

func (f *Fake) listRequestedReviewers(c *call) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return
	}
	c.json(http.StatusOK, obj{"users": f.usersJSON(pr.RequestedReviewers), "teams": f.requestedTeamsJSON(r, pr)})
}

// requestedTeamsJSON lists a pull request's requested teams (GitHub's team).
func (f *Fake) requestedTeamsJSON(r *repo, pr *PullRequest) []obj {
	out := []obj{}
	o := f.orgs[strings.ToLower(r.owner.Login)]
	if o == nil {
		return out
	}
	for _, slug := range pr.RequestedTeams {
		if t := o.teams[slug]; t != nil {
			tj := f.teamSimpleJSON(o, t)
			tj["parent"] = f.parentTeamJSON(o, t)
			out = append(out, tj)
		}
	}
	return out
}

func (f *Fake) updateReview(c *call) {
	r, pr, rv, ok := f.reviewByParam(c)
	if !ok {
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if !c.decode(&req) {
		return
	}
	if err := f.editReviewOp(r, pr, rv, c.p.user, req.Body); err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusOK, f.reviewJSON(r, rv, false))
}
