package yamlstrict

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, in string
		o        Options
		issues   []string // substrings, one per issue, in order
		syntax   string
	}{
		{"clean", "a: 1\nb: [x, y]\nc: {d: e}\n", Options{}, nil, ""},
		{"duplicate key", "a: 1\nb: 2\na: 3\n", Options{}, []string{`line 3: key "a" is given twice (first on line 1)`}, ""},
		{"nested duplicate", "spec:\n  x: 1\n  x: 2\n", Options{}, []string{`line 3: key "x" is given twice`}, ""},
		{"anchor and alias", "a: &v 1\nb: *v\n", Options{}, []string{"line 1: anchor &v", "line 2: alias *v"}, ""},
		{"anchors allowed", "a: &v 1\nb: *v\n", Options{AllowAnchors: true}, nil, ""},
		{"merge key", "base: &b {x: 1}\nc:\n  <<: *b\n", Options{AllowAnchors: true}, []string{"line 3: merge keys"}, ""},
		{"tags", "a: !!str 7\nb: !thing x\n", Options{}, []string{"line 1: tag !!str", "line 2: tag !thing"}, ""},
		{"second document", "a: 1\n---\nb: 2\n", Options{}, []string{"line 2: a second YAML document"}, ""},
		{"syntax error", "a: [\nb: 1\n", Options{}, nil, "did not find expected"},
		{"syntax error in second document", "a: 1\n---\nb: [\n", Options{}, nil, "did not find expected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, issues, err := Parse([]byte(c.in), c.o)
			if c.syntax != "" {
				var se *SyntaxError
				if !errors.As(err, &se) || !strings.Contains(se.Error(), c.syntax) || issues != nil {
					t.Fatalf("want syntax error %q alone, got %v / %v", c.syntax, err, issues)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(issues) != len(c.issues) {
				t.Fatalf("issues %v, want %d", issues, len(c.issues))
			}
			for i, want := range c.issues {
				if !strings.Contains(issues[i].String(), want) {
					t.Errorf("issue %d %q does not contain %q", i, issues[i], want)
				}
			}
		})
	}
	if n, issues, err := Parse(nil, Options{}); n != nil || issues != nil || err != nil {
		t.Errorf("empty input: %v %v %v", n, issues, err)
	}
}
