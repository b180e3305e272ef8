package schema

import (
	"fmt"
	"slices"
	"strings"
)

// Default sources reported by Resolve.
const FromDefault = "default"

// Resolve fills the fields a request left out. A field some conditional
// default sets takes the value of the first one whose when matches;
// otherwise a field takes its plain default. given holds what the request
// set; the result holds every field that has a value, and from says where
// each filled value came from (FromDefault or a conditional default's name).
//
// The fields a conditional default tests are never set by another one (the
// schema refuses that), so the result does not depend on order.
func (s *RequestSchema) Resolve(given map[string]Value) (vals map[string]Value, from map[string]string) {
	vals = make(map[string]Value, len(s.Fields))
	from = map[string]string{}
	for k, v := range given {
		vals[k] = v
	}
	targets := map[string]bool{}
	for _, d := range s.Defaults {
		for _, fv := range d.Set {
			targets[fv.Field] = true
		}
	}
	for name, f := range s.Fields {
		if _, ok := vals[name]; !ok && !targets[name] && f.Default != nil {
			vals[name], from[name] = *f.Default, FromDefault
		}
	}
	text := s.texts(vals)
	for _, name := range s.FieldNames() {
		if _, ok := vals[name]; ok || !targets[name] {
			continue
		}
		done := false
		for _, d := range s.Defaults {
			if !d.When.Matches(text) {
				continue
			}
			for _, fv := range d.Set {
				if fv.Field == name && !done {
					vals[name], from[name], done = fv.Value, d.Name, true
				}
			}
		}
		if f := s.Fields[name]; !done && f.Default != nil {
			vals[name], from[name] = *f.Default, FromDefault
		}
	}
	return vals, from
}

func (s *RequestSchema) texts(vals map[string]Value) map[string]string {
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if f := s.Fields[k]; f != nil {
			out[k] = v.Text(f.Type)
		}
	}
	return out
}

// Applies reports whether the rule's condition holds for vals.
func (r ConditionalRule) Applies(s *RequestSchema, vals map[string]Value) bool {
	f := s.Fields[r.When.Field]
	v, set := vals[r.When.Field]
	if f == nil {
		return false
	}
	txt := v.Text(f.Type)
	switch {
	case r.When.Equals != nil:
		return set && txt == *r.When.Equals
	case r.When.In != nil:
		return set && slices.Contains(r.When.In, txt)
	case r.When.Defined != nil:
		return set == *r.When.Defined
	}
	return false
}

// Violated evaluates the rule over a request's values (after Resolve). It
// reports whether the rule applies and is broken, with what is wrong in
// words; name renders a field as the requester knows it.
func (r ConditionalRule) Violated(s *RequestSchema, vals map[string]Value, name func(string) string) (bool, string) {
	if name == nil {
		name = func(f string) string { return f }
	}
	if !r.Applies(s, vals) {
		return false, ""
	}
	field := s.Fields[r.Then.Field]
	if field == nil {
		return false, ""
	}
	v, set := vals[r.Then.Field]
	c := r.Then
	if !set && field.Type != TypeBoolean && c.Required == nil && c.Recommended == nil {
		return false, "" // the missing value has its own problem
	}
	when := name(r.When.Field)
	if wv, ok := vals[r.When.Field]; ok {
		when += " is " + wv.Text(s.Fields[r.When.Field].Type)
	} else {
		when += " is not set"
	}
	cur := v.Text(field.Type)
	switch {
	case c.Equals != nil:
		if cur != *c.Equals {
			return true, fmt.Sprintf("%s must be %s when %s", name(c.Field), *c.Equals, when)
		}
	case c.In != nil:
		if !slices.Contains(c.In, cur) {
			return true, fmt.Sprintf("allowed when %s: %s", when, strings.Join(c.In, ", "))
		}
	case c.Minimum != nil:
		if set && v.Int < *c.Minimum {
			return true, fmt.Sprintf("%s must be at least %d when %s", name(c.Field), *c.Minimum, when)
		}
	case c.Maximum != nil:
		if set && v.Int > *c.Maximum {
			return true, fmt.Sprintf("%s must be at most %d when %s", name(c.Field), *c.Maximum, when)
		}
	case c.GreaterThanField != "":
		other, ok := vals[c.GreaterThanField]
		if ok && set && v.Int <= other.Int {
			return true, fmt.Sprintf("%s is %d and %s is %d", name(c.Field), v.Int, name(c.GreaterThanField), other.Int)
		}
	case c.Required != nil:
		if *c.Required && !set {
			return true, ""
		}
	case c.Recommended != nil:
		if *c.Recommended && (!set || (field.Type == TypeBoolean && !v.Bool) || (field.Type == TypeString && v.Str == "")) {
			return true, ""
		}
	}
	return false, ""
}

// Describe renders the rule as `when environment=prod: backupRetentionDays minimum 14`.
func (r ConditionalRule) Describe() string {
	var b strings.Builder
	b.WriteString("when " + r.When.Field)
	switch {
	case r.When.Equals != nil:
		b.WriteString(" = " + *r.When.Equals)
	case r.When.In != nil:
		b.WriteString(" in [" + strings.Join(r.When.In, ", ") + "]")
	case r.When.Defined != nil:
		fmt.Fprintf(&b, " defined=%v", *r.When.Defined)
	}
	c := r.Then
	b.WriteString(": " + c.Field)
	switch {
	case c.Equals != nil:
		b.WriteString(" = " + *c.Equals)
	case c.In != nil:
		b.WriteString(" in [" + strings.Join(c.In, ", ") + "]")
	case c.Minimum != nil:
		fmt.Fprintf(&b, " >= %d", *c.Minimum)
	case c.Maximum != nil:
		fmt.Fprintf(&b, " <= %d", *c.Maximum)
	case c.GreaterThanField != "":
		b.WriteString(" > " + c.GreaterThanField)
	case c.Required != nil:
		fmt.Fprintf(&b, " required=%v", *c.Required)
	case c.Recommended != nil:
		fmt.Fprintf(&b, " recommended=%v", *c.Recommended)
	}
	return b.String()
}
