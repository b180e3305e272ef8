package diff

import udiff "github.com/aymanbagabas/go-udiff"

// Merge3 merges two line-level edits of base, ours and theirs, as git's
// three-way merge does when it succeeds. Like git, it refuses changes that
// overlap or touch (two insertions at one place included) rather than
// guess their order; ok is false then.
func Merge3(base, ours, theirs string) (merged string, ok bool) {
	x, y := udiff.Lines(base, ours), udiff.Lines(base, theirs)
	for _, a := range x {
		for _, b := range y {
			if a.Start <= b.End && b.Start <= a.End {
				return "", false
			}
		}
	}
	edits, ok := udiff.Merge(x, y)
	if !ok {
		return "", false
	}
	out, err := udiff.Apply(base, edits)
	return out, err == nil
}
