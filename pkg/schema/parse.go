package schema

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Top-level keys of a request schema. Keys that only document (type,
// domain, owner, status, description, generates) are read and ignored.
var (
	docKeys    = []string{"id", "version", "type", "domain", "owner", "status", "description", "metadata", "generates"}
	modelKeys  = []string{"field_order", "conditional_rules", "conditional_defaults", "size_mapping", "approval_routing", "label_requirements", "decommission"}
	metaKeys   = []string{"title", "description", "workflow", "issue_label", "terraform_root", "backstage_template", "parser_module", "parser_status"}
	fieldKeys  = []string{"type", "required", "derived", "pattern", "rule", "enum", "enum_from", "exclude", "exclude_reason", "minimum", "maximum", "default", "input", "label", "form", "description", "examples", "reserved"}
	sizeKeys   = []string{"instance_class", "max_connections", "description"}
	routeKeys  = []string{"name", "when", "tier", "reviewers", "required_reviewers", "description"}
	labelKeys  = []string{"name", "when", "label", "group", "reason"}
	decomKeys  = []string{"tier", "reviewers", "label", "group"}
	cdKeys     = []string{"name", "when", "set", "description"}
	ruleKeys   = []string{"name", "when", "then", "severity", "message", "description"}
	condKeys   = []string{"field", "equals", "in", "defined"}
	constrKeys = []string{"field", "equals", "in", "enum", "minimum", "maximum", "greater_than_field", "required", "recommended", "approval_required", "message"}
)

const (
	shapeSchema = "a request schema: a mapping with id, and fields (rdsbot format: name -> {type, required, ...}) or properties with a required list (the original RDS_REQUEST_V1 format)"
	shapeField  = "a mapping such as {type: string, pattern: '^[a-z]+$', rule: ...}"
	shapeMatch  = "a mapping of field to a value or a list of values, such as {environment: prod} or {size: [large, xlarge]}"
)

// ParseRequestSchema parses a request schema, in rdsbot's format or in the
// original one, and resolves its enum_from references against enums. Every
// problem comes back at once, each with the file, the line and the shape
// that was expected there.
func ParseRequestSchema(data []byte, filename string, enums *Enums) (*RequestSchema, error) {
	top, err := parseDoc(data, filename, shapeSchema)
	if err != nil {
		return nil, err
	}
	p := &problems{file: filename}
	s := &RequestSchema{Fields: map[string]*Field{}, File: filename}

	fieldsNode, propsNode := get(top, "fields"), get(top, "properties")
	allowed := append(append(slices.Clone(docKeys), modelKeys...), "fields")
	switch {
	case fieldsNode != nil && propsNode != nil:
		p.at(lineOf(propsNode, top), "both fields (rdsbot format) and properties (original format): use one of them")
	case propsNode != nil:
		s.Format = FormatOriginal
		allowed = append(append(slices.Clone(docKeys), modelKeys...), "properties", "required")
	case fieldsNode != nil:
		s.Format = FormatRdsbot
	default:
		p.at(top.Line, "no fields: expected `fields:` (rdsbot format, each field with `required: true|false`) or `properties:` with a top-level `required:` list (the original format)")
	}
	p.keysOnly(top, "top level", allowed)

	s.ID = p.str(get(top, "id"), "id")
	if s.ID == "" {
		p.at(top.Line, "id is required (such as RDS_REQUEST_V1)")
	}
	s.Version = p.str(get(top, "version"), "version")
	if meta := p.mapping(get(top, "metadata"), "metadata", "a mapping of title, workflow, issue_label, ..."); meta != nil {
		p.keysOnly(meta, "metadata", metaKeys)
		s.Title = p.str(get(meta, "title"), "metadata.title")
		s.Workflow = p.str(get(meta, "workflow"), "metadata.workflow")
		s.IssueLabel = p.str(get(meta, "issue_label"), "metadata.issue_label")
	}

	var defs *originalDefaults
	if s.Format == FormatOriginal {
		defs = builtinOriginal()
		top = defs.fillTop(s, top)
	}

	switch s.Format {
	case FormatRdsbot:
		if m := p.mapping(fieldsNode, "fields", "a mapping of field name to definition"); m != nil {
			for _, kv := range pairs(m) {
				s.Fields[kv.key] = p.field(kv.key, kv.v, enums, true)
			}
		}
	case FormatOriginal:
		if m := p.mapping(propsNode, "properties", "a mapping of field name to definition"); m != nil {
			for _, kv := range pairs(m) {
				node := defs.fillField(s, kv.key, kv.v)
				s.Fields[kv.key] = p.field(kv.key, node, enums, false)
			}
		}
		reqNode := get(top, "required")
		p.strs(reqNode, "required") // reports the shape
		var items []*yaml.Node
		if reqNode != nil && reqNode.Kind == yaml.SequenceNode {
			items = reqNode.Content
		}
		for _, item := range items {
			name, line := item.Value, item.Line
			if f := s.Fields[name]; f != nil {
				f.Required = true
			} else {
				p.at(line, "required names %q, which is not in properties", name)
			}
		}
		for _, name := range defs.extraOrder {
			if s.Fields[name] == nil {
				f := p.field(name, defs.extra[name], enums, true)
				f.Line = 0
				s.Fields[name] = f
				s.Notes = append(s.Notes, fmt.Sprintf("field %s added (the original Backstage template sends its input %s)", name, f.Input))
			}
		}
	}

	s.FieldOrder = p.strs(get(top, "field_order"), "field_order")
	for _, name := range s.FieldOrder {
		if s.Fields[name] == nil && s.Format == FormatRdsbot {
			p.at(lineOf(get(top, "field_order"), top), "field_order names unknown field %q", name)
		}
	}
	p.checkInputs(s, lineOf(fieldsNode, lineNode(propsNode, top)))

	for _, item := range p.list(get(top, "conditional_rules"), "conditional_rules", "a list of rules, each {name, when, then, message}") {
		s.Rules = append(s.Rules, p.rules(item, s.Fields)...)
	}
	for _, item := range p.list(get(top, "conditional_defaults"), "conditional_defaults", "a list of {name, when, set}") {
		if d, ok := p.conditionalDefault(item, s.Fields); ok {
			s.Defaults = append(s.Defaults, d)
		}
	}
	p.checkDefaults(s)

	if sm := p.mapping(get(top, "size_mapping"), "size_mapping", "a mapping of size tier to {instance_class, max_connections, description}"); sm != nil {
		for _, kv := range pairs(sm) {
			row := p.mapping(kv.v, "size_mapping."+kv.key, "a mapping {instance_class, max_connections, description}")
			p.keysOnly(row, "size_mapping."+kv.key, sizeKeys)
			sc := SizeClass{Tier: kv.key, InstanceClass: p.str(get(row, "instance_class"), "size_mapping."+kv.key+".instance_class"),
				Description: p.str(get(row, "description"), "size_mapping."+kv.key+".description")}
			if mc := p.integer(get(row, "max_connections"), "size_mapping."+kv.key+".max_connections"); mc != nil {
				sc.MaxConnections = *mc
			}
			if sc.InstanceClass == "" {
				p.at(kv.k.Line, "size_mapping.%s: instance_class is required", kv.key)
			}
			s.Sizes = append(s.Sizes, sc)
		}
	}
	if size := s.Fields["size"]; size != nil {
		for _, tier := range size.Enum {
			if _, ok := s.Size(tier); !ok {
				p.at(lineOf(get(top, "size_mapping"), top), "size_mapping has no row for size %q (expected size_mapping.%s: {instance_class: ...})", tier, tier)
			}
		}
	}

	for i, item := range p.list(get(top, "approval_routing"), "approval_routing", "a list of {name, when, tier, reviewers}") {
		if r, ok := p.route(i, item, s.Fields); ok {
			s.Routing = append(s.Routing, r)
		}
	}
	for _, item := range p.list(get(top, "label_requirements"), "label_requirements", "a list of {name, when, label, group, reason}") {
		m := p.mapping(item, "label_requirements item", "a mapping {name, when, label, group, reason}")
		if m == nil {
			continue
		}
		p.keysOnly(m, "label_requirements", labelKeys)
		lr := LabelRequirement{Line: m.Line, Name: p.str(get(m, "name"), "name"), Label: p.str(get(m, "label"), "label"),
			Group: p.str(get(m, "group"), "group"), Reason: p.str(get(m, "reason"), "reason"),
			When: p.match(get(m, "when"), m, "label_requirements "+p.str(get(m, "name"), "name")+": when", s.Fields)}
		if lr.Label == "" {
			p.at(m.Line, "label_requirements %q: label is required", lr.Name)
		}
		s.LabelRequirements = append(s.LabelRequirements, lr)
	}
	if d := p.mapping(get(top, "decommission"), "decommission", "a mapping {tier, reviewers, label, group}"); d != nil {
		p.keysOnly(d, "decommission", decomKeys)
		s.Decommission = Decommission{Tier: p.str(get(d, "tier"), "decommission.tier"), Reviewers: p.strs(get(d, "reviewers"), "decommission.reviewers"),
			Label: p.str(get(d, "label"), "decommission.label"), Group: p.str(get(d, "group"), "decommission.group")}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	sort.Strings(s.Notes)
	s.names = s.fieldNames()
	return s, nil
}

func lineNode(n, fallback *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return fallback
}

// field parses one field definition. requiredKey says whether the format
// takes `required:` on the field itself.
func (p *problems) field(name string, node *yaml.Node, enums *Enums, requiredKey bool) *Field {
	f := &Field{Name: name, Line: lineOf(node, nil)}
	m := p.mapping(node, "field "+name, shapeField)
	if m == nil {
		if node == nil || isNull(node) {
			p.at(f.Line, "field %s: expected %s", name, shapeField)
		}
		return f
	}
	keys := fieldKeys
	if !requiredKey {
		keys = slices.DeleteFunc(slices.Clone(fieldKeys), func(k string) bool { return k == "required" })
	}
	where := "field " + name
	p.keysOnly(m, where, keys)
	f.Type = p.str(get(m, "type"), where+".type")
	f.Required, _ = p.boolean(get(m, "required"), where+".required")
	f.Derived, _ = p.boolean(get(m, "derived"), where+".derived")
	f.Rule = p.str(get(m, "rule"), where+".rule")
	f.EnumFrom = p.str(get(m, "enum_from"), where+".enum_from")
	f.ExcludeReason = p.str(get(m, "exclude_reason"), where+".exclude_reason")
	f.Minimum = p.integer(get(m, "minimum"), where+".minimum")
	f.Maximum = p.integer(get(m, "maximum"), where+".maximum")
	f.Input = p.str(get(m, "input"), where+".input")
	f.Label = p.str(get(m, "label"), where+".label")
	f.Description = p.str(get(m, "description"), where+".description")
	if form, set := p.boolean(get(m, "form"), where+".form"); set && !form {
		f.NotInForm = true
	}
	line := func(key string) int { return lineOf(get(m, key), m) }
	switch f.Type {
	case TypeString, TypeInteger, TypeBoolean:
	default:
		p.at(line("type"), "%s: type %q is not one of string, integer, boolean", where, f.Type)
	}
	switch r := p.str(get(m, "reserved"), where+".reserved"); r {
	case "", ReservedDatabases, ReservedRoles:
		f.Reserved = r
		if r != "" && f.Type != TypeString {
			p.at(line("reserved"), "%s: reserved applies to string fields only", where)
		}
	default:
		p.at(line("reserved"), "%s: reserved %q must be %s or %s", where, r, ReservedDatabases, ReservedRoles)
	}
	if pat := p.str(get(m, "pattern"), where+".pattern"); pat != "" {
		re, err := regexp.Compile(pat)
		if err != nil {
			p.at(line("pattern"), "%s: pattern: %v", where, err)
		} else {
			f.Pattern = re
		}
		if f.Rule == "" {
			f.Rule = "must match " + pat
		}
	}
	enum := p.strs(get(m, "enum"), where+".enum")
	switch {
	case f.EnumFrom != "" && len(enum) > 0:
		p.at(line("enum"), "%s: use enum or enum_from, not both", where)
	case f.EnumFrom != "":
		vals, err := enums.list(f.EnumFrom)
		if err != nil {
			p.at(line("enum_from"), "%s: enum_from %v", where, err)
		}
		f.Enum = vals
	default:
		f.Enum = enum
	}
	for _, x := range p.strs(get(m, "exclude"), where+".exclude") {
		if !slices.Contains(f.Enum, x) {
			p.at(line("exclude"), "%s: exclude %q is not in its enum", where, x)
		}
		f.Enum = slices.DeleteFunc(f.Enum, func(v string) bool { return v == x })
		f.Excluded = append(f.Excluded, x)
	}
	if dn := get(m, "default"); dn != nil && !isNull(dn) {
		v, err := decodeValue(f.Type, dn)
		if err != nil {
			p.at(dn.Line, "%s: default: %v", where, err)
		} else {
			f.Default = &v
			if msg := f.Check(v); msg != "" {
				p.at(dn.Line, "%s: default %q breaks its own rule: %s", where, dn.Value, msg)
			}
		}
	}
	return f
}

// decodeValue reads a typed value written in a schema.
func decodeValue(typ string, n *yaml.Node) (Value, error) {
	if n.Kind != yaml.ScalarNode {
		return Value{}, fmt.Errorf("expected a single value, found %s", kindName(n))
	}
	switch typ {
	case TypeInteger:
		if n.Tag != "!!int" {
			return Value{}, fmt.Errorf("%q is not a whole number", n.Value)
		}
		var i int
		if _, err := fmt.Sscanf(n.Value, "%d", &i); err != nil || fmt.Sprint(i) != strings.TrimPrefix(n.Value, "+") {
			return Value{}, fmt.Errorf("%q is not a whole number written in decimal digits", n.Value)
		}
		return Value{Int: i}, nil
	case TypeBoolean:
		if n.Tag != "!!bool" {
			return Value{}, fmt.Errorf("%q is not true or false", n.Value)
		}
		return Value{Bool: n.Value == "true"}, nil
	}
	return Value{Str: n.Value}, nil
}

func (p *problems) checkInputs(s *RequestSchema, line int) {
	inputs := map[string]string{}
	for _, name := range s.FieldNames() {
		if in := s.Fields[name].Input; in != "" {
			if other, dup := inputs[in]; dup {
				p.at(line, "fields %s and %s both use input %q", other, name, in)
			}
			inputs[in] = name
		}
	}
	if len(inputs) > MaxInputs {
		p.at(line, "%d fields have a dispatch input; GitHub allows at most %d", len(inputs), MaxInputs)
	}
	labels := map[string]string{}
	for _, f := range s.FormFields() {
		l := strings.ToLower(strings.Join(strings.Fields(f.Label), " "))
		if other, dup := labels[l]; dup {
			p.at(f.Line, "fields %s and %s both use the issue-form label %q", other, f.Name, f.Label)
		}
		labels[l] = f.Name
	}
}

// match reads a `when` mapping of field to value(s).
func (p *problems) match(n, parent *yaml.Node, where string, fields map[string]*Field) Match {
	m := p.mapping(n, where, shapeMatch)
	if m == nil {
		if n == nil {
			p.at(lineOf(nil, parent), "%s is missing; expected %s", where, shapeMatch)
		}
		return nil
	}
	out := Match{}
	for _, kv := range pairs(m) {
		if fields[kv.key] == nil {
			p.at(kv.k.Line, "%s tests unknown field %q", where, kv.key)
		}
		switch kv.v.Kind {
		case yaml.ScalarNode:
			out[kv.key] = []string{kv.v.Value}
		case yaml.SequenceNode:
			out[kv.key] = p.strs(kv.v, where+"."+kv.key)
		default:
			p.at(kv.v.Line, "%s.%s: expected a value or a list of values, found %s", where, kv.key, kindName(kv.v))
		}
	}
	return out
}

func (p *problems) route(i int, n *yaml.Node, fields map[string]*Field) (Route, bool) {
	m := p.mapping(n, "approval_routing item", "a mapping {name, when, tier, reviewers}")
	if m == nil {
		return Route{}, false
	}
	p.keysOnly(m, "approval_routing", routeKeys)
	r := Route{Line: m.Line, Name: p.str(get(m, "name"), "approval_routing.name"), Tier: p.str(get(m, "tier"), "approval_routing.tier")}
	where := fmt.Sprintf("approval_routing %q", r.Name)
	if r.Name == "" {
		where = fmt.Sprintf("approval_routing item %d", i+1)
	}
	r.When = p.match(get(m, "when"), m, where+": when", fields)
	if r.Name == "" {
		r.Name = r.When.String() // the original names no rule; its condition does
	}
	rev, req := get(m, "reviewers"), get(m, "required_reviewers")
	switch {
	case rev != nil && req != nil:
		p.at(req.Line, "%s: use reviewers or required_reviewers, not both", where)
	case rev != nil:
		r.Reviewers = p.strs(rev, where+".reviewers")
	default:
		r.Reviewers = p.strs(req, where+".required_reviewers")
	}
	if r.Tier == "" {
		p.at(m.Line, "%s: tier is required", where)
	}
	return r, true
}

func (p *problems) conditionalDefault(n *yaml.Node, fields map[string]*Field) (ConditionalDefault, bool) {
	m := p.mapping(n, "conditional_defaults item", "a mapping {name, when, set}")
	if m == nil {
		return ConditionalDefault{}, false
	}
	p.keysOnly(m, "conditional_defaults", cdKeys)
	d := ConditionalDefault{Line: m.Line, Name: p.str(get(m, "name"), "conditional_defaults.name")}
	where := fmt.Sprintf("conditional_defaults %q", d.Name)
	if d.Name == "" {
		p.at(m.Line, "conditional_defaults: name is required")
	}
	d.When = p.match(get(m, "when"), m, where+": when", fields)
	set := p.mapping(get(m, "set"), where+": set", "a mapping of field to value, such as {backupRetentionDays: 14}")
	if set == nil {
		p.at(m.Line, "%s: set is required (a mapping of field to value)", where)
	}
	for _, kv := range pairs(set) {
		f := fields[kv.key]
		if f == nil {
			p.at(kv.k.Line, "%s sets unknown field %q", where, kv.key)
			continue
		}
		v, err := decodeValue(f.Type, kv.v)
		if err != nil {
			p.at(kv.v.Line, "%s: %s: %v (the field is %s)", where, kv.key, err, f.Type)
			continue
		}
		if msg := f.Check(v); msg != "" {
			p.at(kv.v.Line, "%s: %s %s breaks the field's own rule: %s", where, kv.key, v.Text(f.Type), msg)
			continue
		}
		d.Set = append(d.Set, FieldValue{Field: kv.key, Value: v})
	}
	return d, true
}

// checkDefaults refuses conditional defaults whose outcome would depend on
// their order: a field a default sets may not be tested by another's when.
func (p *problems) checkDefaults(s *RequestSchema) {
	targets := map[string]string{}
	for _, d := range s.Defaults {
		for _, fv := range d.Set {
			targets[fv.Field] = d.Name
			if s.Fields[fv.Field] != nil && s.Fields[fv.Field].Derived {
				p.at(d.Line, "conditional_defaults %q sets %s, which rdsbot derives itself", d.Name, fv.Field)
			}
		}
	}
	for _, d := range s.Defaults {
		for _, f := range d.When.Fields() {
			if by, ok := targets[f]; ok {
				p.at(d.Line, "conditional_defaults %q tests %s, which conditional_defaults %q sets; a default may depend only on fields no default sets", d.Name, f, by)
			}
		}
	}
}

// rules reads one conditional rule, in either shape:
//
//	rdsbot:   when: {field: environment, equals: prod}
//	          then: {field: backupRetentionDays, minimum: 14}
//	original: when: {environment: prod}
//	          then: {backupRetentionDays: {minimum: 14}}
//
// An original `then` naming several fields or constraints gives one rule
// per constraint, all under the rule's name.
func (p *problems) rules(n *yaml.Node, fields map[string]*Field) []ConditionalRule {
	m := p.mapping(n, "conditional_rules item", "a mapping {name, when, then, message}")
	if m == nil {
		return nil
	}
	p.keysOnly(m, "conditional_rules", ruleKeys)
	base := ConditionalRule{Line: m.Line, Name: p.str(get(m, "name"), "conditional_rules.name"),
		Severity: p.str(get(m, "severity"), "conditional_rules.severity"), Message: p.str(get(m, "message"), "conditional_rules.message")}
	where := fmt.Sprintf("conditional rule %q", base.Name)
	if base.Name == "" {
		p.at(m.Line, "conditional rule: name is required")
	}
	switch base.Severity {
	case "", SeverityError, SeverityWarning:
	default:
		p.at(lineOf(get(m, "severity"), m), "%s: severity %q is not error or warning", where, base.Severity)
	}
	when := p.mapping(get(m, "when"), where+": when", "a condition such as {field: environment, equals: prod} or {environment: prod}")
	then := p.mapping(get(m, "then"), where+": then", "a constraint such as {field: size, in: [small]} or {size: {enum: [small]}}")
	if when == nil || then == nil {
		if get(m, "when") == nil || get(m, "then") == nil {
			p.at(m.Line, "%s: when and then are both required", where)
		}
		return nil
	}
	base.When = p.condition(when, where, fields)
	var out []ConditionalRule
	if get(then, "field") != nil {
		r := base
		r.Then = p.constraint(then, then, get(then, "field").Value, where, fields)
		out = append(out, r)
	} else {
		for _, kv := range pairs(then) {
			cm := p.mapping(kv.v, where+": then."+kv.key, "a mapping of constraints such as {minimum: 14}")
			if cm == nil {
				continue
			}
			for _, c := range pairs(cm) {
				if c.key == "message" {
					continue
				}
				single := &yaml.Node{Kind: yaml.MappingNode, Line: c.k.Line, Content: []*yaml.Node{c.k, c.v}}
				r := base
				r.Line = c.k.Line
				r.Then = p.constraint(single, cm, kv.key, where, fields)
				if msg := get(cm, "message"); msg != nil && r.Message == "" {
					r.Message = p.str(msg, where+".then."+kv.key+".message")
				}
				if r.Severity == "" && (c.key == "recommended" || c.key == "approval_required") {
					r.Severity = SeverityWarning
				}
				out = append(out, r)
			}
		}
	}
	for i := range out {
		if out[i].Message == "" {
			out[i].Message = defaultMessage(out[i])
		}
		p.checkRule(out[i], where, fields)
	}
	return out
}

func (p *problems) condition(m *yaml.Node, where string, fields map[string]*Field) Condition {
	if get(m, "field") != nil {
		p.keysOnly(m, where+": when", condKeys)
		c := Condition{Field: p.str(get(m, "field"), where+".when.field")}
		p.conditionOps(m, &c, where)
		return c
	}
	kvs := pairs(m)
	if len(kvs) != 1 {
		p.at(m.Line, "%s: when must test exactly one field, such as {environment: prod}", where)
		return Condition{}
	}
	kv := kvs[0]
	c := Condition{Field: kv.key}
	switch kv.v.Kind {
	case yaml.ScalarNode:
		v := kv.v.Value
		c.Equals = &v
	case yaml.SequenceNode:
		c.In = p.strs(kv.v, where+".when."+kv.key)
	case yaml.MappingNode:
		p.keysOnly(kv.v, where+": when."+kv.key, condKeys[1:])
		p.conditionOps(kv.v, &c, where)
	}
	return c
}

func (p *problems) conditionOps(m *yaml.Node, c *Condition, where string) {
	if eq := get(m, "equals"); eq != nil {
		v := p.str(eq, where+".when.equals")
		c.Equals = &v
	}
	if in := get(m, "in"); in != nil {
		c.In = p.strs(in, where+".when.in")
	}
	if d, set := p.boolean(get(m, "defined"), where+".when.defined"); set {
		c.Defined = &d
	}
	n := 0
	for _, set := range []bool{c.Equals != nil, c.In != nil, c.Defined != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		p.at(m.Line, "%s: when needs exactly one of equals, in, defined", where)
	}
}

func (p *problems) constraint(m, parent *yaml.Node, field, where string, fields map[string]*Field) Constraint {
	p.keysOnly(m, where+": then", constrKeys)
	c := Constraint{Field: field}
	if eq := get(m, "equals"); eq != nil {
		v := p.str(eq, where+".then.equals")
		c.Equals = &v
	}
	for _, key := range []string{"in", "enum"} {
		if in := get(m, key); in != nil {
			c.In = p.strs(in, where+".then."+key)
		}
	}
	c.Minimum = p.integer(get(m, "minimum"), where+".then.minimum")
	c.Maximum = p.integer(get(m, "maximum"), where+".then.maximum")
	c.GreaterThanField = p.str(get(m, "greater_than_field"), where+".then.greater_than_field")
	if b, set := p.boolean(get(m, "required"), where+".then.required"); set {
		c.Required = &b
	}
	for _, key := range []string{"recommended", "approval_required"} {
		if b, set := p.boolean(get(m, key), where+".then."+key); set {
			c.Recommended = &b
		}
	}
	return c
}

func (p *problems) checkRule(r ConditionalRule, where string, fields map[string]*Field) {
	if fields[r.When.Field] == nil {
		p.at(r.Line, "%s: when.field %q is not a field", where, r.When.Field)
	}
	if fields[r.Then.Field] == nil {
		p.at(r.Line, "%s: then.field %q is not a field", where, r.Then.Field)
	}
	if g := r.Then.GreaterThanField; g != "" && fields[g] == nil {
		p.at(r.Line, "%s: then.greater_than_field %q is not a field", where, g)
	}
	c := r.Then
	n := 0
	for _, set := range []bool{c.Equals != nil, c.In != nil, c.Minimum != nil, c.Maximum != nil, c.GreaterThanField != "", c.Required != nil, c.Recommended != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		p.at(r.Line, "%s: then needs exactly one of equals, in (enum), minimum, maximum, greater_than_field, required, recommended", where)
	}
	if f := fields[r.Then.Field]; f != nil && (c.Minimum != nil || c.Maximum != nil || c.GreaterThanField != "") && f.Type != TypeInteger {
		p.at(r.Line, "%s: minimum, maximum and greater_than_field apply to integer fields; %s is %s", where, f.Name, f.Type)
	}
}

func defaultMessage(r ConditionalRule) string {
	c := r.Then
	cond := r.When.Field
	switch {
	case r.When.Equals != nil:
		cond += " is " + *r.When.Equals
	case r.When.In != nil:
		cond += " is " + strings.Join(r.When.In, " or ")
	default:
		cond += " is set"
	}
	switch {
	case c.Equals != nil:
		return fmt.Sprintf("%s must be %s when %s", c.Field, *c.Equals, cond)
	case c.In != nil:
		return fmt.Sprintf("%s must be one of %s when %s", c.Field, strings.Join(c.In, ", "), cond)
	case c.Minimum != nil:
		return fmt.Sprintf("%s must be at least %d when %s", c.Field, *c.Minimum, cond)
	case c.Maximum != nil:
		return fmt.Sprintf("%s must be at most %d when %s", c.Field, *c.Maximum, cond)
	case c.GreaterThanField != "":
		return fmt.Sprintf("%s must be greater than %s", c.Field, c.GreaterThanField)
	case c.Required != nil:
		return fmt.Sprintf("%s is required when %s", c.Field, cond)
	default:
		return fmt.Sprintf("%s is recommended when %s", c.Field, cond)
	}
}
