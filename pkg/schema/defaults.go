package schema

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// defaultsYAML holds the documented defaults for repositories adopted as
// they are (defaults/defaults.yaml): enum lists an older enums.yaml lacks,
// and the keys a request schema in the original format never had.
//
//go:embed defaults/defaults.yaml
var defaultsYAML []byte

// DefaultsFile is the documented defaults, for `rdsbot` to show.
func DefaultsFile() []byte { return slices.Clone(defaultsYAML) }

type enumDefault struct {
	values      []string
	description string
}

type originalDefaults struct {
	meta       map[string]string
	top        map[string]*yaml.Node // field_order, conditional_defaults, label_requirements, decommission
	fields     map[string]*yaml.Node
	extra      map[string]*yaml.Node
	extraOrder []string
}

var (
	loadDefaults sync.Once
	enumDefaults map[string]enumDefault
	origDefaults *originalDefaults
)

func parseDefaults() {
	top, err := parseDoc(defaultsYAML, "defaults.yaml", "the documented defaults")
	if err != nil {
		panic(fmt.Sprintf("schema: embedded defaults: %v", err)) // tested; cannot happen at run time
	}
	enumDefaults = map[string]enumDefault{}
	p := &problems{file: "defaults.yaml"}
	for _, kv := range pairs(get(top, "enums")) {
		enumDefaults[kv.key] = enumDefault{values: p.strs(get(kv.v, "values"), kv.key), description: p.str(get(kv.v, "description"), kv.key)}
	}
	o := get(top, "original")
	d := &originalDefaults{meta: map[string]string{}, top: map[string]*yaml.Node{}, fields: map[string]*yaml.Node{}, extra: map[string]*yaml.Node{}}
	for _, kv := range pairs(get(o, "metadata")) {
		d.meta[kv.key] = kv.v.Value
	}
	for _, key := range []string{"field_order", "conditional_defaults", "label_requirements", "decommission"} {
		d.top[key] = get(o, key)
	}
	for _, kv := range pairs(get(o, "fields")) {
		d.fields[kv.key] = kv.v
	}
	for _, kv := range pairs(get(o, "extra_fields")) {
		d.extra[kv.key] = kv.v
		d.extraOrder = append(d.extraOrder, kv.key)
	}
	if err := p.err(); err != nil {
		panic(fmt.Sprintf("schema: embedded defaults: %v", err))
	}
	origDefaults = d
}

func builtinOriginal() *originalDefaults {
	loadDefaults.Do(parseDefaults)
	return origDefaults
}

func builtinEnums() map[string]enumDefault {
	loadDefaults.Do(parseDefaults)
	return enumDefaults
}

// fillTop fills the metadata and the top-level keys an original-format
// schema lacks, and returns the (possibly extended) top mapping.
func (d *originalDefaults) fillTop(s *RequestSchema, top *yaml.Node) *yaml.Node {
	for _, m := range []struct {
		key string
		v   *string
	}{{"title", &s.Title}, {"workflow", &s.Workflow}, {"issue_label", &s.IssueLabel}} {
		if *m.v == "" {
			*m.v = d.meta[m.key]
			s.Notes = append(s.Notes, fmt.Sprintf("metadata.%s: %q", m.key, *m.v))
		}
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: top.Line, Column: top.Column, Content: slices.Clone(top.Content)}
	for _, key := range []string{"field_order", "conditional_defaults", "label_requirements", "decommission"} {
		if get(top, key) == nil {
			out.Content = append(out.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, d.top[key])
			s.Notes = append(s.Notes, key+": the documented default")
		}
	}
	return out
}

// fillField merges the documented keys of one field into a property that
// does not set them.
func (d *originalDefaults) fillField(s *RequestSchema, name string, prop *yaml.Node) *yaml.Node {
	def := d.fields[name]
	if def == nil || prop == nil || prop.Kind != yaml.MappingNode {
		return prop
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: prop.Line, Column: prop.Column, Content: slices.Clone(prop.Content)}
	var added []string
	for _, kv := range pairs(def) {
		if get(prop, kv.key) == nil {
			out.Content = append(out.Content, kv.k, kv.v)
			added = append(added, kv.key)
		}
	}
	if len(added) > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("field %s: %s", name, strings.Join(added, ", ")))
	}
	return out
}
