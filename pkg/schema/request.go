package schema

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Field types a request schema may declare.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeBoolean = "boolean"
)

// Field is one field of a request schema, with its enum resolved.
type Field struct {
	Name          string
	Type          string
	Required      bool
	Derived       bool
	Pattern       *regexp.Regexp
	Rule          string // the pattern in words
	Enum          []string
	EnumFrom      string
	ExcludeReason string
	Minimum       *int
	Maximum       *int
	Default       *Value
	Input         string // workflow_dispatch input name
	Label         string // issue-form label
	NotInForm     bool   // kept out of the issue form
	Description   string
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
	Field   string   `yaml:"field"`
	Equals  *string  `yaml:"equals"`
	In      []string `yaml:"in"`
	Defined *bool    `yaml:"defined"`
}

// Constraint is the `then` of a conditional rule: what one field must satisfy.
type Constraint struct {
	Field            string   `yaml:"field"`
	Equals           *string  `yaml:"equals"`
	In               []string `yaml:"in"`
	Minimum          *int     `yaml:"minimum"`
	Maximum          *int     `yaml:"maximum"`
	GreaterThanField string   `yaml:"greater_than_field"`
	Required         *bool    `yaml:"required"`
	Recommended      *bool    `yaml:"recommended"`
}

// Severity of a rule's finding.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// ConditionalRule constrains one field when another holds a value.
type ConditionalRule struct {
	Name     string     `yaml:"name"`
	When     Condition  `yaml:"when"`
	Then     Constraint `yaml:"then"`
	Severity string     `yaml:"severity"`
	Message  string     `yaml:"message"`
}

// SizeClass is one row of size_mapping.
type SizeClass struct {
	Tier           string
	InstanceClass  string `yaml:"instance_class"`
	MaxConnections int    `yaml:"max_connections"`
	Description    string `yaml:"description"`
}

// Match is a `when` over request fields: every field must hold one of its
// values. In YAML a value is a string (equals) or a list (in).
type Match map[string][]string

// UnmarshalYAML accepts `{field: value}` and `{field: [v1, v2]}`.
func (m *Match) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: when must be a mapping of field to value(s)", n.Line)
	}
	out := Match{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch v.Kind {
		case yaml.ScalarNode:
			out[k] = []string{v.Value}
		case yaml.SequenceNode:
			vals, err := scalarList(v)
			if err != nil {
				return err
			}
			out[k] = vals
		default:
			return fmt.Errorf("line %d: %s: expected a value or a list", v.Line, k)
		}
	}
	*m = out
	return nil
}

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

// Route is one approval_routing rule.
type Route struct {
	Name      string   `yaml:"name"`
	When      Match    `yaml:"when"`
	Tier      string   `yaml:"tier"`
	Reviewers []string `yaml:"reviewers"`
}

// LabelRequirement asks for a label, added by a member of Group, when a
// request matches.
type LabelRequirement struct {
	Name   string `yaml:"name"`
	When   Match  `yaml:"when"`
	Label  string `yaml:"label"`
	Group  string `yaml:"group"`
	Reason string `yaml:"reason"`
}

// Decommission is what removing a database needs.
type Decommission struct {
	Tier      string   `yaml:"tier"`
	Reviewers []string `yaml:"reviewers"`
	Label     string   `yaml:"label"`
	Group     string   `yaml:"group"`
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
	Sizes             []SizeClass
	Routing           []Route
	LabelRequirements []LabelRequirement
	Decommission      Decommission
}

type rawField struct {
	Type          string    `yaml:"type"`
	Required      bool      `yaml:"required"`
	Derived       bool      `yaml:"derived"`
	Pattern       string    `yaml:"pattern"`
	Rule          string    `yaml:"rule"`
	Enum          []string  `yaml:"enum"`
	EnumFrom      string    `yaml:"enum_from"`
	Exclude       []string  `yaml:"exclude"`
	ExcludeReason string    `yaml:"exclude_reason"`
	Minimum       *int      `yaml:"minimum"`
	Maximum       *int      `yaml:"maximum"`
	Default       yaml.Node `yaml:"default"`
	Input         string    `yaml:"input"`
	Label         string    `yaml:"label"`
	Form          *bool     `yaml:"form"`
	Description   string    `yaml:"description"`
}

type rawSchema struct {
	ID       string `yaml:"id"`
	Version  string `yaml:"version"`
	Metadata struct {
		Title      string `yaml:"title"`
		Workflow   string `yaml:"workflow"`
		IssueLabel string `yaml:"issue_label"`
	} `yaml:"metadata"`
	FieldOrder        []string             `yaml:"field_order"`
	Fields            yaml.Node            `yaml:"fields"`
	Rules             []ConditionalRule    `yaml:"conditional_rules"`
	SizeMapping       yaml.Node            `yaml:"size_mapping"`
	Routing           []Route              `yaml:"approval_routing"`
	LabelRequirements []LabelRequirement   `yaml:"label_requirements"`
	Decommission      Decommission         `yaml:"decommission"`
	Extra             map[string]yaml.Node `yaml:",inline"`
}

// MaxInputs is GitHub's limit on workflow_dispatch inputs.
const MaxInputs = 10

// ParseRequestSchema parses a request schema and resolves its enum_from
// references against enums. It reports every problem of the schema at once.
func ParseRequestSchema(data []byte, filename string, enums *Enums) (*RequestSchema, error) {
	var raw rawSchema
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	s := &RequestSchema{
		ID: raw.ID, Version: raw.Version, Title: raw.Metadata.Title,
		Workflow: raw.Metadata.Workflow, IssueLabel: raw.Metadata.IssueLabel,
		FieldOrder: raw.FieldOrder, Fields: map[string]*Field{},
		Rules: raw.Rules, Routing: raw.Routing, LabelRequirements: raw.LabelRequirements,
		Decommission: raw.Decommission,
	}
	var errs Errors
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", filename, line, fmt.Sprintf(format, args...)))
	}
	if s.ID == "" {
		bad(1, "id is required")
	}
	if raw.Fields.Kind != yaml.MappingNode {
		bad(raw.Fields.Line, "fields must be a mapping of field name to definition")
	}
	for i := 0; i+1 < len(raw.Fields.Content); i += 2 {
		name, node := raw.Fields.Content[i].Value, raw.Fields.Content[i+1]
		f, ferrs := parseField(name, node, enums)
		for _, e := range ferrs {
			bad(node.Line, "field %s: %s", name, e)
		}
		s.Fields[name] = f
	}
	inputs := map[string]string{}
	for _, name := range s.FieldNames() {
		if in := s.Fields[name].Input; in != "" {
			if other, dup := inputs[in]; dup {
				bad(raw.Fields.Line, "fields %s and %s both use input %q", other, name, in)
			}
			inputs[in] = name
		}
	}
	if len(inputs) > MaxInputs {
		bad(raw.Fields.Line, "%d fields have a dispatch input; GitHub allows at most %d", len(inputs), MaxInputs)
	}
	for _, name := range s.FieldOrder {
		if s.Fields[name] == nil {
			bad(1, "field_order names unknown field %q", name)
		}
	}
	for _, r := range s.Rules {
		for _, e := range checkRule(r, s.Fields) {
			bad(1, "conditional rule %q: %s", r.Name, e)
		}
	}
	if raw.SizeMapping.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(raw.SizeMapping.Content); i += 2 {
			var sc SizeClass
			if err := raw.SizeMapping.Content[i+1].Decode(&sc); err != nil {
				bad(raw.SizeMapping.Content[i].Line, "size_mapping: %v", err)
				continue
			}
			sc.Tier = raw.SizeMapping.Content[i].Value
			if sc.InstanceClass == "" {
				bad(raw.SizeMapping.Content[i].Line, "size_mapping.%s: instance_class is required", sc.Tier)
			}
			s.Sizes = append(s.Sizes, sc)
		}
	}
	if size := s.Fields["size"]; size != nil {
		for _, tier := range size.Enum {
			if _, ok := s.Size(tier); !ok {
				bad(raw.SizeMapping.Line, "size_mapping has no row for size %q", tier)
			}
		}
	}
	for _, r := range s.Routing {
		for _, f := range r.When.Fields() {
			if s.Fields[f] == nil {
				bad(1, "approval_routing %q tests unknown field %q", r.Name, f)
			}
		}
	}
	for _, r := range s.LabelRequirements {
		for _, f := range r.When.Fields() {
			if s.Fields[f] == nil {
				bad(1, "label_requirements %q tests unknown field %q", r.Name, f)
			}
		}
		if r.Label == "" {
			bad(1, "label_requirements %q: label is required", r.Name)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

func parseField(name string, node *yaml.Node, enums *Enums) (*Field, []string) {
	var rf rawField
	if err := node.Decode(&rf); err != nil {
		return &Field{Name: name}, []string{err.Error()}
	}
	f := &Field{
		Name: name, Type: rf.Type, Required: rf.Required, Derived: rf.Derived,
		Rule: rf.Rule, EnumFrom: rf.EnumFrom, ExcludeReason: rf.ExcludeReason,
		Minimum: rf.Minimum, Maximum: rf.Maximum, Input: rf.Input, Label: rf.Label,
		Description: rf.Description, NotInForm: rf.Form != nil && !*rf.Form,
	}
	var errs []string
	switch f.Type {
	case TypeString, TypeInteger, TypeBoolean:
	default:
		errs = append(errs, fmt.Sprintf("type %q is not one of string, integer, boolean", f.Type))
	}
	if rf.Pattern != "" {
		re, err := regexp.Compile(rf.Pattern)
		if err != nil {
			errs = append(errs, fmt.Sprintf("pattern: %v", err))
		} else {
			f.Pattern = re
		}
		if f.Rule == "" {
			f.Rule = "must match " + rf.Pattern
		}
	}
	switch {
	case rf.EnumFrom != "" && len(rf.Enum) > 0:
		errs = append(errs, "use enum or enum_from, not both")
	case rf.EnumFrom != "":
		vals, ok := enums.Values(rf.EnumFrom)
		if !ok {
			errs = append(errs, fmt.Sprintf("enum_from %q names no list in enums.yaml", rf.EnumFrom))
		}
		f.Enum = vals
	default:
		f.Enum = rf.Enum
	}
	for _, x := range rf.Exclude {
		if !slices.Contains(f.Enum, x) {
			errs = append(errs, fmt.Sprintf("exclude %q is not in its enum", x))
		}
		f.Enum = slices.DeleteFunc(f.Enum, func(v string) bool { return v == x })
	}
	if rf.Default.Kind != 0 {
		v, err := decodeDefault(f.Type, &rf.Default)
		if err != nil {
			errs = append(errs, "default: "+err.Error())
		} else {
			f.Default = &v
			if msg := f.Check(v); msg != "" {
				errs = append(errs, fmt.Sprintf("default %q breaks its own rule: %s", rf.Default.Value, msg))
			}
		}
	}
	return f, errs
}

func decodeDefault(typ string, n *yaml.Node) (Value, error) {
	switch typ {
	case TypeInteger:
		if n.Tag != "!!int" {
			return Value{}, fmt.Errorf("%q is not an integer", n.Value)
		}
		i, err := strconv.Atoi(n.Value)
		return Value{Int: i}, err
	case TypeBoolean:
		if n.Tag != "!!bool" {
			return Value{}, fmt.Errorf("%q is not a boolean", n.Value)
		}
		var b bool
		err := n.Decode(&b)
		return Value{Bool: b}, err
	}
	if n.Kind != yaml.ScalarNode {
		return Value{}, fmt.Errorf("expected a scalar")
	}
	return Value{Str: n.Value}, nil
}

// Check applies the field's own rules (pattern, enum, range) to a typed value
// and returns what is wrong in words, or "".
func (f *Field) Check(v Value) string {
	switch f.Type {
	case TypeString:
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, v.Str) {
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

func checkRule(r ConditionalRule, fields map[string]*Field) []string {
	var errs []string
	if r.Name == "" {
		errs = append(errs, "name is required")
	}
	if fields[r.When.Field] == nil {
		errs = append(errs, fmt.Sprintf("when.field %q is not a field", r.When.Field))
	}
	if fields[r.Then.Field] == nil {
		errs = append(errs, fmt.Sprintf("then.field %q is not a field", r.Then.Field))
	}
	if r.Then.GreaterThanField != "" && fields[r.Then.GreaterThanField] == nil {
		errs = append(errs, fmt.Sprintf("then.greater_than_field %q is not a field", r.Then.GreaterThanField))
	}
	conds := 0
	for _, set := range []bool{r.When.Equals != nil, r.When.In != nil, r.When.Defined != nil} {
		if set {
			conds++
		}
	}
	if conds != 1 {
		errs = append(errs, "when needs exactly one of equals, in, defined")
	}
	switch r.Severity {
	case "", SeverityError, SeverityWarning:
	default:
		errs = append(errs, fmt.Sprintf("severity %q is not error or warning", r.Severity))
	}
	if r.Message == "" {
		errs = append(errs, "message is required")
	}
	return errs
}

// FieldNames returns the field names in field_order first, then any others
// sorted, so output is deterministic.
func (s *RequestSchema) FieldNames() []string {
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
