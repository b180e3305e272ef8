// Package mdtest checks, in tests, that markdown the bot writes is inert:
// rendered as GitHub renders it (goldmark with the GFM extensions), it holds
// no link, image, HTML element, mention or issue reference that the bot did
// not put there on purpose.
package mdtest

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

var gfm = goldmark.New(goldmark.WithExtensions(extension.GFM))

// Render returns the HTML of src.
func Render(src string) string {
	var out bytes.Buffer
	if err := gfm.Convert([]byte(src), &out); err != nil {
		return "render error: " + err.Error()
	}
	return out.String()
}

var (
	anchor  = regexp.MustCompile(`<a href="([^"]*)"`)
	element = regexp.MustCompile(`<(img|script|iframe|style|form|input|svg)\b`)
	mention = regexp.MustCompile(`(^|[^A-Za-z0-9\x60])@([A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9_.-]+)?)`)
	ref     = regexp.MustCompile(`(^|[^&A-Za-z0-9])#[0-9]+`)
	tag     = regexp.MustCompile(`<[^>]*>`)
	code    = regexp.MustCompile(`(?s)<code>.*?</code>`)
)

// Findings lists what in src is live: links other than allowed (prefixes of
// URLs the bot links on purpose), images and active elements, and mentions
// or references outside code other than the allowed ones ("@alice", "#12").
func Findings(src string, allowed ...string) []string {
	html := Render(src)
	var out []string
	ok := func(s string) bool {
		for _, a := range allowed {
			if strings.HasPrefix(s, a) {
				return true
			}
		}
		return false
	}
	for _, m := range anchor.FindAllStringSubmatch(html, -1) {
		if !ok(m[1]) {
			out = append(out, "link "+m[1])
		}
	}
	for _, m := range element.FindAllString(html, -1) {
		out = append(out, "element "+m)
	}
	text := tag.ReplaceAllString(code.ReplaceAllString(html, ""), " ")
	for _, m := range mention.FindAllStringSubmatch(text, -1) {
		if !ok("@" + m[2]) {
			out = append(out, "mention @"+m[2])
		}
	}
	for _, m := range ref.FindAllString(text, -1) {
		r := strings.TrimLeft(m, " \t\n(")
		if r != "" && r[0] != '#' {
			r = r[1:]
		}
		if !ok(r) {
			out = append(out, "reference "+r)
		}
	}
	for _, link := range []string{"://", "www."} {
		if strings.Contains(text, link) {
			out = append(out, fmt.Sprintf("bare %q in text", link))
		}
	}
	return out
}
