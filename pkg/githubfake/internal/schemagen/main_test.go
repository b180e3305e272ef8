package main

import (
	"encoding/json"
	"testing"
)

func TestCleanRewritesNullableAndRefs(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nullable type", `{"type":"string","nullable":true,"description":"d"}`, `{"type":["string","null"]}`},
		{"nullable enum", `{"type":"string","enum":["a"],"nullable":true}`, `{"enum":["a",null],"type":["string","null"]}`},
		{"nullable ref", `{"nullable":true,"allOf":[{"$ref":"#/components/schemas/x"}]}`, `{"anyOf":[{"type":"null"},{"allOf":[{"$ref":"#/definitions/x"}]}]}`},
		{"property named description kept", `{"properties":{"description":{"type":"string","example":"e"}}}`, `{"properties":{"description":{"type":"string"}}}`},
		{"vendor keys dropped", `{"type":"object","x-github":{"a":1},"examples":{}}`, `{"type":"object"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in any
			if err := json.Unmarshal([]byte(tc.in), &in); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(clean(in, "#/components/schemas/"))
			if string(got) != tc.want {
				t.Fatalf("got %s want %s", got, tc.want)
			}
		})
	}
}

func TestOpenapiSubsetFollowsRefsAndResponses(t *testing.T) {
	doc := `{"paths":{"/repos/{owner}/{repo}":{"get":{"operationId":"repos/get","responses":{
		"200":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/full-repository"}}}},
		"404":{"$ref":"#/components/responses/not_found"},
		"301":{"description":"moved"}}}}},
	"components":{"schemas":{
		"full-repository":{"type":"object","properties":{"owner":{"$ref":"#/components/schemas/simple-user"}}},
		"simple-user":{"type":"object"},
		"basic-error":{"type":"object"},
		"unused":{"type":"object"}},
	"responses":{"not_found":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/basic-error"}}}}}}}`
	out, err := openapiSubset([]byte(doc), "test")
	if err != nil {
		t.Fatal(err)
	}
	defs := out["definitions"].(object)
	for _, name := range []string{"repos.get.200", "repos.get.404", "full-repository", "simple-user", "basic-error"} {
		if _, ok := defs[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
	if _, ok := defs["unused"]; ok {
		t.Error("unreferenced schema kept")
	}
	ops := out["operations"].(object)["GET /repos/{owner}/{repo}"].(object)
	if ops["200"] != "repos.get.200" || ops["301"] != nil {
		t.Errorf("operation statuses: %v", ops)
	}
}
