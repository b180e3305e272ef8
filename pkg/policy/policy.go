package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

// Policy evaluates approvals for one repository's configuration.
type Policy struct {
	cfg *config.Config
	set *schema.Set
	// labels maps each approval label (lower case) to the groups whose
	// members may add it.
	labels map[string][]string
}

// New checks that every reviewer group the schemas or the configuration
// name has a team, and indexes the approval labels.
func New(cfg *config.Config, set *schema.Set) (*Policy, error) {
	if cfg == nil || set == nil || set.Request == nil || set.ServiceClasses == nil {
		return nil, errors.New("policy: configuration and schemas are required")
	}
	p := &Policy{cfg: cfg, set: set, labels: map[string][]string{}}
	var errs []error
	needTeam := func(where, g string) {
		if cfg.Teams[g] == "" {
			errs = append(errs, fmt.Errorf("policy: %s names reviewer group %q, which has no team under teams in %s", where, g, config.FileName))
		}
	}
	addLabel := func(where, label, group string) {
		if label == "" {
			return
		}
		needTeam(where, group)
		k := strings.ToLower(label)
		if !slices.Contains(p.labels[k], group) {
			p.labels[k] = append(p.labels[k], group)
		}
	}
	for _, r := range set.Request.Routing {
		for _, g := range r.Reviewers {
			needTeam("approval_routing "+r.Name, g)
		}
	}
	for _, t := range append([]schema.Tier{set.ServiceClasses.Defaults}, set.ServiceClasses.For(schema.ServiceClass)) {
		for _, g := range t.Reviewers {
			needTeam("service class "+schema.ServiceClass, g)
		}
	}
	for _, lr := range set.Request.LabelRequirements {
		addLabel("label_requirements "+lr.Name, lr.Label, lr.Group)
	}
	d := set.Request.Decommission
	for _, g := range d.Reviewers {
		needTeam("decommission", g)
	}
	addLabel("decommission", d.Label, d.Group)
	// rdsbot.yaml names the same labels for the bot's messages; they must
	// be the ones the schema requires.
	if d.Label != "" && !strings.EqualFold(d.Label, cfg.Labels.AllowDelete) {
		errs = append(errs, fmt.Errorf("policy: labels.allow_delete is %q but the schema's decommission label is %q", cfg.Labels.AllowDelete, d.Label))
	}
	if len(set.Request.LabelRequirements) > 0 && !slices.ContainsFunc(set.Request.LabelRequirements, func(lr schema.LabelRequirement) bool {
		return strings.EqualFold(lr.Label, cfg.Labels.PlatformApproval)
	}) {
		errs = append(errs, fmt.Errorf("policy: labels.platform_approval %q is not a label of the schema's label_requirements", cfg.Labels.PlatformApproval))
	}
	bg := cfg.Approvals.BreakGlass
	if _, clash := p.labels[strings.ToLower(bg.Label)]; clash {
		errs = append(errs, fmt.Errorf("policy: approvals.break_glass.label %q is also an approval label", bg.Label))
	}
	for _, g := range bg.Groups {
		addLabel("approvals.break_glass", bg.Label, g)
	}
	for _, g := range cfg.Approvals.HumanApprovalGroups {
		needTeam("approvals.human_approval_groups", g)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Result is one evaluation.
type Result struct {
	Kind        Kind
	Environment string
	Rule        string // the routing rule that matched
	Tier        string
	Mode        string // config.ModeEnforce or config.ModeWarn
	Digest      string // the content evaluated

	Requirements []Requirement
	Blocks       []Block
	// Problems stop the policy whatever the approvals (plain sentences).
	Problems []string
	// Ignored are approvals and approval labels that count for nothing.
	Ignored []Attempt
	// Satisfied: every requirement met, nothing blocks, no problem.
	Satisfied bool
	// Approvers are the accounts whose reviews or labels count.
	Approvers []Actor

	// RemoveLabels are approval labels present that grant nothing: the bot
	// removes them (in warn mode too) with one comment.
	RemoveLabels []Removal
	BreakGlass   BreakGlass
	// Foreign checks carry rdsbot's names from another source; the bot
	// reports them in its own check. They never count.
	Foreign []ForeignCheck

	in     Input
	policy *Policy
	// requiredTeams are the teams of every group this request needs.
	requiredTeams []string
}

// evaluation is the state of one Evaluate call.
type evaluation struct {
	ctx     context.Context
	p       *Policy
	in      Input
	f       Facts
	commits Commits
	members map[string]Membership // team + "\x00" + lower(login)
	res     *Result
}

// Evaluate decides whether the pull request's approvals satisfy the
// policy. It reads facts only through f and writes nothing.
func (p *Policy) Evaluate(ctx context.Context, in Input, f Facts) (*Result, error) {
	req := in.Request
	var errs []error
	if req.Kind != KindCreate && req.Kind != KindDecommission {
		errs = append(errs, fmt.Errorf("policy: request kind %q is not %s or %s", req.Kind, KindCreate, KindDecommission))
	}
	if req.Environment == "" {
		errs = append(errs, errors.New("policy: request environment is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var a schema.Approval
	if req.Kind == KindDecommission {
		a = p.set.DecommissionApproval()
	} else {
		fields := maps.Clone(req.Fields)
		if fields == nil {
			fields = map[string]string{}
		}
		fields["environment"], fields["risk"], fields["size"] = req.Environment, req.Risk, req.Size
		a = p.set.Approvals(fields)
	}
	res := &Result{
		Kind: req.Kind, Environment: req.Environment, Rule: a.Rule, Tier: a.Tier,
		Mode: p.cfg.Approvals.ModeFor(req.Environment), Digest: in.Digest,
		in: in, policy: p,
	}
	for _, g := range a.Reviewers {
		res.Requirements = append(res.Requirements, Requirement{Kind: NeedReview, Groups: []string{g}, Teams: []string{p.team(g)}})
	}
	if len(a.Reviewers) == 0 && !p.cfg.Approvals.SelfServe(req.Environment) {
		gs := slices.Clone(p.cfg.Approvals.HumanApprovalGroups)
		res.Requirements = append(res.Requirements, Requirement{Kind: NeedHuman, Groups: gs, Teams: p.teams(gs),
			Reason: fmt.Sprintf("%s needs one human approval even where routing is self-serve", req.Environment)})
	}
	for _, l := range a.Labels {
		res.Requirements = append(res.Requirements, Requirement{Kind: NeedLabel, Groups: []string{l.Group}, Teams: []string{p.team(l.Group)}, Label: l.Label, Reason: l.Reason})
	}
	for _, r := range res.Requirements {
		for _, t := range r.Teams {
			if !slices.Contains(res.requiredTeams, t) {
				res.requiredTeams = append(res.requiredTeams, t)
			}
		}
	}

	e := &evaluation{ctx: ctx, p: p, in: in, f: f, members: map[string]Membership{}, res: res}
	var err error
	if e.commits, err = f.Commits(ctx); err != nil {
		return nil, fmt.Errorf("policy: commits: %w", err)
	}
	if in.Digest == "" {
		res.Problems = append(res.Problems, "rdsbot could not compute what this pull request changes, so no approval can be matched to it")
	}
	if n := len(e.commits.Unlinked); n > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf(
			"%d commit(s) (%s) have an author GitHub cannot link to an account, so no approver can be shown not to have written them; rewrite them with a linked author",
			n, strings.Join(shortSHAs(e.commits.Unlinked), ", ")))
	}
	if err := e.reviews(); err != nil {
		return nil, err
	}
	if err := e.labels(); err != nil {
		return nil, err
	}
	if res.Foreign, err = f.ForeignChecks(ctx); err != nil {
		return nil, fmt.Errorf("policy: foreign checks: %w", err)
	}

	res.Satisfied = len(res.Problems) == 0 && len(res.Blocks) == 0
	for _, r := range res.Requirements {
		res.Satisfied = res.Satisfied && r.Satisfied
	}
	return res, nil
}

func (p *Policy) team(group string) string { return p.cfg.Teams[group] }

func (p *Policy) teams(groups []string) []string {
	out := make([]string, len(groups))
	for i, g := range groups {
		out[i] = p.team(g)
	}
	return out
}

func shortSHAs(shas []string) []string {
	out := make([]string, len(shas))
	for i, s := range shas {
		if len(s) > 7 {
			s = s[:7]
		}
		out[i] = s
	}
	return out
}

// membership is memoized per evaluation: one read per (team, login).
func (e *evaluation) membership(team string, a Actor) (Membership, error) {
	if team == "" || a.Login == "" {
		return NotMember, nil
	}
	k := team + "\x00" + strings.ToLower(a.Login)
	if m, ok := e.members[k]; ok {
		return m, nil
	}
	m, err := e.f.Membership(e.ctx, team, a.Login)
	if err != nil {
		return "", fmt.Errorf("policy: membership of %s in %s: %w", a.Login, team, err)
	}
	e.members[k] = m
	return m, nil
}

// firstActive returns the first of teams in which a is an active member;
// pending reports whether a has a pending membership in one of them.
func (e *evaluation) firstActive(teams []string, a Actor) (team string, pending bool, err error) {
	for _, t := range teams {
		m, err := e.membership(t, a)
		if err != nil {
			return "", false, err
		}
		switch m {
		case Active:
			return t, false, nil
		case Pending:
			pending = true
		}
	}
	return "", pending, nil
}

// isBot: GitHub says so, the login is an app's, or it is this App.
func (e *evaluation) isBot(a Actor) bool {
	return strings.EqualFold(a.Type, "Bot") || strings.HasSuffix(strings.ToLower(a.Login), "[bot]") || a.Is(e.in.App)
}

// excluded says why a may never approve this pull request, or "".
func (e *evaluation) excluded(a Actor) string {
	switch {
	case a.Login == "":
		return "is an unknown account"
	case e.isBot(a):
		return "is a bot"
	}
	for _, r := range e.in.Request.Requesters {
		if a.Is(r) {
			return "requested this database"
		}
	}
	if a.Is(e.in.Author) {
		return "opened this pull request"
	}
	for _, c := range e.commits.Authors {
		if a.Is(c) {
			return "authored a commit in this pull request"
		}
	}
	return ""
}

// State normalises a review state: webhooks send lower case, the REST API
// upper case.
func State(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// Review states.
const (
	StateApproved         = "APPROVED"
	StateChangesRequested = "CHANGES_REQUESTED"
	StateCommented        = "COMMENTED"
	StateDismissed        = "DISMISSED"
	StatePending          = "PENDING"
)

type candidate struct {
	actor Actor
	at    time.Time
}

// reviews applies the reviews: per author the latest review that carries a
// state (APPROVED, CHANGES_REQUESTED or a dismissal) is their state;
// comments and pending reviews change nothing, as on GitHub.
func (e *evaluation) reviews() error {
	res := e.res
	all, err := e.f.Reviews(e.ctx)
	if err != nil {
		return fmt.Errorf("policy: reviews: %w", err)
	}
	rs := slices.Clone(all)
	sort.SliceStable(rs, func(i, j int) bool {
		if !rs[i].Submitted.Equal(rs[j].Submitted) {
			return rs[i].Submitted.Before(rs[j].Submitted)
		}
		return rs[i].ID < rs[j].ID
	})
	latest := map[string]int{} // lower login → index in rs
	var order []string
	commented := map[string]int{}
	for i, r := range rs {
		if r.Pull != e.in.Pull {
			res.Ignored = append(res.Ignored, Attempt{Actor: r.Author, Via: "review", At: r.Submitted,
				Reason: fmt.Sprintf("was given on pull request #%d, not this one", r.Pull)})
			continue
		}
		k := strings.ToLower(r.Author.Login)
		switch State(r.State) {
		case StateApproved, StateChangesRequested, StateDismissed:
			if _, ok := latest[k]; !ok {
				order = append(order, k)
			}
			latest[k] = i
		case StateCommented:
			commented[k] = i
		}
	}
	for k, i := range commented {
		if j, ok := latest[k]; ok && State(rs[j].State) == StateApproved && !rs[j].Dismissed {
			continue
		}
		r := rs[i]
		res.Ignored = append(res.Ignored, Attempt{Actor: r.Author, Via: "review", At: r.Submitted, Reason: "commented without approving"})
	}

	var groups []int // indexes of NeedReview requirements
	human := -1
	for i, r := range res.Requirements {
		switch r.Kind {
		case NeedReview:
			groups = append(groups, i)
		case NeedHuman:
			human = i
		}
	}
	// fresh[req] are eligible approvers on the current content, in order.
	fresh := map[int][]candidate{}
	for _, k := range order {
		r := rs[latest[k]]
		state := State(r.State)
		if r.Dismissed || state == StateDismissed {
			res.Ignored = append(res.Ignored, Attempt{Actor: r.Author, Via: "review", At: r.Submitted, Reason: "had their review dismissed"})
			continue
		}
		if state == StateChangesRequested {
			if e.isBot(r.Author) {
				continue
			}
			t, _, err := e.firstActive(res.requiredTeams, r.Author)
			if err != nil {
				return err
			}
			if t != "" {
				res.Blocks = append(res.Blocks, Block{Actor: r.Author, Team: t, At: r.Submitted})
			}
			continue
		}
		if why := e.excluded(r.Author); why != "" {
			res.Ignored = append(res.Ignored, Attempt{Actor: r.Author, Via: "review", At: r.Submitted, Reason: why})
			continue
		}
		counted, pending := false, false
		for _, ri := range append(slices.Clone(groups), human) {
			if ri < 0 {
				continue
			}
			req := &res.Requirements[ri]
			t, pend, err := e.firstActive(req.Teams, r.Author)
			if err != nil {
				return err
			}
			pending = pending || pend
			if t == "" {
				continue
			}
			counted = true
			if r.Digest == "" || r.Digest != e.in.Digest {
				req.Stale = append(req.Stale, Attempt{Actor: r.Author, Via: "review", At: r.Submitted, Reason: staleReason(r.Digest, r.CommitID)})
				continue
			}
			fresh[ri] = append(fresh[ri], candidate{actor: r.Author, at: r.Submitted})
		}
		if !counted {
			why := "is not an active member of a team this request needs"
			if pending {
				why = "has only a pending (not accepted) team membership"
			}
			res.Ignored = append(res.Ignored, Attempt{Actor: r.Author, Via: "review", At: r.Submitted, Reason: why})
		}
	}

	// Each reviewer group needs its own approver: one person never counts
	// for two groups.
	assigned := assign(groups, fresh)
	for _, ri := range groups {
		req := &res.Requirements[ri]
		if c, ok := assigned[ri]; ok {
			req.Satisfied, req.By, req.At = true, c.actor, c.at
			res.Approvers = append(res.Approvers, c.actor)
			continue
		}
		for _, c := range fresh[ri] {
			req.Stale = append(req.Stale, Attempt{Actor: c.actor, Via: "review", At: c.at,
				Reason: "already counts for another group; each group needs a different person"})
		}
	}
	if human >= 0 && len(fresh[human]) > 0 {
		c := fresh[human][0]
		req := &res.Requirements[human]
		req.Satisfied, req.By, req.At = true, c.actor, c.at
		res.Approvers = append(res.Approvers, c.actor)
	}
	return nil
}

func staleReason(digest, commit string) string {
	if digest == "" {
		return fmt.Sprintf("approved commit %s, whose content rdsbot has no record of; approve again", first7(commit))
	}
	return fmt.Sprintf("approved other content (commit %s); the pull request changed since, approve again", first7(commit))
}

func first7(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// assign matches reviewer groups to distinct approvers (augmenting paths;
// groups and approvers are few), preferring earlier approvals.
func assign(groups []int, fresh map[int][]candidate) map[int]candidate {
	owner := map[string]int{} // lower login → requirement index
	var try func(ri int, seen map[string]bool) bool
	try = func(ri int, seen map[string]bool) bool {
		for _, c := range fresh[ri] {
			k := strings.ToLower(c.actor.Login)
			if seen[k] {
				continue
			}
			seen[k] = true
			if o, taken := owner[k]; !taken || try(o, seen) {
				owner[k] = ri
				return true
			}
		}
		return false
	}
	for _, ri := range groups {
		try(ri, map[string]bool{})
	}
	out := map[int]candidate{}
	for k, ri := range owner {
		for _, c := range fresh[ri] {
			if strings.ToLower(c.actor.Login) == k {
				out[ri] = c
			}
		}
	}
	return out
}

// labels verifies every approval label present: who added it, whether they
// may, and on which content. Required labels that pass satisfy their
// requirement; approval labels that grant nothing are to be removed.
func (e *evaluation) labels() error {
	res := e.res
	ls, err := e.f.Labels(e.ctx)
	if err != nil {
		return fmt.Errorf("policy: labels: %w", err)
	}
	bg := e.p.cfg.Approvals.BreakGlass
	res.BreakGlass.Label = bg.Label
	var breakGlass *Label
	for i := range ls {
		l := ls[i]
		groups, isApproval := e.p.labels[strings.ToLower(l.Name)]
		if !isApproval {
			continue
		}
		if strings.EqualFold(l.Name, bg.Label) {
			breakGlass = &ls[i]
			continue
		}
		// A required label is checked against its requirement's group; any
		// other approval label against every group that may add it.
		var req *Requirement
		for ri := range res.Requirements {
			if r := &res.Requirements[ri]; r.Kind == NeedLabel && strings.EqualFold(r.Label, l.Name) {
				req, groups = r, r.Groups
			}
		}
		why, err := e.labelProblem(l, e.p.teams(groups))
		if err != nil {
			return err
		}
		if why != "" {
			res.RemoveLabels = append(res.RemoveLabels, Removal{Label: l.Name, AddedBy: l.AddedBy, Reason: why})
			if req != nil {
				req.Stale = append(req.Stale, Attempt{Actor: l.AddedBy, Via: "label", Label: l.Name, At: l.AddedAt, Reason: why})
			}
			continue
		}
		if req != nil && !req.Satisfied {
			req.Satisfied, req.By, req.At = true, l.AddedBy, l.AddedAt
			if !slices.ContainsFunc(res.Approvers, l.AddedBy.Is) {
				res.Approvers = append(res.Approvers, l.AddedBy)
			}
		}
	}
	if breakGlass != nil {
		res.BreakGlass.Present, res.BreakGlass.By = true, breakGlass.AddedBy
		why, err := e.labelProblem(*breakGlass, e.p.teams(bg.Groups))
		if err != nil {
			return err
		}
		if why == "" && slices.ContainsFunc(res.Approvers, breakGlass.AddedBy.Is) {
			why = "approved this pull request; break-glass needs someone else"
		}
		if why != "" {
			res.BreakGlass.Reason = why
			res.RemoveLabels = append(res.RemoveLabels, Removal{Label: breakGlass.Name, AddedBy: breakGlass.AddedBy, Reason: why})
		} else {
			res.BreakGlass.Valid = true
		}
	}
	return nil
}

// labelProblem says why a label grants nothing, or "".
func (e *evaluation) labelProblem(l Label, teams []string) (string, error) {
	if l.AddedBy.Login == "" {
		return "was added by an account rdsbot found no record of", nil
	}
	if why := e.excluded(l.AddedBy); why != "" {
		return why, nil
	}
	t, pending, err := e.firstActive(teams, l.AddedBy)
	if err != nil {
		return "", err
	}
	if t == "" {
		if pending {
			return "has only a pending (not accepted) membership of " + strings.Join(teams, " or "), nil
		}
		return "is not an active member of " + strings.Join(teams, " or "), nil
	}
	if l.Digest == "" || l.Digest != e.in.Digest {
		return "added it before the pull request last changed; add it again to approve the current content", nil
	}
	return "", nil
}
