package schema

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Surface is one way a request reaches rdsbot and what a requester can say
// through it.
type Surface struct {
	ID   string // issue-form, workflow-dispatch, backstage, repository-dispatch, cli, contract-file
	Name string // "the issue form"
	// Fields the requester can set; Supplied fields rdsbot fills from
	// context (the request id, the issue author as requester).
	Fields   []string
	Supplied []string
}

// Surface ids.
const (
	SurfaceIssueForm          = "issue-form"
	SurfaceWorkflowDispatch   = "workflow-dispatch"
	SurfaceBackstage          = "backstage"
	SurfaceRepositoryDispatch = "repository-dispatch"
	SurfaceCLI                = "cli"
	SurfaceContractFile       = "contract-file"
)

// requesterField is the field the issue author fills on the issue form.
const requesterField = "requester"

// Surfaces lists every intake surface of the schema with the fields it can
// express: the issue form (its labelled fields), the workflow_dispatch inputs
// and the Backstage template (the fields with an input; the template's base
// branch is fixed by configuration), a repository_dispatch payload and the
// CLI flags (every field rdsbot does not derive) and a contract file (every
// field).
func (s *RequestSchema) Surfaces() []Surface {
	var derived, form, inputs, backstage, open, all []string
	for _, name := range s.FieldNames() {
		f := s.Fields[name]
		all = append(all, name)
		if f.Derived {
			derived = append(derived, name)
			continue
		}
		open = append(open, name)
		if f.Input != "" {
			inputs = append(inputs, name)
			if name != "baseBranch" {
				backstage = append(backstage, name)
			}
		}
	}
	for _, f := range s.FormFields() {
		form = append(form, f.Name)
	}
	issueSupplied := slices.Clone(derived)
	if s.Fields[requesterField] != nil && !slices.Contains(form, requesterField) {
		issueSupplied = append(issueSupplied, requesterField)
	}
	return []Surface{
		{SurfaceIssueForm, "the issue form", form, issueSupplied},
		{SurfaceWorkflowDispatch, "the workflow_dispatch inputs", inputs, derived},
		{SurfaceBackstage, "the Backstage template", backstage, derived},
		{SurfaceRepositoryDispatch, "a repository_dispatch payload", open, derived},
		{SurfaceCLI, "the CLI flags", open, derived},
		{SurfaceContractFile, "a contract file", all, nil},
	}
}

// maxCombinations bounds the search of CheckSurfaces per surface and
// environment.
const maxCombinations = 1 << 20

// CheckSurfaces proves that every intake surface can make a valid request
// in every environment: a request built from what the surface can express,
// plus the defaults (conditional ones included), can satisfy every
// error-severity conditional rule, and every required field is either
// expressible, supplied or defaulted. Each failure names the rule (or
// field), the surface and the environment, at the rule's line.
func (s *RequestSchema) CheckSurfaces() Errors {
	p := &problems{file: s.File}
	envs := []string{""}
	if f := s.Fields["environment"]; f != nil && len(f.Enum) > 0 {
		envs = f.Enum
	}
	var errRules []ConditionalRule
	for _, r := range s.Rules {
		if r.IsError() {
			errRules = append(errRules, r)
		}
	}
	for _, sf := range s.Surfaces() {
		can := map[string]bool{}
		for _, f := range append(slices.Clone(sf.Fields), sf.Supplied...) {
			can[f] = true
		}
		for _, name := range s.FieldNames() {
			f := s.Fields[name]
			if f.Required && !can[name] && f.Default == nil && len(s.DefaultsFor(name)) == 0 {
				p.at(f.Line, "field %s is required but %s cannot send it and it has no default", name, sf.Name)
			}
		}
		type failure struct {
			rule string
			line int
			why  string
			envs []string
		}
		var fails []*failure
		note := func(rule string, line int, why, env string) {
			for _, f := range fails {
				if f.rule == rule && f.why == why {
					f.envs = append(f.envs, env)
					return
				}
			}
			fails = append(fails, &failure{rule, line, why, []string{env}})
		}
		for _, env := range envs {
			if s.satisfiable(errRules, can, env) {
				continue
			}
			alone := false
			for _, r := range errRules {
				if !s.satisfiable([]ConditionalRule{r}, can, env) {
					alone = true
					note(r.Name, r.Line, s.whyNot(r, can, env, sf), env)
				}
			}
			if !alone {
				var names []string
				for _, r := range errRules {
					names = append(names, fmt.Sprintf("%q", r.Name))
				}
				note(strings.Join(names, ", "), 1, "no request it can express satisfies them all at once", env)
			}
		}
		for _, f := range fails {
			where := ""
			if f.envs[0] != "" {
				where = " in environment " + strings.Join(f.envs, ", ")
			}
			p.at(f.line, "conditional rule %s cannot be satisfied by %s%s: %s", quoteName(f.rule), sf.Name, where, f.why)
		}
	}
	return p.errs
}

func quoteName(n string) string {
	if strings.HasPrefix(n, `"`) {
		return n
	}
	return fmt.Sprintf("%q", n)
}

// whyNot explains a rule a surface cannot satisfy on its own.
func (s *RequestSchema) whyNot(r ConditionalRule, can map[string]bool, env string, sf Surface) string {
	target := r.Then.Field
	if !can[target] {
		given := map[string]Value{}
		if env != "" {
			given["environment"] = Value{Str: env}
		}
		vals, from := s.Resolve(given)
		f := s.Fields[target]
		if v, ok := vals[target]; ok {
			src := "its default"
			if from[target] != FromDefault {
				src = "conditional default " + from[target]
			}
			return fmt.Sprintf("it cannot send %s, and the value rdsbot fills in, %s (%s), breaks it; give the field an input on this surface or a conditional default that satisfies the rule", target, v.Text(f.Type), src)
		}
		return fmt.Sprintf("it cannot send %s, which has no default; give the field an input on this surface or a default", target)
	}
	return fmt.Sprintf("no value of %s it can send satisfies it (%s)", target, r.Describe())
}

// satisfiable reports whether some request the surface can express, in
// env, breaks none of rules.
func (s *RequestSchema) satisfiable(rules []ConditionalRule, can map[string]bool, env string) bool {
	vars := map[string]bool{}
	for _, r := range rules {
		for _, f := range []string{r.When.Field, r.Then.Field, r.Then.GreaterThanField} {
			if f != "" && f != "environment" {
				vars[f] = true
			}
		}
	}
	for _, d := range s.Defaults {
		for _, f := range d.When.Fields() {
			if f != "environment" {
				vars[f] = true
			}
		}
	}
	names := make([]string, 0, len(vars))
	for f := range vars {
		if s.Fields[f] != nil {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	cands := make([][]*Value, len(names))
	total := 1
	for i, f := range names {
		cands[i] = []*Value{nil} // not given: the defaults decide
		if can[f] {
			for _, v := range s.candidates(f) {
				cands[i] = append(cands[i], &v)
			}
		}
		if total *= len(cands[i]); total > maxCombinations {
			return true // too many to search; do not claim a failure we cannot show
		}
	}
	given := map[string]Value{}
	var try func(i int) bool
	try = func(i int) bool {
		if i == len(names) {
			g := make(map[string]Value, len(given)+1)
			for k, v := range given {
				g[k] = v
			}
			if env != "" {
				g["environment"] = Value{Str: env}
			}
			vals, _ := s.Resolve(g)
			for _, r := range rules {
				if bad, _ := r.Violated(s, vals, nil); bad {
					return false
				}
			}
			return true
		}
		for _, c := range cands[i] {
			if c == nil {
				delete(given, names[i])
			} else {
				given[names[i]] = *c
			}
			if try(i + 1) {
				return true
			}
		}
		delete(given, names[i])
		return false
	}
	return try(0)
}

// otherValue stands for "any valid value not named by a rule" of a free
// text field.
const otherValue = "\x00other"

// candidates are the values worth trying for a field: every enum value or
// boolean, and for integers the bounds, the defaults and each constant a
// rule compares with (and its neighbours).
func (s *RequestSchema) candidates(name string) []Value {
	f := s.Fields[name]
	var out []Value
	switch {
	case f.Type == TypeBoolean:
		return []Value{{Bool: true}, {Bool: false}}
	case f.Type == TypeString && len(f.Enum) > 0:
		for _, e := range f.Enum {
			out = append(out, Value{Str: e})
		}
		return out
	case f.Type == TypeString:
		strs := []string{otherValue}
		for _, r := range s.Rules {
			if r.When.Field == name {
				if r.When.Equals != nil {
					strs = append(strs, *r.When.Equals)
				}
				strs = append(strs, r.When.In...)
			}
			if r.Then.Field == name {
				if r.Then.Equals != nil {
					strs = append(strs, *r.Then.Equals)
				}
				strs = append(strs, r.Then.In...)
			}
		}
		for _, v := range strs {
			if v == otherValue || f.Check(Value{Str: v}) == "" {
				out = append(out, Value{Str: v})
			}
		}
		return out
	}
	ints := map[int]bool{}
	add := func(i int) {
		if (f.Minimum == nil || i >= *f.Minimum) && (f.Maximum == nil || i <= *f.Maximum) {
			ints[i] = true
		}
	}
	if f.Minimum != nil {
		add(*f.Minimum)
	}
	if f.Maximum != nil {
		add(*f.Maximum)
	}
	if f.Default != nil {
		add(f.Default.Int)
	}
	for _, r := range s.Rules {
		for _, c := range []*int{r.Then.Minimum, r.Then.Maximum} {
			if c != nil && (r.Then.Field == name || r.When.Field == name) {
				add(*c - 1)
				add(*c)
				add(*c + 1)
			}
		}
	}
	for _, d := range s.Defaults {
		for _, fv := range d.Set {
			if fv.Field == name {
				add(fv.Value.Int)
			}
		}
	}
	if len(ints) == 0 {
		add(0)
	}
	keys := make([]int, 0, len(ints))
	for i := range ints {
		keys = append(keys, i)
	}
	sort.Ints(keys)
	for _, i := range keys {
		out = append(out, Value{Int: i})
	}
	return out
}
