// Package yamlstrict reads one YAML document and refuses what would make it
// mean something other than what a reader sees: a key given twice (yaml.v3
// keeps the last one silently when decoding into a node), anchors and aliases
// (a value defined elsewhere), explicit tags (!!str 7, !custom x) and a second
// document after `---`. A syntax error comes back alone, so a caller never
// adds "is required" lines about a file it could not read.
package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Issue is one refused construct, with its position (1-based).
type Issue struct {
	Line, Column int
	Message      string
}

func (i Issue) String() string { return fmt.Sprintf("line %d: %s", i.Line, i.Message) }

// Options relax the checks for files written by platform engineers rather
// than requesters.
type Options struct {
	// AllowAnchors accepts anchors and aliases (schemas may share a list).
	AllowAnchors bool
}

// SyntaxError is a document that does not parse.
type SyntaxError struct {
	Line    int // 0 when yaml.v3 names no line
	Message string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

func syntaxError(err error) *SyntaxError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &SyntaxError{Line: n, Message: m[2]}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	return &SyntaxError{Message: msg}
}

// Parse reads exactly one document. It returns the document's top node (nil
// for an empty document), every refused construct with its position, or a
// *SyntaxError alone when the bytes are not YAML.
func Parse(data []byte, o Options) (*yaml.Node, []Issue, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, syntaxError(err)
	}
	var issues []Issue
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		issues = append(issues, Issue{Line: second.Line, Column: second.Column, Message: "a second YAML document (after ---) is not allowed; put everything in one document"})
	case errors.Is(err, io.EOF):
	default:
		// The first document read; the rest does not parse.
		return nil, nil, syntaxError(err)
	}
	if len(doc.Content) == 0 {
		return nil, issues, nil
	}
	top := doc.Content[0]
	issues = append(check(top, o, nil), issues...)
	return top, issues, nil
}

func check(n *yaml.Node, o Options, out []Issue) []Issue {
	if !o.AllowAnchors {
		if n.Anchor != "" {
			out = append(out, Issue{n.Line, n.Column, fmt.Sprintf("anchor &%s is not allowed; write the value out where it is used", n.Anchor)})
		}
		if n.Kind == yaml.AliasNode {
			return append(out, Issue{n.Line, n.Column, fmt.Sprintf("alias *%s is not allowed; write the value out here", n.Value)})
		}
	}
	if n.Style&yaml.TaggedStyle != 0 {
		out = append(out, Issue{n.Line, n.Column, fmt.Sprintf("tag %s is not allowed; write the value plainly (quote it to make it text)", n.Tag)})
	}
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				out = append(out, Issue{k.Line, k.Column, "a key must be a plain name, not a list or a mapping"})
			} else if k.Value == "<<" && k.Tag == "!!merge" {
				out = append(out, Issue{k.Line, k.Column, "merge keys (<<) are not allowed; write the keys out"})
			} else if first, dup := seen[k.Value]; dup {
				out = append(out, Issue{k.Line, k.Column, fmt.Sprintf("key %q is given twice (first on line %d); keep one", k.Value, first.Line)})
			} else {
				seen[k.Value] = k
			}
			out = check(k, o, out)
			out = check(n.Content[i+1], o, out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			out = check(c, o, out)
		}
	}
	return out
}
