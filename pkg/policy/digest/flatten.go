package digest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"
)

// MaxLeaves bounds the leaves one file may flatten to (a catalog entry is
// about a dozen); a larger file is digested by its bytes, so a hostile file
// cannot make rdsbot allocate without bound.
const MaxLeaves = 500_000

// maxDepth bounds nesting (and YAML alias chains).
const maxDepth = 200

// leaves collects a file's leaves (rendered key path → canonical value),
// leaving out volatile ones and refusing duplicates and overflow.
type leaves struct {
	byKey    map[string]string
	volatile []pattern
	nodes    int // YAML nodes visited, aliases included
}

var (
	errTooLarge  = errors.New("too many values")
	errDuplicate = errors.New("duplicate key")
	errTooDeep   = errors.New("nested too deeply")
)

func (l *leaves) add(p []segment, value string) error {
	if len(l.byKey) >= MaxLeaves {
		return errTooLarge
	}
	k := render(p)
	if _, dup := l.byKey[k]; dup {
		return fmt.Errorf("%w %s", errDuplicate, k)
	}
	if len(p) > 0 {
		for _, v := range l.volatile {
			if v.match(p) {
				// Still recorded for duplicate detection, without a value
				// that could differ.
				l.byKey[k] = "volatile"
				return nil
			}
		}
	}
	l.byKey[k] = value
	return nil
}

// container records that p holds a map ("{}") or a list ("[]"), whatever
// its length: so a map's type is content, and adding the first entry to an
// empty map is the same change as adding it to a full one. The root is the
// file itself (its marker is added by flatten).
func (l *leaves) container(p []segment, kind string) error {
	if len(p) == 0 {
		return nil
	}
	return l.add(p, kind)
}

// fileKind chooses the flattener by extension.
func fileKind(p string) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".tf", ".tfvars":
		return "hcl"
	case ".yaml", ".yml":
		return "yaml"
	case ".json":
		return "json"
	}
	return "bytes"
}

// flatten returns the leaves of one side of a file, or an error when the
// file must be digested by its bytes.
func flatten(p string, src []byte, volatile []pattern) (map[string]string, error) {
	l := &leaves{byKey: map[string]string{}, volatile: volatile}
	var err error
	switch fileKind(p) {
	case "hcl":
		err = flattenHCL(l, p, src)
	case "yaml":
		err = flattenYAML(l, src)
	case "json":
		err = flattenJSON(l, src)
	default:
		return nil, errors.New("not a structured file")
	}
	if err != nil {
		return nil, err
	}
	if err := l.add(nil, "file"); err != nil {
		return nil, err
	}
	return l.byKey, nil
}

// Canonical scalar values.

func str(s string) string { return strconv.Quote(s) }

func num(f *big.Float) string { return f.Text('g', -1) }

// --- HCL ---

func flattenHCL(l *leaves, filename string, src []byte) error {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return diags
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return errors.New("not native HCL syntax")
	}
	return hclBody(l, src, body, nil, 0)
}

func hclBody(l *leaves, src []byte, b *hclsyntax.Body, p []segment, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	if err := l.container(p, "{}"); err != nil {
		return err
	}
	names := make([]string, 0, len(b.Attributes))
	for n := range b.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := hclExpr(l, src, b.Attributes[n].Expr, append(p, name(n)), depth+1); err != nil {
			return err
		}
	}
	// Blocks: type and labels are segments; repeats of the same type and
	// labels are numbered in source order.
	blockPath := func(bl *hclsyntax.Block) []segment {
		bp := append(append([]segment(nil), p...), name(bl.Type))
		for _, lb := range bl.Labels {
			bp = append(bp, name(lb))
		}
		return bp
	}
	count := map[string]int{}
	for _, bl := range b.Blocks {
		count[render(blockPath(bl))]++
	}
	seen := map[string]int{}
	for _, bl := range b.Blocks {
		bp := blockPath(bl)
		k := render(bp)
		if count[k] > 1 {
			bp = append(bp, index(seen[k]))
			seen[k]++
		}
		if err := hclBody(l, src, bl.Body, bp, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func hclExpr(l *leaves, src []byte, e hclsyntax.Expression, p []segment, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch e := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		if err := l.container(p, "{}"); err != nil {
			return err
		}
		keys := make([]string, len(e.Items))
		for i, it := range e.Items {
			kv, diags := it.KeyExpr.Value(nil)
			if diags.HasErrors() || !kv.IsKnown() || kv.IsNull() || kv.Type() != cty.String {
				delete(l.byKey, render(p))
				return l.add(p, hclTokens(src, e)) // a computed key: the whole object as text
			}
			keys[i] = kv.AsString()
		}
		for i, it := range e.Items {
			if err := hclExpr(l, src, it.ValueExpr, append(p, name(keys[i])), depth+1); err != nil {
				return err
			}
		}
		return nil
	case *hclsyntax.TupleConsExpr:
		if err := l.container(p, "[]"); err != nil {
			return err
		}
		for i, x := range e.Exprs {
			if err := hclExpr(l, src, x, append(p, index(i)), depth+1); err != nil {
				return err
			}
		}
		return nil
	case *hclsyntax.LiteralValueExpr, *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr:
		v, diags := e.Value(nil)
		if !diags.HasErrors() && v.IsWhollyKnown() {
			return ctyValue(l, v, p, depth)
		}
	}
	return l.add(p, hclTokens(src, e))
}

// hclTokens is an expression's source as tokens separated by one space,
// without comments or line breaks: the same expression however formatted.
func hclTokens(src []byte, e hclsyntax.Expression) string {
	r := e.Range()
	if r.Start.Byte < 0 || r.End.Byte > len(src) || r.Start.Byte > r.End.Byte {
		return "expr"
	}
	toks, _ := hclsyntax.LexExpression(src[r.Start.Byte:r.End.Byte], "", r.Start)
	var parts []string
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenComment, hclsyntax.TokenNewline, hclsyntax.TokenEOF:
			continue
		}
		parts = append(parts, string(t.Bytes))
	}
	return "expr " + strings.Join(parts, " ")
}

func ctyValue(l *leaves, v cty.Value, p []segment, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	if v.IsNull() {
		return l.add(p, "null")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return l.add(p, str(v.AsString()))
	case t == cty.Number:
		return l.add(p, num(v.AsBigFloat()))
	case t == cty.Bool:
		return l.add(p, strconv.FormatBool(v.True()))
	case t.IsObjectType() || t.IsMapType():
		if err := l.container(p, "{}"); err != nil {
			return err
		}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if err := ctyValue(l, ev, append(p, name(k.AsString())), depth+1); err != nil {
				return err
			}
		}
		return nil
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		if err := l.container(p, "[]"); err != nil {
			return err
		}
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			if err := ctyValue(l, ev, append(p, index(i)), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return l.add(p, "value "+t.FriendlyName())
}

// --- YAML ---

func flattenYAML(l *leaves, src []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		docs = append(docs, &n)
	}
	for i, d := range docs {
		var p []segment
		if len(docs) > 1 {
			p = []segment{index(i)}
		}
		if err := yamlNode(l, d, p, 0); err != nil {
			return err
		}
	}
	return nil
}

func yamlNode(l *leaves, n *yaml.Node, p []segment, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	l.nodes++
	if l.nodes > 4*MaxLeaves {
		return errTooLarge
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return l.add(p, "null")
		}
		return yamlNode(l, n.Content[0], p, depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return errors.New("alias without anchor")
		}
		return yamlNode(l, n.Alias, p, depth+1)
	case yaml.MappingNode:
		if err := l.container(p, "{}"); err != nil {
			return err
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			for k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return errors.New("a mapping key that is not a scalar")
			}
			if seen[k.Value] {
				return fmt.Errorf("%w %q", errDuplicate, k.Value)
			}
			seen[k.Value] = true
			if err := yamlNode(l, n.Content[i+1], append(p, name(k.Value)), depth+1); err != nil {
				return err
			}
		}
		return nil
	case yaml.SequenceNode:
		if err := l.container(p, "[]"); err != nil {
			return err
		}
		for i, c := range n.Content {
			if err := yamlNode(l, c, append(p, index(i)), depth+1); err != nil {
				return err
			}
		}
		return nil
	case yaml.ScalarNode:
		v, err := yamlScalar(n)
		if err != nil {
			return err
		}
		return l.add(p, v)
	}
	return fmt.Errorf("unknown YAML node kind %d", n.Kind)
}

// yamlScalar is a scalar's canonical value by its resolved tag.
func yamlScalar(n *yaml.Node) (string, error) {
	switch n.ShortTag() {
	case "!!str", "!!timestamp":
		return str(n.Value), nil
	case "!!null":
		return "null", nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return "", err
		}
		f := new(big.Float)
		switch x := v.(type) {
		case int:
			f.SetInt64(int64(x))
		case int64:
			f.SetInt64(x)
		case uint64:
			f.SetUint64(x)
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		default:
			return str(n.Value), nil
		}
		return num(f), nil
	}
	return n.ShortTag() + " " + str(n.Value), nil
}

// --- JSON ---

func flattenJSON(l *leaves, src []byte) error {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	if err := jsonValue(l, dec, nil, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

func jsonValue(l *leaves, dec *json.Decoder, p []segment, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			if err := l.container(p, "{}"); err != nil {
				return err
			}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, ok := kt.(string)
				if !ok {
					return errors.New("object key is not a string")
				}
				if seen[k] {
					return fmt.Errorf("%w %q", errDuplicate, k)
				}
				seen[k] = true
				if err := jsonValue(l, dec, append(p, name(k)), depth+1); err != nil {
					return err
				}
			}
			_, err := dec.Token()
			return err
		case '[':
			if err := l.container(p, "[]"); err != nil {
				return err
			}
			i := 0
			for ; dec.More(); i++ {
				if err := jsonValue(l, dec, append(p, index(i)), depth+1); err != nil {
					return err
				}
			}
			_, err := dec.Token()
			return err
		}
	case string:
		return l.add(p, str(t))
	case json.Number:
		f, _, err := big.ParseFloat(string(t), 10, 256, big.ToNearestEven)
		if err != nil {
			return err
		}
		return l.add(p, num(f))
	case bool:
		return l.add(p, strconv.FormatBool(t))
	case nil:
		return l.add(p, "null")
	}
	return fmt.Errorf("unexpected JSON token %v", tok)
}
