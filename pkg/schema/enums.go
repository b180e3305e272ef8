package schema

import (
	"fmt"
	"slices"
	"sort"

	"gopkg.in/yaml.v3"
)

// Enums holds the enum lists of enums.yaml, flattened: top-level lists under
// their own key ("environments") and grouped lists as "<group>.<key>"
// ("rds.instance_sizes"), whose values live under <group>.<key>.values.
type Enums struct {
	lists map[string][]string
	descs map[string]string
}

// ParseEnums reads enums.yaml. Every list must be a sequence of non-empty,
// unique scalars.
func ParseEnums(data []byte, filename string) (*Enums, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	e := &Enums{lists: map[string][]string{}, descs: map[string]string{}}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty file", filename)
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: expected a mapping of enum lists", filename, top.Line)
	}
	var errs Errors
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		switch val.Kind {
		case yaml.SequenceNode:
			vals, err := scalarList(val)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %w", filename, val.Line, key, err))
				continue
			}
			e.lists[key] = vals
		case yaml.MappingNode:
			for j := 0; j+1 < len(val.Content); j += 2 {
				sub, body := val.Content[j].Value, val.Content[j+1]
				name := key + "." + sub
				var group struct {
					Description string    `yaml:"description"`
					Values      yaml.Node `yaml:"values"`
				}
				if err := body.Decode(&group); err != nil || group.Values.Kind != yaml.SequenceNode {
					errs = append(errs, fmt.Errorf("%s:%d: %s: expected {description, values: [...]}", filename, body.Line, name))
					continue
				}
				vals, err := scalarList(&group.Values)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: %s: %w", filename, body.Line, name, err))
					continue
				}
				e.lists[name] = vals
				e.descs[name] = group.Description
			}
		default:
			errs = append(errs, fmt.Errorf("%s:%d: %s: expected a list or a group of lists", filename, val.Line, key))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return e, nil
}

func scalarList(n *yaml.Node) ([]string, error) {
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Value == "" {
			return nil, fmt.Errorf("line %d: every value must be a non-empty scalar", c.Line)
		}
		if slices.Contains(out, c.Value) {
			return nil, fmt.Errorf("line %d: %q is listed twice", c.Line, c.Value)
		}
		out = append(out, c.Value)
	}
	return out, nil
}

// Values returns the list for a key such as "environments" or
// "rds.instance_sizes".
func (e *Enums) Values(key string) ([]string, bool) {
	v, ok := e.lists[key]
	return slices.Clone(v), ok
}

// Description returns the description of a grouped list, if any.
func (e *Enums) Description(key string) string { return e.descs[key] }

// Keys lists every enum key, sorted.
func (e *Enums) Keys() []string {
	keys := make([]string, 0, len(e.lists))
	for k := range e.lists {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
