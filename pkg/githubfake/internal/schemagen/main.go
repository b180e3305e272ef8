// Command schemagen regenerates pkg/githubfake/testdata/{openapi,webhooks}-subset.json:
// the parts of GitHub's OpenAPI description (@octokit/openapi) and webhook
// schemas (@octokit/webhooks-schemas) that cover the fake's routes and the
// events it emits, resolved so that a JSON-schema validator can check the
// fake's responses and payloads against them.
//
// Usage (from the module root):
//
//	go run ./pkg/githubfake/internal/schemagen -out pkg/githubfake/testdata
//
// It runs `npm pack` for the pinned package versions into a temporary
// directory, or reads already unpacked files given with -openapi and -webhooks.
//
// OpenAPI 3.0's `nullable` is rewritten to JSON Schema (a "null" type or an
// anyOf with null); descriptions and examples are dropped to keep the files small.
package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

const (
	openapiPkg  = "@octokit/openapi"
	webhooksPkg = "@octokit/webhooks-schemas"
)

// webhookEvents are the webhook schema definitions for the events the fake emits.
var webhookEvents = []string{
	"issues$opened", "issues$edited", "issues$labeled", "issues$unlabeled", "issues$closed", "issues$reopened",
	"issue_comment$created", "issue_comment$edited",
	"pull_request$opened", "pull_request$synchronize", "pull_request$edited", "pull_request$labeled",
	"pull_request$unlabeled", "pull_request$closed", "pull_request$reopened",
	"pull_request$ready_for_review", "pull_request$converted_to_draft", "pull_request$review_requested",
	"pull_request$enqueued", "pull_request$dequeued",
	"pull_request_review$submitted", "pull_request_review$edited", "pull_request_review$dismissed",
	"push$event", "workflow_dispatch$event", "repository_dispatch$event",
	"workflow_run$requested", "workflow_run$in_progress", "workflow_run$completed",
	"check_run$created", "check_run$completed", "status$event",
	"merge_group$checks_requested", "merge_group$destroyed",
	"membership$added", "membership$removed",
	"organization$member_invited", "organization$member_added", "organization$member_removed",
	"team$created", "team$edited",
}

func main() {
	out := flag.String("out", "pkg/githubfake/testdata", "output directory")
	openapiVersion := flag.String("openapi-version", "23.0.2", "version of "+openapiPkg)
	webhooksVersion := flag.String("webhooks-version", "7.6.1", "version of "+webhooksPkg)
	openapiFile := flag.String("openapi", "", "unpacked generated/api.github.com.json (skips npm)")
	webhooksFile := flag.String("webhooks", "", "unpacked schema.json (skips npm)")
	flag.Parse()
	if err := run(*out, *openapiVersion, *webhooksVersion, *openapiFile, *webhooksFile); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

func run(out, openapiVersion, webhooksVersion, openapiFile, webhooksFile string) error {
	var openapiData, webhooksData []byte
	var err error
	if openapiFile != "" {
		openapiData, err = os.ReadFile(openapiFile)
	} else {
		openapiData, err = npmFile(openapiPkg, openapiVersion, "package/generated/api.github.com.json")
	}
	if err != nil {
		return err
	}
	if webhooksFile != "" {
		webhooksData, err = os.ReadFile(webhooksFile)
	} else {
		webhooksData, err = npmFile(webhooksPkg, webhooksVersion, "package/schema.json")
	}
	if err != nil {
		return err
	}
	api, err := openapiSubset(openapiData, openapiPkg+"@"+openapiVersion)
	if err != nil {
		return err
	}
	hooks, err := webhooksSubset(webhooksData, webhooksPkg+"@"+webhooksVersion)
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(out, "openapi-subset.json"), api); err != nil {
		return err
	}
	return writeJSON(filepath.Join(out, "webhooks-subset.json"), hooks)
}

// npmFile runs `npm pack pkg@version` in a temporary directory and returns
// one file of the tarball.
func npmFile(pkg, version, name string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "schemagen")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("npm", "pack", "--silent", pkg+"@"+version)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	outName, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("npm pack %s@%s: %w", pkg, version, err)
	}
	f, err := os.Open(filepath.Join(dir, strings.TrimSpace(string(outName))))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s not in %s@%s", name, pkg, version)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == name {
			return io.ReadAll(tr)
		}
	}
}

func writeJSON(p string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(p, append(data, '\n'), 0o644)
}

type object = map[string]any

// upstreamFixes replace response schemas that the description gets wrong,
// by definition name; each is listed in the output's x-patched.
var upstreamFixes = map[string]object{
	// The inline copy of installation in GET /app/installations makes account
	// an allOf of simple-user and enterprise, which no account satisfies;
	// components/schemas/installation has the anyOf that GitHub sends.
	"apps.list-installations.200": {"type": "array", "items": object{"$ref": "#/components/schemas/installation"}},
	// A refused contents write is a oneOf of basic-error and
	// repository-rule-violation-error, whose optional fields let any error
	// body match both, so the oneOf never holds: either shape will do.
	"repos.create-or-update-file-contents.409": {"anyOf": []any{
		object{"$ref": "#/components/schemas/basic-error"},
		object{"$ref": "#/components/schemas/repository-rule-violation-error"}}},
}

// openapiSubset keeps the JSON response schemas of the operations the fake
// serves, as definitions named "<operationId>.<status>" plus every
// component schema they reference.
func openapiSubset(data []byte, source string) (object, error) {
	var doc object
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	paths, _ := doc["paths"].(object)
	components, _ := doc["components"].(object)
	defs := object{}
	operations := object{}
	var skipped, patched []string
	for _, key := range githubfake.New(githubfake.Options{}).Routes() {
		method, tmpl, _ := strings.Cut(key, " ")
		item, _ := paths[tmpl].(object)
		op, _ := item[strings.ToLower(method)].(object)
		if op == nil {
			skipped = append(skipped, key)
			continue
		}
		opID := strings.ReplaceAll(op["operationId"].(string), "/", ".")
		statuses := object{}
		responses, _ := op["responses"].(object)
		for status, resp := range responses {
			schema := responseSchema(resp.(object), components)
			if schema == nil {
				continue
			}
			name := opID + "." + status
			if fix, ok := upstreamFixes[name]; ok {
				schema = fix
				patched = append(patched, name)
			}
			defs[name] = schema
			statuses[status] = name
		}
		operations[key] = statuses
	}
	schemas, _ := components["schemas"].(object)
	pending := []object{}
	for _, d := range defs {
		pending = append(pending, object{"x": d})
	}
	for len(pending) > 0 {
		v := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		for _, ref := range collectRefs(v) {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if _, done := defs[name]; done || name == ref {
				continue
			}
			s, ok := schemas[name].(object)
			if !ok {
				return nil, fmt.Errorf("openapi: unresolved %s", ref)
			}
			defs[name] = s
			pending = append(pending, object{"x": s})
		}
	}
	for name, d := range defs {
		defs[name] = clean(d, "#/components/schemas/")
	}
	sort.Strings(skipped)
	return object{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"x-source":    source + " generated/api.github.com.json",
		"x-generator": "go run ./pkg/githubfake/internal/schemagen",
		"x-skipped":   skipped,
		"x-patched":   patched,
		"operations":  operations,
		"definitions": defs,
	}, nil
}

// responseSchema returns a response's application/json schema, following
// a $ref into components/responses.
func responseSchema(resp, components object) any {
	if ref, ok := resp["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/responses/")
		r, _ := components["responses"].(object)[name].(object)
		if r == nil {
			return nil
		}
		resp = r
	}
	content, _ := resp["content"].(object)
	media, _ := content["application/json"].(object)
	if media == nil {
		return nil
	}
	return media["schema"]
}

func collectRefs(v any) []string {
	var out []string
	switch t := v.(type) {
	case object:
		for k, x := range t {
			if k == "$ref" {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
				continue
			}
			out = append(out, collectRefs(x)...)
		}
	case []any:
		for _, x := range t {
			out = append(out, collectRefs(x)...)
		}
	}
	return out
}

// dropped are keywords a validator does not need.
var dropped = map[string]bool{
	"description": true, "example": true, "examples": true, "externalDocs": true, "title": true,
	"readOnly": true, "deprecated": true, "discriminator": true, "tsAdditionalProperties": true,
}

// clean drops documentation keywords, rewrites $refs into #/definitions/
// and turns OpenAPI's nullable into JSON Schema.
func clean(v any, refPrefix string) any {
	switch t := v.(type) {
	case object:
		out := object{}
		for k, x := range t {
			switch {
			case dropped[k] || strings.HasPrefix(k, "x-"):
				continue
			case k == "properties" || k == "definitions" || k == "patternProperties":
				props := object{}
				for name, s := range x.(object) {
					props[name] = clean(s, refPrefix)
				}
				out[k] = props
			case k == "$ref":
				out[k] = "#/definitions/" + strings.TrimPrefix(x.(string), refPrefix)
			case k == "nullable":
			default:
				out[k] = clean(x, refPrefix)
			}
		}
		if t["nullable"] == true {
			return nullableSchema(out)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = clean(x, refPrefix)
		}
		return out
	}
	return v
}

func nullableSchema(s object) object {
	if typ, ok := s["type"].(string); ok && s["$ref"] == nil {
		s["type"] = []any{typ, "null"}
		if enum, ok := s["enum"].([]any); ok {
			s["enum"] = append(enum, nil)
		}
		return s
	}
	return object{"anyOf": []any{object{"type": "null"}, s}}
}

// webhooksSubset keeps the event definitions the fake emits and every
// definition they reference.
func webhooksSubset(data []byte, source string) (object, error) {
	var doc object
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	all, _ := doc["definitions"].(object)
	defs := object{}
	pending := append([]string(nil), webhookEvents...)
	for len(pending) > 0 {
		name := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		if _, done := defs[name]; done {
			continue
		}
		d, ok := all[name].(object)
		if !ok {
			return nil, fmt.Errorf("webhooks: no definition %s", name)
		}
		defs[name] = d
		for _, ref := range collectRefs(d) {
			pending = append(pending, strings.TrimPrefix(ref, "#/definitions/"))
		}
	}
	for name, d := range defs {
		c := clean(d, "#/definitions/").(object)
		delete(c, "$schema")
		defs[name] = c
	}
	return object{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"x-source":    source + " schema.json",
		"x-generator": "go run ./pkg/githubfake/internal/schemagen",
		"x-events":    webhookEvents,
		"definitions": defs,
	}, nil
}
