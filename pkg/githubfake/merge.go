package githubfake

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/rdsbot/rdsbot/pkg/diff"
)

// mergeTrees does a three-way merge of flattened trees: a path changed on
// one side only takes that side; changed identically on both sides is
// fine; a text file changed differently on both sides is merged line by
// line as git does (store may be nil: file level only), and conflicts when
// the two sides' changes overlap or touch; anything else changed on both
// sides is a conflict.
func mergeTrees(store *objectStore, base, ours, theirs map[string]fileEntry) (map[string]fileEntry, []string) {
	paths := map[string]bool{}
	for _, m := range []map[string]fileEntry{base, ours, theirs} {
		for p := range m {
			paths[p] = true
		}
	}
	out := map[string]fileEntry{}
	var conflicts []string
	for p := range paths {
		b, inB := base[p]
		o, inO := ours[p]
		t, inT := theirs[p]
		switch {
		case inO == inT && o == t:
			if inO {
				out[p] = o
			}
		case inO == inB && o == b:
			if inT {
				out[p] = t
			}
		case inT == inB && t == b:
			if inO {
				out[p] = o
			}
		default:
			if e, ok := mergeBlobs(store, b, o, t, inB && inO && inT); ok {
				out[p] = e
				continue
			}
			conflicts = append(conflicts, p)
		}
	}
	sort.Strings(conflicts)
	return out, conflicts
}

// mergeBlobs merges a file changed on both sides line by line.
func mergeBlobs(store *objectStore, b, o, t fileEntry, all bool) (fileEntry, bool) {
	if store == nil || !all || o.Mode != t.Mode || b.Mode != o.Mode {
		return fileEntry{}, false
	}
	var text [3]string
	for i, e := range []fileEntry{b, o, t} {
		obj, ok := store.get(e.SHA)
		if !ok || obj.typ != objBlob || !utf8.Valid(obj.data) {
			return fileEntry{}, false
		}
		text[i] = string(obj.data)
	}
	merged, ok := diff.Merge3(text[0], text[1], text[2])
	if !ok {
		return fileEntry{}, false
	}
	return fileEntry{Mode: o.Mode, SHA: store.putBlob([]byte(merged))}, true
}

// fileChange is one entry of a pull request's or comparison's file list.
type fileChange struct {
	Filename  string
	Status    string // added, removed, modified
	SHA       string // blob id on the new side ("" when removed)
	Additions int
	Deletions int
	Patch     string
}

// diffTrees lists files that differ between two flattened trees, by path;
// withPatch also computes each file's patch and line counts.
func diffTrees(store *objectStore, from, to map[string]fileEntry, withPatch bool) []fileChange {
	paths := map[string]bool{}
	for p := range from {
		paths[p] = true
	}
	for p := range to {
		paths[p] = true
	}
	var out []fileChange
	for p := range paths {
		a, inA := from[p]
		b, inB := to[p]
		if inA && inB && a == b {
			continue
		}
		fc := fileChange{Filename: p, SHA: b.SHA}
		switch {
		case !inA:
			fc.Status = "added"
		case !inB:
			fc.Status = "removed"
			fc.SHA = a.SHA
		default:
			fc.Status = "modified"
		}
		if !withPatch {
			out = append(out, fc)
			continue
		}
		var oldText, newText string
		if inA {
			o, _ := store.get(a.SHA)
			oldText = string(o.data)
		}
		if inB {
			o, _ := store.get(b.SHA)
			newText = string(o.data)
		}
		fc.Patch, fc.Additions, fc.Deletions = unifiedDiff(oldText, newText)
		out = append(out, fc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Filename < out[j].Filename })
	return out
}

// splitLines splits text into lines without their newlines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// editOp is one step of a line edit script: ' ' keep, '-' delete, '+' insert.
type editOp struct {
	kind byte
	line string
}

// diffLines computes a shortest edit script with Myers' O(ND) algorithm.
func diffLines(a, b []string) []editOp {
	n, m := len(a), len(b)
	max := n + m
	v := make([]int, 2*max+2)
	var trace [][]int
	for d := 0; d <= max; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[max+k-1] < v[max+k+1]) {
				x = v[max+k+1]
			} else {
				x = v[max+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[max+k] = x
			if x >= n && y >= m {
				return backtrack(trace, a, b, d, max)
			}
		}
	}
	return nil
}

func backtrack(trace [][]int, a, b []string, d, max int) []editOp {
	x, y := len(a), len(b)
	var ops []editOp
	for ; d > 0; d-- {
		v := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && v[max+k-1] < v[max+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := v[max+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			ops = append(ops, editOp{' ', a[x-1]})
			x, y = x-1, y-1
		}
		if x == prevX {
			ops = append(ops, editOp{'+', b[y-1]})
		} else {
			ops = append(ops, editOp{'-', a[x-1]})
		}
		x, y = prevX, prevY
	}
	for x > 0 && y > 0 {
		ops = append(ops, editOp{' ', a[x-1]})
		x, y = x-1, y-1
	}
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	return ops
}

// unifiedDiff renders GitHub's `patch` field (hunks with three lines of
// context, no file header) and counts added and deleted lines.
func unifiedDiff(oldText, newText string) (patch string, additions, deletions int) {
	ops := diffLines(splitLines(oldText), splitLines(newText))
	const context = 3
	var b strings.Builder
	i := 0
	for i < len(ops) {
		// find the next change
		for i < len(ops) && ops[i].kind == ' ' {
			i++
		}
		if i >= len(ops) {
			break
		}
		start := max(i-context, 0)
		end := i
		// extend the hunk while changes are within 2*context lines of each other
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		oldStart, newStart := 1, 1
		for _, op := range ops[:start] {
			if op.kind != '+' {
				oldStart++
			}
			if op.kind != '-' {
				newStart++
			}
		}
		var oldLen, newLen int
		var body strings.Builder
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				oldLen++
			}
			if op.kind != '-' {
				newLen++
			}
			switch op.kind {
			case '+':
				additions++
			case '-':
				deletions++
			}
			body.WriteByte(op.kind)
			body.WriteString(op.line)
			body.WriteByte('\n')
		}
		if oldLen == 0 {
			oldStart--
		}
		if newLen == 0 {
			newStart--
		}
		fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@\n", oldStart, oldLen, newStart, newLen)
		b.WriteString(body.String())
		i = end
	}
	return strings.TrimSuffix(b.String(), "\n"), additions, deletions
}
