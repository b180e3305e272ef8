package digest_test

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/policy/digest"
	"gopkg.in/yaml.v3"
)

var day1 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func plan(t testing.TB, p *gitops.Planner, repo fs.FS, env, db string, now time.Time) *gitops.Plan {
	t.Helper()
	fields := map[string]string{
		"databaseName": db, "username": db + "_app", "owner": "app-team", "environment": env,
		"domain": "delivery", "risk": "medium", "size": "small", "requester": "jane-doe",
		"backupRetentionDays": "14", "multiAz": "true",
	}
	req, probs := contract.Validate(p.Schema, contract.FromFlags(fields))
	if err := probs.Err(); err != nil {
		t.Fatal(err)
	}
	pl, err := p.PlanRequest(repo, req.WithID("RDS-0042"), now)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func files(pl *gitops.Plan) []digest.File {
	out := make([]digest.File, 0, len(pl.Changes))
	for _, c := range pl.Changes {
		out = append(out, digest.File{Path: c.Path, Old: c.Old, New: c.New})
	}
	return out
}

func compute(t testing.TB, fs []digest.File, base string) *digest.Result {
	t.Helper()
	r, err := digest.Compute(fs, digest.Options{Base: base, Volatile: volatile(t)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func volatile(t testing.TB) []digest.Volatile {
	p, err := gitops.New(rdsbot.Example())
	if err != nil {
		t.Fatal(err)
	}
	return digest.VolatileFor(p.Config)
}

// TestReplanOnMovedBaseKeepsDigest: the bot plans a request, another request
// in the same environment merges a day later, and the bot re-plans the first
// on the new base another day later. Commits and bytes differ (the other
// entry is there, last_updated and created_date moved, alignment changed),
// what the pull request does does not.
func TestReplanOnMovedBaseKeepsDigest(t *testing.T) {
	repo := rdsbot.Example()
	p, err := gitops.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"dev", "test", "staging", "prod"} {
		t.Run(env, func(t *testing.T) {
			first := plan(t, p, repo, env, "orders_service", day1)
			other := plan(t, p, repo, env, "payments_billing", day1.Add(24*time.Hour))
			moved := gitops.Overlay(repo, other.Changes)
			again := plan(t, p, moved, env, "orders_service", day1.Add(48*time.Hour))

			if len(again.Changes) != len(first.Changes) {
				t.Fatalf("re-plan edits %d files, first plan %d", len(again.Changes), len(first.Changes))
			}
			for i := range again.Changes {
				if bytes.Equal(again.Changes[i].New, first.Changes[i].New) {
					t.Fatalf("%s: re-plan wrote the same bytes; the test would prove nothing", again.Changes[i].Path)
				}
			}
			a, b := compute(t, files(first), "main"), compute(t, files(again), "main")
			if a.Digest != b.Digest {
				t.Errorf("digest changed across a re-plan:\n%s\n%s\nfirst:\n%s\nagain:\n%s", a.Digest, b.Digest, list(a), list(b))
			}
			if len(a.Changes) < 10 {
				t.Errorf("only %d changes: %s", len(a.Changes), list(a))
			}
		})
	}
}

func list(r *digest.Result) string {
	var b strings.Builder
	for _, c := range r.Changes {
		b.WriteString("  " + c.String() + "\n")
	}
	return b.String()
}

func edit(fs []digest.File, path string, f func([]byte) []byte) []digest.File {
	out := make([]digest.File, len(fs))
	copy(out, fs)
	for i := range out {
		if out[i].Path == path {
			out[i].New = f(out[i].New)
		}
	}
	return out
}

// replace edits one occurrence of old, which must be there: an edit that
// misses would make a "digest unchanged" case pass for nothing.
func replace(old, new string) func([]byte) []byte {
	return func(b []byte) []byte {
		if !bytes.Contains(b, []byte(old)) {
			panic("edit does not apply: " + old)
		}
		return []byte(strings.Replace(string(b), old, new, 1))
	}
}

// reorderYAML rewrites a YAML file with every mapping's keys reversed and
// every comment dropped, in another indentation.
func reorderYAML(t *testing.T) func([]byte) []byte {
	return func(b []byte) []byte {
		var n yaml.Node
		if err := yaml.Unmarshal(b, &n); err != nil {
			t.Fatal(err)
		}
		var walk func(*yaml.Node)
		walk = func(n *yaml.Node) {
			n.HeadComment, n.LineComment, n.FootComment = "", "", ""
			if n.Kind == yaml.MappingNode {
				var pairs [][2]*yaml.Node
				for i := 0; i+1 < len(n.Content); i += 2 {
					pairs = append(pairs, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
				}
				n.Content = n.Content[:0]
				for i := len(pairs) - 1; i >= 0; i-- {
					n.Content = append(n.Content, pairs[i][0], pairs[i][1])
				}
			}
			if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
				n.Style = yaml.SingleQuotedStyle
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&n)
		var out bytes.Buffer
		enc := yaml.NewEncoder(&out)
		enc.SetIndent(4)
		if err := enc.Encode(&n); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
}

func TestDigestChangesOnlyWithContent(t *testing.T) {
	repo := rdsbot.Example()
	p, err := gitops.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	base := files(plan(t, p, repo, "prod", "orders_service", day1))
	const tfvars, cat = "envs/prod-rds/terraform.tfvars", "rds-catalog/prod.yaml"
	want := compute(t, base, "main").Digest

	changed := map[string][]digest.File{
		"tfvars value":            edit(base, tfvars, replace(`username = "orders_service_app"`, `username = "postgres"`)),
		"catalog value":           edit(base, cat, replace("size_tier: small", "size_tier: xlarge")),
		"catalog value retyped":   edit(base, cat, replace("request_id: RDS-0042", "request_id: 42")),
		"an unrelated base value": edit(base, tfvars, replace("multi_az                    = true", "multi_az = false")),
		"removed new key":         edit(base, cat, replace("      risk: medium\n      environment: prod\n      status: pending", "      environment: prod\n      status: pending")),
		"removed base key":        edit(base, cat, replace("rds_instance: goldenpath-prod-platform-prod\n", "")),
		"added key":               edit(base, cat, replace("      status: pending\n", "      status: pending\n      note: hi\n")),
		"history status":          edit(base, cat, replace("        - status: pending", "        - status: active")),
		"added file":              append(base, digest.File{Path: "envs/prod-rds/extra.tf", New: []byte("resource \"null_resource\" \"x\" {}\n")}),
		"added empty file":        append(base, digest.File{Path: "envs/prod-rds/empty.tfvars", New: []byte{}}),
		"added opaque file":       append(base, digest.File{Path: "scripts/run.sh", New: []byte("#!/bin/sh\n")}),
		"deleted file":            append(base, digest.File{Path: "envs/prod-rds/main.tf", Old: []byte("locals {}\n")}),
		"tfvars expression":       edit(base, tfvars, replace(`username = "orders_service_app"`, `username = var.x`)),
		"same new, other old":     edit(base, tfvars, func(b []byte) []byte { return b }),
	}
	// The same edit made on top of another value (in a merge queue, after
	// another pull request changed the same key) is other content.
	for i, f := range changed["same new, other old"] {
		if f.Path == tfvars {
			changed["same new, other old"][i].Old = []byte(strings.Replace(string(f.Old), "multi_az                    = true", "multi_az = false", 1))
			changed["same new, other old"][i].New = f.New
		}
	}
	for name, fs := range changed {
		got := compute(t, fs, "main")
		if got.Digest == want {
			t.Errorf("%s: digest unchanged\n%s", name, list(got))
		}
	}
	if compute(t, base, "release").Digest == want {
		t.Error("the same changes against another base branch gave the same digest")
	}

	same := map[string][]digest.File{
		"tfvars whitespace": edit(base, tfvars, func(b []byte) []byte {
			return []byte(strings.ReplaceAll(strings.ReplaceAll(string(b), " = ", "   =   "), "\n", "\n\n"))
		}),
		"tfvars comments":        edit(base, tfvars, replace("application_databases = {", "# reviewed\napplication_databases = { // inline\n  /* block */")),
		"tfvars quoted keys":     edit(base, tfvars, replace("orders_service = {", `"orders_service" = {`)),
		"tfvars number spelling": edit(base, tfvars, replace("allocated_storage           = 50", "allocated_storage = 50.0")),
		"catalog reordered":      edit(base, cat, reorderYAML(t)),
		"catalog comment":        edit(base, cat, replace("databases:\n", "databases: # entries\n")),
		"volatile only":          edit(base, cat, replace("last_updated: \"2026-11-27\"", "last_updated: \"2027-01-01\"")),
	}
	for name, fs := range same {
		got := compute(t, fs, "main")
		if got.Digest != want {
			t.Errorf("%s: digest changed\n%s", name, list(got))
		}
	}
}

func TestStructuredFormats(t *testing.T) {
	d := func(path, old, new string) *digest.Result {
		t.Helper()
		f := digest.File{Path: path, New: []byte(new)}
		if old != "" {
			f.Old = []byte(old)
		}
		r, err := digest.Compute([]digest.File{f}, digest.Options{Base: "main"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	eq := []struct{ path, a, b string }{
		{"x.json", `{"a": 1, "b": [true, null, "s"], "c": {}}`, "{\n  \"c\": {},\n  \"b\": [true,null,\"s\"],\n  \"a\": 1.0\n}"},
		{"x.yaml", "a: 1\nb: [x, 'y']\nd: 2026-01-01\n", "b:\n  - \"x\"\n  - y\na: 0x1\nd: \"2026-01-01\"\n"},
		{"main.tf", "resource \"a\" \"b\" {\n  x = var.y + 1 # c\n  lifecycle { prevent_destroy = true }\n}\n",
			"resource \"a\" \"b\" {\n  lifecycle {\n    prevent_destroy = true\n  }\n  x = var.y+1\n}\n"},
	}
	for _, c := range eq {
		if a, b := d(c.path, "", c.a), d(c.path, "", c.b); a.Digest != b.Digest {
			t.Errorf("%s: formatting changed the digest:\n%s\n%s", c.path, list(a), list(b))
		}
	}
	ne := []struct{ path, a, b string }{
		{"x.json", `{"a": 1}`, `{"a": "1"}`},
		{"x.yaml", "a: 1\n", "a: '1'\n"},
		{"x.yaml", "a: [1, 2]\n", "a: [2, 1]\n"},
		{"main.tf", "x = var.y + 1\n", "x = var.y - 1\n"},
		{"main.tf", "resource \"a\" \"b\" {\n  lifecycle { prevent_destroy = true }\n}\n", "resource \"a\" \"b\" {\n  lifecycle { prevent_destroy = false }\n}\n"},
		// A duplicate key shadows a value Go would drop: the file is digested by its bytes.
		{"x.json", `{"a": 1, "a": 2}`, `{"a": 3, "a": 2}`},
		{"x.yaml", "a: 1\na: 2\n", "a: 3\na: 2\n"},
		{"x.yaml", "not: [valid\n", "not: [valid \n"},
	}
	for _, c := range ne {
		if a, b := d(c.path, "", c.a), d(c.path, "", c.b); a.Digest == b.Digest {
			t.Errorf("%s: %q and %q gave the same digest", c.path, c.a, c.b)
		}
	}
	r := d("rds-catalog/dev.yaml", "databases:\n  a:\n    size: small\n", "databases:\n  a:\n    size: large\n")
	if len(r.Changes) != 1 || r.Changes[0].String() != `rds-catalog/dev.yaml: databases.a.size: "small" → "large"` {
		t.Errorf("changes: %v", r.Changes)
	}
}

// TestHostileInputIsBounded: an alias bomb or a huge file is digested by its
// bytes instead of being expanded.
func TestHostileInputIsBounded(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		bomb.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				bomb.WriteString(", ")
			}
			bomb.WriteString("*a" + string(rune('0'+i-1)))
		}
		bomb.WriteString("]\n")
	}
	r, err := digest.Compute([]digest.File{{Path: "bomb.yaml", New: []byte(bomb.String())}}, digest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != 1 || !strings.HasPrefix(r.Changes[0].New, "sha256:") {
		t.Errorf("alias bomb flattened: %d changes", len(r.Changes))
	}
}

func TestBadInput(t *testing.T) {
	_, err := digest.Compute([]digest.File{
		{Path: "", New: []byte("x")},
		{Path: "a", New: []byte("x")}, {Path: "a", New: []byte("y")},
		{Path: "b"},
	}, digest.Options{Volatile: []digest.Volatile{{Files: "[", Key: "x"}, {Files: "*", Key: "a..b"}}})
	for _, want := range []string{"no path", "a: listed twice", "b: absent", "volatile[0].files", "volatile[1].key"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}
