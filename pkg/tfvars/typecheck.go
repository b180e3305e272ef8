package tfvars

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// SourceFile is a named file's content.
type SourceFile struct {
	Name string
	Src  []byte
}

// Variable is one `variable` block of a Terraform root module.
type Variable struct {
	Name     string
	Type     cty.Type           // cty.DynamicPseudoType when the block has no type ("any")
	Defaults *typeexpr.Defaults // defaults of optional(...) attributes; nil when there are none
	Default  cty.Value          // cty.NilVal when the block has no default: the variable is required
	Nullable bool               // false only with `nullable = false`
	File     string
	Line     int
}

// Required reports whether the variable has no default.
func (v *Variable) Required() bool { return v.Default == cty.NilVal }

// Variables are the declared input variables of a root module.
type Variables struct {
	byName map[string]*Variable
	names  []string
}

// ParseVariables reads the `variable` blocks of the given .tf files (usually
// a root's variables.tf). Type constraints are read with
// typeexpr.TypeConstraintWithDefaults, so optional(type, default) works.
// Every problem (syntax, bad type, default of the wrong type, a variable
// declared twice) is reported, joined into one error.
func ParseVariables(files ...SourceFile) (*Variables, error) {
	vs := &Variables{byName: map[string]*Variable{}}
	var errs []error
	declared := map[string]string{} // name → file:line, including invalid declarations
	for _, f := range files {
		file, diags := hclsyntax.ParseConfig(f.Src, f.Name, hcl.InitialPos)
		if diags.HasErrors() {
			errs = append(errs, syntaxError(f.Name, diags, "not valid HCL"))
			continue
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "variable" {
				continue
			}
			if len(b.Labels) == 1 {
				name, at := b.Labels[0], fmt.Sprintf("%s:%d", f.Name, b.TypeRange.Start.Line)
				if prev, dup := declared[name]; dup {
					errs = append(errs, fmt.Errorf("%s: variable %q is already declared at %s", at, name, prev))
					continue
				}
				declared[name] = at
			}
			v, err := parseVariable(f.Name, b)
			if err != nil {
				errs = append(errs, err...)
				continue
			}
			vs.byName[v.Name] = v
			vs.names = append(vs.names, v.Name)
		}
	}
	sort.Strings(vs.names)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return vs, nil
}

func parseVariable(file string, b *hclsyntax.Block) (*Variable, []error) {
	line := b.TypeRange.Start.Line
	if len(b.Labels) != 1 {
		return nil, []error{fmt.Errorf("%s:%d: a variable block needs exactly one label (its name)", file, line)}
	}
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, Default: cty.NilVal, Nullable: true, File: file, Line: line}
	var errs []error
	attrs := b.Body.Attributes
	if a, ok := attrs["type"]; ok {
		ty, defs, diags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		if diags.HasErrors() {
			errs = append(errs, fmt.Errorf("%s:%d: variable %q: invalid type: %s", file, a.SrcRange.Start.Line, v.Name, diagText(diags)))
		} else {
			v.Type, v.Defaults = ty, defs
		}
	}
	if a, ok := attrs["nullable"]; ok {
		n, diags := a.Expr.Value(nil)
		if diags.HasErrors() || n.Type() != cty.Bool || n.IsNull() {
			errs = append(errs, fmt.Errorf("%s:%d: variable %q: nullable must be true or false", file, a.SrcRange.Start.Line, v.Name))
		} else {
			v.Nullable = n.True()
		}
	}
	if a, ok := attrs["default"]; ok {
		d, diags := a.Expr.Value(nil)
		switch {
		case diags.HasErrors():
			errs = append(errs, fmt.Errorf("%s:%d: variable %q: invalid default: %s", file, a.SrcRange.Start.Line, v.Name, diagText(diags)))
		case len(errs) == 0 && !d.IsNull():
			dd := d
			if v.Defaults != nil {
				dd = v.Defaults.Apply(dd)
			}
			if _, err := convert.Convert(dd, v.Type); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: variable %q: the default does not match the type %s: %s",
					file, a.SrcRange.Start.Line, v.Name, typeexpr.TypeString(v.Type), convertMessage(err)))
			}
			v.Default = d
		default:
			v.Default = d
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return v, nil
}

// Lookup returns the named variable.
func (vs *Variables) Lookup(name string) (*Variable, bool) {
	v, ok := vs.byName[name]
	return v, ok
}

// Names returns the declared variable names, sorted.
func (vs *Variables) Names() []string { return append([]string(nil), vs.names...) }

// Severity grades a Problem.
type Severity int

const (
	// SeverityError: Terraform would reject the file or silently lose data.
	SeverityError Severity = iota
	// SeverityInfo: worth knowing, not wrong (a required variable that this
	// file leaves to another source).
	SeverityInfo
)

func (s Severity) String() string {
	if s == SeverityInfo {
		return "info"
	}
	return "error"
}

// Problem is one finding of Check, located in the tfvars file.
type Problem struct {
	File     string
	Line     int
	Path     string // e.g. application_databases["orders"]; "" for the whole file
	Message  string
	Severity Severity
}

// String renders the problem the way a platform engineer reads it:
//
//	envs/dev-rds/terraform.tfvars:14: application_databases["orders"]: attribute "username" is required
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Severity == SeverityInfo {
		b.WriteString("info: ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is the result of Check, in file order.
type Problems []Problem

// Errors returns only the problems of SeverityError.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == SeverityError {
			out = append(out, p)
		}
	}
	return out
}

// Err returns nil when there is no error-severity problem, else one error
// listing all of them, one per line.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, len(errs))
	for i, p := range errs {
		lines[i] = p.String()
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Check type-checks a tfvars file against the variables:
//
//   - every attribute must name a declared variable;
//   - its value must convert to the variable's type, optional attributes may
//     be left out, attributes the type does not declare are errors (Terraform
//     would silently drop them, see spec G-16), object attributes and map keys
//     set twice are errors;
//   - a required variable (no default) that the file does not set is an info:
//     it may come from -var, TF_VAR_ or another tfvars file.
//
// All problems come back at once, sorted by line.
func (vs *Variables) Check(src []byte, filename string) Problems {
	ck := &checker{file: filename}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			line := 0
			if d.Subject != nil {
				line = d.Subject.Start.Line
			}
			msg := d.Summary
			if d.Detail != "" {
				msg += ": " + d.Detail
			}
			ck.add(line, "", msg)
		}
		return ck.problems
	}
	body := f.Body.(*hclsyntax.Body)
	for _, b := range body.Blocks {
		ck.add(b.TypeRange.Start.Line, "", fmt.Sprintf("blocks (%s) are not allowed in a tfvars file, only name = value", b.Type))
	}
	names := make([]string, 0, len(body.Attributes))
	for n := range body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		a := body.Attributes[name]
		v, ok := vs.byName[name]
		if !ok {
			ck.add(a.NameRange.Start.Line, name, fmt.Sprintf("no variable %q is declared; Terraform would ignore this value", name))
			continue
		}
		ck.variable(v, a)
	}
	for _, name := range vs.names {
		v := vs.byName[name]
		if _, set := body.Attributes[name]; !set && v.Required() {
			ck.problems = append(ck.problems, Problem{File: filename, Path: name, Severity: SeverityInfo,
				Message: fmt.Sprintf("variable %q has no default and is not set in this file; it must come from elsewhere (-var, TF_VAR_%s, another .tfvars file)", name, name)})
		}
	}
	sort.SliceStable(ck.problems, func(i, j int) bool {
		pi, pj := ck.problems[i], ck.problems[j]
		if pi.Severity != pj.Severity {
			return pi.Severity < pj.Severity
		}
		return pi.Line < pj.Line
	})
	return ck.problems
}

type checker struct {
	file     string
	problems Problems
	varName  string
}

func (ck *checker) add(line int, path, msg string) {
	ck.problems = append(ck.problems, Problem{File: ck.file, Line: line, Path: path, Message: msg, Severity: SeverityError})
}

func (ck *checker) variable(v *Variable, a *hclsyntax.Attribute) {
	ck.varName = v.Name
	before := len(ck.problems)
	line := a.NameRange.Start.Line
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		ck.add(line, v.Name, "the value must be a literal: "+diagText(diags))
		return
	}
	if val.IsNull() {
		if !v.Nullable {
			ck.add(line, v.Name, "must not be null (the variable is declared nullable = false)")
		}
		return
	}
	ck.expr(a.Expr, v.Type, v.Name)
	if len(ck.problems) > before {
		return
	}
	// What the walk does not model, Terraform's own conversion still catches.
	if v.Defaults != nil {
		val = v.Defaults.Apply(val)
	}
	if _, err := convert.Convert(val, v.Type); err != nil {
		ck.add(line, v.Name, convertMessage(err))
	}
}

// expr checks e against ty, descending into object and tuple constructors so
// each problem gets the line and path of the entry it is about.
func (ck *checker) expr(e hclsyntax.Expression, ty cty.Type, path string) {
	line := e.Range().Start.Line
	switch {
	case ty == cty.DynamicPseudoType:
		ck.convert(e, ty, path)
	case ty.IsObjectType():
		obj, ok := e.(*hclsyntax.ObjectConsExpr)
		if !ok {
			ck.convert(e, ty, path)
			return
		}
		seen := map[string]int{}
		for _, it := range obj.Items {
			kl := it.KeyExpr.Range().Start.Line
			k, kok, _ := literalKey(it.KeyExpr)
			if !kok {
				ck.add(kl, path, "attribute names must be names or literal strings")
				continue
			}
			if first, dup := seen[k]; dup {
				ck.add(kl, path, fmt.Sprintf("attribute %q is set twice (also on line %d)", k, first))
				continue
			}
			seen[k] = kl
			if !ty.HasAttribute(k) {
				ck.add(kl, path, fmt.Sprintf("unexpected attribute %q: the type declared for variable %q allows only %s here, so Terraform would silently drop it",
					k, ck.varName, attrList(ty)))
				continue
			}
			ck.expr(it.ValueExpr, ty.AttributeType(k), path+"."+k)
		}
		for _, name := range sortedAttrs(ty) {
			if _, ok := seen[name]; !ok && !ty.AttributeOptional(name) {
				ck.add(line, path, fmt.Sprintf("attribute %q is required", name))
			}
		}
	case ty.IsMapType():
		obj, ok := e.(*hclsyntax.ObjectConsExpr)
		if !ok {
			ck.convert(e, ty, path)
			return
		}
		seen := map[string]int{}
		for _, it := range obj.Items {
			kl := it.KeyExpr.Range().Start.Line
			k, kok, _ := literalKey(it.KeyExpr)
			if !kok {
				ck.add(kl, path, "map keys must be names or literal strings")
				continue
			}
			if first, dup := seen[k]; dup {
				ck.add(kl, path, fmt.Sprintf("key %q is set twice (also on line %d); only the last would count", k, first))
				continue
			}
			seen[k] = kl
			ck.expr(it.ValueExpr, ty.ElementType(), fmt.Sprintf("%s[%q]", path, k))
		}
	case ty.IsListType() || ty.IsSetType():
		tup, ok := e.(*hclsyntax.TupleConsExpr)
		if !ok {
			ck.convert(e, ty, path)
			return
		}
		for i, el := range tup.Exprs {
			ck.expr(el, ty.ElementType(), fmt.Sprintf("%s[%d]", path, i))
		}
	case ty.IsTupleType():
		tup, ok := e.(*hclsyntax.TupleConsExpr)
		if !ok {
			ck.convert(e, ty, path)
			return
		}
		want := ty.TupleElementTypes()
		if len(tup.Exprs) != len(want) {
			ck.add(line, path, fmt.Sprintf("must have exactly %d elements, has %d", len(want), len(tup.Exprs)))
			return
		}
		for i, el := range tup.Exprs {
			ck.expr(el, want[i], fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		ck.convert(e, ty, path)
	}
}

func (ck *checker) convert(e hclsyntax.Expression, ty cty.Type, path string) {
	line := e.Range().Start.Line
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		ck.add(line, path, "the value must be a literal: "+diagText(diags))
		return
	}
	if v.IsNull() {
		return
	}
	if _, err := convert.Convert(v, ty); err != nil {
		if ty.IsPrimitiveType() || kind(ty) != kind(v.Type()) {
			ck.add(line, path, fmt.Sprintf("must be %s, got %s", kind(ty), describe(v)))
			return
		}
		ck.add(line, path, convertMessage(err))
	}
}

// kind names the shape of a type the way the messages use it.
func kind(ty cty.Type) string {
	switch {
	case ty == cty.String:
		return "a string"
	case ty == cty.Number:
		return "a number"
	case ty == cty.Bool:
		return "a bool"
	case ty.IsObjectType():
		return "an object"
	case ty.IsMapType():
		return "a map"
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		return "a list"
	}
	return ty.FriendlyName()
}

func describe(v cty.Value) string {
	ty := v.Type()
	switch {
	case ty == cty.String:
		return fmt.Sprintf("the string %q", v.AsString())
	case ty == cty.Bool:
		return fmt.Sprintf("the bool %v", v.True())
	case ty == cty.Number:
		return "the number " + formatNumber(v.AsBigFloat())
	}
	return kind(ty)
}

// convertMessage renders a cty conversion error with its path.
func convertMessage(err error) string {
	var pe cty.PathError
	if errors.As(err, &pe) && len(pe.Path) > 0 {
		return fmt.Sprintf("%s: %s", pathString(pe.Path), pe.Error())
	}
	return err.Error()
}

func pathString(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				fmt.Fprintf(&b, "[%s]", formatNumber(s.Key.AsBigFloat()))
			}
		}
	}
	return strings.TrimPrefix(b.String(), ".")
}

func sortedAttrs(ty cty.Type) []string {
	names := make([]string, 0, len(ty.AttributeTypes()))
	for n := range ty.AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func attrList(ty cty.Type) string {
	names := sortedAttrs(ty)
	if len(names) == 0 {
		return "no attributes"
	}
	return strings.Join(names, ", ")
}
