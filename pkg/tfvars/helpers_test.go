package tfvars

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/<dir>/<name>.golden (rewriting it with -update).
func golden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", dir, name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func db(name, user string) []Attr {
	return []Attr{{"database_name", cty.StringVal(name)}, {"username", cty.StringVal(user)}}
}

func attrsValue(attrs []Attr) cty.Value {
	m := map[string]cty.Value{}
	for _, a := range attrs {
		m[a.Name] = a.Value
	}
	return cty.ObjectVal(m)
}

// topLevel parses src fully and returns its attributes.
func topLevel(t testing.TB, src []byte) hclsyntax.Attributes {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "t.tfvars", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("output does not parse: %s\n%s", diags.Error(), src)
	}
	return f.Body.(*hclsyntax.Body).Attributes
}

func exprText(src []byte, e hclsyntax.Expression) []byte {
	r := e.Range()
	return src[r.Start.Byte:r.End.Byte]
}

// checkPreserved asserts what an edit of key in the map at path must keep:
// the output parses in full; every other top-level attribute is byte for
// byte the same; the edited top-level attribute has the same value apart
// from the edited key (when it can be evaluated); the edited map's other
// entries are unchanged and in the same order.
func checkPreserved(t testing.TB, before, after []byte, path Path, key string) {
	t.Helper()
	ba, aa := topLevel(t, before), topLevel(t, after)
	for name, a := range ba {
		if name == path[0] {
			continue
		}
		b, ok := aa[name]
		if !ok {
			t.Fatalf("attribute %q disappeared", name)
		}
		if !bytes.Equal(exprText(before, a.Expr), exprText(after, b.Expr)) {
			t.Fatalf("attribute %q changed: %q -> %q", name, exprText(before, a.Expr), exprText(after, b.Expr))
		}
	}
	if bv, diags := ba[path[0]].Expr.Value(nil); !diags.HasErrors() {
		av, diags := aa[path[0]].Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s no longer evaluates: %s", path[0], diags.Error())
		}
		if !sameValue(without(bv, path[1:], key), without(av, path[1:], key)) {
			t.Fatalf("%s changed beyond %q:\n%#v\n%#v", path[0], key, bv, av)
		}
	}
	be, err := Entries(before, "t.tfvars", path)
	if err != nil {
		return // the map is not readable as literal entries; checked above by bytes/values
	}
	ae, err := Entries(after, "t.tfvars", path)
	if err != nil {
		t.Fatalf("Entries after the edit: %v", err)
	}
	var bk, ak []string
	for _, e := range be {
		if e.Key != key {
			bk = append(bk, e.Key)
		}
	}
	am := map[string]cty.Value{}
	for _, e := range ae {
		if e.Key != key {
			ak = append(ak, e.Key)
		}
		am[e.Key] = e.Value
	}
	if fmt.Sprint(bk) != fmt.Sprint(ak) {
		t.Fatalf("other keys changed: %v -> %v", bk, ak)
	}
	for _, e := range be {
		if e.Key != key && !sameValue(e.Value, am[e.Key]) {
			t.Fatalf("entry %q changed: %#v -> %#v", e.Key, e.Value, am[e.Key])
		}
	}
}

// without removes key from the map found at path inside v.
func without(v cty.Value, path Path, key string) cty.Value {
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return v
	}
	m := v.AsValueMap()
	if len(path) == 0 {
		delete(m, key)
	} else if inner, ok := m[path[0]]; ok {
		m[path[0]] = without(inner, path[1:], key)
		if inner := m[path[0]]; inner.Type().IsObjectType() && inner.LengthInt() == 0 {
			delete(m, path[0]) // a created-empty nested map equals an absent one
		}
	}
	if m == nil {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// formatStable asserts that an edit keeps a Format-clean file Format-clean.
func formatStable(t testing.TB, before, after []byte) {
	t.Helper()
	if !bytes.Equal(hclwrite.Format(before), before) {
		return
	}
	if f := hclwrite.Format(after); !bytes.Equal(f, after) {
		t.Fatalf("the input was hclwrite.Format-clean but the output is not:\n--- got ---\n%s\n--- formatted ---\n%s", after, f)
	}
}

func readInput(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "editor", name+".tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
