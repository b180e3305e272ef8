package tfvars

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Path names an attribute: the first element is a top-level attribute of the
// file, each further element an attribute (key) of the object constructor
// above it. {"application_databases"}, {"rds_config", "application_databases"}.
type Path []string

func (p Path) String() string { return strings.Join(p, ".") }

// item is one entry of a container: a `key = value` item of an object
// constructor, or an attribute (or, never editable, a block) of the top-level
// body. All offsets index the source the container was located in.
type item struct {
	key      string // literal key; "" with keyOK false when not a literal
	keyOK    bool
	quoted   bool // key written as a quoted string
	block    bool // a body block rather than an attribute
	keyStart int
	valStart int
	valEnd   int
	line     int // line of the key
	value    hclsyntax.Expression

	tail // what follows the value up to the end of its line
}

// tail describes the bytes after an item's value: an optional comma, comments
// and whitespace, and whether the line ends there.
type tail struct {
	comma    int  // offset of the separating comma, -1 when none
	endsLine bool // the item's last line holds nothing after it but [,] [comment]
	lineEnd  int  // offset just past the newline that ends the item's last line
	sepEnd   int  // an item boundary: just past the comma or newline that ends the item; -1 when neither follows
}

// container is an object constructor, or the file body, holding items.
type container struct {
	body   bool
	open   int // offset of '{'; -1 for the body
	close  int // offset of '}'; len(src) for the body
	items  []item
	path   Path // path of the attribute whose value this is (nil for the body)
	line   int  // line of '{'
	object *hclsyntax.ObjectConsExpr

	// The item whose value this object is, when known: owner.items[ownerIdx].
	owner    *container
	ownerIdx int
}

// document is a parsed tfvars file.
type document struct {
	src      []byte
	filename string
	body     *hclsyntax.Body
}

func parseDocument(src []byte, filename string) (*document, error) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, syntaxError(filename, diags, "the file is not valid HCL")
	}
	return &document{src: src, filename: filename, body: f.Body.(*hclsyntax.Body)}, nil
}

// bodyContainer returns the top-level body as a container.
func (d *document) bodyContainer() *container {
	return bodyContainerOf(d.src, d.body, 0)
}

func bodyContainerOf(src []byte, body *hclsyntax.Body, base int) *container {
	c := &container{body: true, open: -1, close: len(src)}
	for name, a := range body.Attributes {
		it := item{
			key: name, keyOK: true,
			keyStart: a.NameRange.Start.Byte - base,
			valStart: a.Expr.Range().Start.Byte - base,
			valEnd:   a.Expr.Range().End.Byte - base,
			line:     a.NameRange.Start.Line,
			value:    a.Expr,
		}
		c.items = append(c.items, it)
	}
	for _, b := range body.Blocks {
		r := b.Range()
		c.items = append(c.items, item{
			block:    true,
			keyStart: r.Start.Byte - base,
			valStart: b.OpenBraceRange.Start.Byte - base,
			valEnd:   r.End.Byte - base,
			line:     r.Start.Line,
		})
	}
	sort.Slice(c.items, func(i, j int) bool { return c.items[i].keyStart < c.items[j].keyStart })
	c.fillTails(src)
	return c
}

// objectContainer wraps an object constructor found in src; base is
// subtracted from the expression's byte offsets (non-zero when the expression
// was parsed from a window of src).
func objectContainer(src []byte, obj *hclsyntax.ObjectConsExpr, path Path, base int) *container {
	c := &container{
		open:   obj.OpenRange.Start.Byte - base,
		close:  obj.SrcRange.End.Byte - 1 - base,
		path:   path,
		line:   obj.OpenRange.Start.Line,
		object: obj,
	}
	c.items = make([]item, 0, len(obj.Items))
	for _, oi := range obj.Items {
		c.items = append(c.items, newObjectItem(oi, base))
	}
	c.fillTails(src)
	return c
}

func newObjectItem(oi hclsyntax.ObjectConsItem, base int) item {
	kr := oi.KeyExpr.Range()
	vr := oi.ValueExpr.Range()
	it := item{
		keyStart: kr.Start.Byte - base,
		valStart: vr.Start.Byte - base,
		valEnd:   vr.End.Byte - base,
		line:     kr.Start.Line,
		value:    oi.ValueExpr,
	}
	it.key, it.keyOK, it.quoted = literalKey(oi.KeyExpr)
	return it
}

// literalKey evaluates an object key written as a bare name or a literal
// string. Keys that need evaluation context (references, function calls) are
// not literal and never match a requested key.
func literalKey(e hclsyntax.Expression) (key string, ok, quoted bool) {
	k, isKey := e.(*hclsyntax.ObjectConsKeyExpr)
	if !isKey {
		return "", false, false
	}
	if _, isTmpl := k.Wrapped.(*hclsyntax.TemplateExpr); isTmpl {
		quoted = true
	}
	v, diags := k.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", false, quoted
	}
	return v.AsString(), true, quoted
}

func (c *container) fillTails(src []byte) {
	for i := range c.items {
		c.items[i].tail = scanTail(src, c.items[i].valEnd)
	}
}

// find returns the index of the item with exactly this key, -1 when absent.
// A key that appears twice is reported with dup set to the second index.
func (c *container) find(key string) (idx, dup int) {
	idx, dup = -1, -1
	for i := range c.items {
		if c.items[i].keyOK && c.items[i].key == key {
			if idx >= 0 {
				return idx, i
			}
			idx = i
		}
	}
	return idx, -1
}

// scanTail looks at what follows a value: spaces, an optional comma, block
// comments, then a line comment or newline (the line ends) or anything else
// (another item, a closing brace: the line continues).
func scanTail(src []byte, p int) tail {
	t := tail{comma: -1, lineEnd: -1, sepEnd: -1}
	for p < len(src) {
		switch c := src[p]; {
		case c == ' ' || c == '\t' || c == '\r':
			p++
		case c == ',' && t.comma < 0:
			t.comma = p
			p++
		case c == '/' && p+1 < len(src) && src[p+1] == '*':
			end := indexFrom(src, p+2, "*/")
			if end < 0 {
				return t.finish()
			}
			p = end + 2
		case c == '#' || (c == '/' && p+1 < len(src) && src[p+1] == '/'):
			nl := indexByteFrom(src, p, '\n')
			if nl < 0 {
				// A line comment running to end of file: the line ends at EOF.
				t.endsLine, t.lineEnd = true, len(src)
				return t.finish()
			}
			t.endsLine, t.lineEnd = true, nl+1
			return t.finish()
		case c == '\n':
			t.endsLine, t.lineEnd = true, p+1
			return t.finish()
		default:
			return t.finish()
		}
	}
	// End of input: only possible for body items.
	t.endsLine, t.lineEnd = true, len(src)
	return t.finish()
}

func (t tail) finish() tail {
	switch {
	case t.endsLine:
		t.sepEnd = t.lineEnd
	case t.comma >= 0:
		t.sepEnd = t.comma + 1
	}
	return t
}

func indexFrom(src []byte, from int, s string) int {
	i := strings.Index(string(src[from:]), s)
	if i < 0 {
		return -1
	}
	return from + i
}

func indexByteFrom(src []byte, from int, b byte) int {
	for i := from; i < len(src); i++ {
		if src[i] == b {
			return i
		}
	}
	return -1
}

// lineStartOf returns the start of the line holding offset p and whether only
// spaces and tabs precede p on it.
func lineStartOf(src []byte, p int) (start int, first bool) {
	first = true
	for i := p - 1; i >= 0; i-- {
		switch src[i] {
		case '\n':
			return i + 1, first
		case ' ', '\t':
		default:
			first = false
		}
	}
	return 0, first
}

// startsLine reports whether the item's key is the first thing on its line,
// and returns that line's start.
func (it *item) startsLine(src []byte) (int, bool) {
	ls, first := lineStartOf(src, it.keyStart)
	return ls, first
}

// lineMode reports whether the item occupies whole lines of its own.
func (it *item) lineMode(src []byte) bool {
	_, first := it.startsLine(src)
	return first && it.endsLine
}

// indentOf returns the run of spaces and tabs starting at p.
func indentOf(src []byte, p int) []byte {
	e := p
	for e < len(src) && (src[e] == ' ' || src[e] == '\t') {
		e++
	}
	return src[p:e]
}

// isBlank reports whether src[s:e] holds only whitespace.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// lineBefore returns the bounds of the line that ends just before offset p
// (p must be a line start). ok is false at the start of input.
func lineBefore(src []byte, p int) (s, e int, ok bool) {
	if p <= 0 {
		return 0, 0, false
	}
	s, _ = lineStartOf(src, p-1)
	return s, p, true
}

// lineAt returns the bounds of the line starting at p (including its newline).
func lineAt(src []byte, p int) (s, e int, ok bool) {
	if p >= len(src) {
		return p, p, false
	}
	nl := indexByteFrom(src, p, '\n')
	if nl < 0 {
		return p, len(src), true
	}
	return p, nl + 1, true
}

func isCommentLine(b []byte) bool {
	t := strings.TrimLeft(string(b), " \t")
	return strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//")
}

// newlineAt returns the newline sequence used by the line ending at or after p
// ("\r\n" or "\n"), looking backwards first.
func newlineStyle(src []byte, p int) string {
	if p > len(src) {
		p = len(src)
	}
	for i := p - 1; i >= 0; i-- {
		if src[i] == '\n' {
			if i > 0 && src[i-1] == '\r' {
				return "\r\n"
			}
			return "\n"
		}
	}
	for i := p; i < len(src); i++ {
		if src[i] == '\n' {
			if i > 0 && src[i-1] == '\r' {
				return "\r\n"
			}
			return "\n"
		}
	}
	return "\n"
}
