package tfvars

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// UpsertEntry sets key in the map-valued attribute at mapPath to an object
// with the given attributes, written in the given order.
//
//   - A new key is appended after the last entry, in the map's key style
//     (bare or quoted, by majority of the existing keys; bare for an empty map
//     when the key is an identifier), separator style (`},` or newline) and
//     blank-line style, and formatted like hclwrite.Format would.
//   - An existing key (matched exactly: quoted "keycloak" and bare keycloak
//     are the same key, cloak is not keycloak) whose value already equals
//     the requested one returns src itself, unchanged.
//   - An existing key with another value gets exactly the requested value:
//     attributes are changed, added or removed inside the existing object so
//     comments on and around the entry stay; the entry is then formatted.
//   - When mapPath has more than one element and its last attribute is
//     missing from the (existing) object above it, that attribute is created
//     holding just this entry, e.g. rds_config.application_databases.
//
// The result has been re-parsed and checked before it is returned.
func UpsertEntry(src []byte, filename string, mapPath Path, key string, value []Attr) ([]byte, error) {
	var err error
	if mapPath, err = checkPath(filename, mapPath); err != nil {
		return nil, err
	}
	where := fmt.Sprintf("%s[%q]", mapPath, key)
	if key == "" || !utf8.ValidString(key) {
		return nil, newError(filename, 0, mapPath, ErrInvalidValue, "%s: the key must be a non-empty UTF-8 string", mapPath)
	}
	key = nfc(key)
	nv, err := objectNode(value)
	if err != nil {
		return nil, newError(filename, 0, mapPath, ErrInvalidValue, "%s: %v", where, err)
	}
	d, err := parseDocument(src, filename)
	if err != nil {
		return nil, err
	}
	parent, idx, err := d.locate(mapPath)
	if err != nil {
		return nil, err
	}
	if idx < 0 {
		if len(mapPath) == 1 {
			return nil, d.notFound(mapPath)
		}
		mapNode := node{
			val:    cty.ObjectVal(map[string]cty.Value{key: nv.val}),
			fields: []field{{name: key, n: nv}},
		}
		return d.commit(insertItem(src, parent, mapPath[len(mapPath)-1], mapNode, true))
	}
	m, err := d.mapAt(parent, idx, mapPath)
	if err != nil {
		return nil, err
	}
	ki, dup := m.find(key)
	if dup >= 0 {
		return nil, newError(filename, m.items[dup].line, mapPath, ErrDuplicateKey,
			"%s: key %q appears more than once (lines %d and %d)", mapPath, key, m.items[ki].line, m.items[dup].line)
	}
	if ki < 0 {
		return d.commit(insertItem(src, m, key, nv, true))
	}
	if cur, diags := m.items[ki].value.Value(nil); !diags.HasErrors() && sameValue(cur, nv.val) {
		return src, nil
	}
	ch, err := replaceItem(src, filename, m, ki, nv, true)
	if err != nil {
		return nil, err
	}
	return d.commit(ch)
}

// RemoveEntry deletes key from the map-valued attribute at mapPath, with the
// comment lines directly above it and its trailing comment. removed is false
// (and out is src) when the key is not there; a nested map that does not
// exist counts as empty. A map left empty becomes {}.
func RemoveEntry(src []byte, filename string, mapPath Path, key string) (out []byte, removed bool, err error) {
	if mapPath, err = checkPath(filename, mapPath); err != nil {
		return nil, false, err
	}
	d, err := parseDocument(src, filename)
	if err != nil {
		return nil, false, err
	}
	parent, idx, err := d.locate(mapPath)
	if err != nil {
		return nil, false, err
	}
	if idx < 0 {
		if len(mapPath) == 1 {
			return nil, false, d.notFound(mapPath)
		}
		return src, false, nil
	}
	m, err := d.mapAt(parent, idx, mapPath)
	if err != nil {
		return nil, false, err
	}
	key = nfc(key)
	ki, dup := m.find(key)
	if dup >= 0 {
		return nil, false, newError(filename, m.items[dup].line, mapPath, ErrDuplicateKey,
			"%s: key %q appears more than once (lines %d and %d)", mapPath, key, m.items[ki].line, m.items[dup].line)
	}
	if ki < 0 {
		return src, false, nil
	}
	out, err = d.commit(removeItem(src, m, ki, true))
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// SetAttribute sets the attribute at path to value. path {"rds_config",
// "enabled"} changes one attribute inside the rds_config object and keeps its
// inline comment; an attribute missing from an existing object is added; a
// missing top-level attribute (a one-element path) is appended to the file.
// An object value replacing an object constructor is merged into it like
// UpsertEntry does, so comments inside survive. Setting the value the
// attribute already has returns src unchanged.
func SetAttribute(src []byte, filename string, path Path, value cty.Value) ([]byte, error) {
	var err error
	if path, err = checkPath(filename, path); err != nil {
		return nil, err
	}
	n, err := valueNode(value, path.String())
	if err != nil {
		return nil, newError(filename, 0, path, ErrInvalidValue, "%v", err)
	}
	d, err := parseDocument(src, filename)
	if err != nil {
		return nil, err
	}
	parent, idx, err := d.locate(path)
	if err != nil {
		return nil, err
	}
	name := path[len(path)-1]
	if idx < 0 {
		return d.commit(insertItem(src, parent, name, n, true))
	}
	it := &parent.items[idx]
	if cur, diags := it.value.Value(nil); !diags.HasErrors() && sameValue(cur, n.val) {
		return src, nil
	}
	ch, err := replaceItem(src, filename, parent, idx, n, true)
	if err != nil {
		return nil, err
	}
	return d.commit(ch)
}

// checkPath validates a path and returns it in Unicode NFC (a copy).
func checkPath(filename string, p Path) (Path, error) {
	if len(p) == 0 {
		return nil, newError(filename, 0, p, ErrNotFound, "empty attribute path")
	}
	out := make(Path, len(p))
	for i, e := range p {
		if e == "" {
			return nil, newError(filename, 0, p, ErrNotFound, "attribute path %q has an empty element", p.String())
		}
		out[i] = nfc(e)
	}
	return out, nil
}

// locate walks path and returns the container holding its last element and
// that element's index there (-1 when it is missing from an existing
// container).
func (d *document) locate(path Path) (*container, int, error) {
	c := d.bodyContainer()
	for depth, name := range path {
		i, dup := c.find(name)
		if dup >= 0 {
			return nil, -1, newError(d.filename, c.items[dup].line, path[:depth+1], ErrDuplicateKey,
				"attribute %q is set more than once (lines %d and %d)", path[:depth+1].String(), c.items[i].line, c.items[dup].line)
		}
		if depth == len(path)-1 {
			return c, i, nil
		}
		if i < 0 {
			return nil, -1, d.notFoundIn(c, path[:depth+1])
		}
		obj, ok := c.items[i].value.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil, -1, newError(d.filename, c.items[i].line, path[:depth+1], ErrNotMap,
				"attribute %q is not an object written as { ... }", path[:depth+1].String())
		}
		next := objectContainer(d.src, obj, path[:depth+1], 0)
		next.owner, next.ownerIdx = c, i
		c = next
	}
	panic("unreachable")
}

func (d *document) notFound(path Path) error {
	return d.notFoundIn(nil, path)
}

func (d *document) notFoundIn(c *container, path Path) error {
	name := path[len(path)-1]
	if len(path) == 1 || c == nil || c.body {
		if len(bytes.TrimSpace(d.src)) == 0 {
			return newError(d.filename, 0, path, ErrNotFound, "attribute %q not found (the file is empty)", path.String())
		}
		return newError(d.filename, 0, path, ErrNotFound, "attribute %q not found", path.String())
	}
	return newError(d.filename, c.line, path, ErrNotFound, "%s: attribute %q not found", path[:len(path)-1], name)
}

// mapAt returns the map (object constructor) that is the value of item idx.
func (d *document) mapAt(parent *container, idx int, path Path) (*container, error) {
	it := &parent.items[idx]
	obj, ok := it.value.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, newError(d.filename, it.line, path, ErrNotMap,
			"attribute %q is not a map written as { ... }", path.String())
	}
	m := objectContainer(d.src, obj, path, 0)
	m.owner, m.ownerIdx = parent, idx
	return m, nil
}

// op is the kind of a change.
type op int

const (
	opInsert op = iota
	opReplace
	opRemove
)

// change is one contiguous byte edit of the source, src[start:end] → text,
// with what it is meant to achieve (for verification).
type change struct {
	c          *container
	start, end int
	text       []byte
	op         op
	key        string
	want       node
	expr       bool // the container's braces were rewritten
}

func splice(src []byte, start, end int, text []byte) []byte {
	out := make([]byte, 0, len(src)-(end-start)+len(text))
	out = append(out, src[:start]...)
	out = append(out, text...)
	return append(out, src[end:]...)
}

// quotedStyle reports whether new keys of c are written quoted: when most of
// the existing literal keys are.
func (c *container) quotedStyle() bool {
	q, b := 0, 0
	for i := range c.items {
		if !c.items[i].keyOK {
			continue
		}
		if c.items[i].quoted {
			q++
		} else {
			b++
		}
	}
	return q > b
}

// blankStyle reports whether the last two items are separated by a blank line.
func (c *container) blankStyle(src []byte) bool {
	n := len(c.items)
	if n < 2 {
		return false
	}
	a, b := &c.items[n-2], &c.items[n-1]
	if !a.endsLine {
		return false
	}
	bs, first := b.startsLine(src)
	if !first || bs < a.lineEnd {
		return false
	}
	for p := a.lineEnd; p < bs; {
		s, e, _ := lineAt(src, p)
		if isBlank(src[s:e]) {
			return true
		}
		p = e
	}
	return false
}

func (c *container) commaBefore(k int) bool {
	for i := 0; i < k; i++ {
		if c.items[i].comma >= 0 {
			return true
		}
	}
	return false
}

// cellCache memoises the alignment cells of items.
type cellCache struct {
	src   []byte
	c     *container
	first map[int]cells
	last  map[int]cells
}

func newCellCache(src []byte, c *container) *cellCache {
	return &cellCache{src: src, c: c, first: map[int]cells{}, last: map[int]cells{}}
}

func (cc *cellCache) get(i int) (first, last cells) {
	if f, ok := cc.first[i]; ok {
		return f, cc.last[i]
	}
	it := &cc.c.items[i]
	ls, _ := it.startsLine(cc.src)
	first, last = edgeCells(cc.src[ls:it.lineEnd])
	cc.first[i], cc.last[i] = first, last
	return first, last
}

// adjacent reports whether items i and i+1 sit on consecutive lines of their
// own, with nothing (no blank line, no comment) between them.
func (cc *cellCache) adjacent(i int) bool {
	a, b := &cc.c.items[i], &cc.c.items[i+1]
	if a.block || b.block || !a.lineMode(cc.src) || !b.lineMode(cc.src) {
		return false
	}
	bs, _ := b.startsLine(cc.src)
	return a.lineEnd == bs
}

// linked reports whether items i and i+1 are in one alignment chain.
func (cc *cellCache) linked(i int) bool {
	if !cc.adjacent(i) {
		return false
	}
	_, al := cc.get(i)
	bf, _ := cc.get(i + 1)
	return chained(al, bf)
}

func (cc *cellCache) up(j int) int {
	for j > 0 && cc.linked(j-1) {
		j--
	}
	return j
}

func (cc *cellCache) down(j int) int {
	for j < len(cc.c.items)-1 && cc.linked(j) {
		j++
	}
	return j
}

func (cc *cellCache) lineStart(i int) int {
	s, _ := cc.c.items[i].startsLine(cc.src)
	return s
}

// ownerIndent is the indentation of the line holding the container's '{'.
func (c *container) ownerIndent(src []byte) []byte {
	if c.body {
		return nil
	}
	ls, _ := lineStartOf(src, c.open)
	return indentOf(src, ls)
}

func indentUnit(indent []byte) []byte {
	if bytes.IndexByte(indent, '\t') >= 0 {
		return []byte("\t")
	}
	return []byte("  ")
}

func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// insertItem adds `key = value` as the last item of c. With fmtOn the new
// lines (and any alignment chain they join) are formatted; without it the
// caller formats a larger region later.
func insertItem(src []byte, c *container, key string, n node, fmtOn bool) change {
	ch := change{c: c, op: opInsert, key: key, want: n}
	keyText := renderKey(key, c.quotedStyle())
	if len(c.items) == 0 {
		return insertIntoEmpty(src, c, ch, keyText, n, fmtOn)
	}
	li := len(c.items) - 1
	L := &c.items[li]
	if !c.body && !L.lineMode(src) {
		// A map kept on one line stays on one line.
		val := render(n, true)
		if L.comma >= 0 {
			ch.start = L.comma + 1
			ch.text = concat([]byte(" "), keyText, []byte(" = "), val, []byte(","))
		} else {
			ch.start = L.valEnd
			ch.text = concat([]byte(", "), keyText, []byte(" = "), val)
		}
		ch.end = ch.start
		return ch
	}
	lls, _ := L.startsLine(src)
	indent := indentOf(src, lls)
	nl := newlineStyle(src, L.lineEnd)
	blank := c.blankStyle(src)
	trailing := L.comma >= 0
	needComma := !c.body && !trailing && c.commaBefore(li)
	p := L.lineEnd
	if c.body {
		p = len(src)
	}
	var pre []byte
	if p == len(src) && p > 0 && src[p-1] != '\n' {
		pre = append(pre, nl...)
	}
	if blank {
		pre = append(pre, nl...)
	}
	// Entries written on one line each (`a = { x = 1, y = 2 }`) get company.
	_, lObj := L.value.(*hclsyntax.ObjectConsExpr)
	oneLine := lObj && bytes.IndexByte(src[L.valStart:L.valEnd], '\n') < 0
	itemText := concat(keyText, []byte(" = "), render(n, oneLine))
	if trailing {
		itemText = append(itemText, ',')
	}
	itemText = setNewlines(append(itemText, '\n'), nl)

	// The part of the source from the end of L's value to the insertion
	// point, with the comma L needs when entries are comma-separated.
	var fix []byte
	fixStart := p
	if needComma {
		fixStart = L.valEnd
		fix = concat([]byte(","), src[L.valEnd:p])
	}
	if !fmtOn {
		ch.start, ch.end = fixStart, p
		ch.text = concat(fix, pre, reindent(itemText, indent))
		return ch
	}
	formatted := formatLines(itemText, indent)
	cc := newCellCache(src, c)
	newFirst, _ := edgeCells(formatted)
	if len(pre) == 0 && p == L.lineEnd && L.lineMode(src) && !L.block {
		if _, lLast := cc.get(li); chained(lLast, newFirst) {
			// The new line joins L's alignment chain: format the chain.
			lo := cc.up(li)
			rs := cc.lineStart(lo)
			region := concat(src[rs:fixStart], fix, itemText)
			ch.start, ch.end = rs, p
			ch.text = formatLines(region, indent)
			return ch
		}
	}
	ch.start, ch.end = fixStart, p
	ch.text = concat(fix, pre, formatted)
	return ch
}

func insertIntoEmpty(src []byte, c *container, ch change, keyText []byte, n node, fmtOn bool) change {
	itemText := concat(keyText, []byte(" = "), render(n, false), []byte("\n"))
	if c.body {
		nl := newlineStyle(src, len(src))
		var pre []byte
		if len(src) > 0 && src[len(src)-1] != '\n' {
			pre = []byte(nl)
		}
		ch.start, ch.end = len(src), len(src)
		ch.text = concat(pre, formatLines(setNewlines(itemText, nl), nil))
		return ch
	}
	owner := c.ownerIndent(src)
	indent := concat(owner, indentUnit(owner))
	nl := newlineStyle(src, c.open)
	itemText = setNewlines(itemText, nl)
	var formatted []byte
	if fmtOn {
		formatted = formatLines(itemText, indent)
	} else {
		formatted = reindent(itemText, indent)
	}
	inner := src[c.open+1 : c.close]
	if bytes.IndexByte(inner, '\n') < 0 && isBlank(inner) && c.owner != nil && !c.owner.items[c.ownerIdx].lineMode(src) {
		// {} inside a one-line object stays on that line.
		ch.start, ch.end, ch.text = c.open, c.close+1, concat([]byte("{ "), keyText, []byte(" = "), render(n, true), []byte(" }"))
		ch.expr = true
		return ch
	}
	if bytes.IndexByte(inner, '\n') < 0 {
		if isBlank(inner) {
			ch.start, ch.end = c.open, c.close+1
			ch.text = concat([]byte("{"), []byte(nl), formatted, owner, []byte("}"))
			ch.expr = true
			return ch
		}
		// `{ /* comment */ }`: keep the comment on the brace line.
		end := c.close
		for end > c.open+1 && (src[end-1] == ' ' || src[end-1] == '\t') {
			end--
		}
		ch.start, ch.end = end, c.close
		ch.text = concat([]byte(nl), formatted, owner)
		return ch
	}
	cls, first := lineStartOf(src, c.close)
	if first {
		ch.start, ch.end = cls, cls
		ch.text = formatted
		return ch
	}
	end := c.close
	for end > c.open+1 && (src[end-1] == ' ' || src[end-1] == '\t') {
		end--
	}
	ch.start, ch.end = end, c.close
	ch.text = concat([]byte(nl), formatted, owner)
	return ch
}

// replaceItem gives item i of c the value n. An object constructor receiving
// an object is edited attribute by attribute (mergeObject) so its comments
// stay; anything else is rewritten. A line-mode item is then formatted
// together with any alignment chain it belongs to.
func replaceItem(src []byte, filename string, c *container, i int, n node, fmtOn bool) (change, error) {
	it := &c.items[i]
	ch := change{c: c, op: opReplace, key: it.key, want: n}
	lineMode := it.lineMode(src) && !it.block
	var newVal []byte
	if _, isObj := it.value.(*hclsyntax.ObjectConsExpr); isObj && n.isObject() {
		v, err := mergeObject(src[it.valStart:it.valEnd], n, filename)
		if err != nil {
			return change{}, err
		}
		newVal = v
	} else {
		newVal = setNewlines(render(n, !lineMode), newlineStyle(src, it.valStart))
	}
	if !fmtOn {
		ch.start, ch.end, ch.text = it.valStart, it.valEnd, newVal
		return ch, nil
	}
	return formatReplace(src, c, i, newVal, ch), nil
}

// formatReplace sets the value text of item i of c to newVal and, for an
// item on lines of its own, formats it with the alignment chain it is in.
func formatReplace(src []byte, c *container, i int, newVal []byte, ch change) change {
	it := &c.items[i]
	if !it.lineMode(src) || it.block {
		ch.start, ch.end, ch.text = it.valStart, it.valEnd, newVal
		return ch
	}
	ls, _ := it.startsLine(src)
	indent := indentOf(src, ls)
	unit := concat(src[ls:it.valStart], newVal, src[it.valEnd:it.lineEnd])
	first, last := edgeCells(unit)
	cc := newCellCache(src, c)
	// The region grows over the alignment chains the item is in after the
	// edit, and over those it was in before (they lose a member).
	lo, hi := i, i
	if i > 0 && cc.adjacent(i-1) {
		if _, pl := cc.get(i - 1); chained(pl, first) || cc.linked(i-1) {
			lo = cc.up(i - 1)
		}
	}
	if i < len(c.items)-1 && cc.adjacent(i) {
		if nf, _ := cc.get(i + 1); chained(last, nf) || cc.linked(i) {
			hi = cc.down(i + 1)
		}
	}
	rs, re := cc.lineStart(lo), c.items[hi].lineEnd
	region := concat(src[rs:ls], unit, src[it.lineEnd:re])
	ch.start, ch.end = rs, re
	ch.text = formatLines(region, indent)
	return ch
}

// lift turns a change that rewrote an object's braces ({} written out over
// several lines, or an emptied map written {}) into a change of the item
// owning the object, so the owner's line is formatted with its alignment
// chain (`application_databases = {}` aligns with its neighbours; written
// out over lines it no longer does).
func lift(src []byte, ch change) change {
	c := ch.c
	owner := c.owner
	it := &owner.items[c.ownerIdx]
	newVal := concat(src[it.valStart:ch.start], ch.text, src[ch.end:it.valEnd])
	want := cty.EmptyObjectVal
	if ch.op == opInsert {
		want = cty.ObjectVal(map[string]cty.Value{ch.key: ch.want.val})
	}
	up := change{c: owner, op: opReplace, key: it.key, want: node{val: want}}
	return formatReplace(src, owner, c.ownerIdx, newVal, up)
}

// removeItem deletes item i of c, with the comment lines directly above it.
func removeItem(src []byte, c *container, i int, fmtOn bool) change {
	it := &c.items[i]
	ch := change{c: c, op: opRemove, key: it.key}
	n := len(c.items)
	if !it.lineMode(src) {
		return removeInline(src, c, i, ch)
	}
	ls, _ := it.startsLine(src)
	gapStart := c.open + 1
	if c.body {
		gapStart = 0
	}
	if i > 0 {
		gapStart = c.items[i-1].valEnd
	}
	start, end := ls, it.lineEnd
	for {
		s, e, ok := lineBefore(src, start)
		if !ok || s < gapStart || !isCommentLine(src[s:e]) {
			break
		}
		start = s
	}
	if n == 1 && !c.body {
		if isBlank(src[c.open+1:start]) && isBlank(src[end:c.close]) {
			ch.start, ch.end, ch.text = c.open, c.close+1, []byte("{}")
			ch.expr = true
			return ch
		}
	}
	// Blank lines: do not leave two in a row, or one against a brace.
	ps, _, pok := lineBefore(src, start)
	prevBlank := pok && ps >= gapStart && isBlank(src[ps:start])
	prevOpen := i == 0 && (c.body && start == 0 || !c.body && pok && ps <= c.open)
	nextLimit := c.close
	if i < n-1 {
		nextLimit, _ = c.items[i+1].startsLine(src)
	}
	_, ne, nok := lineAt(src, end)
	nextBlank := nok && ne <= nextLimit && isBlank(src[end:ne])
	nextClose := i == n-1 && isBlank(src[end:c.close]) && bytes.IndexByte(src[end:c.close], '\n') < 0
	switch {
	case prevBlank && (nextBlank || nextClose):
		start = ps
	case prevOpen && nextBlank:
		end = ne
	}
	keepFrom := start
	var keep []byte
	if i == n-1 && i > 0 && it.comma < 0 && c.items[i-1].comma >= 0 {
		// `a = {...},` followed by the removed last entry: drop the comma
		// that separated them, as the map had no comma after its last entry.
		keepFrom = c.items[i-1].comma
		keep = src[keepFrom+1 : start]
	}
	ch.start, ch.end, ch.text = keepFrom, end, keep
	if !fmtOn {
		return ch
	}
	// Reformat neighbours whose alignment chain the removal changes.
	cc := newCellCache(src, c)
	linkedUp := i > 0 && cc.linked(i-1)
	linkedDown := i < n-1 && cc.linked(i)
	joined := false
	if i > 0 && i < n-1 && start == c.items[i-1].lineEnd && end == cc.lineStart(i+1) &&
		c.items[i-1].lineMode(src) && c.items[i+1].lineMode(src) {
		_, al := cc.get(i - 1)
		bf, _ := cc.get(i + 1)
		joined = chained(al, bf)
	}
	if !linkedUp && !linkedDown && !joined {
		return ch
	}
	delta := len(ch.text) - (ch.end - ch.start)
	var a, b int // the region to format, in the coordinates of the edited text
	if linkedUp || joined {
		a = cc.lineStart(cc.up(i - 1))
	} else {
		a = cc.lineStart(i+1) + delta
	}
	if linkedDown || joined {
		b = c.items[cc.down(i+1)].lineEnd + delta
	} else {
		b = c.items[i-1].lineEnd
		if keepFrom < start { // the comma on item i-1's line is gone
			b--
		}
	}
	lo := i + 1
	if linkedUp || joined {
		lo = i - 1
	}
	lls, _ := c.items[lo].startsLine(src)
	return reformat(src, ch, a, b, indentOf(src, lls))
}

// reformat extends ch so that the region [a, b) of the edited text
// (coordinates after ch is applied; whole lines) is formatted too.
func reformat(src []byte, ch change, a, b int, indent []byte) change {
	delta := len(ch.text) - (ch.end - ch.start)
	newEnd := ch.start + len(ch.text)
	fs := min(ch.start, a)
	feNew := max(newEnd, b)
	feSrc := feNew - delta
	seg := concat(src[fs:ch.start], ch.text, src[ch.end:feSrc])
	text := concat(seg[:a-fs], formatLines(seg[a-fs:b-fs], indent), seg[b-fs:])
	ch.start, ch.end, ch.text = fs, feSrc, text
	return ch
}

// removeInline deletes an item that shares its line with other code.
func removeInline(src []byte, c *container, i int, ch change) change {
	it := &c.items[i]
	n := len(c.items)
	after := it.valEnd
	if it.comma >= 0 {
		after = it.comma + 1
	}
	for after < len(src) && (src[after] == ' ' || src[after] == '\t') {
		after++
	}
	if n == 1 && !c.body && isBlank(src[c.open+1:it.keyStart]) && isBlank(src[after:c.close]) {
		ch.start, ch.end, ch.text = c.open, c.close+1, []byte("{}")
		ch.expr = true
		return ch
	}
	_, first := it.startsLine(src)
	switch {
	case first:
		ch.start, ch.end = it.keyStart, after
	case i < n-1:
		ch.start, ch.end = it.keyStart, c.items[i+1].keyStart
	case c.items[i-1].endsLine:
		ch.start, ch.end = it.keyStart, after
	default:
		ch.start, ch.end = c.items[i-1].valEnd, it.valEnd
	}
	return ch
}

// mergeObject turns the object constructor text into one with exactly the
// attributes of n, touching only what differs: attributes not in n are
// removed, missing ones appended, differing ones replaced (recursively for
// nested objects). The result is not formatted.
func mergeObject(text []byte, n node, filename string) ([]byte, error) {
	cur := text
	want := map[string]bool{}
	fields := n.children()
	for _, f := range fields {
		want[f.name] = true
	}
	for {
		c, err := parseObjectText(cur, filename)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		drop := -1
		for j := range c.items {
			it := &c.items[j]
			if !it.keyOK || !want[it.key] || seen[it.key] {
				drop = j
				break
			}
			seen[it.key] = true
		}
		if drop < 0 {
			break
		}
		ch := removeItem(cur, c, drop, false)
		cur = splice(cur, ch.start, ch.end, ch.text)
	}
	for _, f := range fields {
		c, err := parseObjectText(cur, filename)
		if err != nil {
			return nil, err
		}
		j, _ := c.find(f.name)
		if j < 0 {
			ch := insertItem(cur, c, f.name, f.n, false)
			cur = splice(cur, ch.start, ch.end, ch.text)
			continue
		}
		if v, diags := c.items[j].value.Value(nil); !diags.HasErrors() && sameValue(v, f.n.val) {
			continue
		}
		ch, err := replaceItem(cur, filename, c, j, f.n, false)
		if err != nil {
			return nil, err
		}
		cur = splice(cur, ch.start, ch.end, ch.text)
	}
	return cur, nil
}

const exprPrefix = "x = "

// parseObjectText parses text holding one object constructor.
func parseObjectText(text []byte, filename string) (*container, error) {
	buf := concat([]byte(exprPrefix), text)
	f, diags := hclsyntax.ParseConfig(buf, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, syntaxError(filename, diags, "internal error: an edited object does not parse")
	}
	a := f.Body.(*hclsyntax.Body).Attributes["x"]
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, &Error{File: filename, Kind: ErrVerify, Msg: "internal error: an edited object is no longer an object"}
	}
	return objectContainer(text, obj, nil, len(exprPrefix)), nil
}
