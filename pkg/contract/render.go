package contract

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/rdsbot/rdsbot/pkg/schema"
	"gopkg.in/yaml.v3"
)

// ContractYAML renders r as an RDS_REQUEST_V1 file (spec §2.1 plus its
// status): the top-level scalars, status, metadata (title when known,
// created) and every other field under spec, in field order. Reading the
// result back with FromYAML and Validate gives the same values, so the file
// is a faithful source of truth; the same request gives the same bytes.
func (r *Request) ContractYAML(s *schema.RequestSchema, status, created string) ([]byte, error) {
	top := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(m *yaml.Node, key string, v *yaml.Node) {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	}
	value := func(name string) (*yaml.Node, bool) {
		v, ok := r.Values[name]
		f := s.Fields[name]
		if !ok || f == nil {
			return nil, false
		}
		switch f.Type {
		case schema.TypeInteger:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v.Int)}, true
		case schema.TypeBoolean:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool)}, true
		}
		if v.Str == "" {
			return nil, false
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.Str}, true
	}
	for _, name := range contractTopLevel {
		if n, ok := value(name); ok {
			add(top, name, n)
		}
	}
	if status != "" {
		add(top, "status", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: status})
	}
	meta := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if r.Title != "" {
		add(meta, "title", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: r.Title, Style: yaml.DoubleQuotedStyle})
	}
	if r.Description != "" {
		add(meta, "description", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: r.Description, Style: yaml.DoubleQuotedStyle})
	}
	if created != "" {
		add(meta, "created", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: created, Style: yaml.DoubleQuotedStyle})
	}
	if len(meta.Content) > 0 {
		add(top, "metadata", meta)
	}
	spec := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, name := range s.FieldNames() {
		if contains(contractTopLevel, name) {
			continue
		}
		if n, ok := value(name); ok {
			add(spec, name, n)
		}
	}
	add(top, "spec", spec)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Request contract %s (%s), written by rdsbot. The files generated from it\n# must agree with it; `rdsbot validate` checks them.\n", r.ID, s.ID)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(top); err != nil {
		return nil, fmt.Errorf("encode contract: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
