package bot

import (
	"fmt"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

// Phase is where a request stands. The status comment on the request issue
// shows every phase, ticked as the request moves.
type Phase int

// Phases, in order.
const (
	PhaseReceived Phase = iota
	PhaseInvalid
	PhasePROpen          // pull request opened, waiting for approval
	PhaseApproved        // approvals complete
	PhaseMerged          // merged; apply comes next
	PhaseApplying        // terraform apply running
	PhaseProvisioning    // roles and databases being created
	PhaseActive          // done
	PhaseFailed          // apply or provisioning failed
	PhaseClosed          // the request issue was closed before merge
	PhaseBlocked         // a person changed the request branch; the bot stepped back
	PhaseDecommissioning // removal merged
)

var phaseNames = map[Phase]string{
	PhaseReceived: "received", PhaseInvalid: "invalid", PhasePROpen: "waiting for approval",
	PhaseApproved: "approved, ready to merge", PhaseMerged: "merged", PhaseApplying: "applying",
	PhaseProvisioning: "provisioning", PhaseActive: "active", PhaseFailed: "failed",
	PhaseClosed: "closed", PhaseBlocked: "blocked", PhaseDecommissioning: "decommissioning",
}

func (p Phase) String() string { return phaseNames[p] }

// PRRef links a pull request.
type PRRef struct {
	Number int
	URL    string
	Branch string
	Base   string
}

// Status is everything the status comment shows.
type Status struct {
	RequestID   string
	Phase       Phase
	Environment string
	Database    string
	Problems    contract.Problems // errors and warnings of the last validation
	PR          *PRRef
	Files       []string
	Approval    *schema.Approval
	Detail      string // a sentence about the current phase (an error, who blocked it)
	Reached     Phase  // for failed, blocked and closed: the last phase reached
}

// StatusMarker identifies the one status comment of a request issue.
const StatusMarker = "<!-- rdsbot:status -->"

// RenderStatus renders the status comment. It holds no timestamp, so the
// same status renders the same bytes and re-rendering edits nothing.
func RenderStatus(s Status) string {
	var b strings.Builder
	b.WriteString(StatusMarker + "\n")
	title := "RDS request"
	if s.RequestID != "" {
		title += " " + s.RequestID
	}
	if s.Database != "" {
		title += fmt.Sprintf(": `%s` in %s", s.Database, s.Environment)
	}
	fmt.Fprintf(&b, "### %s: %s\n\n", title, s.Phase)

	if s.Phase == PhaseInvalid {
		renderProblems(&b, s.Problems)
		return b.String()
	}
	// Each step is done once the request reaches its phase; the first step
	// not done is the one in progress, or the one that failed.
	steps := []struct {
		doneAt Phase
		text   string
	}{
		{PhaseReceived, "Request received and valid"},
		{PhasePROpen, prText(s.PR)},
		{PhaseApproved, approvalText(s.Approval)},
		{PhaseMerged, "Merged"},
		{PhaseProvisioning, "Terraform applied"},
		{PhaseActive, "Role and database provisioned; credentials are in the secret store"},
	}
	reached, stopped := s.Phase, false
	switch s.Phase {
	case PhaseFailed, PhaseBlocked, PhaseClosed:
		reached, stopped = s.reached(), true
	case PhaseApplying:
		reached = PhaseMerged
	}
	current := true
	for _, st := range steps {
		mark := "⬜"
		switch {
		case st.doneAt <= reached:
			mark = "✅"
		case current && stopped:
			mark, current = "❌", false
		case current:
			mark, current = "⏳", false
		}
		fmt.Fprintf(&b, "- %s %s\n", mark, st.text)
	}
	if s.Detail != "" {
		fmt.Fprintf(&b, "\n%s\n", s.Detail)
	}
	if w := s.Problems.Warnings(); len(w) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, p := range w {
			fmt.Fprintf(&b, "- %s\n", p)
		}
	}
	if len(s.Files) > 0 {
		b.WriteString("\n<details><summary>Files in the pull request</summary>\n\n")
		for _, f := range s.Files {
			fmt.Fprintf(&b, "- `%s`\n", f)
		}
		b.WriteString("\n</details>\n")
	}
	b.WriteString("\nCommands: `/rds status`, `/rds plan`, `/rds retry`.\n")
	return b.String()
}

// reached is the last phase a failed, blocked or closed request got to.
func (s Status) reached() Phase {
	if s.Reached != 0 {
		return s.Reached
	}
	if s.PR == nil {
		return PhaseReceived
	}
	return PhasePROpen
}

func prText(pr *PRRef) string {
	if pr == nil {
		return "Pull request opened"
	}
	return fmt.Sprintf("Pull request [#%d](%s) opened on `%s`", pr.Number, pr.URL, pr.Branch)
}

func approvalText(a *schema.Approval) string {
	if a == nil {
		return "Approved"
	}
	if a.SelfServe() {
		return "Approved (self-serve: no reviewer needed)"
	}
	var needs []string
	for _, g := range a.Reviewers {
		needs = append(needs, "a review by "+g)
	}
	for _, l := range a.Labels {
		needs = append(needs, fmt.Sprintf("label `%s` from %s", l.Label, l.Group))
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
		field := p.Field
		if p.Label != "" {
			field = p.Label + " (`" + p.Field + "`)"
		}
		value := "(empty)"
		if p.Value != "" {
			value = "`" + strings.ReplaceAll(p.Value, "|", "\\|") + "`"
		}
		msg := p.Message
		if p.Rule != "" && p.Value != "" {
			msg = "not allowed: " + msg
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", field, value, strings.ReplaceAll(msg, "|", "\\|"))
	}
	if w := probs.Warnings(); len(w) > 0 {
		b.WriteString("\nWarnings (accepted, but worth a look):\n")
		for _, p := range w {
			fmt.Fprintf(b, "- %s\n", p)
		}
	}
}
