package schema

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Tier is an approval tier with the reviewer groups it requires.
type Tier struct {
	Tier      string   `yaml:"tier"`
	Reviewers []string `yaml:"required_reviewers"`
}

// ServiceClasses is service_class_approvals.yaml.
type ServiceClasses struct {
	Defaults Tier            `yaml:"defaults"`
	Rules    map[string]Tier `yaml:"rules"`
}

// ParseServiceClasses reads service_class_approvals.yaml and checks its
// tiers, reviewer groups and service classes against enums.
func ParseServiceClasses(data []byte, filename string, enums *Enums) (*ServiceClasses, error) {
	var sc ServiceClasses
	if err := yaml.Unmarshal(data, &sc); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	var errs Errors
	check := func(where string, t Tier) {
		if !enumHas(enums, "approval_tiers", t.Tier) {
			errs = append(errs, fmt.Errorf("%s: %s: tier %q is not in approval_tiers", filename, where, t.Tier))
		}
		for _, g := range t.Reviewers {
			if !enumHas(enums, "reviewer_groups", g) {
				errs = append(errs, fmt.Errorf("%s: %s: reviewer %q is not in reviewer_groups", filename, where, g))
			}
		}
	}
	check("defaults", sc.Defaults)
	for class, t := range sc.Rules {
		if !enumHas(enums, "service_classes", class) {
			errs = append(errs, fmt.Errorf("%s: rules: %q is not in service_classes", filename, class))
		}
		check("rules."+class, t)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &sc, nil
}

func enumHas(e *Enums, key, v string) bool {
	vals, ok := e.Values(key)
	if !ok {
		return true // an enums file without the list cannot be checked against
	}
	for _, x := range vals {
		if x == v {
			return true
		}
	}
	return false
}

// For returns the tier of a service class, or the defaults.
func (sc *ServiceClasses) For(class string) Tier {
	if t, ok := sc.Rules[class]; ok {
		return t
	}
	return sc.Defaults
}
