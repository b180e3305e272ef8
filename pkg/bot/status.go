package bot

import (
	"fmt"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

// PRRef links a pull request.
type PRRef struct {
	Number int
	URL    string
	Branch string
	Base   string
	Closed bool // closed without merging
}

// View is everything the status comment shows about one request.
type View struct {
	RequestID   string
	Requester   string
	Environment string
	Database    string
	Status      lifecycle.Status
	Problems    contract.Problems // errors and warnings of the last validation
	PR          *PRRef
	Files       []string
	Approval    *schema.Approval
	// Notes are further sentences (already safe markdown).
	Notes []string
	// ApprovalTable is the gate's approval table (already safe markdown).
	ApprovalTable string
	// Decommission: the steps are those of a removal.
	Decommission bool
}

// StatusMarker identifies the one status comment of a request issue.
const StatusMarker = "<!-- rdsbot:status -->"

// RenderStatus renders the status comment. It holds no timestamp, so the
// same status renders the same bytes and re-rendering edits nothing. Every
// value that came from a request is escaped: the comment is the bot's.
func RenderStatus(v View) string {
	var b strings.Builder
	b.WriteString(StatusMarker + "\n")
	title := "RDS request"
	if v.RequestID != "" {
		title += " " + v.RequestID
	}
	if v.Database != "" {
		title += fmt.Sprintf(": %s in %s", md.Code(v.Database), md.Code(v.Environment))
	}
	fmt.Fprintf(&b, "### %s: %s\n\n", title, v.Status.Headline())

	if v.Status.Reason == lifecycle.Invalid {
		renderProblems(&b, v.Problems)
		renderNotes(&b, v)
		return md.Cap(b.String(), md.MaxBody, "More problems were left out; fix these first.")
	}
	texts := map[lifecycle.Step]string{
		lifecycle.StepValid:       "Request received and valid",
		lifecycle.StepPull:        prText(v.PR),
		lifecycle.StepApproved:    approvalText(v.Approval, v.ApprovalTable != ""),
		lifecycle.StepMerged:      "Merged",
		lifecycle.StepApplied:     "Terraform applied",
		lifecycle.StepProvisioned: "Role and database provisioned; credentials are in the secret store",
	}
	if v.Decommission {
		texts[lifecycle.StepApplied] = "Terraform removed it (the secret is scheduled for deletion; the instance is kept)"
		texts[lifecycle.StepProvisioned] = "Role disabled: no login, CONNECT revoked, nothing dropped"
	}
	marks := map[lifecycle.Mark]string{lifecycle.Todo: "⬜", lifecycle.Done: "✅", lifecycle.Current: "⏳", lifecycle.Stopped: "❌"}
	for i, m := range v.Status.Progress() {
		fmt.Fprintf(&b, "- %s %s\n", marks[m], texts[lifecycle.Steps[i]])
	}
	if v.Status.Message != "" {
		fmt.Fprintf(&b, "\n%s\n", v.Status.Message)
	}
	if v.Status.Action != "" {
		fmt.Fprintf(&b, "\n**What to do:** %s\n", v.Status.Action)
	}
	renderNotes(&b, v)
	if v.ApprovalTable != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(v.ApprovalTable, "\n"))
	}
	if w := v.Problems.Warnings(); len(w) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, p := range w {
			fmt.Fprintf(&b, "- %s\n", md.Text(p.String()))
		}
	}
	if len(v.Files) > 0 {
		b.WriteString("\n<details><summary>Files in the pull request</summary>\n\n")
		for _, f := range v.Files {
			fmt.Fprintf(&b, "- %s\n", md.Code(f))
		}
		b.WriteString("\n</details>\n")
	}
	cmds := "`/rds status`, `/rds plan`, `/rds retry`"
	if v.Status.State == lifecycle.Active {
		cmds += "; `/rds decommission <reason>` opens the removal of the database"
	}
	b.WriteString("\nCommands (the requester and the teams allowed): " + cmds + ".\n")
	return md.Cap(b.String(), md.MaxBody, "The status was cut to fit a comment.")
}

func renderNotes(b *strings.Builder, v View) {
	for _, n := range v.Notes {
		fmt.Fprintf(b, "\n%s\n", n)
	}
}

func prText(pr *PRRef) string {
	if pr == nil {
		return "Pull request opened"
	}
	text := fmt.Sprintf("Pull request [#%d](%s) opened on %s", pr.Number, pr.URL, md.Code(pr.Branch))
	if pr.Closed {
		text += " (closed)"
	}
	return text
}

func approvalText(a *schema.Approval, gated bool) string {
	if gated {
		return "Approved (the table below)"
	}
	if a == nil {
		return "Approved"
	}
	if a.SelfServe() {
		return "Approved (self-serve: no reviewer needed)"
	}
	var needs []string
	for _, g := range a.Reviewers {
		needs = append(needs, "a review by "+md.Text(g))
	}
	for _, l := range a.Labels {
		needs = append(needs, fmt.Sprintf("label %s from %s", md.Code(l.Label), md.Text(l.Group)))
	}
	return "Approved: needs " + strings.Join(needs, ", ")
}

func renderProblems(b *strings.Builder, probs contract.Problems) {
	errs := probs.Errors()
	noun := "problems"
	if len(errs) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(b, "This request has %d %s. Edit the issue to fix them; rdsbot checks it again on every edit.\n\n", len(errs), noun)
	b.WriteString("| Field | Value | What to fix |\n| --- | --- | --- |\n")
	for _, p := range errs {
		field := md.Code(p.Field)
		if p.Label != "" {
			field = md.Text(p.Label) + " (" + md.Cell(p.Field) + ")"
		}
		value := "(empty)"
		if p.Value != "" {
			value = md.Cell(p.Value)
		}
		msg := p.Message
		if p.Rule != "" && p.Value != "" {
			msg = "not allowed: " + msg
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", field, value, md.TextCell(msg))
	}
	if w := probs.Warnings(); len(w) > 0 {
		b.WriteString("\nWarnings (accepted, but worth a look):\n")
		for _, p := range w {
			fmt.Fprintf(b, "- %s\n", md.Text(p.String()))
		}
	}
}
