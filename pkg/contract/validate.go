package contract

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/schema"
)

// Validate turns a raw request into a typed one, applying the schema's
// defaults (those that depend on other fields included), types, patterns,
// enums, ranges, reserved names and conditional rules. It returns every
// problem at once, each naming the field as the requester wrote it on that
// surface; the request is nil when any problem is an error. Fields marked
// derived (the request id) may be absent: rdsbot assigns them. A raw
// request that could not be read (Raw.Unreadable) gives that one problem.
func Validate(set *schema.Set, raw Raw) (*Request, Problems) {
	if raw.Unreadable != nil {
		return nil, Problems{*raw.Unreadable}
	}
	s := set.Request
	name := namer(s, raw)
	var probs Problems
	given := map[string]schema.Value{}
	invalid := map[string]bool{}
	for _, key := range sortedKeys(raw.Values) {
		if s.Fields[key] == nil {
			rv := raw.Values[key]
			probs = append(probs, Problem{Field: key, Name: rv.Name, Value: rv.Text, Message: "is not a field of " + s.ID, Severity: Error, Origin: rv.Origin})
		}
	}
	for _, fname := range s.FieldNames() {
		f := s.Fields[fname]
		rv, ok := raw.Values[fname]
		if !ok {
			continue
		}
		v, msg := convert(f, rv)
		if msg == "" {
			msg = f.Check(v)
		}
		if msg != "" {
			probs = append(probs, Problem{Field: fname, Name: name(fname), Label: f.Label, Value: rv.Text, Message: msg, Severity: Error, Origin: rv.Origin})
			invalid[fname] = true
			continue
		}
		given[fname] = v
	}
	vals, from := s.Resolve(given)
	for _, fname := range s.FieldNames() {
		f := s.Fields[fname]
		if _, ok := vals[fname]; !ok && !invalid[fname] && f.Required && !f.Derived {
			probs = append(probs, Problem{Field: fname, Name: name(fname), Label: f.Label, Message: "is required" + hint(f), Severity: Error})
		}
	}
	env := vals["environment"].Str
	for _, fname := range s.FieldNames() {
		f := s.Fields[fname]
		v, ok := vals[fname]
		if f.Reserved == "" || !ok || invalid[fname] {
			continue
		}
		if why, reserved := set.Reserved.Check(f.Reserved, env, v.Str); reserved {
			rv := raw.Values[fname]
			probs = append(probs, Problem{Field: fname, Name: name(fname), Label: f.Label, Value: v.Str, Severity: Error, Origin: rv.Origin,
				Message: fmt.Sprintf("is reserved: %s; choose another name", why)})
			invalid[fname] = true
		}
	}
	for _, r := range s.Rules {
		if invalid[r.When.Field] || invalid[r.Then.Field] || invalid[r.Then.GreaterThanField] {
			continue // the value's own problem is already reported
		}
		bad, detail := r.Violated(s, vals, name)
		if !bad {
			continue
		}
		f := s.Fields[r.Then.Field]
		p := Problem{Field: r.Then.Field, Name: name(r.Then.Field), Label: f.Label, Rule: r.Name, Severity: Error, Message: r.Message}
		if !r.IsError() {
			p.Severity = Warning
		}
		if _, ok := given[r.Then.Field]; ok {
			p.Value = raw.Values[r.Then.Field].Text
			p.Origin = raw.Values[r.Then.Field].Origin
		}
		if detail != "" {
			p.Message += " (" + detail + ")"
		}
		if src, ok := from[r.Then.Field]; ok && p.Value == "" && (r.Then.Required == nil && r.Then.Recommended == nil) {
			p.Message += "; the default is " + vals[r.Then.Field].Text(f.Type)
			if src != schema.FromDefault {
				p.Message += " (" + src + ")"
			}
		}
		probs = append(probs, p)
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

var decimal = regexp.MustCompile(`^[+-]?[0-9]+(\.0+)?$`)

// convert applies the field's type to a raw value. Text converts leniently
// ("20", "7.0", "true", "yes"); typed values must already have the right
// type. Messages say what was expected in a requester's words.
func convert(f *schema.Field, rv RawValue) (schema.Value, string) {
	switch f.Type {
	case schema.TypeInteger:
		switch rv.Kind {
		case KindInt, KindText, KindFloat:
			if !decimal.MatchString(rv.Text) {
				switch {
				case rv.Kind == KindFloat:
					return schema.Value{}, "must be a whole number, not a fraction"
				case rv.Kind == KindInt:
					return schema.Value{}, "must be a whole number written in plain digits, such as 20"
				}
				return schema.Value{}, "must be a whole number, such as 20"
			}
			i, err := strconv.Atoi(strings.SplitN(rv.Text, ".", 2)[0])
			if err != nil {
				return schema.Value{}, "must be a whole number that fits in an int"
			}
			return schema.Value{Int: i}, ""
		case KindString:
			if decimal.MatchString(rv.Text) {
				return schema.Value{}, "must be a whole number; it is written in quotes, which makes it text: remove the quotes"
			}
			return schema.Value{}, "must be a whole number, such as 20"
		}
		return schema.Value{}, fmt.Sprintf("must be a whole number, not %s", rv.Kind)
	case schema.TypeBoolean:
		switch rv.Kind {
		case KindBool:
			return schema.Value{Bool: strings.EqualFold(rv.Text, "true")}, ""
		case KindText:
			switch strings.ToLower(rv.Text) {
			case "true", "yes":
				return schema.Value{Bool: true}, ""
			case "false", "no":
				return schema.Value{Bool: false}, ""
			}
			return schema.Value{}, "must be true or false"
		case KindString:
			switch strings.ToLower(rv.Text) {
			case "true", "false", "yes", "no":
				return schema.Value{}, "must be true or false; it is written in quotes, which makes it text: remove the quotes"
			}
			return schema.Value{}, "must be true or false"
		}
		return schema.Value{}, fmt.Sprintf("must be true or false, not %s", rv.Kind)
	default:
		switch rv.Kind {
		case KindList, KindMap, KindOther:
			return schema.Value{}, fmt.Sprintf("must be a single value, not %s", rv.Kind)
		case KindInt, KindFloat, KindBool:
			return schema.Value{}, fmt.Sprintf("must be text, not %s; put %s in quotes if you mean it as text", rv.Kind, rv.Text)
		}
		if strings.ContainsAny(rv.Text, "\r\n") {
			return schema.Value{}, "must be on one line"
		}
		return schema.Value{Str: rv.Text}, ""
	}
}
