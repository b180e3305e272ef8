// Package diff renders unified diffs of text files, as `git diff` shows
// them, for dry runs and for the plan a bot comment shows.
//
// The edit script comes from github.com/aymanbagabas/go-udiff/lcs, an
// exported copy of the Myers implementation in golang.org/x/tools (the one
// gopls uses). It searches from both ends at once with a bounded edit
// distance, so its memory is linear in the input whatever the files hold:
// two files of 4,000 changed lines each need a few MiB, where keeping every
// V array of the textbook algorithm took 1 GiB. Beyond that bound (about a
// hundred separate changes) the script is still correct, just not always
// the shortest one. go-udiff's own renderer is not used: it counts lines
// from the start of the file again for every change, which is quadratic in
// the number of changes; the hunks here are cut straight from the script.
package diff

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/aymanbagabas/go-udiff/lcs"
)

// contextLines is the number of unchanged lines around each change.
const contextLines = 3

// splitLines splits text into lines, keeping a final line without newline.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// Unified returns the unified diff of old and new with three lines of
// context, or "" when they are equal. A nil old means a new file.
func Unified(path string, old, new []byte) string {
	if old != nil && bytes.Equal(old, new) {
		return ""
	}
	a, b := splitLines(string(old)), splitLines(string(new))
	edits := slideDown(lcs.DiffLines(a, b), a, b)
	var out strings.Builder
	from := "a/" + path
	if old == nil {
		from = "/dev/null"
	}
	out.WriteString("--- " + from + "\n+++ b/" + path + "\n")
	for i := 0; i < len(edits); {
		// A hunk takes every following change less than two contexts away.
		j := i + 1
		for j < len(edits) && edits[j].Start-edits[j-1].End <= 2*contextLines {
			j++
		}
		first, last := edits[i], edits[j-1]
		sa := max(first.Start-contextLines, 0)
		ea := min(last.End+contextLines, len(a))
		sb := first.ReplStart - (first.Start - sa)
		eb := last.ReplEnd + (ea - last.End)
		out.WriteString("@@ -" + rangeOf(sa, ea-sa) + " +" + rangeOf(sb, eb-sb) + " @@\n")
		pos := sa
		for _, e := range edits[i:j] {
			writeLines(&out, ' ', a[pos:e.Start])
			writeLines(&out, '-', a[e.Start:e.End])
			writeLines(&out, '+', b[e.ReplStart:e.ReplEnd])
			pos = e.End
		}
		writeLines(&out, ' ', a[pos:ea])
		i = j
	}
	return out.String()
}

// slideDown moves each pure insertion or deletion as far down as the lines
// around it allow, as git does: a block added after "  }" that itself ends
// in "  }" could be shown from either brace, and git shows the new entry
// whole. The script stays equivalent; only the choice among equally short
// ones changes.
func slideDown(edits []lcs.Diff, a, b []string) []lcs.Diff {
	for i := range edits {
		e := &edits[i]
		limit := len(a) // the next change's start: a slide never crosses it
		if i+1 < len(edits) {
			limit = edits[i+1].Start
		}
		switch {
		case e.Start == e.End: // insertion of b[ReplStart:ReplEnd] before a[Start]
			for e.Start < limit && e.ReplEnd < len(b) && b[e.ReplStart] == b[e.ReplEnd] {
				e.Start, e.End, e.ReplStart, e.ReplEnd = e.Start+1, e.End+1, e.ReplStart+1, e.ReplEnd+1
			}
		case e.ReplStart == e.ReplEnd: // deletion of a[Start:End]
			for e.End < limit && a[e.Start] == a[e.End] {
				e.Start, e.End, e.ReplStart, e.ReplEnd = e.Start+1, e.End+1, e.ReplStart+1, e.ReplEnd+1
			}
		}
	}
	return edits
}

func writeLines(out *strings.Builder, kind byte, lines []string) {
	for _, l := range lines {
		out.WriteByte(kind)
		out.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// rangeOf is a hunk range as git writes it: "start,count", the count
// left out when it is 1, and an empty range named by the line before it.
func rangeOf(start, n int) string {
	switch n {
	case 0:
		return strconv.Itoa(start) + ",0"
	case 1:
		return strconv.Itoa(start + 1)
	}
	return strconv.Itoa(start+1) + "," + strconv.Itoa(n)
}
