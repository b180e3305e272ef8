package diff

import "testing"

func TestMerge3(t *testing.T) {
	base := "a\nb\nc\nd\ne\nf\n"
	for _, c := range []struct {
		name, ours, theirs, want string
		ok                       bool
	}{
		{"apart", "A\nb\nc\nd\ne\nf\n", "a\nb\nc\nd\ne\nF\n", "A\nb\nc\nd\ne\nF\n", true},
		{"same line", "a\nB\nc\nd\ne\nf\n", "a\nX\nc\nd\ne\nf\n", "", false},
		{"touching lines", "a\nB\nc\nd\ne\nf\n", "a\nb\nC\nd\ne\nf\n", "", false},
		{"two appends at the end", base + "g\n", base + "h\n", "", false},
		{"insert apart", "a\nx\nb\nc\nd\ne\nf\n", base + "g\n", "a\nx\nb\nc\nd\ne\nf\ng\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Merge3(base, c.ours, c.theirs)
			if ok != c.ok || (ok && got != c.want) {
				t.Errorf("Merge3 = %q, %v; want %q, %v", got, ok, c.want, c.ok)
			}
		})
	}
}
