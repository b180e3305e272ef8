package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/jobs"
)

// invalidError carries the problems of a request that cannot be planned.
type invalidError struct{ problems contract.Problems }

func (e *invalidError) Error() string { return e.problems.Err().Error() }

// HandleRequest brings one request to where its issue says it should be:
// invalid (one comment listing every problem), or one pull request holding
// exactly its change set on the current base, with the status comment
// telling the requester where things stand. Running it again with nothing
// changed writes nothing.
func (b *Bot) HandleRequest(ctx context.Context, r RequestArgs) error {
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
		return nil
	}
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, r.Repo)
	if err != nil {
		return err
	}
	cfg := rc.planner.Config
	if issue.IsPR || !slices.Contains(issue.Labels, cfg.Labels.Request) {
		return nil
	}
	st := Status{RequestID: contract.RequestID(n)}

	raw, probs := RawFromIssue(rc.planner.Schema.Request, issue.Body, issue.User, c.BotLogin())
	req, vprobs := contract.Validate(rc.planner.Schema, raw)
	probs = append(probs, vprobs...)
	if probs.Err() != nil {
		if issue.State == "closed" {
			return nil
		}
		return b.markInvalid(ctx, c, r.Repo, issue, cfg, st, probs)
	}
	req = req.WithID(st.RequestID)
	st.Environment, st.Database, st.Approval = req.Environment, req.DatabaseName, &req.Approval
	branch := cfg.BranchFor(req.Environment, req.DatabaseName)

	existing, err := c.ListPulls(ctx, r.Repo, forge.PullFilter{State: "all", Head: branch})
	if err != nil {
		return err
	}
	var merged *forge.PullRequest
	for _, pr := range existing {
		if pr.Merged {
			if other, ok := RequestIssueOf(pr.Body); ok && other == n {
				merged = pr
			}
		}
	}
	switch {
	case merged != nil:
		st.Phase, st.PR = PhaseMerged, prRef(merged)
		return b.publishStatus(ctx, c, r.Repo, n, cfg, st)
	case issue.State == "closed":
		return b.withdraw(ctx, c, r.Repo, n, cfg, st, existing)
	}

	base, err := cfg.BaseFor(req.BaseBranch)
	if err != nil {
		return b.markInvalid(ctx, c, r.Repo, issue, cfg, st, contract.Problems{{Field: "baseBranch", Value: req.BaseBranch, Message: err.Error(), Severity: contract.Error}})
	}
	res, err := c.Propose(ctx, forge.Proposal{
		Repo: r.Repo, Base: base, Managed: managedLabels(rc), KeepCurrent: true,
		Plan: func(ctx context.Context, snap fs.FS, baseSHA string) (*gitops.Plan, error) {
			return planAt(snap, raw, st.RequestID, n, issue)
		},
	})
	var inv *invalidError
	var notOurs *forge.BranchNotOursError
	switch {
	case errors.As(err, &inv):
		return b.markInvalid(ctx, c, r.Repo, issue, cfg, st, inv.problems)
	case errors.As(err, &notOurs):
		st.Phase, st.Reached = PhaseBlocked, PhasePROpen
		st.Detail = fmt.Sprintf("@%s pushed to `%s`, so rdsbot no longer updates it. Remove their commit (or close the pull request) and comment `/rds retry`.", notOurs.Author, notOurs.Branch)
		if prs := openPulls(existing); len(prs) > 0 {
			st.PR = prRef(prs[0])
		}
		return b.publishStatus(ctx, c, r.Repo, n, cfg, st)
	case err != nil:
		return err
	}
	if slices.Contains(issue.Labels, cfg.Labels.Invalid) {
		if err := c.RemoveLabel(ctx, r.Repo, n, cfg.Labels.Invalid); err != nil {
			return err
		}
	}
	st.Problems = probs
	if res.PR == nil {
		// The base already holds the request and no pull request carries it:
		// it was merged through another change.
		st.Phase, st.Reached = PhaseMerged, PhaseMerged
		st.Detail = "The base branch already holds this request."
		return b.publishStatus(ctx, c, r.Repo, n, cfg, st)
	}
	st.Phase, st.PR = PhasePROpen, prRef(res.PR)
	if req.Approval.SelfServe() {
		st.Phase = PhaseApproved // nobody needs to approve: ready to merge
	}
	for _, ch := range res.Plan.Changes {
		st.Files = append(st.Files, ch.Path)
	}
	if res.Changed() {
		log.InfoContext(ctx, "request pull request up to date", "pull", res.PR.Number, "commit", res.Commit,
			"created", res.PRCreated, "attempts", res.Attempts)
	}
	return b.publishStatus(ctx, c, r.Repo, n, cfg, st)
}

// planAt plans a request on a snapshot of its base: the schemas and the
// configuration at that commit decide, so a plan never mixes versions.
func planAt(snap fs.FS, raw contract.Raw, id string, issue int, is *forge.Issue) (*gitops.Plan, error) {
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
	plan.Body += "\n---\n" + RequestLink(issue) + "\n"
	return plan, nil
}

// managedLabels are the labels the bot sets from the request and may take
// away again when the request changes.
func managedLabels(rc *repoContext) func(string) bool {
	envs := rc.planner.Schema.Request.Fields["environment"].Enum
	return func(l string) bool {
		return strings.HasPrefix(l, "size:") || strings.HasSuffix(l, "-risk") || slices.Contains(envs, l)
	}
}

func prRef(pr *forge.PullRequest) *PRRef {
	return &PRRef{Number: pr.Number, URL: pr.URL, Branch: pr.Head, Base: pr.Base}
}

func openPulls(prs []*forge.PullRequest) []*forge.PullRequest {
	var out []*forge.PullRequest
	for _, pr := range prs {
		if pr.State == "open" {
			out = append(out, pr)
		}
	}
	return out
}

func (b *Bot) markInvalid(ctx context.Context, c *forge.Client, repo string, issue *forge.Issue, cfg *config.Config, st Status, probs contract.Problems) error {
	st.Phase, st.Problems = PhaseInvalid, probs
	n := issue.Number
	if !slices.Contains(issue.Labels, cfg.Labels.Invalid) {
		if _, err := c.AddLabels(ctx, repo, n, cfg.Labels.Invalid); err != nil {
			return err
		}
	}
	return b.publishStatus(ctx, c, repo, n, cfg, st)
}

// withdraw closes the open pull request of a request whose issue was closed.
func (b *Bot) withdraw(ctx context.Context, c *forge.Client, repo string, n int, cfg *config.Config, st Status, prs []*forge.PullRequest) error {
	owner, name, _ := strings.Cut(repo, "/")
	for _, pr := range openPulls(prs) {
		if other, ok := RequestIssueOf(pr.Body); !ok || other != n {
			continue
		}
		closed := "closed"
		if _, _, err := c.GitHub().PullRequests.Edit(ctx, owner, name, pr.Number, &github.PullRequest{State: &closed}); err != nil {
			return fmt.Errorf("close pull request #%d: %w", pr.Number, err)
		}
		st.PR = prRef(pr)
	}
	st.Phase, st.Detail = PhaseClosed, "The request issue was closed, so its pull request was closed too. Reopen the issue to pick it up again."
	return b.publishStatus(ctx, c, repo, n, cfg, st)
}

func (b *Bot) publishStatus(ctx context.Context, c *forge.Client, repo string, n int, cfg *config.Config, st Status) error {
	_, _, err := c.UpsertComment(ctx, repo, n, StatusMarker, RenderStatus(st))
	return err
}
