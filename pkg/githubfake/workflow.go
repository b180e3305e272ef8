package githubfake

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

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
	RunName     string // run-name, with ${{ }} expressions unevaluated
}

// parseWorkflow reads a workflow file's name and triggers.
func parseWorkflow(p string, data []byte) (workflowSpec, error) {
	var doc struct {
		Name    string    `yaml:"name"`
		RunName string    `yaml:"run-name"`
		On      yaml.Node `yaml:"on"`
	}
	spec := workflowSpec{Name: p, Inputs: map[string]workflowInput{}}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return spec, fmt.Errorf("%s: invalid workflow YAML: %w", p, err)
	}
	if doc.Name != "" {
		spec.Name = doc.Name
	}
	spec.RunName = doc.RunName
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

// runNameExpr is one ${{ expression }} of a run-name.
var runNameExpr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// runContext is what a run-name expression can read.
type runContext struct {
	inputs                 map[string]any
	actor, event, ref, sha string
}

// evalRunName evaluates a workflow's run-name as GitHub does for the
// expressions a run-name can use here: inputs.<name> (also
// github.event.inputs.<name>), github.actor, github.triggering_actor,
// github.event_name, github.ref_name, github.sha and github.workflow. Other
// expressions give "". No run-name: the workflow's name.
func evalRunName(spec workflowSpec, rc runContext) string {
	if strings.TrimSpace(spec.RunName) == "" {
		return spec.Name
	}
	out := runNameExpr.ReplaceAllStringFunc(spec.RunName, func(m string) string {
		expr := runNameExpr.FindStringSubmatch(m)[1]
		for _, prefix := range []string{"inputs.", "github.event.inputs."} {
			if name, ok := strings.CutPrefix(expr, prefix); ok {
				if v, ok := rc.inputs[name]; ok && v != nil {
					return fmt.Sprint(v)
				}
				return ""
			}
		}
		switch expr {
		case "github.actor", "github.triggering_actor":
			return rc.actor
		case "github.event_name":
			return rc.event
		case "github.ref_name":
			return rc.ref
		case "github.sha":
			return rc.sha
		case "github.workflow":
			return spec.Name
		}
		return ""
	})
	return strings.TrimSpace(out)
}

// RunDetailsMode is how workflow dispatches answer return_run_details.
type RunDetailsMode int32

const (
	// RunDetailsReturned: 200 with workflow_run_id, run_url and html_url (github.com today).
	RunDetailsReturned RunDetailsMode = iota
	// RunDetailsIgnored: the parameter is ignored, 204 without a body
	// (GitHub Enterprise Server versions that predate it and accept unknown keys).
	RunDetailsIgnored
	// RunDetailsRefused: 422 naming the parameter, nothing dispatched
	// (servers that validate the body strictly).
	RunDetailsRefused
)

// SetRunDetails makes workflow dispatches answer return_run_details as mode says.
func (f *Fake) SetRunDetails(mode RunDetailsMode) { f.runDetails.Store(int32(mode)) }

// maxRunAttempts is GitHub's bound on re-runs of one run.
const maxRunAttempts = 50

func (run *WorkflowRun) attempt() int { return max(run.Attempt, 1) }

func (run *WorkflowRun) title() string {
	if run.DisplayTitle != "" {
		return run.DisplayTitle
	}
	return run.Name
}

func (run *WorkflowRun) startedAt() time.Time {
	if run.StartedAt.IsZero() {
		return run.CreatedAt
	}
	return run.StartedAt
}

// previousAttemptURL is the API URL of the attempt before this one, or nil.
func (run *WorkflowRun) previousAttemptURL(runURL string) any {
	if run.attempt() < 2 {
		return nil
	}
	return fmt.Sprintf("%s/attempts/%d", runURL, run.attempt()-1)
}
