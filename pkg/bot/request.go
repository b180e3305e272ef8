package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/md"
)

// invalidError carries the problems of a request that cannot be planned.
type invalidError struct{ problems contract.Problems }

func (e *invalidError) Error() string { return e.problems.Err().Error() }

// HandleRequest brings one request to where the facts say it should be, and
// makes its status comment say so. It re-derives everything from GitHub and
// the ledger each time, so running it again with nothing changed writes
// nothing, and it may run after any event (or none: the reconcile).
func (b *Bot) HandleRequest(ctx context.Context, r RequestArgs) error {
	if pull, ok, err := parseGateKey(r.Key); ok || err != nil {
		if err != nil {
			return jobs.Permanent(err)
		}
		return b.handleGate(ctx, r, pull)
	}
	n, err := parseKey(r.Key)
	if err != nil {
		return jobs.Permanent(err)
	}
	log := b.log.With("repository", r.Repo, "issue", n, "reason", r.Reason)
	c, err := b.client(ctx, nil, r.Repo)
	if err != nil {
		return err
	}
	issue, err := c.GetIssue(ctx, r.Repo, n)
	if forge.IsNotFound(err) {
		log.InfoContext(ctx, "request issue is gone")
		return b.ledger.Release(ctx, r.Repo, n, ledger.Name{})
	}
	if err != nil || issue.IsPR {
		return err
	}
	rc, err := b.loadRepo(ctx, c, r.Repo, 0)
	if err != nil {
		return err
	}
	f, ok, err := b.facts(ctx, c, r.Repo, issue, rc.config())
	if err != nil || !ok {
		return err
	}
	j := &requestJob{b: b, c: c, rc: rc, cfg: rc.config(), repo: r.Repo, issue: issue, f: f, reason: r.Reason, log: log,
		view: View{RequestID: contract.RequestID(n), Requester: f.requester()}}
	return j.run(ctx)
}

// requestJob is one run of a request's work.
type requestJob struct {
	b      *Bot
	c      *forge.Client
	rc     *repoContext
	cfg    *config.Config
	repo   string
	issue  *forge.Issue
	f      *requestFacts
	reason string
	log    *slog.Logger
	view   View
}

func (j *requestJob) run(ctx context.Context) error {
	b, n := j.b, j.issue.Number
	if j.f.textDiffers {
		j.view.Notes = append(j.view.Notes, fmt.Sprintf(
			"The issue text differs from the request rdsbot uses, which %s last wrote: edits by anyone but the requester and the teams allowed to change requests are not applied.",
			loginText(j.f.text.Editor)))
	}
	raw, probs := j.raw()
	req, vprobs := contract.Validate(j.rc.planner.Schema, raw)
	probs = append(probs, vprobs...)

	pulls, err := b.ownPulls(ctx, j.c, j.repo, n)
	if err != nil {
		return err
	}
	if merged := mergedOf(pulls); merged != nil {
		// From merge on, the request's status is the catalog's (apply and
		// provisioning write it); a merged request's name is the catalog's
		// too, so the claim is released.
		if err := b.ledger.Release(ctx, j.repo, n, ledger.Name{}); err != nil {
			return err
		}
		j.view.PR = prRef(merged)
		if req != nil {
			j.view.Environment, j.view.Database = req.Environment, req.DatabaseName
		}
		j.view.Status = lifecycle.For(lifecycle.Merged, fmt.Sprintf("Pull request #%d was merged.", merged.Number))
		if err := j.mergeStatus(ctx, merged.Number); err != nil {
			return err
		}
		return j.afterMerge(ctx, merged)
	}
	if j.issue.State == "closed" {
		return j.withdraw(ctx, pulls)
	}
	if probs.Err() != nil {
		return j.invalid(ctx, probs)
	}
	req = req.WithID(j.view.RequestID)
	j.view.Environment, j.view.Database, j.view.Approval = req.Environment, req.DatabaseName, &req.Approval
	j.view.Problems = probs

	// One request owns its name until it is withdrawn, merged or
	// decommissioned.
	if holder, err := j.claim(ctx, req.Environment, req.DatabaseName); err != nil {
		return err
	} else if holder != n {
		j.view.Status = lifecycle.For(lifecycle.NameTaken, fmt.Sprintf(
			"%s in %s is already requested by #%d, which holds the name until it is withdrawn, merged or decommissioned.",
			md.Code(req.DatabaseName), md.Code(req.Environment), holder))
		j.view.Status.Action = "Choose another database name (edit this issue), or close this issue."
		return j.publish(ctx)
	}
	branch := j.cfg.BranchFor(req.Environment, req.DatabaseName)
	if err := j.closeSuperseded(ctx, pulls, branch); err != nil {
		return err
	}
	base, err := j.cfg.BaseFor(req.BaseBranch)
	if err != nil {
		return j.invalid(ctx, contract.Problems{{Field: "baseBranch", Value: req.BaseBranch, Message: err.Error(), Severity: contract.Error}})
	}
	table, err := j.approvalTable(ctx, pulls, branch)
	if err != nil {
		return err
	}
	res, err := j.c.Propose(ctx, forge.Proposal{
		Repo: j.repo, Base: base, Managed: managedLabels(j.rc), KeepCurrent: true,
		Plan: func(ctx context.Context, snap fs.FS, baseSHA string) (*gitops.Plan, error) {
			return planAt(snap, raw, j.view.RequestID, j.issue, table)
		},
	})
	if res != nil && res.PR != nil {
		if err := b.ledger.RecordPull(ctx, j.repo, res.PR.Number, n, res.PR.Head); err != nil {
			return err
		}
		if res.Changed() {
			if err := b.enqueueGate(ctx, j.repo, res.PR.Number, "request job changed it"); err != nil {
				return err
			}
		}
	}
	var inv *invalidError
	switch {
	case errors.As(err, &inv):
		return j.invalid(ctx, inv.problems)
	case errors.Is(err, forge.ErrBranchNotOurs):
		return j.blocked(ctx, pulls, branch, err)
	case err != nil:
		return err
	}
	if slices.Contains(j.issue.Labels, j.cfg.Labels.Invalid) {
		if err := j.c.RemoveLabel(ctx, j.repo, n, j.cfg.Labels.Invalid); err != nil {
			return err
		}
	}
	if res.PR == nil {
		// The base already holds the request and no pull request carries
		// it: it was merged through another change.
		j.view.Status = lifecycle.For(lifecycle.AlreadyOnBase, "The base branch already holds this request, and no pull request of rdsbot carries it.")
		return j.publish(ctx)
	}
	j.view.PR = prRef(res.PR)
	for _, ch := range res.Plan.Changes {
		j.view.Files = append(j.view.Files, ch.Path)
	}
	if res.PR.State == "closed" {
		return j.pullClosed(ctx, res.PR)
	}
	if res.Changed() {
		j.log.InfoContext(ctx, "request pull request up to date", "pull", res.PR.Number, "commit", res.Commit,
			"created", res.PRCreated, "attempts", res.Attempts)
	}
	j.view.Status = lifecycle.For(lifecycle.WaitingForApproval, "")
	if req.Approval.SelfServe() {
		j.view.Status = lifecycle.For(lifecycle.ReadyToMerge, "Nobody needs to approve this request: it is ready to merge.")
	}
	if err := j.gateStatus(ctx, res.PR.Number); err != nil {
		return err
	}
	return j.publish(ctx)
}

// raw reads the accepted request text with the trusted requester and source.
func (j *requestJob) raw() (contract.Raw, contract.Problems) {
	return RawFromText(j.rc.planner.Schema.Request, j.f.text.Body, j.f.requester(), contract.Source(j.f.origin.Source))
}

// claim takes the request's name, or names the request that holds it. A
// holder whose issue was closed without its request merging has withdrawn,
// and the name passes on.
func (j *requestJob) claim(ctx context.Context, env, name string) (int, error) {
	b, n := j.b, j.issue.Number
	holder, err := b.ledger.Claim(ctx, j.repo, env, name, n)
	if err != nil || holder == n {
		if err == nil {
			err = b.ledger.Release(ctx, j.repo, n, ledger.Name{Env: env, Name: name})
		}
		return n, err
	}
	other, err := j.c.GetIssue(ctx, j.repo, holder)
	if err != nil && !forge.IsNotFound(err) {
		return 0, err
	}
	if err == nil && other.State == "open" {
		return holder, nil
	}
	if merged, err := b.mergedPull(ctx, j.c, j.repo, holder); err != nil || merged != nil {
		// A merged holder's name is in the catalog now: the planner refuses
		// it against the base, with the catalog's words.
		if err == nil {
			if _, err = b.ledger.Transfer(ctx, j.repo, env, name, holder, n); err == nil {
				err = b.ledger.Release(ctx, j.repo, n, ledger.Name{Env: env, Name: name})
			}
		}
		return n, err
	}
	if _, err := b.ledger.Transfer(ctx, j.repo, env, name, holder, n); err != nil {
		return 0, err
	}
	return b.ledger.Claim(ctx, j.repo, env, name, n)
}

// closeSuperseded closes the request's own pull requests on other branches:
// the request changed its environment or database name.
func (j *requestJob) closeSuperseded(ctx context.Context, pulls []*forge.PullRequest, branch string) error {
	for _, pr := range pulls {
		if pr.State != "open" || pr.Head == branch {
			continue
		}
		if _, _, err := j.c.UpsertComment(ctx, j.repo, pr.Number, forge.Marker("superseded"), fmt.Sprintf(
			"%s now asks for another database or environment; rdsbot closed this pull request and opened its replacement on %s.",
			j.view.RequestID, md.Code(branch))); err != nil {
			return err
		}
		if err := j.c.ClosePull(ctx, j.repo, pr.Number); err != nil {
			return err
		}
	}
	return nil
}

// withdraw closes the request's open pull requests: its issue was closed.
func (j *requestJob) withdraw(ctx context.Context, pulls []*forge.PullRequest) error {
	b, n := j.b, j.issue.Number
	for _, pr := range pulls {
		j.view.PR = prRef(pr)
		if pr.State != "open" {
			continue
		}
		if _, err := b.ledger.Once(ctx, "closed-by-rdsbot", pullKey(j.repo, pr.Number)); err != nil {
			return err
		}
		if err := j.c.ClosePull(ctx, j.repo, pr.Number); err != nil {
			return err
		}
	}
	if err := b.ledger.Release(ctx, j.repo, n, ledger.Name{}); err != nil {
		return err
	}
	j.view.Status = lifecycle.For(lifecycle.IssueClosed, "The request issue was closed, so its pull request was closed too.")
	j.view.Status.Action = "Reopen this issue to pick the request up again."
	return j.publish(ctx)
}

// pullClosed handles a request whose pull request is closed and not merged:
// reopened when rdsbot closed it (the issue was closed, and is open again)
// or when the requester asked with /rds retry; otherwise someone closed it
// on purpose and the status says so.
func (j *requestJob) pullClosed(ctx context.Context, pr *forge.PullRequest) error {
	b := j.b
	byBot, err := b.ledger.Count(ctx, "closed-by-rdsbot", pullKey(j.repo, pr.Number))
	if err != nil {
		return err
	}
	if byBot > 0 || strings.HasPrefix(j.reason, reasonRetry) {
		if err := j.c.ReopenPull(ctx, j.repo, pr.Number); err != nil {
			return err
		}
		if err := b.ledger.Forget(ctx, "closed-by-rdsbot", pullKey(j.repo, pr.Number)); err != nil {
			return err
		}
		j.view.PR.Closed = false
		j.view.Status = lifecycle.For(lifecycle.WaitingForApproval, fmt.Sprintf("Pull request #%d was reopened.", pr.Number))
		if j.view.Approval != nil && j.view.Approval.SelfServe() {
			j.view.Status = lifecycle.For(lifecycle.ReadyToMerge, fmt.Sprintf("Pull request #%d was reopened; nobody needs to approve it.", pr.Number))
		}
		if err := j.gateStatus(ctx, pr.Number); err != nil {
			return err
		}
		return j.publish(ctx)
	}
	closer, err := j.c.ClosedBy(ctx, j.repo, pr.Number)
	if err != nil {
		return err
	}
	who := "someone"
	if closer != "" {
		who = "@" + closer
	}
	j.view.Status = lifecycle.For(lifecycle.PullClosed, fmt.Sprintf("%s closed pull request #%d without merging it.", who, pr.Number))
	j.view.Status.Action = "Comment `/rds retry` to reopen it, or close this issue to withdraw the request."
	return j.publish(ctx)
}

// blocked reports a request branch rdsbot will not write to: someone else
// created it (or opened a pull request from it), or pushed commits rdsbot
// did not make. Commit author names are claims anyone can forge, so the
// status names what changed, never who.
func (j *requestJob) blocked(ctx context.Context, pulls []*forge.PullRequest, branch string, err error) error {
	for _, pr := range pulls {
		if pr.Head == branch && pr.State == "open" {
			j.view.PR = prRef(pr)
		}
	}
	var squat *forge.SquattedBranchError
	if errors.As(err, &squat) {
		what := fmt.Sprintf("Branch %s exists and was not made by rdsbot", md.Code(branch))
		if squat.PR != 0 {
			what = fmt.Sprintf("Pull request #%d from branch %s was not opened by rdsbot", squat.PR, md.Code(branch))
		}
		j.view.Status = lifecycle.For(lifecycle.BranchTaken, what+", so rdsbot will not use it.")
		j.view.Status.Action = "Delete that branch (or close that pull request), then comment `/rds retry`."
		return j.publish(ctx)
	}
	msg := fmt.Sprintf("Commits rdsbot did not make were pushed to %s, so its pull request no longer holds only what this request asks for; rdsbot stopped updating it and its approvals do not count.", md.Code(branch))
	var foreign *forge.ForeignChangeError
	if errors.As(err, &foreign) && len(foreign.Files) > 0 {
		files := make([]string, 0, len(foreign.Files))
		for _, f := range foreign.Files {
			files = append(files, md.Code(f))
		}
		msg += " Files changed beyond the request: " + strings.Join(files, ", ")
		if foreign.MoreFiles > 0 {
			msg += fmt.Sprintf(" and %d more", foreign.MoreFiles)
		}
		msg += "."
	}
	j.view.Status = lifecycle.For(lifecycle.ForeignChange, msg)
	j.view.Status.Action = "Remove those commits from the branch (or close the pull request), then comment `/rds retry`."
	return j.publish(ctx)
}

func (j *requestJob) invalid(ctx context.Context, probs contract.Problems) error {
	j.view.Status = lifecycle.For(lifecycle.Invalid, "")
	j.view.Problems = probs
	if !slices.Contains(j.issue.Labels, j.cfg.Labels.Invalid) {
		if _, err := j.c.AddLabels(ctx, j.repo, j.issue.Number, j.cfg.Labels.Invalid); err != nil {
			return err
		}
	}
	return j.publish(ctx)
}

func (j *requestJob) publish(ctx context.Context) error {
	_, _, err := j.c.UpsertComment(ctx, j.repo, j.issue.Number, StatusMarker, RenderStatus(j.view))
	return err
}

// planAt plans a request on a snapshot of its base: the schemas and the
// configuration at that commit decide, so a plan never mixes versions.
func planAt(snap fs.FS, raw contract.Raw, id string, is *forge.Issue, table string) (*gitops.Plan, error) {
	p, err := gitops.New(snap)
	if err != nil {
		return nil, err
	}
	req, probs := contract.Validate(p.Schema, raw)
	if probs.Err() != nil {
		return nil, &invalidError{problems: probs}
	}
	// The catalog records the day the request was opened, so re-planning on
	// a later day gives the same bytes.
	plan, err := p.PlanRequest(snap, req.WithID(id), is.CreatedAt.UTC())
	if err != nil {
		return nil, &invalidError{problems: contract.Problems{{Message: "cannot be planned: " + err.Error(), Severity: contract.Error}}}
	}
	plan.Body = withApproval(plan.Body+"\n---\n"+RequestLink(is.Number)+"\n", table)
	return plan, nil
}

// RequestLink is the line of a pull request body naming its request issue,
// for people. rdsbot never reads it back: it knows its pull requests from
// the ledger.
func RequestLink(issue int) string { return fmt.Sprintf("Request: #%d", issue) }

// managedLabels are the labels the bot sets from the request and may take
// away again when the request changes.
func managedLabels(rc *repoContext) func(string) bool {
	envs := rc.planner.Schema.Request.Fields["environment"].Enum
	return func(l string) bool {
		return strings.HasPrefix(l, "size:") || strings.HasSuffix(l, "-risk") || slices.Contains(envs, l)
	}
}

// ownPulls are the pull requests the App opened for request n, as GitHub
// shows them now. One whose author or branch is no longer what the ledger
// recorded is not the request's.
func (b *Bot) ownPulls(ctx context.Context, c *forge.Client, repo string, n int) ([]*forge.PullRequest, error) {
	numbers, err := b.ledger.Pulls(ctx, repo, n)
	if err != nil {
		return nil, err
	}
	var out []*forge.PullRequest
	for _, num := range numbers {
		pr, err := c.GetPull(ctx, repo, num)
		if forge.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		_, branch, _, err := b.ledger.PullIssue(ctx, repo, num)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(pr.User, c.BotLogin()) && pr.Head == branch {
			out = append(out, pr)
		}
	}
	return out, nil
}

// mergedPull returns the request's merged pull request, if any.
func (b *Bot) mergedPull(ctx context.Context, c *forge.Client, repo string, n int) (*forge.PullRequest, error) {
	pulls, err := b.ownPulls(ctx, c, repo, n)
	if err != nil {
		return nil, err
	}
	return mergedOf(pulls), nil
}

func mergedOf(pulls []*forge.PullRequest) *forge.PullRequest {
	for _, pr := range pulls {
		if pr.Merged {
			return pr
		}
	}
	return nil
}

func pullKey(repo string, pr int) string { return fmt.Sprintf("%s#%d", strings.ToLower(repo), pr) }

func prRef(pr *forge.PullRequest) *PRRef {
	return &PRRef{Number: pr.Number, URL: pr.URL, Branch: pr.Head, Base: pr.Base, Closed: pr.State == "closed" && !pr.Merged}
}
