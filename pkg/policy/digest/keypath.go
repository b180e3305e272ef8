package digest

import (
	"fmt"
	"strconv"
	"strings"
)

// segment is one step of a key path: a name, or an index when isIndex.
type segment struct {
	name    string
	index   int
	isIndex bool
}

func name(s string) segment { return segment{name: s} }
func index(i int) segment   { return segment{index: i, isIndex: true} }

// bare reports whether a name is written without quotes:
// [A-Za-z_][A-Za-z0-9_-]*.
func bare(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// render writes a key path in canonical form: bare names where they are
// identifiers, quoted otherwise, joined by dots; indexes in brackets.
func render(path []segment) string {
	var b strings.Builder
	for i, s := range path {
		if s.isIndex {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if bare(s.name) {
			b.WriteString(s.name)
		} else {
			b.WriteString(strconv.Quote(s.name))
		}
	}
	return b.String()
}

// pattern is a parsed key path pattern: "*" matches any one name and "[*]"
// any one index.
type pattern []segment

const wildcard = "*"

// parsePattern reads `a.b.*.c[*].d` and `"dotted.name".x`.
func parsePattern(s string) (pattern, error) {
	var out pattern
	i := 0
	expectName := true
	for i < len(s) {
		switch {
		case s[i] == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("key pattern %q: unclosed [", s)
			}
			in := s[i+1 : i+end]
			if in == wildcard {
				out = append(out, segment{name: wildcard, isIndex: true, index: -1})
			} else {
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("key pattern %q: index %q is not a number or *", s, in)
				}
				out = append(out, index(n))
			}
			i += end + 1
			expectName = false
		case s[i] == '.':
			if expectName {
				return nil, fmt.Errorf("key pattern %q: empty name at offset %d", s, i)
			}
			i++
			expectName = true
		case s[i] == '"':
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return nil, fmt.Errorf("key pattern %q: %w", s, err)
			}
			v, _ := strconv.Unquote(q)
			out = append(out, name(v))
			i += len(q)
			expectName = false
		default:
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			out = append(out, name(s[i:j]))
			i = j
			expectName = false
		}
	}
	if len(out) == 0 || expectName {
		return nil, fmt.Errorf("key pattern %q: empty or ends with a dot", s)
	}
	return out, nil
}

func (p pattern) match(path []segment) bool {
	if len(p) != len(path) {
		return false
	}
	for i, ps := range p {
		s := path[i]
		if ps.isIndex != s.isIndex {
			return false
		}
		switch {
		case ps.isIndex && ps.index == -1, !ps.isIndex && ps.name == wildcard:
		case ps.isIndex:
			if ps.index != s.index {
				return false
			}
		default:
			if ps.name != s.name {
				return false
			}
		}
	}
	return true
}
