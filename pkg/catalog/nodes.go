package catalog

import (
	"regexp"
	"slices"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Helpers over yaml.v3 nodes. Mappings hold keys and values alternately in
// Content; all helpers keep that invariant.

// walk calls fn for n and every node below it.
func walk(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, c := range n.Content {
		walk(c, fn)
	}
}

// lookup returns the key and value nodes of key in mapping m, or nils.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// insertPos returns where key belongs in m according to order: after the
// last present key that order puts before it, else before the first present
// key that order puts after it, else at the end. Keys order does not name
// are ignored, so hand-added fields stay where they are.
func insertPos(m *yaml.Node, key string, order []string) int {
	rank := slices.Index(order, key)
	if rank < 0 {
		return len(m.Content)
	}
	after, before := -1, -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		r := slices.Index(order, m.Content[i].Value)
		switch {
		case r < 0:
		case r < rank:
			after = i
		case r > rank && before < 0:
			before = i
		}
	}
	switch {
	case after >= 0:
		return after + 2
	case before >= 0:
		return before
	}
	return len(m.Content)
}

// setKey sets key to value in mapping m: an existing value node is replaced
// (its comments move to the new node), a missing key is inserted at the
// position order gives it.
func setKey(m *yaml.Node, key string, value *yaml.Node, order []string) {
	if _, old := lookup(m, key); old != nil {
		moveComments(old, value)
		*old = *value
		return
	}
	pos := insertPos(m, key, order)
	m.Content = slices.Insert(m.Content, pos, strScalar(key), value)
}

func moveComments(from, to *yaml.Node) {
	to.HeadComment, to.LineComment, to.FootComment = from.HeadComment, from.LineComment, from.FootComment
}

// setScalar sets key in mapping m to the scalar value (tag !!str or !!int)
// and reports whether anything changed. An existing scalar keeps its quoting
// style and comments; quoted forces double quotes (dates, timestamps).
func setScalar(m *yaml.Node, key, value, tag string, quoted bool, order []string) bool {
	quoted = quoted || (tag == "!!str" && yaml11Special(value))
	_, old := lookup(m, key)
	if old == nil {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
		if quoted {
			n.Style = yaml.DoubleQuotedStyle
		}
		setKey(m, key, n, order)
		return true
	}
	if old.Kind == yaml.ScalarNode && old.Value == value && old.Tag == tag &&
		(!quoted || old.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0) {
		return false
	}
	style := yaml.Style(0)
	if old.Kind == yaml.ScalarNode {
		style = old.Style &^ (yaml.LiteralStyle | yaml.FoldedStyle | yaml.TaggedStyle)
	}
	if quoted && style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		style = yaml.DoubleQuotedStyle
	}
	if tag == "!!int" {
		style = 0
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value, Style: style}
	moveComments(old, n)
	*old = *n
	return true
}

// yaml11Plain matches plain scalars that YAML 1.2 (yaml.v3) reads as strings
// but YAML 1.1 readers (PyYAML, older yq) read as booleans or base-60
// numbers. The catalog quotes them so every reader sees the same string.
var yaml11Plain = regexp.MustCompile(`^(?:[yYnN]|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$`)

func yaml11Special(v string) bool { return yaml11Plain.MatchString(v) }

func strScalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

func quotedScalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle}
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// scalarValue is the text of a scalar and "" for anything else.
func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// nodeText describes a node for messages: the value of a scalar, the kind
// of anything else.
func nodeText(n *yaml.Node) string {
	if n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return "a " + kindName(n)
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "empty node"
}

// singleLineRule returns "" when v is fit for a one-line catalog field and
// the broken rule otherwise.
func singleLineRule(v string) string {
	if !utf8.ValidString(v) {
		return "must be valid UTF-8 text"
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "must be a single line of text without control characters"
		}
	}
	return ""
}
