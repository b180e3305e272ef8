package contract

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/schema"
)

// Validate turns a raw request into a typed one, applying the schema's
// defaults, types, patterns, enums, ranges and conditional rules. It returns
// every problem at once; the request is nil when any problem is an error.
// Fields marked derived (the request id) may be absent: rdsbot assigns them.
func Validate(set *schema.Set, raw Raw) (*Request, Problems) {
	s := set.Request
	var probs Problems
	vals := map[string]schema.Value{}
	given := map[string]bool{}
	invalid := map[string]bool{}
	for _, key := range sortedKeys(raw.Values) {
		if s.Fields[key] == nil {
			probs = append(probs, Problem{Field: key, Value: raw.Values[key].Text, Message: "is not a field of " + s.ID, Severity: Error, Origin: raw.Values[key].Origin})
		}
	}
	for _, name := range s.FieldNames() {
		f := s.Fields[name]
		rv, ok := raw.Values[name]
		if !ok {
			switch {
			case f.Default != nil:
				vals[name] = *f.Default
			case f.Required && !f.Derived:
				probs = append(probs, Problem{Field: name, Label: f.Label, Message: "is required" + hint(f), Severity: Error})
			}
			continue
		}
		v, msg := convert(f, rv)
		if msg == "" {
			msg = f.Check(v)
		}
		if msg != "" {
			probs = append(probs, Problem{Field: name, Label: f.Label, Value: rv.Text, Message: msg, Severity: Error, Origin: rv.Origin})
			invalid[name] = true
			continue
		}
		vals[name] = v
		given[name] = true
	}
	for _, r := range s.Rules {
		if invalid[r.When.Field] || invalid[r.Then.Field] || invalid[r.Then.GreaterThanField] {
			continue // the value's own problem is already reported
		}
		if p, ok := evalRule(s, r, vals, given, raw); ok {
			probs = append(probs, p)
		}
	}
	if probs.Err() != nil {
		return nil, probs
	}
	return build(set, raw, vals), probs
}

func hint(f *schema.Field) string {
	switch {
	case len(f.Enum) > 0:
		return "; choose one of: " + strings.Join(f.Enum, ", ")
	case f.Rule != "":
		return "; it must be " + f.Rule
	}
	return ""
}

// convert applies the field's type to a raw value. Text converts leniently
// ("20", "true"); typed values must already have the right type.
func convert(f *schema.Field, rv RawValue) (schema.Value, string) {
	switch f.Type {
	case schema.TypeInteger:
		switch rv.Kind {
		case KindInt:
		case KindText:
		default:
			return schema.Value{}, fmt.Sprintf("must be a whole number, not %s", rv.Kind)
		}
		i, err := strconv.Atoi(rv.Text)
		if err != nil {
			return schema.Value{}, "must be a whole number"
		}
		return schema.Value{Int: i}, ""
	case schema.TypeBoolean:
		switch rv.Kind {
		case KindBool:
			return schema.Value{Bool: rv.Text == "true" || rv.Text == "True" || rv.Text == "TRUE"}, ""
		case KindText:
			switch strings.ToLower(rv.Text) {
			case "true", "yes":
				return schema.Value{Bool: true}, ""
			case "false", "no":
				return schema.Value{Bool: false}, ""
			}
			return schema.Value{}, "must be true or false"
		}
		return schema.Value{}, fmt.Sprintf("must be true or false, not %s", rv.Kind)
	default:
		if rv.Kind == KindOther {
			return schema.Value{}, "must be a single value"
		}
		if strings.ContainsAny(rv.Text, "\r\n") {
			return schema.Value{}, "must be on one line"
		}
		return schema.Value{Str: rv.Text}, ""
	}
}

func text(s *schema.RequestSchema, vals map[string]schema.Value, name string) (string, bool) {
	v, ok := vals[name]
	if !ok {
		return "", false
	}
	return v.Text(s.Fields[name].Type), true
}

// evalRule evaluates one conditional rule generically. It reports a problem
// when the rule's condition holds and its constraint does not.
func evalRule(s *schema.RequestSchema, r schema.ConditionalRule, vals map[string]schema.Value, given map[string]bool, raw Raw) (Problem, bool) {
	whenText, whenSet := text(s, vals, r.When.Field)
	switch {
	case r.When.Equals != nil:
		if !whenSet || whenText != *r.When.Equals {
			return Problem{}, false
		}
	case r.When.In != nil:
		if !whenSet || !slices.Contains(r.When.In, whenText) {
			return Problem{}, false
		}
	case r.When.Defined != nil:
		if whenSet != *r.When.Defined {
			return Problem{}, false
		}
	}
	field := s.Fields[r.Then.Field]
	v, set := vals[r.Then.Field]
	if !set && field.Type != schema.TypeBoolean && r.Then.Required == nil && r.Then.Recommended == nil {
		// Another problem already reports the missing or invalid value.
		return Problem{}, false
	}
	cur := v.Text(field.Type)
	sev := Error
	if r.Severity == schema.SeverityWarning {
		sev = Warning
	}
	p := Problem{Field: r.Then.Field, Label: field.Label, Rule: r.Name, Severity: sev}
	if given[r.Then.Field] {
		p.Value = cur
		p.Origin = raw.Values[r.Then.Field].Origin
	}
	fail := func(detail string) (Problem, bool) {
		p.Message = r.Message
		if detail != "" {
			p.Message += " (" + detail + ")"
		}
		if !given[r.Then.Field] && set {
			p.Message += fmt.Sprintf("; the default is %s", cur)
		}
		return p, true
	}
	c := r.Then
	switch {
	case c.Equals != nil && cur != *c.Equals:
		return fail(fmt.Sprintf("%s must be %s when %s is %s", c.Field, *c.Equals, r.When.Field, whenText))
	case c.In != nil && !slices.Contains(c.In, cur):
		return fail(fmt.Sprintf("allowed when %s is %s: %s", r.When.Field, whenText, strings.Join(c.In, ", ")))
	case c.Minimum != nil && set && v.Int < *c.Minimum:
		return fail(fmt.Sprintf("%s must be at least %d when %s is %s", c.Field, *c.Minimum, r.When.Field, whenText))
	case c.Maximum != nil && set && v.Int > *c.Maximum:
		return fail(fmt.Sprintf("%s must be at most %d when %s is %s", c.Field, *c.Maximum, r.When.Field, whenText))
	case c.GreaterThanField != "":
		other, ok := vals[c.GreaterThanField]
		if ok && set && v.Int <= other.Int {
			return fail(fmt.Sprintf("%s is %d and %s is %d", c.Field, v.Int, c.GreaterThanField, other.Int))
		}
	case c.Required != nil && *c.Required && !set:
		p.Message = r.Message
		return p, true
	case c.Recommended != nil && *c.Recommended:
		if !set || (field.Type == schema.TypeBoolean && !v.Bool) || (field.Type == schema.TypeString && v.Str == "") {
			p.Message = r.Message
			return p, true
		}
	}
	return Problem{}, false
}
