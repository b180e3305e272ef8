package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/policy"
)

// Decommission intake: `/rds decommission [reason]` on the request issue of
// an active database (closed by then) opens one decommission pull request
// through Propose, recorded in the ledger as the App's pull request for that
// issue, so the gate, the merge check and the rollout treat it as the
// request's. The comment handler has authorised the commenter (the
// requester or a command team) before this runs.

// decommissionSuffix ends the branch of a database's decommission pull
// request (gitops.PlanDecommission names it so).
const decommissionSuffix = "-decommission"

// maxReason bounds the reason text written into the pull request.
const maxReason = 300

// decommissionBranch is the branch of a database's decommission.
func decommissionBranch(cfg *config.Config, env, db string) string {
	return cfg.BranchFor(env, db) + decommissionSuffix
}

// refusal is a decommission the rules do not allow; its text is the reply.
type refusal struct{ text string }

func (r *refusal) Error() string { return r.text }

func refuse(format string, args ...any) error { return &refusal{text: fmt.Sprintf(format, args...)} }

// commandRest is the text after the verb on the first `/rds` line of a
// comment (the reason of a decommission), trimmed.
func commandRest(body string) string {
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "/rds" {
			continue
		}
		if len(fields) < 3 {
			return ""
		}
		_, rest, _ := strings.Cut(line, fields[0])
		_, rest, _ = strings.Cut(rest, fields[1])
		return strings.TrimSpace(rest)
	}
	return ""
}

// decommission handles `/rds decommission` on request n by who, and returns
// the reply: the pull request opened or joined, or the rule that refuses it.
func (b *Bot) decommission(ctx context.Context, c *forge.Client, repo string, n int, who, reason string) (string, error) {
	text, err := b.openDecommission(ctx, c, repo, n, who, reason)
	var r *refusal
	if errors.As(err, &r) {
		b.log.InfoContext(ctx, "decommission refused", "repository", repo, "issue", n, "user", who, "reason", r.text)
		return fmt.Sprintf("%s was not decommissioned: %s", contract.RequestID(n), r.text), nil
	}
	return text, err
}

func (b *Bot) openDecommission(ctx context.Context, c *forge.Client, repo string, n int, who, reason string) (string, error) {
	id := contract.RequestID(n)
	rc, err := b.loadRepo(ctx, c, repo, 0)
	if err != nil {
		return "", err
	}
	cfg := rc.config()
	req, _, err := b.requestOf(ctx, rc, repo, n, c.BotLogin())
	if err != nil {
		return "", err
	}
	if req == nil {
		return "", refuse("only a merged request's database can be decommissioned, and %s is not a valid request.", id)
	}
	env, db := req.Environment, req.DatabaseName
	pulls, err := b.ownPulls(ctx, c, repo, n)
	if err != nil {
		return "", err
	}
	createBranch, branch := cfg.BranchFor(env, db), decommissionBranch(cfg, env, db)
	var created, existing *forge.PullRequest
	for _, pr := range pulls {
		switch {
		case pr.Head == createBranch && pr.Merged:
			created = pr
		case pr.Head == branch:
			existing = pr
		}
	}
	if created == nil {
		return "", refuse("only a merged request's database can be decommissioned, and %s was not merged (close this issue to withdraw it).", id)
	}
	if existing != nil && existing.Merged {
		return "", refuse("%s in %s was already decommissioned by #%d.", md.Code(db), md.Code(env), existing.Number)
	}
	// Whoever asks for the removal is one of its requesters: they may not
	// approve it (separation of duties), whatever team they are in.
	if err := b.ledger.RecordAsker(ctx, repo, n, who); err != nil {
		return "", err
	}
	if existing != nil && existing.State == "open" {
		// A second command joins the open pull request.
		return fmt.Sprintf("the decommission of %s in %s is already open in #%d; it waits for its approvals.", md.Code(db), md.Code(env), existing.Number), nil
	}
	if err := b.activeOnBase(ctx, c, rc, env, db, id); err != nil {
		return "", err
	}
	at, err := b.decommissionTime(ctx, c, rc, env, db)
	if err != nil {
		return "", err
	}
	issue, err := c.GetIssue(ctx, repo, n)
	if err != nil {
		return "", err
	}
	reason = md.Text(md.Truncate(reason, maxReason))
	res, err := c.Propose(ctx, forge.Proposal{
		Repo: repo, Base: created.Base, Managed: managedLabels(rc), KeepCurrent: true,
		Plan: func(ctx context.Context, snap fs.FS, baseSHA string) (*gitops.Plan, error) {
			p, err := gitops.New(snap)
			if err != nil {
				return nil, err
			}
			// The base may have moved since the check above.
			if err := activeIn(snap, p.Config, env, db, id); err != nil {
				return nil, err
			}
			plan, err := p.PlanDecommission(snap, gitops.Decommission{Environment: env, Database: db, RequestID: id,
				Requester: who, Reason: reason}, at)
			if err != nil {
				return nil, refuse("it cannot be planned: %s", md.Text(err.Error()))
			}
			plan.Body = withApproval(plan.Body+"\n---\n"+RequestLink(issue.Number)+"\n", "")
			return plan, nil
		},
	})
	if res != nil && res.PR != nil {
		if err := b.ledger.RecordPull(ctx, repo, res.PR.Number, n, res.PR.Head); err != nil {
			return "", err
		}
	}
	var r *refusal
	switch {
	case errors.As(err, &r):
		return "", r
	case errors.Is(err, forge.ErrBranchNotOurs):
		return "", b.otherDecommission(ctx, c, repo, branch)
	case err != nil:
		return "", err
	}
	if res.PR == nil {
		return "", refuse("the base branch already holds the removal of %s in %s.", md.Code(db), md.Code(env))
	}
	if res.PR.State == "closed" {
		// Closed without merging: asking again reopens it.
		if err := c.ReopenPull(ctx, repo, res.PR.Number); err != nil {
			return "", err
		}
	}
	if err := b.enqueueGate(ctx, repo, res.PR.Number, "/rds decommission by "+who); err != nil {
		return "", err
	}
	if err := b.enqueue(ctx, repo, n, "/rds decommission by "+who); err != nil {
		return "", err
	}
	b.log.InfoContext(ctx, "decommission proposed", "repository", repo, "issue", n, "pull", res.PR.Number, "env", env, "database", db, "by", who)
	return fmt.Sprintf("opened #%d to decommission %s in %s. It is a break-glass change: it needs the approvals listed in its body, and the %s label. "+
		"Once it is merged, rdsbot removes the database from Terraform, disables its role (NOLOGIN) and revokes CONNECT; nothing is dropped.",
		res.PR.Number, md.Code(db), md.Code(env), md.Code(cfg.Labels.AllowDelete)), nil
}

// otherDecommission is the refusal when the decommission branch is not
// rdsbot's: someone opened another decommission from it, or pushed to it.
func (b *Bot) otherDecommission(ctx context.Context, c *forge.Client, repo, branch string) error {
	open, err := c.ListPulls(ctx, repo, forge.PullFilter{State: "open", Head: branch})
	if err != nil {
		return err
	}
	if len(open) > 0 {
		return refuse("one decommission per database at a time, and #%d (not opened by rdsbot for this request) is open on %s.", open[0].Number, md.Code(branch))
	}
	return refuse("one decommission per database at a time, and branch %s holds changes rdsbot did not make; delete it, then comment `/rds decommission` again.", md.Code(branch))
}

// activeOnBase refuses unless the database's catalog entry on the base
// branch is active and belongs to request id.
func (b *Bot) activeOnBase(ctx context.Context, c *forge.Client, rc *repoContext, env, db, id string) error {
	f, _, err := b.readCatalog(ctx, c, rc, env, "")
	if err != nil {
		return err
	}
	return activeEntry(f, env, db, id)
}

// activeIn is activeOnBase on a snapshot.
func activeIn(snap fs.FS, cfg *config.Config, env, db, id string) error {
	f, err := parseCatalog(snap, cfg, env)
	if err != nil {
		return err
	}
	return activeEntry(f, env, db, id)
}

func activeEntry(f *catalog.File, env, db, id string) error {
	e, ok := f.Get(db, env)
	switch {
	case !ok:
		return refuse("only an active database can be decommissioned, and the catalog has no %s in %s.", md.Code(db), md.Code(env))
	case e.Metadata.RequestID != "" && e.Metadata.RequestID != id:
		return refuse("%s in %s belongs to %s in the catalog; decommission it from that request.", md.Code(db), md.Code(env), md.Text(e.Metadata.RequestID))
	case e.Metadata.Status != lifecycle.Active:
		return refuse("only an active database can be decommissioned, and %s in %s is %s in the catalog.", md.Code(db), md.Code(env), md.Code(string(e.Metadata.Status)))
	}
	return nil
}

// decommissionTime is the time the catalog records for the move to
// decommissioning: the one already on the decommission branch when rdsbot
// wrote it before (a retried command re-plans the same bytes), else now.
func (b *Bot) decommissionTime(ctx context.Context, c *forge.Client, rc *repoContext, env, db string) (time.Time, error) {
	now := b.now().UTC().Truncate(time.Second)
	branch := decommissionBranch(rc.config(), env, db)
	if _, err := c.ResolveRef(ctx, rc.repo, branch); forge.IsNotFound(err) {
		return now, nil
	} else if err != nil {
		return time.Time{}, err
	}
	f, _, err := b.readCatalog(ctx, c, rc, env, branch)
	if err != nil {
		return now, nil // not a branch rdsbot can read: Propose says whose it is
	}
	e, ok := f.Get(db, env)
	if !ok || e.Metadata.Status != lifecycle.Decommissioning {
		return now, nil
	}
	for i := len(e.Metadata.History) - 1; i >= 0; i-- {
		if h := e.Metadata.History[i]; h.Status == lifecycle.Decommissioning && !h.At.IsZero() {
			return h.At.UTC(), nil
		}
	}
	return now, nil
}

// decommissionNote tells a merged request's status that its decommission
// pull request is open.
func (j *requestJob) decommissionNote(pulls []*forge.PullRequest) {
	if j.view.Environment == "" || j.view.Database == "" {
		return
	}
	branch := decommissionBranch(j.cfg, j.view.Environment, j.view.Database)
	for _, pr := range pulls {
		if pr.Head == branch && pr.State == "open" {
			j.view.Notes = append(j.view.Notes, fmt.Sprintf(
				"A decommission of this database is open in #%d; it waits for its approvals (a break-glass change).", pr.Number))
		}
	}
}

// allowDestroy are the addresses the apply may destroy although they are
// protected: the secrets of the databases the rollout decommissions, each
// only when its decommission pull request was opened by rdsbot for that
// database, proceeded at the merge-time check, and the decommission policy
// approves what it merged. Never the instance (apply.NeverDestroyed).
func (r *rollout) allowDestroy(ctx context.Context, names []string) ([]string, error) {
	f, _, err := r.b.readCatalog(ctx, r.c, r.rc, r.env, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		e, ok := f.Get(n, r.env)
		if !ok || e.Metadata.Status != lifecycle.Decommissioning {
			continue
		}
		issue, err := r.issueOf(ctx, e.Metadata.PRNumber, e.Metadata.RequestID)
		if err != nil {
			return nil, err
		}
		if issue <= 0 {
			continue
		}
		ok, err = r.b.decommissionApproved(ctx, r.c, r.rc, r.repo, issue, r.env, n)
		if err != nil {
			return nil, err
		}
		if !ok {
			r.b.log.InfoContext(ctx, "decommission without its approvals: its secret stays protected", "repository", r.repo, "env", r.env, "database", n)
			continue
		}
		out = append(out, secretAddresses(r.rc.config(), n)...)
	}
	return out, nil
}

// decommissionApproved reports whether request issue's decommission of db
// in env merged with the decommission approvals: rdsbot's pull request on
// the database's decommission branch, merged, whose merge-time check
// proceeded (not merely in warn mode), and on whose merged content the
// decommission policy proceeds now.
func (b *Bot) decommissionApproved(ctx context.Context, c *forge.Client, rc *repoContext, repo string, issue int, env, db string) (bool, error) {
	pulls, err := b.ownPulls(ctx, c, repo, issue)
	if err != nil {
		return false, err
	}
	branch := decommissionBranch(rc.config(), env, db)
	var pr *forge.PullRequest
	for _, p := range pulls {
		if p.Head == branch && p.Merged && p.MergeCommitSHA != "" {
			pr = p
		}
	}
	if pr == nil {
		return false, nil
	}
	m, ok, err := b.ledger.MergeCheckOf(ctx, repo, pr.Number)
	if err != nil || !ok || !m.Proceed || m.Warned {
		return false, err
	}
	rng, err := b.mergedRange(ctx, c, repo, pr)
	if err != nil || rng.base == "" {
		return false, err
	}
	g, err := b.evaluate(ctx, c, rc, repo, pr, evalTarget{compareBase: rng.base, head: pr.MergeCommitSHA, checksOn: pr.MergeCommitSHA})
	if err != nil {
		return false, err
	}
	for _, e := range g.evals {
		if e.env == env && e.kind == policy.KindDecommission {
			d := e.res.Merge()
			return d.Proceed && !d.Warned, nil
		}
	}
	return false, nil // the decommission label is gone: its policy was not asked
}

// resumeDecommissions moves the failed entries that were being
// decommissioned back to decommissioning before a retried rollout, so the
// retry disables them again instead of provisioning them as new.
func (r *rollout) resumeDecommissions(ctx context.Context, names []string) error {
	f, _, err := r.b.readCatalog(ctx, r.c, r.rc, r.env, "")
	if err != nil {
		return err
	}
	var resume []string
	for _, n := range names {
		if e, ok := f.Get(n, r.env); ok && e.Metadata.Status == lifecycle.Failed && wasDecommissioning(e) {
			resume = append(resume, n)
		}
	}
	if len(resume) == 0 {
		return nil
	}
	return r.transition(ctx, resume, []transition{{from: []lifecycle.State{lifecycle.Failed}, to: lifecycle.Decommissioning,
		reason: lifecycle.DecommissionStarted, note: "retried"}}, r.b.now(), nil)
}

// wasDecommissioning reports whether a failed entry failed while it was
// being decommissioned: its last status before failing.
func wasDecommissioning(e catalog.Entry) bool {
	h := e.Metadata.History
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Status != lifecycle.Failed {
			return h[i].Status == lifecycle.Decommissioning
		}
	}
	return false
}

// planAllowDestroy are the addresses the plan of a pull request may destroy
// although they are protected: on rdsbot's own decommission pull request of
// request issue (the plan job has checked that it is), the secrets of its
// database in env, so the rdsbot/plan check shows their deletion as
// expected. The approvals are the gate's, and the apply checks them again.
func (b *Bot) planAllowDestroy(ctx context.Context, c *forge.Client, rc *repoContext, repo string, issue int, pr *forge.PullRequest, env string) ([]string, error) {
	if issue <= 0 || !strings.HasSuffix(pr.Head, decommissionSuffix) {
		return nil, nil
	}
	req, _, err := b.requestOf(ctx, rc, repo, issue, c.BotLogin())
	if err != nil || req == nil || req.Environment != env || pr.Head != decommissionBranch(rc.config(), env, req.DatabaseName) {
		return nil, err
	}
	return secretAddresses(rc.config(), req.DatabaseName), nil
}

// secretAddresses are the addresses a decommission of db may destroy
// (apply.plan.decommission_destroys; db's name is a plain identifier).
func secretAddresses(cfg *config.Config, db string) []string {
	out := make([]string, 0, len(cfg.Apply.Plan.DecommissionDestroys))
	for _, a := range cfg.Apply.Plan.DecommissionDestroys {
		out = append(out, strings.ReplaceAll(a, "{db}", db))
	}
	return out
}
