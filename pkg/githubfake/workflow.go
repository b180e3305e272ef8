package githubfake

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// workflowInput is one `on.workflow_dispatch.inputs` declaration.
type workflowInput struct {
	Name     string
	Required bool
	Default  string
	Type     string // string (default), choice, boolean, number, environment
	Options  []string
}

// workflowSpec is what the fake needs from a workflow file.
type workflowSpec struct {
	Name        string
	Dispatch    bool // has a workflow_dispatch trigger
	Inputs      map[string]workflowInput
	InputOrder  []string
	Repository  bool // has a repository_dispatch trigger
	PushTrigger bool
}

// parseWorkflow reads a workflow file's name and triggers.
func parseWorkflow(p string, data []byte) (workflowSpec, error) {
	var doc struct {
		Name string    `yaml:"name"`
		On   yaml.Node `yaml:"on"`
	}
	spec := workflowSpec{Name: p, Inputs: map[string]workflowInput{}}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return spec, fmt.Errorf("%s: invalid workflow YAML: %w", p, err)
	}
	if doc.Name != "" {
		spec.Name = doc.Name
	}
	on := &doc.On
	var triggers []string
	var dispatchNode *yaml.Node
	switch on.Kind {
	case yaml.ScalarNode:
		triggers = []string{on.Value}
	case yaml.SequenceNode:
		for _, n := range on.Content {
			triggers = append(triggers, n.Value)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(on.Content); i += 2 {
			triggers = append(triggers, on.Content[i].Value)
			if on.Content[i].Value == "workflow_dispatch" {
				dispatchNode = on.Content[i+1]
			}
		}
	}
	spec.Dispatch = slices.Contains(triggers, "workflow_dispatch")
	spec.Repository = slices.Contains(triggers, "repository_dispatch")
	spec.PushTrigger = slices.Contains(triggers, "push")
	if dispatchNode == nil || dispatchNode.Kind != yaml.MappingNode {
		return spec, nil
	}
	var wd struct {
		Inputs yaml.Node `yaml:"inputs"`
	}
	if err := dispatchNode.Decode(&wd); err != nil {
		return spec, fmt.Errorf("%s: invalid workflow_dispatch: %w", p, err)
	}
	for i := 0; i+1 < len(wd.Inputs.Content); i += 2 {
		name := wd.Inputs.Content[i].Value
		var in struct {
			Required bool      `yaml:"required"`
			Default  yaml.Node `yaml:"default"`
			Type     string    `yaml:"type"`
			Options  []string  `yaml:"options"`
		}
		if err := wd.Inputs.Content[i+1].Decode(&in); err != nil {
			return spec, fmt.Errorf("%s: input %q: %w", p, name, err)
		}
		if in.Type == "" {
			in.Type = "string"
		}
		spec.Inputs[name] = workflowInput{Name: name, Required: in.Required, Default: in.Default.Value, Type: in.Type, Options: in.Options}
		spec.InputOrder = append(spec.InputOrder, name)
	}
	return spec, nil
}

// checkDispatchInputs validates dispatch inputs like GitHub does and returns
// the inputs the run receives (given values plus declared defaults).
func checkDispatchInputs(spec workflowSpec, given map[string]any) (map[string]any, string) {
	var unexpected []string
	for k := range given {
		if _, ok := spec.Inputs[k]; !ok {
			unexpected = append(unexpected, k)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		list, _ := json.Marshal(unexpected)
		return nil, "Unexpected inputs provided: " + string(list)
	}
	out := map[string]any{}
	for _, name := range spec.InputOrder {
		in := spec.Inputs[name]
		v, ok := given[name]
		if !ok {
			if in.Required && in.Default == "" {
				return nil, fmt.Sprintf("Required input '%s' not provided", name)
			}
			if in.Default != "" || in.Type != "boolean" {
				out[name] = in.Default
			}
			continue
		}
		s := fmt.Sprint(v)
		switch in.Type {
		case "choice":
			if !slices.Contains(in.Options, s) {
				return nil, fmt.Sprintf("Provided value '%s' for input '%s' not in the list of allowed values", s, name)
			}
		case "boolean":
			if s != "true" && s != "false" {
				return nil, fmt.Sprintf("Provided value '%s' for input '%s' is not a boolean", s, name)
			}
		}
		if in.Required && strings.TrimSpace(s) == "" {
			return nil, fmt.Sprintf("Required input '%s' not provided", name)
		}
		out[name] = v
	}
	return out, ""
}

// workflowFor returns the workflow record for a path, creating it (with a
// stable id) the first time the fake sees the file. Callers hold f.mu.
func (f *Fake) workflowFor(r *repo, p, name string) *workflow {
	wf := r.workflows[p]
	if wf == nil {
		wf = &workflow{ID: f.id(), Path: p, Name: name, created: f.now()}
		r.workflows[p] = wf
	}
	if name != "" {
		wf.Name = name
	}
	return wf
}

// scanWorkflows records the workflow files on the default branch.
func (f *Fake) scanWorkflows(r *repo) {
	sha := r.branchSHA(r.defaultBranch)
	for p, fe := range f.commitFiles(r, sha) {
		if path.Dir(p) != ".github/workflows" || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			continue
		}
		o, _ := r.objects.get(fe.SHA)
		spec, _ := parseWorkflow(p, o.data)
		f.workflowFor(r, p, spec.Name)
	}
}
