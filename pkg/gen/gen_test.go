package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/internal/golden"
	"github.com/rdsbot/rdsbot/pkg/schema"
	"gopkg.in/yaml.v3"
)

const repo = "../.."

func generate(t *testing.T) (*schema.Set, []File) {
	t.Helper()
	set, err := schema.Load(os.DirFS(repo), schema.DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	files, err := All(set, config.Default())
	if err != nil {
		t.Fatal(err)
	}
	return set, files
}

// The repository's generated files are current (`rdsbot gen --check`);
// -update rewrites them.
func TestRepositoryFilesAreCurrent(t *testing.T) {
	_, files := generate(t)
	for _, f := range files {
		golden.Assert(t, filepath.Join(repo, f.Path), f.Content)
	}
	if again, _ := All(mustSet(t), config.Default()); string(again[0].Content) != string(files[0].Content) {
		t.Error("generation is not deterministic")
	}
}

func mustSet(t *testing.T) *schema.Set { s, _ := generate(t); return s }

// An answer filled in through the generated issue form parses back into a
// valid request: the form's labels and options and the parser agree.
func TestIssueFormRoundTrip(t *testing.T) {
	set, files := generate(t)
	var form struct {
		Body []struct {
			Type       string `yaml:"type"`
			ID         string `yaml:"id"`
			Attributes struct {
				Label   string   `yaml:"label"`
				Options []string `yaml:"options"`
				Default *int     `yaml:"default"`
			} `yaml:"attributes"`
		} `yaml:"body"`
	}
	if err := yaml.Unmarshal(files[0].Content, &form); err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{"databaseName": "ledger_db", "username": "ledger_app", "environment": "test"}
	var body strings.Builder
	for _, item := range form.Body {
		if item.Type == "markdown" {
			continue
		}
		a, ok := answers[item.ID]
		switch {
		case ok:
		case item.Attributes.Default != nil:
			a = item.Attributes.Options[*item.Attributes.Default]
		default:
			a = contract.NoResponse
		}
		body.WriteString("### " + item.Attributes.Label + "\n\n" + a + "\n\n")
	}
	raw, probs := contract.FromIssueForm(set.Request, body.String())
	raw.Set("requester", contract.RawValue{Text: "octocat", Kind: contract.KindText})
	req, vprobs := contract.Validate(set, raw)
	if err := append(probs, vprobs...).Err(); err != nil {
		t.Fatalf("%v\nbody:\n%s", err, body.String())
	}
	if req.DatabaseName != "ledger_db" || req.Environment != "test" || !req.PerformanceInsights || req.MultiAZ {
		t.Errorf("request %+v", req)
	}
}

// The workflow declares exactly the inputs the contract reads, at most ten.
func TestWorkflowInputs(t *testing.T) {
	set, files := generate(t)
	var wf struct {
		On struct {
			Dispatch struct {
				Inputs map[string]struct {
					Type    string   `yaml:"type"`
					Options []string `yaml:"options"`
					Default string   `yaml:"default"`
				} `yaml:"inputs"`
			} `yaml:"workflow_dispatch"`
		} `yaml:"on"`
	}
	if err := yaml.Unmarshal(files[1].Content, &wf); err != nil {
		t.Fatal(err)
	}
	in := wf.On.Dispatch.Inputs
	if len(in) != 10 {
		t.Fatalf("%d inputs", len(in))
	}
	for name, i := range in {
		if i.Type == "choice" && i.Default != "" && !contains(i.Options, i.Default) {
			t.Errorf("%s: default %q is not an option", name, i.Default)
		}
	}
	env, _ := set.Enums.Values("environments")
	if got := in["environment"].Options; len(got) != len(env)-1 {
		t.Errorf("environment options %v (ephemeral must be excluded)", got)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
