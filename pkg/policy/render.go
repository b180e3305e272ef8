package policy

import (
	"fmt"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/md"
)

// Caps on rendered user text and lists, so one evaluation's markdown stays
// well under GitHub's 65535-character limits whatever the facts hold.
const (
	maxName   = 64  // a login, label or team (GitHub's own limits are lower)
	maxReason = 300 // one reason
	maxItems  = 10  // entries per list or cell; the rest are counted
)

// name renders a login, label or team as inert code; cellName the same
// inside a table cell (pipes escaped).
func name(s string) string     { return md.Code(md.Truncate(s, maxName)) }
func cellName(s string) string { return md.Cell(md.Truncate(s, maxName)) }

// reason renders rdsbot's own sentences, which embed team names and other
// configured text, as escaped prose (pipes included).
func reason(s string) string { return md.Text(md.Truncate(s, maxReason)) }

func loginWith(a Actor, nm func(string) string) string {
	if a.Login == "" {
		return "an unknown account"
	}
	return nm(a.Login)
}

func login(a Actor) string { return loginWith(a, name) }

func names(ss []string, sep string, nm func(string) string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = nm(s)
	}
	return strings.Join(out, sep)
}

// capped renders at most maxItems items, then how many more there are.
func capped[T any](items []T, f func(T) string, sep string) string {
	var parts []string
	for i, it := range items {
		if i == maxItems {
			parts = append(parts, fmt.Sprintf("and %d more", len(items)-maxItems))
			break
		}
		parts = append(parts, f(it))
	}
	return strings.Join(parts, sep)
}

func attemptWith(a Attempt, nm func(string) string) string {
	via := reason(a.Via)
	if a.Label != "" {
		via += " " + nm(a.Label)
	}
	return loginWith(a.Actor, nm) + " (" + via + "): " + reason(a.Reason)
}

func attempt(a Attempt) string     { return attemptWith(a, name) }
func cellAttempt(a Attempt) string { return attemptWith(a, cellName) }

// Render is the approval table in markdown, the same in the check run, the
// pull request body and the request issue: each requirement, who satisfied
// it or who may, what is stale, and what blocks. Every login, label and team
// name is rendered inert (no mention, link, image or HTML) and capped.
func Render(r *Result) string {
	var b strings.Builder
	mode := ""
	if r.Mode == config.ModeWarn {
		mode = " · **warn mode**: the check passes, missing approvals are only reported"
	}
	fmt.Fprintf(&b, "**Approval** · rule %s · tier %s%s\n\n", name(r.Rule), name(r.Tier), mode)
	switch {
	case r.Satisfied && len(r.Requirements) == 0:
		b.WriteString("✅ Self-serve: nothing to approve.\n")
	case r.Satisfied:
		b.WriteString("✅ All requirements are met on the current content.\n")
	default:
		b.WriteString("⏳ Not approved yet.\n")
	}
	if len(r.Requirements) > 0 {
		b.WriteString("\n| Requirement | Status | By, or who may | Not counted |\n| --- | --- | --- | --- |\n")
		for _, q := range r.Requirements {
			var what, status, by string
			switch q.Kind {
			case NeedReview:
				what = "Approving review, group " + cellName(q.Groups[0])
			case NeedHuman:
				what = "One human approval (" + reason(q.Reason) + ")"
			case NeedLabel:
				what = "Label " + cellName(q.Label)
				if q.Reason != "" {
					what += ": " + reason(q.Reason)
				}
			}
			if q.Satisfied {
				status, by = "✅ done", loginWith(q.By, cellName)
			} else {
				status, by = "⏳ missing", "a member of "+names(q.Teams, " or ", cellName)
			}
			stale := capped(q.Stale, cellAttempt, "<br>")
			if stale == "" {
				stale = " "
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", what, status, by, stale)
		}
	}
	if len(r.Problems) > 0 {
		b.WriteString("\n**Blocking problems**\n\n")
		b.WriteString(capped(r.Problems, func(s string) string { return "- " + reason(s) }, "\n") + "\n")
	}
	if len(r.Blocks) > 0 {
		b.WriteString("\n**Changes requested** (the check waits until they approve or the review is dismissed)\n\n")
		b.WriteString(capped(r.Blocks, func(x Block) string { return "- " + login(x.Actor) + ", team " + name(x.Team) }, "\n") + "\n")
	}
	if len(r.Ignored) > 0 {
		b.WriteString("\n**Not counted**\n\n")
		b.WriteString(capped(r.Ignored, func(a Attempt) string { return "- " + attempt(a) }, "\n") + "\n")
	}
	if len(r.RemoveLabels) > 0 {
		b.WriteString("\n**Labels removed**\n\n")
		b.WriteString(capped(r.RemoveLabels, func(x Removal) string {
			return "- " + name(x.Label) + " added by " + login(x.AddedBy) + ": " + reason(x.Reason)
		}, "\n") + "\n")
	}
	if bg := r.BreakGlass; bg.Present {
		if bg.Valid {
			fmt.Fprintf(&b, "\n**Break-glass**: %s added by %s. It does not approve the pull request; if it is merged without approval, the merge is applied anyway and audited.\n", name(bg.Label), login(bg.By))
		} else {
			fmt.Fprintf(&b, "\n**Break-glass**: %s added by %s does not count: %s.\n", name(bg.Label), login(bg.By), reason(bg.Reason))
		}
	}
	if len(r.Foreign) > 0 {
		b.WriteString("\n**Checks with rdsbot's names from another source** (ignored; only the rdsbot App's own count)\n\n")
		b.WriteString(capped(r.Foreign, func(x ForeignCheck) string {
			return "- " + name(x.Name) + " (" + reason(x.Kind) + ", " + reason(x.State) + ") from " + name(x.Source)
		}, "\n") + "\n")
	}
	digest := r.Digest
	if len(digest) > 15 {
		digest = digest[:15] + "…"
	}
	fmt.Fprintf(&b, "\n<sub>Approvals count on content %s only; a new push, an edited request or another base resets them, a bot re-plan does not. The requester, the pull request author, commit authors and bots never count.</sub>\n", name(digest))
	return b.String()
}

// RenderRemovals is the one comment the bot writes when it removes labels.
func RenderRemovals(rs []Removal) string {
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("rdsbot removed approval labels that grant nothing here:\n\n")
	b.WriteString(capped(rs, func(x Removal) string {
		return "- " + name(x.Label) + " added by " + login(x.AddedBy) + ": " + reason(x.Reason)
	}, "\n"))
	b.WriteString("\n\nOnly an active member of the team that grants a label may add it, never the requester, a commit author or a bot, and only on the current content.\n")
	return b.String()
}
