package schema

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// Tier is an approval tier with the reviewer groups it requires.
type Tier struct {
	Tier      string
	Reviewers []string
}

// ServiceClasses is service_class_approvals.yaml.
type ServiceClasses struct {
	Defaults Tier
	Rules    map[string]Tier
}

const shapeServiceClasses = "a mapping {version, defaults: {tier, required_reviewers}, rules: {<service class>: {tier, required_reviewers}}}"

// ParseServiceClasses reads service_class_approvals.yaml and checks its
// tiers, reviewer groups and service classes against enums.
func ParseServiceClasses(data []byte, filename string, enums *Enums) (*ServiceClasses, error) {
	top, err := parseDoc(data, filename, shapeServiceClasses)
	if err != nil {
		return nil, err
	}
	p := &problems{file: filename}
	p.keysOnly(top, "top level", []string{"version", "description", "defaults", "rules"})
	tier := func(n *yaml.Node, where string) Tier {
		m := p.mapping(n, where, "a mapping {tier, required_reviewers}")
		if m == nil {
			p.at(lineOf(n, top), "%s: expected {tier, required_reviewers: [...]}", where)
			return Tier{}
		}
		p.keysOnly(m, where, []string{"tier", "required_reviewers", "description"})
		t := Tier{Tier: p.str(get(m, "tier"), where+".tier"), Reviewers: p.strs(get(m, "required_reviewers"), where+".required_reviewers")}
		if !enumHas(enums, "approval_tiers", t.Tier) {
			p.at(lineOf(get(m, "tier"), m), "%s: tier %q is not in approval_tiers", where, t.Tier)
		}
		for _, g := range t.Reviewers {
			if !enumHas(enums, "reviewer_groups", g) {
				p.at(lineOf(get(m, "required_reviewers"), m), "%s: reviewer %q is not in reviewer_groups", where, g)
			}
		}
		return t
	}
	sc := &ServiceClasses{Defaults: tier(get(top, "defaults"), "defaults"), Rules: map[string]Tier{}}
	for _, kv := range pairs(p.mapping(get(top, "rules"), "rules", "a mapping of service class to {tier, required_reviewers}")) {
		if !enumHas(enums, "service_classes", kv.key) {
			p.at(kv.k.Line, "rules: %q is not in service_classes", kv.key)
		}
		sc.Rules[kv.key] = tier(kv.v, "rules."+kv.key)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return sc, nil
}

func enumHas(e *Enums, key, v string) bool {
	vals, ok := e.Values(key)
	if !ok {
		return true // an enums file without the list cannot be checked against
	}
	return slices.Contains(vals, v)
}

// For returns the tier of a service class, or the defaults.
func (sc *ServiceClasses) For(class string) Tier {
	if t, ok := sc.Rules[class]; ok {
		return t
	}
	return sc.Defaults
}
