package md

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// hostile values: each tries to break out of where the bot puts it.
var hostile = []string{
	"orders",
	"x` @acme/platform-team ![i](https://evil.example/p.png) `",
	"``` \n# heading\n```",
	"a|b|c",
	"line1\nline2\r\n| injected | row |",
	"<img src=x onerror=alert(1)>",
	"<details open><summary>hi</summary>",
	"[click](javascript:alert(1))",
	"https://evil.example/x",
	"www.evil.example",
	"@alice and @acme/security-team",
	"fixes #1 and acme/infra#2 GH-3",
	"\u202egnp.exe",
	"*bold* _it_ ~~s~~ $x$",
	"` ",
	"````",
	"&lt;b&gt;",
	"\\`@bob\\`",
	"---",
	"> quote",
	"1. list",
	"- item",
}

var gfm = goldmark.New(goldmark.WithExtensions(extension.GFM))

func render(t *testing.T, src string) string {
	t.Helper()
	var out bytes.Buffer
	if err := gfm.Convert([]byte(src), &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

var (
	mention = regexp.MustCompile(`@[A-Za-z0-9]`)
	ref     = regexp.MustCompile(`#[0-9]|(?i)\bgh-[0-9]`)
	tags    = regexp.MustCompile(`<(a|img|details|summary|h[1-6]|blockquote|ol|ul|li|hr|strong|em|del|script)\b`)
	textOf  = regexp.MustCompile(`<[^>]*>`)
	codeOf  = regexp.MustCompile(`(?s)<code>.*?</code>`)
)

// inert checks rendered HTML: no element but the expected ones, and no text
// GitHub would turn into a mention, a reference or a link.
func inert(t *testing.T, html, where, value string) {
	t.Helper()
	if m := tags.FindString(html); m != "" {
		t.Errorf("%s of %q renders %s: %s", where, value, m, html)
	}
	// GitHub links and mentions nothing inside code.
	text := textOf.ReplaceAllString(codeOf.ReplaceAllString(html, "<code></code>"), "")
	if m := mention.FindString(text); m != "" {
		t.Errorf("%s of %q leaves a mention %q: %s", where, value, m, text)
	}
	if m := ref.FindString(text); m != "" {
		t.Errorf("%s of %q leaves a reference %q: %s", where, value, m, text)
	}
	for _, link := range []string{"://", "www."} {
		if strings.Contains(text, link) {
			t.Errorf("%s of %q leaves a bare link %q: %s", where, value, link, text)
		}
	}
}

func TestTextIsInert(t *testing.T) {
	for _, v := range hostile {
		html := render(t, "Value: "+Text(v)+" end")
		inert(t, html, "Text", v)
		if strings.Count(html, "<p>") != 1 {
			t.Errorf("Text of %q spans several blocks: %s", v, html)
		}
	}
}

func TestCodeStaysOneSpan(t *testing.T) {
	for _, v := range hostile {
		html := render(t, "Value: "+Code(v)+" end")
		if strings.Count(html, "<code>") != 1 || strings.Count(html, "<p>") != 1 {
			t.Errorf("Code of %q is not one span in one paragraph: %s", v, html)
		}
		if !strings.HasSuffix(strings.TrimSpace(html), "end</p>") {
			t.Errorf("Code of %q swallowed the rest of the line: %s", v, html)
		}
		inside := html[strings.Index(html, "<code>"):strings.Index(html, "</code>")]
		if tags.MatchString(inside) {
			t.Errorf("Code of %q renders HTML: %s", v, html)
		}
	}
}

func TestCellKeepsTheTable(t *testing.T) {
	for _, v := range hostile {
		src := "| Field | Value | Note |\n| --- | --- | --- |\n| a | " + Cell(v) + " | " + TextCell(v) + " |\n"
		html := render(t, src)
		if n := strings.Count(html, "<tr>"); n != 2 {
			t.Errorf("%q gives %d rows: %s", v, n, html)
		}
		if n := strings.Count(html, "<td>"); n != 3 {
			t.Errorf("%q gives %d cells: %s", v, n, html)
		}
		inert(t, strings.ReplaceAll(html, "<table>", ""), "Cell", v)
	}
}

func TestBlockCannotBeClosedByItsContent(t *testing.T) {
	for _, v := range hostile {
		html := render(t, Block("diff", v)+"after")
		if strings.Count(html, "<pre>") != 1 || !strings.Contains(html, "<p>after</p>") {
			t.Errorf("Block of %q: %s", v, html)
		}
	}
}

func TestCode(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"orders", "`orders`"},
		{"a`b", "``a`b``"},
		{"`a", "`` `a ``"},
		{"", "` `"},
		{"a\nb", "`a⏎b`"},
		{"a\r\nb", "`a⏎b`"},
	} {
		if got := Code(c.in); got != c.want {
			t.Errorf("Code(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTitleAndTruncate(t *testing.T) {
	long := strings.Repeat("é", 300)
	if got := Title("RDS request\n" + long); utf8.RuneCountInString(got) != MaxTitle || strings.Contains(got, "\n") || !strings.HasSuffix(got, "…") {
		t.Errorf("Title: %d runes, %q", utf8.RuneCountInString(got), got[:20])
	}
	if got := Truncate("short", 10); got != "short" {
		t.Errorf("Truncate kept %q", got)
	}
}

func TestCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("### Plan\n\n```diff\n")
	for b.Len() < 3*MaxBody {
		b.WriteString("+ some changed line of a tfvars file\n")
	}
	b.WriteString("```\n")
	got := Cap(b.String(), MaxBody, "The rest is in the check run.")
	if n := utf8.RuneCountInString(got); n > MaxBody {
		t.Fatalf("capped body has %d characters", n)
	}
	if !strings.HasSuffix(got, "The rest is in the check run.\n") {
		t.Errorf("no pointer at the end: %q", got[len(got)-80:])
	}
	html := render(t, got)
	if !strings.Contains(html, "<p>The rest is in the check run.</p>") {
		t.Errorf("the pointer is inside the code block")
	}
	if short := Cap("small", MaxBody, "x"); short != "small" {
		t.Errorf("Cap changed a short body: %q", short)
	}
}
