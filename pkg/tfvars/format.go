package tfvars

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// hclwrite.Format aligns the "=" of consecutive lines that hold a single-line
// assignment, and the trailing comments of consecutive lines that end in one
// (an "alignment chain"). When we format only the edited lines, the region
// must not cut such a chain, or the lines inside it would be aligned
// differently from their neighbours. cells tells which chains a line takes
// part in; it mirrors linesForFormat in hclwrite/format.go.
type cells struct{ assign, comment bool }

// chained reports whether two consecutive lines belong to one alignment chain.
func chained(upper, lower cells) bool {
	return (upper.assign && lower.assign) || (upper.comment && lower.comment)
}

// edgeCells returns the cells of the first and last line of text, which must
// be whole lines of one or more complete items.
func edgeCells(text []byte) (first, last cells) {
	toks, _ := hclsyntax.LexConfig(text, "", hcl.InitialPos)
	var lines [][]hclsyntax.Token
	start := 0
	for i, t := range toks {
		if t.Type == hclsyntax.TokenEOF {
			if start < i {
				lines = append(lines, toks[start:i])
			}
			break
		}
		if isNewlineToken(t) {
			lines = append(lines, toks[start:i+1])
			start = i + 1
		}
	}
	if len(lines) == 0 {
		return cells{}, cells{}
	}
	return lineCells(lines[0]), lineCells(lines[len(lines)-1])
}

func isNewlineToken(t hclsyntax.Token) bool {
	switch t.Type {
	case hclsyntax.TokenNewline:
		return true
	case hclsyntax.TokenComment:
		return len(t.Bytes) > 0 && t.Bytes[len(t.Bytes)-1] == '\n'
	}
	return false
}

func lineCells(lead []hclsyntax.Token) cells {
	var c cells
	if n := len(lead); n > 0 && lead[n-1].Type == hclsyntax.TokenNewline {
		lead = lead[:n-1]
	}
	if n := len(lead); n > 1 && lead[n-1].Type == hclsyntax.TokenComment {
		c.comment = true
		lead = lead[:n-1]
	}
	for i, t := range lead {
		if i > 0 && t.Type == hclsyntax.TokenEqual {
			net := 0
			for _, u := range lead[i:] {
				net += bracketChange(u)
			}
			c.assign = net == 0
			break
		}
	}
	return c
}

func bracketChange(t hclsyntax.Token) int {
	switch t.Type {
	case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenTemplateControl, hclsyntax.TokenTemplateInterp:
		return 1
	case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenTemplateSeqEnd:
		return -1
	}
	return 0
}

// formatLines formats text, which holds whole lines of complete items of one
// object (or of the file body), with hclwrite.Format, then indents every line
// with indent. Heredoc bodies are left exactly as they are. Line endings are
// not touched (Format keeps them): generated parts of text must already use
// the file's style (see setNewlines).
func formatLines(text, indent []byte) []byte {
	return reindent(hclwrite.Format(text), indent)
}

// reindent prefixes indent to every non-empty line of formatted text, except
// lines inside a heredoc (their bytes are part of a string value).
func reindent(text, indent []byte) []byte {
	if len(indent) == 0 {
		return text
	}
	var heredocs [][2]int
	if bytes.Contains(text, []byte("<<")) {
		toks, _ := hclsyntax.LexConfig(text, "", hcl.InitialPos)
		open := -1
		for _, t := range toks {
			switch t.Type {
			case hclsyntax.TokenOHeredoc:
				if open < 0 {
					open = t.Range.End.Byte
				}
			case hclsyntax.TokenCHeredoc:
				if open >= 0 {
					heredocs = append(heredocs, [2]int{open, t.Range.End.Byte})
					open = -1
				}
			}
		}
	}
	inHeredoc := func(p int) bool {
		for _, h := range heredocs {
			if p >= h[0] && p < h[1] {
				return true
			}
		}
		return false
	}
	var out bytes.Buffer
	out.Grow(len(text) + 8*bytes.Count(text, []byte("\n")))
	lineStart := true
	for i, c := range text {
		if lineStart && c != '\n' && !(c == '\r' && i+1 < len(text) && text[i+1] == '\n') && !inHeredoc(i) {
			out.Write(indent)
		}
		out.WriteByte(c)
		lineStart = c == '\n'
	}
	return out.Bytes()
}

// setNewlines rewrites the LF line endings of generated text (which has no
// CR of its own: strings are written escaped) to nl.
func setNewlines(text []byte, nl string) []byte {
	if nl == "\n" {
		return text
	}
	return bytes.ReplaceAll(text, []byte("\n"), []byte(nl))
}
