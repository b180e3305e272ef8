package contract

import (
	"bufio"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/schema"
	"gopkg.in/yaml.v3"
)

// FromInputs reads the inputs of a workflow_dispatch (the Backstage
// create-rds-database path) or the client_payload of a repository_dispatch.
// Inputs are matched by each field's `input` name (database_name) or, for a
// repository_dispatch, by the field name itself (databaseName). Values may be
// strings (as GitHub sends dispatch inputs), booleans or numbers. An unknown
// input is a problem, so a misspelt name never silently drops a value.
func FromInputs(s *schema.RequestSchema, src Source, inputs map[string]any) (Raw, Problems) {
	raw := newRaw(src)
	var probs Problems
	byInput := map[string]*schema.Field{}
	for _, name := range s.FieldNames() {
		f := s.Fields[name]
		if f.Input != "" {
			byInput[f.Input] = f
		}
		if src == SourceRepositoryDispatch && !f.Derived {
			byInput[f.Name] = f
		}
	}
	for _, key := range sortedKeys(inputs) {
		f, ok := byInput[key]
		if !ok {
			probs = append(probs, Problem{Field: key, Message: fmt.Sprintf("is not an input of this request; known inputs: %s", strings.Join(inputNames(s, src), ", ")), Severity: Error, Origin: "input " + strconv.Quote(key)})
			continue
		}
		origin := "input " + strconv.Quote(key)
		switch v := inputs[key].(type) {
		case nil:
		case string:
			raw.Set(f.Name, RawValue{Text: strings.TrimSpace(v), Kind: KindText, Origin: origin})
		case bool:
			raw.Set(f.Name, RawValue{Text: strconv.FormatBool(v), Kind: KindBool, Origin: origin})
		case float64:
			if v != float64(int64(v)) {
				raw.Set(f.Name, RawValue{Text: strconv.FormatFloat(v, 'f', -1, 64), Kind: KindOther, Origin: origin})
			} else {
				raw.Set(f.Name, RawValue{Text: strconv.FormatInt(int64(v), 10), Kind: KindInt, Origin: origin})
			}
		case int:
			raw.Set(f.Name, RawValue{Text: strconv.Itoa(v), Kind: KindInt, Origin: origin})
		default:
			raw.Set(f.Name, RawValue{Text: fmt.Sprint(v), Kind: KindOther, Origin: origin})
		}
	}
	return raw, probs
}

func inputNames(s *schema.RequestSchema, src Source) []string {
	var out []string
	for _, f := range s.InputFields() {
		out = append(out, f.Input)
	}
	if src == SourceRepositoryDispatch {
		out = out[:0]
		for _, name := range s.FieldNames() {
			if !s.Fields[name].Derived {
				out = append(out, name)
			}
		}
	}
	return out
}

// NoResponse is what GitHub writes for an issue-form field left empty.
const NoResponse = "_No response_"

// FromIssueForm reads the body GitHub renders from an issue form: a
// `### <label>` heading per field, followed by the answer, `_No response_`
// when it was left empty. Headings are matched to fields by label (case and
// surrounding space ignored). Headings that name no field are ignored, so a
// form may carry free-text sections; a field answered twice is a problem.
func FromIssueForm(s *schema.RequestSchema, body string) (Raw, Problems) {
	raw := newRaw(SourceIssue)
	var probs Problems
	byLabel := map[string]*schema.Field{}
	for _, f := range s.FormFields() {
		byLabel[normLabel(f.Label)] = f
	}
	type section struct {
		label string
		line  int
		lines []string
	}
	var sections []*section
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(body, "\r\n", "\n")))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "### "); ok {
			sections = append(sections, &section{label: strings.TrimSpace(h), line: n})
			continue
		}
		if len(sections) > 0 {
			cur := sections[len(sections)-1]
			cur.lines = append(cur.lines, line)
		}
	}
	seen := map[string]int{}
	for _, sec := range sections {
		f, ok := byLabel[normLabel(sec.label)]
		if !ok {
			continue
		}
		origin := fmt.Sprintf("section %q (line %d)", sec.label, sec.line)
		if first, dup := seen[f.Name]; dup {
			probs = append(probs, Problem{Field: f.Name, Label: f.Label, Message: fmt.Sprintf("is answered twice (lines %d and %d)", first, sec.line), Severity: Error, Origin: origin})
			continue
		}
		seen[f.Name] = sec.line
		answer := strings.TrimSpace(strings.Join(sec.lines, "\n"))
		if answer == NoResponse {
			answer = ""
		}
		raw.Set(f.Name, RawValue{Text: answer, Kind: KindText, Origin: origin})
	}
	return raw, probs
}

func normLabel(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// contractTopLevel are the RDS_REQUEST_V1 keys read from the top level of a
// request file (falling back to the same keys under metadata).
var contractTopLevel = []string{"id", "service", "environment", "owner", "requester"}

// FromYAML reads an RDS_REQUEST_V1 file: top-level scalars (id, service,
// environment, owner, requester, with metadata.<key> as a fallback), a
// metadata block (title, description, created) and the remaining fields under
// spec. Values keep their YAML type: a quoted "false" is text, not a boolean.
// Unknown keys are problems.
func FromYAML(s *schema.RequestSchema, data []byte, filename string) (Raw, Problems) {
	raw := newRaw(SourceFile)
	var probs Problems
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return raw, Problems{{Message: fmt.Sprintf("%s is not valid YAML: %v", filename, err), Severity: Error}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return raw, Problems{{Message: filename + " must be a mapping (id, environment, ..., spec)", Severity: Error}}
	}
	top := doc.Content[0]
	at := func(n *yaml.Node, path string) string { return fmt.Sprintf("%s:%d %s", filename, n.Line, path) }
	var spec, meta *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i].Value, top.Content[i+1]
		switch {
		case k == "spec":
			spec = v
		case k == "metadata":
			meta = v
		case contains(contractTopLevel, k):
			setYAML(raw, k, v, at(v, k))
		case s.Fields[k] != nil:
			probs = append(probs, Problem{Field: k, Message: "belongs under spec:", Severity: Error, Origin: at(v, k)})
		default:
			probs = append(probs, Problem{Field: k, Message: "is not a field of " + s.ID, Severity: Error, Origin: at(v, k)})
		}
	}
	if meta != nil {
		if meta.Kind != yaml.MappingNode {
			probs = append(probs, Problem{Field: "metadata", Message: "must be a mapping", Severity: Error, Origin: at(meta, "metadata")})
		} else {
			for i := 0; i+1 < len(meta.Content); i += 2 {
				k, v := meta.Content[i].Value, meta.Content[i+1]
				switch {
				case k == "title":
					raw.Title = v.Value
				case k == "description":
					raw.Description = v.Value
				case contains(contractTopLevel, k):
					if _, set := raw.Values[k]; !set {
						setYAML(raw, k, v, at(v, "metadata."+k))
					}
				}
			}
		}
	}
	if spec != nil {
		if spec.Kind != yaml.MappingNode {
			probs = append(probs, Problem{Field: "spec", Message: "must be a mapping of request fields", Severity: Error, Origin: at(spec, "spec")})
		} else {
			for i := 0; i+1 < len(spec.Content); i += 2 {
				k, v := spec.Content[i].Value, spec.Content[i+1]
				f := s.Fields[k]
				switch {
				case f == nil:
					probs = append(probs, Problem{Field: "spec." + k, Message: "is not a field of " + s.ID + suggest(s, k), Severity: Error, Origin: at(v, "spec."+k)})
				case contains(contractTopLevel, k):
					probs = append(probs, Problem{Field: k, Message: "belongs at the top level, not under spec:", Severity: Error, Origin: at(v, "spec."+k)})
				default:
					setYAML(raw, k, v, at(v, "spec."+k))
				}
			}
		}
	}
	return raw, probs
}

func setYAML(raw Raw, field string, n *yaml.Node, origin string) {
	v := RawValue{Text: n.Value, Origin: origin}
	switch {
	case n.Kind != yaml.ScalarNode:
		v.Kind = KindOther
	case n.Tag == "!!null":
		return
	case n.Tag == "!!int":
		v.Kind = KindInt
	case n.Tag == "!!bool":
		v.Kind = KindBool
	case n.Tag == "!!str":
		v.Kind = KindString
	default:
		v.Kind = KindOther
	}
	raw.Values[field] = v
}

// FromFlags reads command-line values keyed by field name; they are text.
func FromFlags(values map[string]string) Raw {
	raw := newRaw(SourceFlags)
	for k, v := range values {
		raw.Set(k, RawValue{Text: strings.TrimSpace(v), Kind: KindText, Origin: "flag --" + k})
	}
	return raw
}

func suggest(s *schema.RequestSchema, k string) string {
	lk := strings.ToLower(strings.ReplaceAll(k, "_", ""))
	for _, name := range s.FieldNames() {
		if strings.ToLower(name) == lk {
			return fmt.Sprintf(" (did you mean %s?)", name)
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
