// Package md writes text a user controls into GitHub-flavoured markdown so
// that it renders as inert text under the bot's name: no mention, team
// mention, issue reference, link, image, HTML or table break can come out of
// it, whatever it holds.
//
// GitHub turns "@name", "@org/team", "#123", "GH-123", bare URLs and
// "www." hosts into mentions and links after rendering, on the text nodes, so
// backslash escapes do not stop them. This package breaks them with a zero
// width space (U+200B) after the trigger character: the text reads the same
// and nothing is linked. Markdown punctuation is backslash-escaped, "<" and
// "&" become entities, and line breaks and control or bidirectional override
// characters are replaced, so one value can never start a new block, a new
// table row or a new section.
//
// Code spans are safe by construction: their fence is longer than any run of
// backticks inside, so a value cannot close its span early, and GitHub never
// links or mentions inside code.
package md

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits GitHub enforces.
const (
	// MaxBody is the most characters an issue, pull request or comment body
	// may hold.
	MaxBody = 65536
	// MaxTitle is the most characters of an issue or pull request title.
	MaxTitle = 256
	// MaxCheckText is the most characters of a check run's summary or text.
	MaxCheckText = 65535
)

const zwsp = "\u200b"

// Text makes s safe as inline markdown text: one line, no markup, nothing
// that GitHub would link or mention.
func Text(s string) string {
	s = oneLine(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	prev := rune(' ')
	for i, r := range s {
		switch r {
		case '#':
			// "#12" and "owner/repo#12" are references on the rendered text.
			b.WriteString(`\#` + zwsp)
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '+', '-', '.', '!', '|', '~', '>', '=', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '&':
			b.WriteString("&amp;")
		case '@':
			b.WriteString("@" + zwsp)
		case ':':
			b.WriteRune(r)
			if strings.HasPrefix(s[i+1:], "//") {
				b.WriteString(zwsp)
			}
		default:
			b.WriteRune(r)
			// "www.example.com" autolinks without a scheme; GH-123 and
			// SHA-like words are references: break the word's start.
			if (r == 'w' || r == 'W') && !isWord(prev) && hasPrefixFold(s[i:], "www.") {
				b.WriteString(zwsp)
			}
			if (r == 'G' || r == 'g') && !isWord(prev) && hasPrefixFold(s[i:], "gh-") {
				b.WriteString(zwsp)
			}
		}
		prev = r
	}
	return b.String()
}

// Code renders s as a code span on one line. Line breaks show as "⏎".
func Code(s string) string {
	s = oneLine(s)
	if s == "" {
		return "` `"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ")) {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

// Cell renders s as a code span for a table cell: Code, with "|" escaped so
// the value cannot end its cell (GitHub unescapes "\|" inside code spans in
// tables).
func Cell(s string) string {
	return strings.ReplaceAll(Code(s), "|", `\|`)
}

// TextCell renders s as plain text for a table cell.
func TextCell(s string) string { return Text(s) } // Text escapes "|" already

// Block renders s as a fenced code block with the given info string (for
// example "diff"), keeping its lines. The fence is longer than any run of
// backticks in s, so s cannot end the block.
func Block(info, s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || isBidi(r)) {
			return '�'
		}
		return r
	}, s)
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return fence + oneLine(info) + "\n" + s + fence + "\n"
}

// Title makes s fit a GitHub title: one line, at most MaxTitle characters.
func Title(s string) string { return Truncate(oneLine(s), MaxTitle) }

// Truncate cuts s to at most n characters (runes), ending with "…" when it
// was cut.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// Cap keeps a body within limit characters. A body that is longer is cut
// at a line break and ends with note (for example where the rest can be
// read), so the whole stays within limit. Any code block left open by the
// cut is closed.
func Cap(body string, limit int, note string) string {
	if utf8.RuneCountInString(body) <= limit {
		return body
	}
	tail := "\n\n" + note + "\n"
	room := limit - utf8.RuneCountInString(tail) - 16
	if room < 0 {
		return Truncate(note, limit)
	}
	cut := Truncate(body, room)
	cut = strings.TrimSuffix(cut, "…")
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i]
	}
	if open := openFence(cut); open != "" {
		cut += "\n" + open
	}
	return cut + "\n…" + tail
}

// openFence returns the fence that closes a code block left open at the end
// of s, or "".
func openFence(s string) string {
	open := ""
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimLeft(line, " ")
		n := 0
		for n < len(t) && t[n] == '`' {
			n++
		}
		if n < 3 {
			continue
		}
		switch {
		case open == "":
			open = t[:n]
		case n >= len(open) && strings.TrimSpace(t[n:]) == "":
			open = ""
		}
	}
	return open
}

// oneLine replaces line breaks, tabs and control or bidirectional override
// characters so that s stays on one line and reads as it is stored.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\r' && strings.HasPrefix(s[i+size:], "\n"):
			// one break for CRLF
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			b.WriteString("⏎")
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError && size == 1, unicode.IsControl(r), isBidi(r):
			b.WriteRune('�')
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func isBidi(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' || r == '\u061c'
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}
