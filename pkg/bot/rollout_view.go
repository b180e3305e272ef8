package bot

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/md"
)

// afterMerge shows a merged request as its rollout left it: the status of
// its catalog entry on the base branch (with the reason, the note and the
// commit of the last transition), the failed run's log excerpt, and what
// to do. The same status goes to the pull request, and the issue closes
// once the database is active (or decommissioned).
func (j *requestJob) afterMerge(ctx context.Context, merged *forge.PullRequest) error {
	if j.view.Status.Reason != lifecycle.MergedWithoutApproval && j.view.Environment != "" && j.view.Database != "" {
		if err := j.rolloutStatus(ctx); err != nil {
			return err
		}
	}
	if err := j.publish(ctx); err != nil {
		return err
	}
	st := j.view.Status.State
	// The pull request shows the outcome, not every step (each edit is a
	// write against GitHub's content limits).
	if st == lifecycle.Active || st == lifecycle.Failed || st == lifecycle.Decommissioned {
		if _, _, err := j.c.UpsertComment(ctx, j.repo, merged.Number, StatusMarker, RenderStatus(j.view)); err != nil {
			return err
		}
	}
	if (st == lifecycle.Active || st == lifecycle.Decommissioned) && j.issue.State == "open" {
		closed, reason := "closed", "completed"
		if _, err := j.c.EditIssue(ctx, j.repo, j.issue.Number, forge.IssueEdit{State: &closed, StateReason: &reason}); err != nil {
			return err
		}
		j.log.InfoContext(ctx, "request done: issue closed", "issue", j.issue.Number, "state", string(st))
	}
	return nil
}

// rolloutStatus reads the request's catalog entry on the base branch.
func (j *requestJob) rolloutStatus(ctx context.Context) error {
	env, db := j.view.Environment, j.view.Database
	f, _, err := j.b.readCatalog(ctx, j.c, j.rc, env, "")
	if err != nil {
		return err
	}
	e, ok := f.Get(db, env)
	if !ok {
		return nil
	}
	st := e.Metadata.Status
	j.view.Decommission = st == lifecycle.Decommissioning || st == lifecycle.Decommissioned || (st == lifecycle.Failed && wasDecommissioning(e))
	var last struct {
		reason lifecycle.Reason
		note   string
		commit string
	}
	if h := e.Metadata.History; len(h) > 0 {
		ev := h[len(h)-1]
		if ev.Status == e.Metadata.Status {
			last.reason, last.note, last.commit = ev.Reason, ev.Note, ev.Commit
		}
	}
	var run ledger.Apply
	if last.commit != "" {
		a, ok, err := j.b.ledger.ApplyOf(ctx, j.repo, env, last.commit)
		if err != nil {
			return err
		}
		if ok {
			run = a
			if a.RunURL != "" { // shown as a link below, not as escaped text
				last.note = strings.ReplaceAll(last.note, " ("+a.RunURL+")", "")
			}
		}
	}
	msg := func(s string) string {
		// The note may quote terraform's or the server's words: escaped.
		if n := last.note; n != "" {
			s += " " + md.Text(strings.ToUpper(n[:1])+n[1:]) + "."
		}
		return s
	}
	switch e.Metadata.Status {
	case lifecycle.Pending, lifecycle.Approved:
		j.view.Status = lifecycle.For(lifecycle.Merged, fmt.Sprintf("Merged; the apply of %s starts shortly.", env))
	case lifecycle.Applying:
		j.view.Status = lifecycle.For(lifecycle.ApplyStarted, msg("Terraform is applying the merge."))
	case lifecycle.Provisioning:
		j.view.Status = lifecycle.For(lifecycle.ProvisionStarted, msg("Terraform applied the merge; rdsbot is creating the role, the database and the grants."))
	case lifecycle.Active:
		j.view.Status = lifecycle.For(lifecycle.Provisioned, msg(fmt.Sprintf("The database is ready. Its credentials are in the secret %s.", md.Code(e.Configuration.SecretPath))))
	case lifecycle.Decommissioning:
		j.view.Status = lifecycle.For(lifecycle.DecommissionStarted, msg("Removing the database from Terraform and disabling its role."))
	case lifecycle.Decommissioned:
		j.view.Status = lifecycle.For(lifecycle.DecommissionDone, msg("The database is decommissioned."))
	case lifecycle.Failed:
		reason := last.reason
		if reason.State() != lifecycle.Failed {
			reason = lifecycle.ApplyFailed
		}
		j.view.Status = lifecycle.For(reason, msg("The rollout stopped."))
		j.view.Status.Action = "Fix the cause, then comment `/rds retry` to run the failed step again."
		if run.Excerpt != "" {
			j.view.Notes = append(j.view.Notes, "The end of the log:\n\n"+md.Block("text", cut(run.Excerpt, 4000)))
		}
	}
	if l := runLink(run.RunURL); l != "" && (st == lifecycle.Active || st == lifecycle.Failed || st == lifecycle.Decommissioned) {
		j.view.Notes = append(j.view.Notes, "The apply's workflow run: "+l+".")
	}
	return nil
}

// runLink is a markdown link to a workflow run whose address GitHub gave
// (https or http, nothing that could end the link early), or "".
func runLink(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	s := u.String()
	if strings.ContainsAny(s, " \t\n()<>[]`") {
		return ""
	}
	return "[" + md.Text(path.Base(u.Path)) + "](" + s + ")"
}
