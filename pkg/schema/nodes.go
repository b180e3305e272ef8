package schema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/internal/yamlstrict"
	"gopkg.in/yaml.v3"
)

// problems collects the errors of one schema file, each with its line.
type problems struct {
	file string
	errs Errors
}

func (p *problems) at(line int, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...)))
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs
}

// parseDoc reads a schema file strictly (duplicate keys, tags and a second
// document are refused; anchors are allowed) and returns its top mapping.
// expected describes the shape, for the error when the file is something
// else.
func parseDoc(data []byte, file, expected string) (*yaml.Node, error) {
	top, issues, err := yamlstrict.Parse(data, yamlstrict.Options{AllowAnchors: true})
	if err != nil {
		se := err.(*yamlstrict.SyntaxError)
		return nil, Errors{fmt.Errorf("%s:%d: not valid YAML: %s", file, max(se.Line, 1), se.Message)}
	}
	p := &problems{file: file}
	for _, is := range issues {
		p.at(is.Line, "%s", is.Message)
	}
	switch {
	case top == nil:
		p.at(1, "the file is empty; expected %s", expected)
	case top.Kind != yaml.MappingNode:
		p.at(top.Line, "expected %s, found %s", expected, kindName(top))
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return resolveAliases(top), nil
}

// resolveAliases replaces alias nodes by what they point at, so the rest of
// the package never sees one.
func resolveAliases(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return resolveAliases(n.Alias)
	}
	for i, c := range n.Content {
		n.Content[i] = resolveAliases(c)
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "something else"
}

// pair is one key of a mapping node.
type pair struct {
	key   string
	k, v  *yaml.Node
	index int
}

func pairs(m *yaml.Node) []pair {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]pair, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, pair{key: m.Content[i].Value, k: m.Content[i], v: m.Content[i+1], index: i / 2})
	}
	return out
}

func get(m *yaml.Node, key string) *yaml.Node {
	for _, p := range pairs(m) {
		if p.key == key {
			return p.v
		}
	}
	return nil
}

// keysOnly reports every key of m outside allowed, naming what is expected.
func (p *problems) keysOnly(m *yaml.Node, where string, allowed []string) {
	for _, kv := range pairs(m) {
		if !slices.Contains(allowed, kv.key) {
			p.at(kv.k.Line, "%s: unknown key %q; expected one of: %s", where, kv.key, strings.Join(allowed, ", "))
		}
	}
}

// mapping checks that n is a mapping (a missing node is allowed) and
// returns it.
func (p *problems) mapping(n *yaml.Node, where, shape string) *yaml.Node {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.at(n.Line, "%s must be %s, found %s", where, shape, kindName(n))
		return nil
	}
	return n
}

func (p *problems) list(n *yaml.Node, where, shape string) []*yaml.Node {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.at(n.Line, "%s must be %s, found %s", where, shape, kindName(n))
		return nil
	}
	return n.Content
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (p *problems) str(n *yaml.Node, where string) string {
	if n == nil || isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		p.at(n.Line, "%s must be a single value, found %s", where, kindName(n))
		return ""
	}
	return n.Value
}

func (p *problems) strs(n *yaml.Node, where string) []string {
	items := p.list(n, where, "a list of values")
	out := make([]string, 0, len(items))
	for _, c := range items {
		if c.Kind != yaml.ScalarNode || c.Value == "" {
			p.at(c.Line, "%s: every item must be a non-empty value, found %s", where, kindName(c))
			continue
		}
		if slices.Contains(out, c.Value) {
			p.at(c.Line, "%s: %q is listed twice", where, c.Value)
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

func (p *problems) boolean(n *yaml.Node, where string) (bool, bool) {
	if n == nil || isNull(n) {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.at(n.Line, "%s must be true or false, found %s", where, kindName(n))
		return false, false
	}
	return n.Value == "true", true
}

func (p *problems) integer(n *yaml.Node, where string) *int {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.at(n.Line, "%s must be a whole number, found %s", where, kindName(n))
		return nil
	}
	i, err := strconv.Atoi(n.Value)
	if err != nil {
		p.at(n.Line, "%s must be a whole number written in decimal digits, found %q", where, n.Value)
		return nil
	}
	return &i
}

// lineOf is the line of a node, or of its parent when it is missing.
func lineOf(n, parent *yaml.Node) int {
	if n != nil {
		return n.Line
	}
	if parent != nil {
		return parent.Line
	}
	return 1
}
