package schema

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Field types a request schema may declare.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeBoolean = "boolean"
)

// Reserved-name kinds a field may be checked against (Field.Reserved).
const (
	ReservedDatabases = "databases"
	ReservedRoles     = "roles"
)

// Schema formats.
const (
	// FormatRdsbot is rdsbot's own: `fields`, each with `required: true|false`.
	FormatRdsbot = "rdsbot"
	// FormatOriginal is the format the replaced system wrote RDS_REQUEST_V1
	// in: `properties` and a top-level `required` list. rdsbot fills the keys
	// it needs that this format lacks from documented defaults (Notes).
	FormatOriginal = "original"
)

// Field is one field of a request schema, with its enum resolved.
type Field struct {
	Name          string
	Line          int // where the field is defined (0: added from the documented defaults)
	Type          string
	Required      bool
	Derived       bool
	Pattern       *regexp.Regexp
	Rule          string // the pattern in words
	Enum          []string
	EnumFrom      string
	Excluded      []string // values of the enum this field refuses
	ExcludeReason string
	Minimum       *int
	Maximum       *int
	Default       *Value
	Input         string // workflow_dispatch input name
	Label         string // issue-form label
	NotInForm     bool   // kept out of the issue form
	Description   string
	Reserved      string // "databases" or "roles": checked against the reserved names
}

// Value is a typed field value: exactly one of the members is meaningful,
// chosen by the field's Type.
type Value struct {
	Str  string
	Int  int
	Bool bool
}

// Text renders v as a requester would type it.
func (v Value) Text(typ string) string {
	switch typ {
	case TypeInteger:
		return strconv.Itoa(v.Int)
	case TypeBoolean:
		return strconv.FormatBool(v.Bool)
	}
	return v.Str
}

// Condition is the `when` of a conditional rule: a test on one field.
type Condition struct {
	Field   string
	Equals  *string
	In      []string
	Defined *bool
}

// Constraint is the `then` of a conditional rule: what one field must satisfy.
type Constraint struct {
	Field            string
	Equals           *string
	In               []string
	Minimum          *int
	Maximum          *int
	GreaterThanField string
	Required         *bool
	Recommended      *bool
}

// Severity of a rule's finding.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// ConditionalRule constrains one field when another holds a value.
type ConditionalRule struct {
	Name     string
	Line     int
	When     Condition
	Then     Constraint
	Severity string // "" means error
	Message  string
}

// IsError reports whether breaking the rule rejects a request.
func (r ConditionalRule) IsError() bool { return r.Severity != SeverityWarning }

// ConditionalDefault fills fields a request leaves empty when it matches:
// defaults that depend on other fields (backups in prod, for example).
type ConditionalDefault struct {
	Name string
	Line int
	When Match
	Set  []FieldValue // in the order written
}

// FieldValue is one field and its value.
type FieldValue struct {
	Field string
	Value Value
}

// SizeClass is one row of size_mapping.
type SizeClass struct {
	Tier           string
	InstanceClass  string
	MaxConnections int
	Description    string
}

// Match is a `when` over request fields: every field must hold one of its
// values. In YAML a value is a single value (equals) or a list (in).
type Match map[string][]string

// Matches reports whether every field of m holds one of its values.
func (m Match) Matches(fields map[string]string) bool {
	for k, vals := range m {
		if !slices.Contains(vals, fields[k]) {
			return false
		}
	}
	return true
}

// Fields lists the fields m tests, sorted.
func (m Match) Fields() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// String renders m as `environment=prod, risk=high|access`.
func (m Match) String() string {
	var parts []string
	for _, f := range m.Fields() {
		parts = append(parts, f+"="+strings.Join(m[f], "|"))
	}
	return strings.Join(parts, ", ")
}

// Route is one approval_routing rule.
type Route struct {
	Name      string
	Line      int
	When      Match
	Tier      string
	Reviewers []string
}

// LabelRequirement asks for a label, added by a member of Group, when a
// request matches.
type LabelRequirement struct {
	Name   string
	Line   int
	When   Match
	Label  string
	Group  string
	Reason string
}

// Decommission is what removing a database needs.
type Decommission struct {
	Tier      string
	Reviewers []string
	Label     string
	Group     string
}

// RequestSchema is a parsed, checked request schema such as RDS_REQUEST_V1.
type RequestSchema struct {
	ID                string
	Version           string
	Title             string
	Workflow          string
	IssueLabel        string
	FieldOrder        []string
	Fields            map[string]*Field
	Rules             []ConditionalRule
	Defaults          []ConditionalDefault
	Sizes             []SizeClass
	Routing           []Route
	LabelRequirements []LabelRequirement
	Decommission      Decommission

	// Format is FormatRdsbot or FormatOriginal; File the path it was read from.
	Format string
	File   string
	// Notes lists every documented default the file needed (original format).
	Notes []string

	names []string // FieldNames, computed once the schema is parsed
}

// MaxInputs is GitHub's limit on workflow_dispatch inputs.
const MaxInputs = 10

// Check applies the field's own rules (pattern, enum, range) to a typed value
// and returns what is wrong in words, or "".
func (f *Field) Check(v Value) string {
	switch f.Type {
	case TypeString:
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, v.Str) {
			if slices.Contains(f.Excluded, v.Str) && f.ExcludeReason != "" {
				return "must be one of: " + strings.Join(f.Enum, ", ") + " (" + f.ExcludeReason + ")"
			}
			return "must be one of: " + strings.Join(f.Enum, ", ")
		}
		if f.Pattern != nil && !f.Pattern.MatchString(v.Str) {
			return "must be " + f.Rule
		}
	case TypeInteger:
		if f.Minimum != nil && f.Maximum != nil && (v.Int < *f.Minimum || v.Int > *f.Maximum) {
			return fmt.Sprintf("must be between %d and %d", *f.Minimum, *f.Maximum)
		}
		if f.Minimum != nil && v.Int < *f.Minimum {
			return fmt.Sprintf("must be at least %d", *f.Minimum)
		}
		if f.Maximum != nil && v.Int > *f.Maximum {
			return fmt.Sprintf("must be at most %d", *f.Maximum)
		}
	}
	return ""
}

// FieldNames returns the field names in field_order first, then any others
// sorted, so output is deterministic.
func (s *RequestSchema) FieldNames() []string {
	if s.names != nil && len(s.names) == len(s.Fields) {
		return slices.Clone(s.names)
	}
	return s.fieldNames()
}

func (s *RequestSchema) fieldNames() []string {
	var out []string
	for _, name := range s.FieldOrder {
		if s.Fields[name] != nil && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	var rest []string
	for name := range s.Fields {
		if !slices.Contains(out, name) {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// InputFields returns the fields that have a dispatch input, in field order.
func (s *RequestSchema) InputFields() []*Field {
	var out []*Field
	for _, name := range s.FieldNames() {
		if f := s.Fields[name]; f.Input != "" {
			out = append(out, f)
		}
	}
	return out
}

// FormFields returns the fields a requester fills in an issue form: every
// field with a label, in field order.
func (s *RequestSchema) FormFields() []*Field {
	var out []*Field
	for _, name := range s.FieldNames() {
		if f := s.Fields[name]; f.Label != "" && !f.Derived && !f.NotInForm {
			out = append(out, f)
		}
	}
	return out
}

// Size returns the size_mapping row of a tier.
func (s *RequestSchema) Size(tier string) (SizeClass, bool) {
	for _, sc := range s.Sizes {
		if sc.Tier == tier {
			return sc, true
		}
	}
	return SizeClass{}, false
}

// DefaultsFor lists the conditional defaults that can set a field, in order.
func (s *RequestSchema) DefaultsFor(field string) []ConditionalDefault {
	var out []ConditionalDefault
	for _, d := range s.Defaults {
		for _, fv := range d.Set {
			if fv.Field == field {
				out = append(out, d)
			}
		}
	}
	return out
}
