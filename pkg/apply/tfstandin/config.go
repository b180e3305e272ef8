package tfstandin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// instance is a resource instance the configuration asks for.
type instance struct {
	Addr, Type, Name string
	Key              any    // string (for_each), int (count) or nil
	Hash             string // of its configuration and the values it depends on
}

// desired reads the root module in dir: its resource instances, keyed by address.
func desired(dir string) (map[string]instance, error) {
	tfFiles, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	sort.Strings(tfFiles)
	if len(tfFiles) == 0 {
		return nil, fmt.Errorf("no configuration files: plan requires configuration to be present in %s", dir)
	}
	type block struct {
		b   *hclsyntax.Block
		src []byte
	}
	var resources []block
	var locals []*hclsyntax.Attribute
	vars := map[string]cty.Value{}
	required := map[string]bool{}
	var diags hcl.Diagnostics
	for _, f := range tfFiles {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		file, d := hclsyntax.ParseConfig(src, filepath.Base(f), hcl.InitialPos)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch {
			case b.Type == "resource" && len(b.Labels) == 2:
				resources = append(resources, block{b, src[b.Range().Start.Byte:b.Range().End.Byte]})
			case b.Type == "locals":
				for _, a := range b.Body.Attributes {
					locals = append(locals, a)
				}
			case b.Type == "variable" && len(b.Labels) == 1:
				if a, ok := b.Body.Attributes["default"]; ok {
					v, d := a.Expr.Value(nil)
					diags = append(diags, d...)
					vars[b.Labels[0]] = v
				} else {
					required[b.Labels[0]] = true
				}
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	// Variable files in terraform's order: terraform.tfvars, then *.auto.tfvars(.json) by name.
	varFiles := []string{filepath.Join(dir, "terraform.tfvars"), filepath.Join(dir, "terraform.tfvars.json")}
	auto, _ := filepath.Glob(filepath.Join(dir, "*.auto.tfvars"))
	autoJSON, _ := filepath.Glob(filepath.Join(dir, "*.auto.tfvars.json"))
	auto = append(auto, autoJSON...)
	sort.Strings(auto)
	for _, f := range append(varFiles, auto...) {
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var body hcl.Body
		var d hcl.Diagnostics
		if strings.HasSuffix(f, ".json") {
			var file *hcl.File
			file, d = hcljson.Parse(src, filepath.Base(f))
			if file != nil {
				body = file.Body
			}
		} else {
			var file *hcl.File
			file, d = hclsyntax.ParseConfig(src, filepath.Base(f), hcl.InitialPos)
			if file != nil {
				body = file.Body
			}
		}
		diags = append(diags, d...)
		if d.HasErrors() || body == nil {
			continue
		}
		attrs, d := body.JustAttributes()
		diags = append(diags, d...)
		for name, a := range attrs {
			v, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			vars[name] = v
			delete(required, name)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	if len(required) > 0 {
		var names []string
		for n := range required {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no value for required variable: the root module input variable %q is not set, and has no default value", names[0])
	}
	ectx, err := evalContext(dir, vars, locals)
	if err != nil {
		return nil, err
	}
	out := map[string]instance{}
	for _, r := range resources {
		typ, name := r.b.Labels[0], r.b.Labels[1]
		base := typ + "." + name
		deps := dependsOn(r.b.Body, vars)
		h := func(extra string) string {
			sum := sha256.Sum256([]byte(string(r.src) + "\x00" + deps + "\x00" + extra))
			return hex.EncodeToString(sum[:8])
		}
		if a, ok := r.b.Body.Attributes["for_each"]; ok {
			v, d := a.Expr.Value(ectx)
			if d.HasErrors() || v.IsNull() || !v.IsKnown() || !(v.Type().IsMapType() || v.Type().IsObjectType() || v.Type().IsSetType()) {
				return nil, fmt.Errorf("%s: for_each must be a map or set the stand-in can evaluate (%s)", base, d.Error())
			}
			for it := v.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				if v.Type().IsSetType() {
					k = ev
				}
				key := k.AsString()
				addr := fmt.Sprintf("%s[%q]", base, key)
				out[addr] = instance{Addr: addr, Type: typ, Name: name, Key: key, Hash: h(jsonOf(ev))}
			}
			continue
		}
		if a, ok := r.b.Body.Attributes["count"]; ok {
			v, d := a.Expr.Value(ectx)
			if d.HasErrors() || !v.Type().Equals(cty.Number) || v.IsNull() {
				return nil, fmt.Errorf("%s: count must be a number the stand-in can evaluate", base)
			}
			n, _ := v.AsBigFloat().Int64()
			for i := int64(0); i < n; i++ {
				addr := fmt.Sprintf("%s[%d]", base, i)
				out[addr] = instance{Addr: addr, Type: typ, Name: name, Key: int(i), Hash: h(fmt.Sprint(i))}
			}
			continue
		}
		out[base] = instance{Addr: base, Type: typ, Name: name, Hash: h("")}
	}
	return out, nil
}

// dependsOn returns the values of the variables a block refers to, as text.
func dependsOn(body *hclsyntax.Body, vars map[string]cty.Value) string {
	names := map[string]bool{}
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for n, a := range b.Attributes {
			if n == "for_each" {
				continue
			}
			for _, t := range a.Expr.Variables() {
				if t.RootName() == "var" && len(t) > 1 {
					if at, ok := t[1].(hcl.TraverseAttr); ok {
						names[at.Name] = true
					}
				}
			}
		}
		for _, nb := range b.Blocks {
			walk(nb.Body)
		}
	}
	walk(body)
	var keys []string
	for n := range names {
		keys = append(keys, n)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, n := range keys {
		sb.WriteString(n + "=" + jsonOf(vars[n]) + ";")
	}
	return sb.String()
}

func jsonOf(v cty.Value) string {
	if v == cty.NilVal {
		return "null"
	}
	data, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return v.GoString()
	}
	return string(data)
}

// evalContext is what for_each and count may refer to: var, local and
// path.module, and the few functions the example roots call (merge,
// fileset, file, jsondecode, lookup, keys, tomap). Locals are evaluated in
// rounds until each is known, as terraform orders them by reference.
func evalContext(dir string, vars map[string]cty.Value, locals []*hclsyntax.Attribute) (*hcl.EvalContext, error) {
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  cty.ObjectVal(vars),
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(dir), "root": cty.StringVal(dir)}),
		},
		Functions: functions(dir),
	}
	done := map[string]cty.Value{}
	for len(done) < len(locals) {
		progress := false
		var last hcl.Diagnostics
		for _, a := range locals {
			if _, ok := done[a.Name]; ok {
				continue
			}
			ctx.Variables["local"] = cty.ObjectVal(done)
			v, d := a.Expr.Value(ctx)
			if d.HasErrors() {
				last = d
				continue
			}
			done[a.Name] = v
			progress = true
		}
		if !progress {
			return nil, fmt.Errorf("locals the stand-in cannot evaluate: %s", last.Error())
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(done)
	return ctx, nil
}
