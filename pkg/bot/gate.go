package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/policy"
)

// The approval gate: one job per pull request (key "pull/<n>", coalesced
// and serialised by the queue like request jobs) evaluates the policy on the
// pull request's facts and writes, only where they differ from what GitHub
// already shows: the rdsbot/approval and rdsbot/validate check runs on the
// head, the removal of approval labels that grant nothing (with one
// comment), and the approval table in a request pull request's body; the
// request issue's status comment follows through its request job.

// ValidateCheck is the name of the validation check run.
const ValidateCheck = "rdsbot/validate"

// Gate job keys name the pull request: "pull/<number>".
const gatePrefix = "pull/"

func gateKey(n int) string { return gatePrefix + strconv.Itoa(n) }

// parseGateKey reads a gate key; ok is false for any other key.
func parseGateKey(key string) (int, bool, error) {
	rest, ok := strings.CutPrefix(key, gatePrefix)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 {
		return 0, true, fmt.Errorf("bot: gate key %q is not pull/<number>", key)
	}
	return n, true, nil
}

func (b *Bot) enqueueGate(ctx context.Context, repo string, pull int, reason string) error {
	return b.queue.Enqueue(ctx, RequestArgs{Repo: repo, Key: gateKey(pull), Reason: reason})
}

// evalTarget is what one evaluation looks at: the commit evaluated, what it
// is compared with (the pull request's base branch; the commit a merge
// group was built on; a merge commit's first parent), and the commit whose
// checks are read for rdsbot's names from other sources.
type evalTarget struct {
	compareBase string
	head        string
	checksOn    string
	record      bool // record the head in the digest timeline (a pull request's own head)
	validate    bool // run rdsbot/validate's checks too
}

// envEval is the policy's result for one environment and kind.
type envEval struct {
	env  string
	kind policy.Kind
	res  *policy.Result
}

// gateResult is one evaluation of a pull request.
type gateResult struct {
	pr      *forge.PullRequest
	covered []string // gated files it changes; none: the gate has nothing to say
	issue   int      // its request issue (0: not a request pull request)
	content *content
	evals   []envEval
	valid   validation
	// failure: the policy cannot be evaluated (a configuration error);
	// the check fails closed and says why.
	failure string
	facts   *memoFacts
	// status: one of rdsbot's own status pull requests (statusPull), which
	// passes without approvals and without a policy evaluation.
	status bool
}

// evaluate runs the policy on a pull request for a target.
func (b *Bot) evaluate(ctx context.Context, c *forge.Client, rc *repoContext, repo string, pr *forge.PullRequest, t evalTarget) (*gateResult, error) {
	cfg := rc.config()
	g := &gateResult{pr: pr}
	ct, err := b.contentOf(ctx, c, cfg, repo, t.compareBase, t.head, pr.Base)
	if err != nil {
		return nil, err
	}
	g.content = ct
	paths := newGatePaths(cfg)
	covered, envs, unknown := paths.touched(ct.cmp.Files)
	g.covered = covered
	if len(covered) == 0 {
		return g, nil
	}
	if g.status, err = b.statusPull(ctx, c, rc, repo, pr, ct.cmp, t.head); err != nil || g.status {
		return g, err
	}
	if t.record {
		if err := b.ledger.SeeHead(ctx, ledger.HeadDigest{Repo: repo, Pull: pr.Number, Head: t.head, Base: pr.Base,
			Digest: ct.digest.Digest, Seen: b.now()}); err != nil {
			return nil, err
		}
	}
	bot := c.BotLogin()
	requesters := []policy.Actor{actorOf(pr.User, strings.EqualFold(pr.User, bot))}
	var req *contract.Request
	issue, branch, ok, err := b.ledger.PullIssue(ctx, repo, pr.Number)
	if err != nil {
		return nil, err
	}
	if ok && strings.EqualFold(pr.User, bot) && pr.Head == branch {
		g.issue = issue
		if req, requesters, err = b.requestOf(ctx, rc, repo, issue, bot); err != nil {
			return nil, err
		}
	}
	switch {
	case req != nil:
		if !slices.Contains(envs, req.Environment) {
			envs = append([]string{req.Environment}, envs...)
		}
	case unknown || len(envs) == 0:
		// A gated file whose environment the path does not tell: every
		// environment's policy must pass.
		for _, e := range rc.planner.Schema.Request.Fields["environment"].Enum {
			if !slices.Contains(envs, e) {
				envs = append(envs, e)
			}
		}
	}
	kinds := []policy.Kind{policy.KindCreate}
	decommission := containsFold(pr.Labels, cfg.Labels.Decommission)
	if decommission {
		// The label only ever adds requirements: both policies must pass.
		kinds = append(kinds, policy.KindDecommission)
	}
	p, err := policy.New(cfg, rc.planner.Schema)
	if err != nil {
		g.failure = err.Error()
		return g, nil
	}
	facts, err := b.newPullFacts(ctx, c, repo, pr, cfg, t.checksOn)
	if err != nil {
		return nil, err
	}
	memo := newMemoFacts(facts)
	g.facts = memo
	for _, env := range envs {
		for _, kind := range kinds {
			r := policy.Request{Kind: kind, Environment: env, Requesters: requesters}
			if req != nil && env == req.Environment {
				r = policy.FromContract(req, requesters...)
				r.Kind = kind
			}
			res, err := p.Evaluate(ctx, policy.Input{Request: r, Pull: pr.Number, Author: actorOf(pr.User, strings.EqualFold(pr.User, bot)),
				App: policy.Actor{Login: bot, Type: "Bot"}, Digest: ct.digest.Digest}, memo)
			if err != nil {
				return nil, err
			}
			g.evals = append(g.evals, envEval{env: env, kind: kind, res: res})
		}
	}
	if t.validate {
		baseSnap, err := c.SnapshotAt(ctx, repo, ct.cmp.MergeBase)
		if err != nil {
			return nil, err
		}
		headSnap, err := c.SnapshotAt(ctx, repo, t.head)
		if err != nil {
			return nil, err
		}
		g.valid = validate(cfg, rc.planner.Schema, baseSnap.WithContext(ctx), headSnap.WithContext(ctx), ct.digest.Changes, envs, decommission)
	}
	return g, nil
}

// requestOf is the validated request of an issue from what the ledger
// recorded (its accepted text, requester and source), and the accounts that
// asked for it. The request is nil when its text is not valid now.
func (b *Bot) requestOf(ctx context.Context, rc *repoContext, repo string, issue int, bot string) (*contract.Request, []policy.Actor, error) {
	o, ok, err := b.ledger.Origin(ctx, repo, issue)
	if err != nil || !ok {
		return nil, nil, err
	}
	askers, err := b.ledger.Askers(ctx, repo, issue)
	if err != nil {
		return nil, nil, err
	}
	var who []policy.Actor
	for _, l := range append([]string{o.Requester, o.Sender}, askers...) {
		if l != "" && validLogin(l) && !strings.EqualFold(l, bot) && !slices.ContainsFunc(who, func(a policy.Actor) bool { return strings.EqualFold(a.Login, l) }) {
			who = append(who, policy.Actor{Login: l})
		}
	}
	t, ok, err := b.ledger.AcceptedText(ctx, repo, issue)
	if err != nil || !ok {
		return nil, who, err
	}
	raw, _ := RawFromText(rc.planner.Schema.Request, t.Body, o.Requester, contract.Source(o.Source))
	req, probs := contract.Validate(rc.planner.Schema, raw)
	if probs.Err() != nil {
		return nil, who, nil
	}
	return req.WithID(contract.RequestID(issue)), who, nil
}

// The checks' text on a status pull request.
const (
	statusTitle  = "Status change by rdsbot"
	statusPassed = "rdsbot's rollout opened this pull request from its status branch, at a commit it wrote, and it changes only " +
		"the status and status history of catalog entries and appends to the audit trail: nothing to approve."
)

// satisfied: every evaluation is approved. passes: every evaluation is
// approved or in warn mode.
func (g *gateResult) satisfied() bool {
	if g.failure != "" {
		return false
	}
	for _, e := range g.evals {
		if !e.res.Satisfied {
			return false
		}
	}
	return true
}

func (g *gateResult) passes() bool {
	if g.failure != "" {
		return false
	}
	for _, e := range g.evals {
		if !e.res.Satisfied && e.res.Check().Conclusion != policy.ConclusionOK {
			return false
		}
	}
	return true
}

// table is the approval table: one per environment and kind evaluated.
func (g *gateResult) table() string {
	if g.failure != "" {
		return "**Approval** · rdsbot cannot evaluate the approval policy: " + md.Text(g.failure) + "\n"
	}
	if len(g.evals) == 1 {
		return policy.Render(g.evals[0].res)
	}
	var b strings.Builder
	for i, e := range g.evals {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "#### %s (%s)\n\n%s", md.Code(e.env), md.Text(string(e.kind)), policy.Render(e.res))
	}
	return b.String()
}

// approvalCheck is the rdsbot/approval check run. In a merge group a check
// never stays in progress: the queue must not wait for rdsbot.
func (g *gateResult) approvalCheck(name, head string, group bool) forge.Check {
	ch := forge.Check{Name: name, HeadSHA: head}
	switch {
	case len(g.covered) == 0:
		ch.Status, ch.Conclusion, ch.Title = policy.StatusCompleted, policy.ConclusionOK, "Nothing to approve"
		ch.Summary = "This pull request changes no file rdsbot gates (tfvars, the catalog, request contracts)."
		return ch
	case g.status:
		ch.Status, ch.Conclusion, ch.Title, ch.Summary = policy.StatusCompleted, policy.ConclusionOK, statusTitle, statusPassed
		return ch
	case g.failure != "":
		ch.Status, ch.Conclusion, ch.Title = policy.StatusCompleted, "failure", "rdsbot cannot evaluate the approval policy"
		ch.Summary = g.table()
		return ch
	case len(g.evals) == 1:
		c := g.evals[0].res.Check()
		ch.Status, ch.Conclusion, ch.Title, ch.Summary = c.Status, c.Conclusion, c.Title, c.Summary
	default:
		ch.Summary = g.table()
		missing := 0
		for _, e := range g.evals {
			if !e.res.Satisfied {
				missing++
			}
		}
		switch {
		case g.satisfied():
			ch.Status, ch.Conclusion, ch.Title = policy.StatusCompleted, policy.ConclusionOK, "Approved"
		case g.passes():
			ch.Status, ch.Conclusion = policy.StatusCompleted, policy.ConclusionOK
			ch.Title = fmt.Sprintf("Not approved, passing in warn mode: %d of %d policies missing", missing, len(g.evals))
		default:
			ch.Status, ch.Title = policy.StatusInProgress, fmt.Sprintf("Waiting: %d of %d policies missing approvals", missing, len(g.evals))
		}
	}
	if group && ch.Status != policy.StatusCompleted {
		ch.Status, ch.Conclusion, ch.Title = policy.StatusCompleted, "failure", "Not approved: "+ch.Title
	}
	ch.Summary = md.Cap(ch.Summary, 60000, "The table was cut to fit a check run.")
	return ch
}

// validateCheck is the rdsbot/validate check run.
func (g *gateResult) validateCheck(head string) forge.Check {
	ch := forge.Check{Name: ValidateCheck, HeadSHA: head, Status: policy.StatusCompleted, Conclusion: policy.ConclusionOK}
	switch {
	case len(g.covered) == 0:
		ch.Title, ch.Summary = "Nothing to validate", "This pull request changes no file rdsbot gates."
	case g.status:
		ch.Title, ch.Summary = statusTitle, statusPassed
	case len(g.valid.problems) == 0:
		ch.Title = "Valid"
		ch.Summary = fmt.Sprintf("%d gated file(s) checked like `rdsbot validate`, against the rules rdsbot's own plans follow.", len(g.covered))
	default:
		ch.Conclusion = "failure"
		ch.Title = fmt.Sprintf("%d problem(s)", len(g.valid.problems))
		var b strings.Builder
		b.WriteString("These changes break the rules rdsbot's own plans follow (`rdsbot validate`):\n\n")
		for _, p := range g.valid.problems {
			fmt.Fprintf(&b, "- %s\n", md.Text(p))
		}
		ch.Summary = md.Cap(b.String(), 60000, "More problems were left out.")
	}
	return ch
}

// removals are the labels the policy says grant nothing, once each.
func (g *gateResult) removals() []policy.Removal {
	var out []policy.Removal
	for _, e := range g.evals {
		for _, r := range e.res.RemoveLabels {
			if !slices.ContainsFunc(out, func(x policy.Removal) bool { return strings.EqualFold(x.Label, r.Label) }) {
				out = append(out, r)
			}
		}
	}
	return out
}

// handleGate is the gate job of one pull request.
func (b *Bot) handleGate(ctx context.Context, r RequestArgs, n int) error {
	log := b.log.With("repository", r.Repo, "pull", n, "reason", r.Reason)
	c, err := b.client(ctx, nil, r.Repo)
	if err != nil {
		return err
	}
	pr, err := c.GetPull(ctx, r.Repo, n)
	if forge.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, r.Repo, b.maxAge)
	if err != nil {
		return err
	}
	if pr.Merged {
		return b.afterMerge(ctx, c, rc, r.Repo, pr)
	}
	if pr.State != "open" {
		return nil
	}
	g, err := b.evaluate(ctx, c, rc, r.Repo, pr, evalTarget{compareBase: pr.Base, head: pr.HeadSHA, checksOn: pr.HeadSHA, record: true, validate: true})
	if err != nil {
		return err
	}
	cfg := rc.config()
	if len(g.covered) > 0 {
		if err := b.removeLabels(ctx, c, r.Repo, g); err != nil {
			return err
		}
	}
	if _, err := c.SetGateCheck(ctx, r.Repo, g.approvalCheck(cfg.Approvals.CheckName, pr.HeadSHA, false)); err != nil {
		return err
	}
	if _, err := c.SetCheck(ctx, r.Repo, g.validateCheck(pr.HeadSHA)); err != nil {
		return err
	}
	if len(g.covered) == 0 || g.status {
		return nil
	}
	table := g.table()
	changed, err := b.ledger.SaveApproval(ctx, ledger.Approval{Repo: r.Repo, Pull: n, Issue: g.issue, Table: table,
		Satisfied: g.satisfied(), Digest: g.content.digest.Digest})
	if err != nil {
		return err
	}
	if g.issue == 0 {
		return nil // a person's pull request body is theirs: the table is in the check run
	}
	if body := withApproval(pr.Body, table); body != pr.Body {
		if _, err := c.EditIssue(ctx, r.Repo, n, forge.IssueEdit{Body: &body}); err != nil {
			return err
		}
	}
	if changed {
		log.InfoContext(ctx, "approval changed", "satisfied", g.satisfied(), "digest", g.content.digest.Digest)
		return b.enqueue(ctx, r.Repo, g.issue, fmt.Sprintf("approval of #%d changed", n))
	}
	return nil
}

// removeLabels removes the approval labels that grant nothing, after one
// comment that says why. The comment's marker names the labels' events, so
// a retry edits it instead of adding another, and a label added again later
// gets a comment of its own.
func (b *Bot) removeLabels(ctx context.Context, c *forge.Client, repo string, g *gateResult) error {
	rs := g.removals()
	if len(rs) == 0 {
		return nil
	}
	labels, err := g.facts.memoLabels(ctx)
	if err != nil {
		return err
	}
	var keys []string
	for _, r := range rs {
		k := strings.ToLower(r.Label)
		for _, l := range labels {
			if strings.EqualFold(l.Name, r.Label) {
				k += "@" + strings.ToLower(l.AddedBy.Login) + "@" + strconv.FormatInt(l.AddedAt.Unix(), 10)
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	marker := forge.Marker("labels-removed:" + hex.EncodeToString(sum[:6]))
	if _, _, err := c.UpsertComment(ctx, repo, g.pr.Number, marker, policy.RenderRemovals(rs)); err != nil {
		return err
	}
	for _, r := range rs {
		if err := c.RemoveLabel(ctx, repo, g.pr.Number, r.Label); err != nil {
			return err
		}
	}
	return nil
}

// The approval table in a request pull request's body sits between these
// markers, after the plan's text; the gate replaces it and the request job
// writes the same (the last table, from the ledger), so neither undoes the
// other.
const (
	approvalStart = "<!-- rdsbot:approval -->"
	approvalEnd   = "<!-- /rdsbot:approval -->"
)

// withApproval returns body with its approval section set to table (none
// when table is empty). withApproval(withApproval(b, x), y) ==
// withApproval(b, y).
func withApproval(body, table string) string {
	if i := strings.Index(body, "\n"+approvalStart); i >= 0 {
		if j := strings.Index(body[i:], approvalEnd); j >= 0 {
			body = body[:i] + body[i+j+len(approvalEnd):]
		}
	}
	body = strings.TrimRight(body, "\n") + "\n"
	if table == "" {
		return body
	}
	return body + "\n" + approvalStart + "\n" + strings.TrimRight(table, "\n") + "\n" + approvalEnd + "\n"
}

// approvalOf is the last approval the gate recorded for a pull request.
func (b *Bot) approvalOf(ctx context.Context, repo string, pull int) (ledger.Approval, bool, error) {
	return b.ledger.Approval(ctx, repo, pull)
}

func containsFold(list []string, s string) bool {
	return s != "" && slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
