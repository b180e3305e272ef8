package schema

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Enums holds the enum lists of enums.yaml, flattened: top-level lists under
// their own key ("environments") and grouped lists as "<group>.<key>"
// ("rds.instance_sizes"), whose values live under <group>.<key>.values.
// Top-level single values (the original's `version: 1`) are metadata, not
// lists.
type Enums struct {
	lists     map[string][]string
	descs     map[string]string
	meta      map[string]string
	defaulted []string
}

const shapeEnums = "a mapping of enum lists: `name: [a, b]` at the top level, or grouped as `group: {name: {description, values: [a, b]}}`"

// ParseEnums reads enums.yaml. Every list must be a sequence of non-empty,
// unique values. A list rdsbot needs that the file lacks (rds.initial_schemas
// in the original's file) comes from the documented defaults, and
// Defaulted names it.
func ParseEnums(data []byte, filename string) (*Enums, error) {
	top, err := parseDoc(data, filename, shapeEnums)
	if err != nil {
		return nil, err
	}
	p := &problems{file: filename}
	e := &Enums{lists: map[string][]string{}, descs: map[string]string{}, meta: map[string]string{}}
	for _, kv := range pairs(top) {
		key, val := kv.key, kv.v
		switch val.Kind {
		case yaml.SequenceNode:
			e.lists[key] = p.strs(val, key)
		case yaml.ScalarNode:
			e.meta[key] = val.Value
		case yaml.MappingNode:
			for _, g := range pairs(val) {
				name := key + "." + g.key
				body := p.mapping(g.v, name, "a mapping {description, values: [...]}")
				if body == nil {
					if isNull(g.v) {
						p.at(g.v.Line, "%s: expected {description, values: [...]}, found nothing", name)
					}
					continue
				}
				p.keysOnly(body, name, []string{"description", "values"})
				values := get(body, "values")
				if values == nil {
					p.at(body.Line, "%s: values is missing; expected {description, values: [...]}", name)
					continue
				}
				e.lists[name] = p.strs(values, name+".values")
				e.descs[name] = p.str(get(body, "description"), name+".description")
			}
		}
	}
	for name, d := range builtinEnums() {
		if _, ok := e.lists[name]; !ok {
			e.lists[name] = slices.Clone(d.values)
			e.descs[name] = d.description
			e.defaulted = append(e.defaulted, name)
		}
	}
	sort.Strings(e.defaulted)
	if err := p.err(); err != nil {
		return nil, err
	}
	return e, nil
}

// Values returns the list for a key such as "environments" or
// "rds.instance_sizes".
func (e *Enums) Values(key string) ([]string, bool) {
	v, ok := e.lists[key]
	return slices.Clone(v), ok
}

// list resolves an enum_from reference, saying what is wrong when it cannot.
func (e *Enums) list(key string) ([]string, error) {
	if v, ok := e.lists[key]; ok {
		return slices.Clone(v), nil
	}
	if v, ok := e.meta[key]; ok {
		return nil, fmt.Errorf("%q names a single value (%s) in enums.yaml, not a list", key, v)
	}
	return nil, fmt.Errorf("%q names no list in enums.yaml (known: %s)", key, strings.Join(e.Keys(), ", "))
}

// Description returns the description of a grouped list, if any.
func (e *Enums) Description(key string) string { return e.descs[key] }

// Meta returns the top-level single values (such as version).
func (e *Enums) Meta() map[string]string {
	out := make(map[string]string, len(e.meta))
	for k, v := range e.meta {
		out[k] = v
	}
	return out
}

// Defaulted lists the enum keys taken from the documented defaults because
// the file lacks them.
func (e *Enums) Defaulted() []string { return slices.Clone(e.defaulted) }

// Keys lists every enum key, sorted.
func (e *Enums) Keys() []string {
	keys := make([]string, 0, len(e.lists))
	for k := range e.lists {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
