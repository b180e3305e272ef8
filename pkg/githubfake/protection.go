package githubfake

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// RequiredCheck is a status check a branch requires: a check run name or a
// commit status context. AppID pins it to one GitHub App (its check runs and
// the statuses its installation sets); 0 accepts any source, GitHub's null.
type RequiredCheck struct {
	Context string
	AppID   int64
}

// Protection is a branch's classic protection rule.
type Protection struct {
	RequiredChecks []RequiredCheck
	// Strict requires the head to contain the base's tip ("up to date").
	Strict bool
	// EnforceAdmins applies the rule to administrators; otherwise they may
	// merge past it.
	EnforceAdmins bool
	// RequiredApprovals is how many approving reviews (the latest review of
	// each reviewer with write access) a merge needs.
	RequiredApprovals int
	// DismissStaleReviews dismisses approvals when the head moves.
	DismissStaleReviews bool
	// RequirePullRequest refuses every change that is not a pull request's
	// merge, also with RequiredApprovals 0 (GitHub's "Require a pull request
	// before merging"; set by any required_pull_request_reviews).
	RequirePullRequest bool
}

// Ruleset is a repository ruleset on branches.
type Ruleset struct {
	ID   int64
	Name string
	// Enforcement is active (default), evaluate (reported, not enforced) or disabled.
	Enforcement string
	// Include and Exclude are ref patterns: "~DEFAULT_BRANCH", "~ALL",
	// "refs/heads/main", "refs/heads/release/*" ("*" stops at "/", "**" does not).
	Include []string
	Exclude []string
	// RequiredChecks is the required_status_checks rule; AppID is its integration_id.
	RequiredChecks []RequiredCheck
	Strict         bool
	// MergeQueue is the merge_queue rule: merges into the branch go through the queue.
	MergeQueue *MergeQueueRule
	// AdminsBypass lists the repository admin role among the bypass actors.
	AdminsBypass bool
	created      time.Time
}

// MergeQueueRule is the merge_queue rule; zero fields take GitHub's defaults.
type MergeQueueRule struct {
	MergeMethod                  string // MERGE (default) or SQUASH
	GroupingStrategy             string // ALLGREEN (default: every group must pass) or HEADGREEN
	MaxEntriesToBuild            int    // groups built at once (default 5)
	MaxEntriesToMerge            int    // pull requests merged at once (default 5)
	MinEntriesToMerge            int    // default 1
	MinEntriesToMergeWaitMinutes int    // reported only: the fake never waits (default 5)
	CheckResponseTimeoutMinutes  int    // a group whose checks are still missing after this fails (default 60)
}

func (m MergeQueueRule) withDefaults() MergeQueueRule {
	if m.MergeMethod == "" {
		m.MergeMethod = "MERGE"
	}
	if m.GroupingStrategy == "" {
		m.GroupingStrategy = "ALLGREEN"
	}
	if m.MaxEntriesToBuild <= 0 {
		m.MaxEntriesToBuild = 5
	}
	if m.MaxEntriesToMerge <= 0 {
		m.MaxEntriesToMerge = 5
	}
	if m.MinEntriesToMerge <= 0 {
		m.MinEntriesToMerge = 1
	}
	if m.MinEntriesToMergeWaitMinutes == 0 {
		m.MinEntriesToMergeWaitMinutes = 5
	}
	if m.CheckResponseTimeoutMinutes <= 0 {
		m.CheckResponseTimeoutMinutes = 60
	}
	return m
}

func (m MergeQueueRule) validate() error {
	var problems []string
	if !slices.Contains([]string{"MERGE", "SQUASH"}, m.MergeMethod) {
		problems = append(problems, fmt.Sprintf("merge_method %q is not MERGE or SQUASH", m.MergeMethod))
	}
	if !slices.Contains([]string{"ALLGREEN", "HEADGREEN"}, m.GroupingStrategy) {
		problems = append(problems, fmt.Sprintf("grouping_strategy %q is not ALLGREEN or HEADGREEN", m.GroupingStrategy))
	}
	if m.MinEntriesToMerge > m.MaxEntriesToMerge {
		problems = append(problems, "min_entries_to_merge is above max_entries_to_merge")
	}
	if len(problems) > 0 {
		return fmt.Errorf("merge queue rule: %s", strings.Join(problems, "; "))
	}
	return nil
}

func validateChecks(checks []RequiredCheck) error {
	for i, c := range checks {
		if strings.TrimSpace(c.Context) == "" {
			return fmt.Errorf("required check %d: context is empty", i)
		}
		if c.AppID < 0 {
			return fmt.Errorf("required check %q: app id %d is negative (0 means any source)", c.Context, c.AppID)
		}
	}
	return nil
}

// ProtectBranch sets (replaces) a branch's classic protection, as an
// administrator would in the settings. Seeding: no webhook.
func (f *Fake) ProtectBranch(repoName, branch string, p Protection) error {
	if err := validateChecks(p.RequiredChecks); err != nil {
		return fmt.Errorf("githubfake: protect %s: %w", branch, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	p.RequiredChecks = slices.Clone(p.RequiredChecks)
	r.protection[branch] = &p
	return nil
}

// UnprotectBranch removes a branch's classic protection.
func (f *Fake) UnprotectBranch(repoName, branch string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	delete(r.protection, branch)
	return nil
}

// AddRuleset adds a branch ruleset to a repository and returns its id.
// Seeding: no webhook.
func (f *Fake) AddRuleset(repoName string, rs Ruleset) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return 0, err
	}
	nr, err := f.addRuleset(r, rs)
	if err != nil {
		return 0, fmt.Errorf("githubfake: ruleset %q: %w", rs.Name, err)
	}
	return nr.ID, nil
}

func (f *Fake) addRuleset(r *repo, rs Ruleset) (*Ruleset, error) {
	if rs.Enforcement == "" {
		rs.Enforcement = "active"
	}
	var problems []string
	if strings.TrimSpace(rs.Name) == "" {
		problems = append(problems, "name is empty")
	}
	if !slices.Contains([]string{"active", "evaluate", "disabled"}, rs.Enforcement) {
		problems = append(problems, fmt.Sprintf("enforcement %q is not active, evaluate or disabled", rs.Enforcement))
	}
	if err := validateChecks(rs.RequiredChecks); err != nil {
		problems = append(problems, err.Error())
	}
	if rs.MergeQueue != nil {
		mq := rs.MergeQueue.withDefaults()
		if err := mq.validate(); err != nil {
			problems = append(problems, err.Error())
		}
		rs.MergeQueue = &mq
	}
	for _, other := range r.rulesets {
		if strings.EqualFold(other.Name, rs.Name) {
			problems = append(problems, "name is already taken")
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	rs.ID, rs.created = f.id(), f.now()
	rs.Include, rs.Exclude, rs.RequiredChecks = slices.Clone(rs.Include), slices.Clone(rs.Exclude), slices.Clone(rs.RequiredChecks)
	r.rulesets = append(r.rulesets, &rs)
	return &rs, nil
}

// refMatches applies a ruleset ref pattern to a branch.
func (r *repo) refMatches(pattern, branch string) bool {
	ref := "refs/heads/" + branch
	switch pattern {
	case "~ALL":
		return true
	case "~DEFAULT_BRANCH":
		return branch == r.defaultBranch
	}
	if !strings.HasPrefix(pattern, "refs/") {
		pattern = "refs/heads/" + pattern
	}
	if before, ok := strings.CutSuffix(pattern, "**"); ok {
		return strings.HasPrefix(ref, before)
	}
	ok, err := path.Match(pattern, ref)
	return err == nil && ok
}

func (r *repo) rulesetApplies(rs *Ruleset, branch string) bool {
	in := false
	for _, p := range rs.Include {
		in = in || r.refMatches(p, branch)
	}
	for _, p := range rs.Exclude {
		if r.refMatches(p, branch) {
			return false
		}
	}
	return in
}

// activeRulesets lists the enforced rulesets that target a branch.
func (r *repo) activeRulesets(branch string) []*Ruleset {
	var out []*Ruleset
	for _, rs := range r.rulesets {
		if rs.Enforcement == "active" && r.rulesetApplies(rs, branch) {
			out = append(out, rs)
		}
	}
	return out
}

// mergeQueueRule returns the merge queue rule in force on a branch, if any.
func (r *repo) mergeQueueRule(branch string) (*MergeQueueRule, *Ruleset) {
	for _, rs := range r.activeRulesets(branch) {
		if rs.MergeQueue != nil {
			return rs.MergeQueue, rs
		}
	}
	return nil, nil
}

// requiredChecks is every check a merge into branch needs: the classic
// protection's and the active rulesets', without duplicates.
func (r *repo) requiredChecks(branch string) []RequiredCheck {
	var out []RequiredCheck
	add := func(cs []RequiredCheck) {
		for _, c := range cs {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	if p := r.protection[branch]; p != nil {
		add(p.RequiredChecks)
	}
	for _, rs := range r.activeRulesets(branch) {
		add(rs.RequiredChecks)
	}
	return out
}

// Results of a required check on a commit.
const (
	checkExpected = "expected" // nothing reported by an accepted source
	checkPending  = "pending"
	checkFailure  = "failure"
	checkSuccess  = "success"
)

func passingConclusion(c string) bool { return c == "success" || c == "neutral" || c == "skipped" }

// checkState is a required check's result on a commit: the latest check run
// of that name from an accepted App decides; without one, the latest commit
// status of that context from an accepted source. A pinned check accepts
// only its App: a check run of the same name from another App, or a status
// a person set, does not count.
func (f *Fake) checkState(r *repo, sha string, rc RequiredCheck) string {
	for i := len(r.checkRuns) - 1; i >= 0; i-- {
		cr := r.checkRuns[i]
		if cr.HeadSHA != sha || cr.Name != rc.Context || (rc.AppID != 0 && cr.AppID != rc.AppID) {
			continue
		}
		switch {
		case cr.Status != "completed":
			return checkPending
		case passingConclusion(cr.Conclusion):
			return checkSuccess
		default:
			return checkFailure
		}
	}
	for i := len(r.statuses) - 1; i >= 0; i-- {
		s := r.statuses[i]
		if s.SHA != sha || s.Context != rc.Context || (rc.AppID != 0 && s.AppID != rc.AppID) {
			continue
		}
		switch s.State {
		case "success":
			return checkSuccess
		case "pending":
			return checkPending
		default:
			return checkFailure
		}
	}
	return checkExpected
}

// mergeBlock is the first rule that refuses a merge.
type mergeBlock struct {
	kind string // queue, draft, reviews, behind, checks
	msg  string
}

func (b *mergeBlock) err() *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, msg: b.msg}
}

const rulesetViolation = "Repository rule violations found\n\n"

// mergeBlocker applies the branch's protection and rulesets to merging a
// pull request's head as actor (nil: nobody in particular, for
// mergeable_state). skipQueue leaves out the merge queue requirement.
func (f *Fake) mergeBlocker(r *repo, pr *PullRequest, head string, actor *User, skipQueue bool) *mergeBlock {
	admin := actor != nil && f.isRepoAdmin(r, actor)
	_, base := f.pullSHAs(r, pr)
	if !skipQueue {
		if _, rs := r.mergeQueueRule(pr.Base); rs != nil && !(admin && rs.AdminsBypass) {
			return &mergeBlock{kind: "queue", msg: rulesetViolation + "Changes must be made through the merge queue"}
		}
	}
	if pr.Draft {
		return &mergeBlock{kind: "draft", msg: "Pull Request is still a draft"}
	}
	if p := r.protection[pr.Base]; p != nil && !(admin && !p.EnforceAdmins) {
		if n := p.RequiredApprovals; n > 0 && f.approvals(r, pr, head) < n {
			msg := "At least 1 approving review is required by reviewers with write access."
			if n > 1 {
				msg = fmt.Sprintf("At least %d approving reviews are required by reviewers with write access.", n)
			}
			return &mergeBlock{kind: "reviews", msg: msg}
		}
		if p.Strict && !r.objects.isAncestor(base, head) {
			return &mergeBlock{kind: "behind", msg: "Head branch was not up to date with the base branch."}
		}
		for _, rc := range p.RequiredChecks {
			if f.checkState(r, head, rc) != checkSuccess {
				return &mergeBlock{kind: "checks", msg: fmt.Sprintf("Required status check %q is expected.", rc.Context)}
			}
		}
	}
	for _, rs := range r.activeRulesets(pr.Base) {
		if admin && rs.AdminsBypass {
			continue
		}
		if rs.Strict && len(rs.RequiredChecks) > 0 && !r.objects.isAncestor(base, head) {
			return &mergeBlock{kind: "behind", msg: rulesetViolation + "Head branch was not up to date with the base branch."}
		}
		for _, rc := range rs.RequiredChecks {
			if f.checkState(r, head, rc) != checkSuccess {
				return &mergeBlock{kind: "checks", msg: rulesetViolation + fmt.Sprintf("Required status check %q is expected.", rc.Context)}
			}
		}
	}
	return nil
}

// approvals counts reviewers with write access whose latest deciding review
// approves (dismissed approvals do not count).
func (f *Fake) approvals(r *repo, pr *PullRequest, head string) int {
	latest := map[string]string{}
	for _, rv := range pr.Reviews {
		switch rv.State {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
			latest[strings.ToLower(rv.User)] = rv.State
		}
	}
	n := 0
	for login, state := range latest {
		if state == "APPROVED" && roleRank(f.permission(r, login)) >= roleRank("write") {
			n++
		}
	}
	return n
}

// dismissStale dismisses approvals given on another head when the branch
// protection asks for it (a push to the pull request). Callers hold f.mu.
func (f *Fake) dismissStale(r *repo, pr *PullRequest, head string, actor *User) {
	p := r.protection[pr.Base]
	if p == nil || !p.DismissStaleReviews {
		return
	}
	for _, rv := range pr.Reviews {
		if rv.State == "APPROVED" && rv.CommitID != head {
			f.dismiss(r, pr, rv, actor, "This review was dismissed automatically because new commits were pushed.")
		}
	}
}

// pushBlocker applies a branch's protection and rulesets to moving it to
// sha ("" deletes it) other than by merging a pull request: what GitHub
// refuses with "Protected branch update failed". Administrators pass where
// the rule lets them.
func (f *Fake) pushBlocker(r *repo, branch, sha string, actor *User) error {
	admin := f.isRepoAdmin(r, actor)
	refuse := func(why string) error {
		return &apiError{status: http.StatusUnprocessableEntity, msg: fmt.Sprintf("Protected branch update failed for refs/heads/%s.\n\n%s", branch, why)}
	}
	if p := r.protection[branch]; p != nil && !(admin && !p.EnforceAdmins) {
		if sha == "" {
			return refuse("Cannot delete this protected branch")
		}
		if p.RequiredApprovals > 0 || p.RequirePullRequest {
			return refuse("Changes must be made through a pull request.")
		}
		for _, rc := range p.RequiredChecks {
			if f.checkState(r, sha, rc) != checkSuccess {
				return refuse(fmt.Sprintf("Required status check %q is expected.", rc.Context))
			}
		}
	}
	for _, rs := range r.activeRulesets(branch) {
		if admin && rs.AdminsBypass {
			continue
		}
		if rs.MergeQueue != nil {
			return refuse("Changes must be made through the merge queue")
		}
		for _, rc := range rs.RequiredChecks {
			if sha != "" && f.checkState(r, sha, rc) != checkSuccess {
				return refuse(fmt.Sprintf("Required status check %q is expected.", rc.Context))
			}
		}
	}
	return nil
}

// refWriteAllowed checks a ref write by a person or an App: write access,
// the branch's protection, and the merge queue's read-only branches.
func (f *Fake) refWriteAllowed(r *repo, ref, sha string, actor *User) error {
	if err := f.requireRole(r, actor, "write"); err != nil {
		return err
	}
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok {
		return nil
	}
	if strings.HasPrefix(branch, "gh-readonly-queue/") {
		return &apiError{status: http.StatusUnprocessableEntity, msg: fmt.Sprintf("Protected branch update failed for %s.\n\nThis branch is managed by the merge queue", ref)}
	}
	return f.pushBlocker(r, branch, sha, actor)
}
