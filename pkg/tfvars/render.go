package tfvars

import (
	"bytes"
	"fmt"
	"math/big"
	"sort"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Attr is one attribute of an object value, in the order it is written.
type Attr struct {
	Name  string
	Value cty.Value
}

// node is a value to write: a cty value, plus the attribute order when it is
// an object built from []Attr (cty objects themselves are unordered).
type node struct {
	val    cty.Value
	fields []field // non-nil: an object written in this order
}

// field is one attribute of an ordered object node.
type field struct {
	name string
	n    node
}

// nfc returns s in Unicode normal form C, as HCL and cty store strings: a
// key written from any other form would read back different.
func nfc(s string) string { return cty.StringVal(s).AsString() }

// normalize rebuilds v with every object attribute and map key in NFC.
func normalize(v cty.Value) (cty.Value, error) {
	if v.IsNull() || !v.IsKnown() || v.IsMarked() {
		return v, nil
	}
	ty := v.Type()
	switch {
	case ty.IsObjectType() || ty.IsMapType():
		m := map[string]cty.Value{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			e, err := normalize(e)
			if err != nil {
				return v, err
			}
			nk := nfc(k.AsString())
			if _, dup := m[nk]; dup {
				return v, fmt.Errorf("keys %q collide once normalised to Unicode NFC", nk)
			}
			m[nk] = e
		}
		if ty.IsMapType() {
			if len(m) == 0 {
				return v, nil
			}
			return cty.MapVal(m), nil
		}
		return cty.ObjectVal(m), nil
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		if v.LengthInt() == 0 {
			return v, nil
		}
		var es []cty.Value
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			e, err := normalize(e)
			if err != nil {
				return v, err
			}
			es = append(es, e)
		}
		switch {
		case ty.IsListType():
			return cty.ListVal(es), nil
		case ty.IsSetType():
			return cty.SetVal(es), nil
		}
		return cty.TupleVal(es), nil
	}
	return v, nil
}

// objectNode builds the node for an ordered object, validating every value.
func objectNode(attrs []Attr) (node, error) {
	seen := make(map[string]bool, len(attrs))
	m := make(map[string]cty.Value, len(attrs))
	fields := make([]field, 0, len(attrs))
	for _, a := range attrs {
		if seen[a.Name] {
			return node{}, fmt.Errorf("attribute %q is given twice", a.Name)
		}
		seen[a.Name] = true
		if err := checkWritable(a.Value, a.Name); err != nil {
			return node{}, err
		}
		if a.Name == "" || !utf8.ValidString(a.Name) {
			return node{}, fmt.Errorf("attribute names must be non-empty UTF-8, got %q", a.Name)
		}
		name := nfc(a.Name)
		v, err := normalize(a.Value)
		if err != nil {
			return node{}, fmt.Errorf("%s: %w", a.Name, err)
		}
		if _, dup := m[name]; dup {
			return node{}, fmt.Errorf("attribute %q is given twice", a.Name)
		}
		m[name] = v
		fields = append(fields, field{name: name, n: node{val: v}})
	}
	return node{val: cty.ObjectVal(m), fields: fields}, nil
}

func valueNode(v cty.Value, what string) (node, error) {
	if err := checkWritable(v, what); err != nil {
		return node{}, err
	}
	v, err := normalize(v)
	if err != nil {
		return node{}, fmt.Errorf("%s: %w", what, err)
	}
	return node{val: v}, nil
}

// checkWritable rejects values that have no faithful HCL literal: unknown or
// marked values, capsules, infinities, strings that are not UTF-8.
// Every string, including ones holding ${, %{, quotes, backslashes and
// newlines, is written escaped, so it reads back equal.
func checkWritable(v cty.Value, what string) error {
	if v == cty.NilVal {
		return fmt.Errorf("%s: no value", what)
	}
	if v.IsMarked() {
		return fmt.Errorf("%s: marked (sensitive) values cannot be written", what)
	}
	if !v.IsKnown() {
		return fmt.Errorf("%s: the value is unknown", what)
	}
	ty := v.Type()
	if v.IsNull() {
		if ty.IsCapsuleType() {
			return fmt.Errorf("%s: %s values cannot be written", what, ty.FriendlyName())
		}
		return nil
	}
	switch {
	case ty == cty.String:
		if !utf8.ValidString(v.AsString()) {
			return fmt.Errorf("%s: the string is not valid UTF-8", what)
		}
	case ty == cty.Number:
		if v.AsBigFloat().IsInf() {
			return fmt.Errorf("%s: infinite numbers cannot be written", what)
		}
	case ty == cty.Bool:
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, e := it.Element()
			if err := checkWritable(e, fmt.Sprintf("%s[%d]", what, i)); err != nil {
				return err
			}
		}
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if !utf8.ValidString(k.AsString()) {
				return fmt.Errorf("%s: key %q is not valid UTF-8", what, k.AsString())
			}
			if err := checkWritable(e, fmt.Sprintf("%s.%s", what, k.AsString())); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: %s values cannot be written", what, ty.FriendlyName())
	}
	return nil
}

func (n node) isObject() bool {
	if n.fields != nil {
		return true
	}
	ty := n.val.Type()
	return !n.val.IsNull() && (ty.IsObjectType() || ty.IsMapType())
}

// children lists an object node's attributes in writing order (cty's own
// order, by name, when the node was not built from []Attr).
func (n node) children() []field {
	if n.fields != nil {
		return n.fields
	}
	var out []field
	for it := n.val.ElementIterator(); it.Next(); {
		k, v := it.Element()
		out = append(out, field{name: k.AsString(), n: node{val: v}})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// keywords are names that would not read back as a literal key when written
// bare (for starts a for expression; the rest are kept quoted for clarity).
var keywords = map[string]bool{"for": true, "in": true, "if": true, "null": true, "true": true, "false": true}

// canBeBare reports whether key can be written as a bare identifier.
func canBeBare(key string) bool {
	return !keywords[key] && hclsyntax.ValidIdentifier(key)
}

// renderKey writes an object key bare or quoted.
func renderKey(key string, quoted bool) []byte {
	if !quoted && canBeBare(key) {
		return []byte(key)
	}
	return hclwrite.TokensForValue(cty.StringVal(key)).Bytes()
}

// render writes a node as HCL. Multi-line objects are written without
// indentation; the caller formats the result. inline writes objects as
// `{ a = 1, b = 2 }` for maps that are kept on one line.
func render(n node, inline bool) []byte {
	var b bytes.Buffer
	renderInto(&b, n, inline)
	return b.Bytes()
}

func renderInto(b *bytes.Buffer, n node, inline bool) {
	v := n.val
	switch {
	case v.IsNull():
		b.WriteString("null")
	case n.isObject():
		attrs := n.children()
		if len(attrs) == 0 {
			b.WriteString("{}")
			return
		}
		if inline {
			b.WriteString("{ ")
		} else {
			b.WriteString("{\n")
		}
		for i, a := range attrs {
			if inline && i > 0 {
				b.WriteString(", ")
			}
			b.Write(renderKey(a.name, false))
			b.WriteString(" = ")
			renderInto(b, a.n, inline)
			if !inline {
				b.WriteByte('\n')
			}
		}
		if inline {
			b.WriteString(" }")
		} else {
			b.WriteString("}")
		}
	case v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType():
		b.WriteByte('[')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			_, e := it.Element()
			renderInto(b, node{val: e}, inline)
		}
		b.WriteByte(']')
	case v.Type() == cty.Number:
		b.WriteString(formatNumber(v.AsBigFloat()))
	default:
		// strings and bools: hclwrite escapes quotes, backslashes, control
		// characters and the template introducers ${ and %{.
		b.Write(hclwrite.TokensForValue(v).Bytes())
	}
}

func formatNumber(f *big.Float) string {
	if f.IsInt() {
		i, _ := f.Int(nil)
		return i.String()
	}
	return f.Text('f', -1)
}

// sameValue compares two values the way they would be written: lists, sets
// and tuples element by element, maps and objects key by key, primitives by
// type and value. An unknown or erroring existing value is never the same.
func sameValue(a, b cty.Value) bool {
	if a == cty.NilVal || b == cty.NilVal || !a.IsWhollyKnown() || !b.IsWhollyKnown() {
		return false
	}
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull()
	}
	at, bt := a.Type(), b.Type()
	switch {
	case at.IsPrimitiveType() || bt.IsPrimitiveType():
		return at.Equals(bt) && a.Equals(b).True()
	case isSeq(at) && isSeq(bt):
		if a.LengthInt() != b.LengthInt() {
			return false
		}
		ai, bi := a.ElementIterator(), b.ElementIterator()
		for ai.Next() && bi.Next() {
			_, ae := ai.Element()
			_, be := bi.Element()
			if !sameValue(ae, be) {
				return false
			}
		}
		return true
	case isMapping(at) && isMapping(bt):
		if a.LengthInt() != b.LengthInt() {
			return false
		}
		bm := b.AsValueMap()
		for it := a.ElementIterator(); it.Next(); {
			k, ae := it.Element()
			be, ok := bm[k.AsString()]
			if !ok || !sameValue(ae, be) {
				return false
			}
		}
		return true
	}
	return false
}

func isSeq(t cty.Type) bool     { return t.IsListType() || t.IsSetType() || t.IsTupleType() }
func isMapping(t cty.Type) bool { return t.IsMapType() || t.IsObjectType() }
