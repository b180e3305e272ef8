package apply

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxReport is the default size bound of a report: below GitHub's 65,535
// characters for a check run's summary or text, with room to spare.
const MaxReport = 60000

// ReportOptions shape a plan report.
type ReportOptions struct {
	// Title is the first line (e.g. "Plan for prod at abc1234"); optional.
	Title string
	// MoreURL is where the whole log can be read when the report had to be
	// cut (a workflow run, rdsbot's log viewer); optional.
	MoreURL string
	// Limit bounds the report in bytes (default MaxReport); GitHub counts
	// characters, which are never more than bytes.
	Limit int
	// MaxListed bounds the changes listed per root (default 50).
	MaxListed int
}

var actionIcon = map[string]string{"create": "+", "update": "~", "delete": "-", "replace": "-/+", "read": "<=", "forget": "forget", "move": "->", "import": "import"}

// Report renders a plan outcome as markdown for a check run: the verdict,
// the counts per root, blocking and destructive changes first, then the
// other changes, and each root's full plan folded in <details>. Everything
// that comes from the plan is in code spans or fenced blocks, so nothing in
// it is rendered as markdown, HTML or a mention. The report stays within
// opts.Limit; when plan text is cut, it says so and points to MoreURL.
func Report(o *Outcome, opts ReportOptions) string {
	if opts.Limit <= 0 {
		opts.Limit = MaxReport
	}
	if opts.MaxListed <= 0 {
		opts.MaxListed = 50
	}
	var b strings.Builder
	if opts.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", oneLine(opts.Title))
	}
	icon := map[Status]string{Succeeded: "✅", Refused: "❌", Failed: "❌", TimedOut: "⏱️", Cancelled: "⏹️"}[o.Status]
	fmt.Fprintf(&b, "%s **%s**", icon, statusWord(o.Status))
	if o.Reason != "" {
		fmt.Fprintf(&b, ": %s", code(o.Reason))
	}
	b.WriteString("\n\n")
	var blocked []string
	for _, r := range o.Roots {
		if r.Plan == nil {
			continue
		}
		for _, c := range r.Plan.Blocked() {
			blocked = append(blocked, fmt.Sprintf("- **%s** %s in %s (protected by %s)\n", c.Action, code(c.Address), code(r.Root), code(c.Protected)))
		}
	}
	if len(blocked) > 0 {
		b.WriteString("**The plan would destroy or replace protected resources:**\n\n")
		for _, l := range blocked {
			b.WriteString(l)
		}
		b.WriteString("\n")
	}
	if len(o.Roots) > 0 {
		b.WriteString("| root | add | change | destroy | verdict |\n|---|---:|---:|---:|---|\n")
		for _, r := range o.Roots {
			if r.Plan == nil {
				fmt.Fprintf(&b, "| %s | | | | %s |\n", cell(r.Root), statusWord(r.Status))
				continue
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", cell(r.Root), r.Plan.Add, r.Plan.Change, r.Plan.Destroy, cell(r.Plan.Verdict()))
		}
		b.WriteString("\n")
	}
	for _, r := range o.Roots {
		if r.Plan == nil {
			continue
		}
		writeChanges(&b, r, opts.MaxListed)
	}
	if o.Status != Succeeded && o.Status != Refused && o.Excerpt != "" {
		b.WriteString("<details><summary>End of the log</summary>\n\n")
		b.WriteString(fence(o.Excerpt))
		b.WriteString("</details>\n\n")
	}
	head := b.String()
	// The plan texts share what is left of the limit.
	var texts []RootResult
	for _, r := range o.Roots {
		if r.PlanText != "" {
			texts = append(texts, r)
		}
	}
	pointer := "the rest is in rdsbot's log of this run"
	if opts.MoreURL != "" {
		pointer = "the whole plan: " + opts.MoreURL
	}
	notes := 0
	for range texts {
		notes += 200 + len(pointer)
	}
	budget := opts.Limit - len(head) - notes
	if len(head) > opts.Limit {
		return cut(head, opts.Limit-len(pointer)-40) + "\n\n… report cut; " + pointer + "\n"
	}
	for i, r := range texts {
		share := budget / (len(texts) - i)
		text, wasCut := r.PlanText, r.PlanTextCut
		// The fence and <details> cost a little; keep them inside the share.
		if room := share - 120; len(text) > room {
			text, wasCut = cutLines(text, max(room, 0)), true
		}
		var part strings.Builder
		fmt.Fprintf(&part, "<details><summary>Full plan of %s</summary>\n\n", htmlCode(r.Root))
		part.WriteString(fence(text))
		if wasCut {
			fmt.Fprintf(&part, "\n… plan cut to fit; %s\n", pointer)
		}
		part.WriteString("</details>\n\n")
		budget -= part.Len()
		head += part.String()
	}
	return head
}

func writeChanges(b *strings.Builder, r RootResult, maxListed int) {
	s := r.Plan
	fmt.Fprintf(b, "#### %s\n\n", code(r.Root))
	if len(s.Changes) == 0 {
		b.WriteString("No changes.\n\n")
	}
	listed := 0
	section := -1
	for _, c := range s.Changes {
		if listed == maxListed {
			fmt.Fprintf(b, "- … and %d more\n", len(s.Changes)-listed)
			break
		}
		sec := 1
		if c.Destructive() {
			sec = 0
		}
		if sec != section {
			if section != -1 {
				b.WriteString("\n")
			}
			b.WriteString([]string{"Destroyed or replaced:\n\n", "Other changes:\n\n"}[sec])
			section = sec
		}
		line := fmt.Sprintf("- %s %s", code(actionIcon[c.Action]+" "+c.Action), code(c.Address))
		switch {
		case c.Blocks():
			line += " **blocked**: protected by " + code(c.Protected)
		case c.Allowed:
			line += " (protected by " + code(c.Protected) + ", allowed by this request)"
		}
		if c.Reason != "" {
			line += " — " + code(c.Reason)
		}
		b.WriteString(line + "\n")
		listed++
	}
	if len(s.Changes) > 0 {
		b.WriteString("\n")
	}
	if len(s.Drift) > 0 {
		fmt.Fprintf(b, "Changed outside terraform: %d resource(s)", len(s.Drift))
		for i, d := range s.Drift {
			if i == 5 {
				b.WriteString(", …")
				break
			}
			b.WriteString([]string{": ", ", "}[min(i, 1)] + code(d.Address))
		}
		b.WriteString("\n\n")
	}
	if len(s.Errors) > 0 {
		b.WriteString("Errors:\n\n")
		b.WriteString(fence(strings.Join(s.Errors, "\n")))
	}
}

func statusWord(s Status) string {
	switch s {
	case Succeeded:
		return "plan passes"
	case Refused:
		return "plan fails the policy"
	case Failed:
		return "terraform failed"
	case TimedOut:
		return "timed out"
	case Cancelled:
		return "cancelled"
	}
	return string(s)
}

// code is s as a markdown code span: a run of backticks longer than any in
// s, so nothing in s can close it; newlines become spaces.
func code(s string) string {
	s = oneLine(s)
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || s == "" {
		s = " " + s + " "
	}
	return ticks + s + ticks
}

// cell is a code span safe inside a table cell ('|' escaped).
func cell(s string) string { return strings.ReplaceAll(code(s), "|", `\|`) }

// htmlCode is s inside <code>, HTML-escaped (for <summary>, where markdown is not read).
func htmlCode(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "@", "&#64;")
	return "<code>" + r.Replace(oneLine(s)) + "</code>"
}

// fence is text as a fenced code block whose fence no line of text can close.
func fence(text string) string {
	ticks := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return ticks + "text\n" + text + ticks + "\n"
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// cutLines shortens text to at most n bytes, at a line end when there is one.
func cutLines(text string, n int) string {
	c := cut(text, n)
	if i := strings.LastIndexByte(c, '\n'); i > 0 {
		return c[:i+1]
	}
	return c
}
