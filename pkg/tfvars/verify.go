package tfvars

import (
	"bytes"
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Verification.
//
// The output of every edit is re-parsed before it is returned. The edit
// changes one contiguous range of a file that parsed, inside one container
// (an object constructor, or the file body). Rather than re-parse the whole
// file, we re-parse the smallest run of whole items of that container that
// covers the edit, cut at item boundaries: positions where the parser stands
// at the top of its item loop (just after the '{', or just after the comma or
// newline that ends an item) and the lexer is in its normal state (not in a
// string, heredoc, template or comment).
//
// The window is parsed on its own, wrapped as `x = {` window `}` (or as a
// body), followed by a sentinel item when the window does not reach the
// closing brace, so it must end exactly at an item boundary. If it parses:
// the lexer state at the window's end is normal again, so everything after
// it lexes into the same tokens as before; the parser reaches the window
// start in the same state as before (the bytes before it are unchanged), goes
// through the window exactly as the standalone parse did, and leaves it at
// the top of the item loop, where the unchanged rest parsed before. Hence the
// whole file parses. Nothing else is assumed.
//
// Edits that rewrite the container's own braces ({} becoming multi-line, or a
// last entry removed) re-parse the whole container expression instead.
//
// The re-parsed items are then compared with what the edit was meant to do:
// the same keys plus or minus the edited one, and the edited key holding a
// value equal to the requested one.

const sentinelKey = "__tfvars_window_end__"

// commit applies ch to the document's source, verifies the result and
// returns it.
func (d *document) commit(ch change) ([]byte, error) {
	if ch.expr && ch.c.owner != nil {
		ch = lift(d.src, ch)
	}
	out := splice(d.src, ch.start, ch.end, ch.text)
	if err := d.verify(ch, out); err != nil {
		return nil, err
	}
	return out, nil
}

// boundaries lists the item boundaries of c: bounds[i] is just before item
// i, bounds[len(items)] is the closing brace (end of file for the body).
// ok is false if some item is not followed by a separator.
func (c *container) boundaries() (bounds []int, ok bool) {
	bounds = make([]int, 0, len(c.items)+1)
	if c.body {
		bounds = append(bounds, 0)
	} else {
		bounds = append(bounds, c.open+1)
	}
	for i := 1; i < len(c.items); i++ {
		s := c.items[i-1].sepEnd
		if s < 0 || s > c.items[i].keyStart {
			return nil, false
		}
		bounds = append(bounds, s)
	}
	return append(bounds, c.close), true
}

// window finds the item boundaries ws <= start and we >= end, and the index
// range [first, last) of the items between them.
func (c *container) window(start, end int) (ws, we, first, last int, ok bool) {
	bounds, ok := c.boundaries()
	if !ok || start < bounds[0] || end > bounds[len(bounds)-1] {
		return 0, 0, 0, 0, false
	}
	// largest boundary <= start
	first = sort.Search(len(bounds), func(i int) bool { return bounds[i] > start }) - 1
	// smallest boundary >= end
	last = sort.Search(len(bounds), func(i int) bool { return bounds[i] >= end })
	return bounds[first], bounds[last], first, last, true
}

func (d *document) verify(ch change, out []byte) error {
	c := ch.c
	delta := len(ch.text) - (ch.end - ch.start)
	var orig []string
	var got []parsedItem
	var err error
	ws, we, first, last, ok := c.window(ch.start, ch.end)
	if ch.expr || !ok {
		if c.body {
			got, err = d.parseBodyWindow(out, 0, len(out), false)
			first, last = 0, len(c.items)
		} else {
			got, err = d.parseExprWindow(out[c.open : c.close+1+delta])
			first, last = 0, len(c.items)
		}
	} else if c.body {
		got, err = d.parseBodyWindow(out, ws, we+delta, we < c.close)
	} else {
		got, err = d.parseObjectWindow(out[ws:we+delta], we < c.close)
	}
	if err != nil {
		return err
	}
	last = min(last, len(c.items)) // bounds[len(items)] is the closing brace
	for i := first; i < last; i++ {
		orig = append(orig, keyID(c.items[i]))
	}
	want := slices.Clone(orig)
	switch ch.op {
	case opInsert:
		want = append(want, "k:"+ch.key)
	case opRemove:
		if i := slices.Index(want, "k:"+ch.key); i >= 0 {
			want = slices.Delete(want, i, i+1)
		}
	}
	have := make([]string, len(got))
	for i, g := range got {
		have[i] = g.id
	}
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(want, have) {
		return d.verifyError(c, "the edited %s holds keys %v, expected %v", what(c), have, want)
	}
	if ch.op == opRemove {
		return nil
	}
	for _, g := range got {
		if g.id != "k:"+ch.key {
			continue
		}
		v, diags := g.expr.Value(nil)
		if diags.HasErrors() || !sameValue(v, ch.want.val) {
			return d.verifyError(c, "%q does not read back as the value written", ch.key)
		}
		return nil
	}
	return d.verifyError(c, "%q is missing after the edit", ch.key)
}

func what(c *container) string {
	if c.body {
		return "file"
	}
	return c.path.String()
}

func (d *document) verifyError(c *container, format string, args ...any) error {
	return &Error{File: d.filename, Line: c.line, Path: c.path.String(), Kind: ErrVerify,
		Msg: "internal error, nothing written: " + fmt.Sprintf(format, args...)}
}

type parsedItem struct {
	id   string // "k:<key>" for a literal key, "?" otherwise, "b" for a block
	expr hclsyntax.Expression
}

func keyID(it item) string {
	switch {
	case it.block:
		return "b"
	case it.keyOK:
		return "k:" + it.key
	}
	return "?"
}

func (d *document) parseObjectWindow(w []byte, sentinel bool) ([]parsedItem, error) {
	var buf bytes.Buffer
	buf.Grow(len(w) + 48)
	buf.WriteString(exprPrefix + "{")
	buf.Write(w)
	if sentinel {
		buf.WriteString(`"` + sentinelKey + `" = 0`)
	}
	buf.WriteString("}")
	f, diags := hclsyntax.ParseConfig(buf.Bytes(), d.filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, d.reparseError(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	a := body.Attributes["x"]
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok || len(body.Attributes) != 1 || len(body.Blocks) != 0 {
		return nil, &Error{File: d.filename, Kind: ErrVerify, Msg: "internal error, nothing written: the edited entries do not re-parse as map entries"}
	}
	items := objectItems(obj)
	if sentinel {
		if len(items) == 0 || items[len(items)-1].id != "k:"+sentinelKey {
			return nil, &Error{File: d.filename, Kind: ErrVerify, Msg: "internal error, nothing written: the edited entries do not end at an entry boundary"}
		}
		items = items[:len(items)-1]
	}
	return items, nil
}

func (d *document) parseExprWindow(w []byte) ([]parsedItem, error) {
	buf := concat([]byte(exprPrefix), w, []byte("\n"))
	f, diags := hclsyntax.ParseConfig(buf, d.filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, d.reparseError(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	a := body.Attributes["x"]
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok || len(body.Attributes) != 1 || len(body.Blocks) != 0 ||
		obj.SrcRange.Start.Byte != len(exprPrefix) || obj.SrcRange.End.Byte != len(exprPrefix)+len(w) {
		return nil, &Error{File: d.filename, Kind: ErrVerify, Msg: "internal error, nothing written: the edited map does not re-parse as one object"}
	}
	return objectItems(obj), nil
}

func objectItems(obj *hclsyntax.ObjectConsExpr) []parsedItem {
	items := make([]parsedItem, 0, len(obj.Items))
	for _, oi := range obj.Items {
		id := "?"
		if k, ok, _ := literalKey(oi.KeyExpr); ok {
			id = "k:" + k
		}
		items = append(items, parsedItem{id: id, expr: oi.ValueExpr})
	}
	return items
}

func (d *document) parseBodyWindow(out []byte, ws, we int, sentinel bool) ([]parsedItem, error) {
	w := out[ws:we]
	if sentinel {
		w = concat(w, []byte(sentinelKey+" = 0\n"))
	}
	f, diags := hclsyntax.ParseConfig(w, d.filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, d.reparseError(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	var items []parsedItem
	for name, a := range body.Attributes {
		if sentinel && name == sentinelKey {
			continue
		}
		items = append(items, parsedItem{id: "k:" + name, expr: a.Expr})
	}
	for range body.Blocks {
		items = append(items, parsedItem{id: "b"})
	}
	if sentinel {
		if _, ok := body.Attributes[sentinelKey]; !ok {
			return nil, &Error{File: d.filename, Kind: ErrVerify, Msg: "internal error, nothing written: the edited attributes do not end at a line boundary"}
		}
	}
	return items, nil
}

func (d *document) reparseError(diags hcl.Diagnostics) error {
	e := syntaxError(d.filename, diags, "internal error, nothing written: the edited file does not re-parse")
	e.Kind = ErrVerify
	e.Line = 0
	return e
}
