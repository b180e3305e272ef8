package webhook

import (
	"encoding/json"
	"strings"
	"testing"
)

// reference reads the same fields with encoding/json, keys matched exactly
// (GitHub's are lowercase; encoding/json would also take "ACTION").
func reference(b []byte) (payloadMeta, error) {
	var m payloadMeta
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return m, err
	}
	_ = json.Unmarshal(top["action"], &m.Action)
	var inst, repo map[string]json.RawMessage
	if json.Unmarshal(top["installation"], &inst) == nil {
		_ = json.Unmarshal(inst["id"], &m.InstallationID)
	}
	if json.Unmarshal(top["repository"], &repo) == nil {
		_ = json.Unmarshal(repo["full_name"], &m.Repository)
	}
	return m, nil
}

func TestReadMeta(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     payloadMeta
		bad      bool
	}{
		{"all three", `{"action":"opened","installation":{"id":42,"node_id":"x"},"repository":{"id":1,"full_name":"acme/infra","owner":{"login":"acme"}}}`,
			payloadMeta{"opened", 42, "acme/infra"}, false},
		{"none", `{"zen":"Keep it logically awesome.","hook_id":1,"hook":{"events":["*"],"config":{}}}`, payloadMeta{}, false},
		{"nested decoys", `{"issue":{"action":"x","repository":{"full_name":"no/no"}},"action":"edited"}`, payloadMeta{Action: "edited"}, false},
		{"escapes", `{"action":"la\"bel\u00e9d","repository":{"full_name":"a\/b"}}`, payloadMeta{Action: "la\"beléd", Repository: "a/b"}, false},
		{"escaped key", `{"act\u0069on":"opened"}`, payloadMeta{Action: "opened"}, false},
		{"the last of duplicate keys", `{"action":"a","action":"b"}`, payloadMeta{Action: "b"}, false},
		{"whitespace", " \n{ \"action\" : \"opened\" , \"installation\" : { \"id\" : 7 } }\n", payloadMeta{Action: "opened", InstallationID: 7}, false},
		{"wrong types are ignored", `{"action":1,"installation":"x","repository":["a"]}`, payloadMeta{}, false},
		{"arrays and literals", `{"a":[1,2.5e3,true,false,null,[],{}],"b":{"c":[{"d":"]"}]},"action":"x"}`, payloadMeta{Action: "x"}, false},
		{"empty object", `{}`, payloadMeta{}, false},
		{"not an object", `["a"]`, payloadMeta{}, true},
		{"truncated", `{"action":`, payloadMeta{}, true},
		{"unterminated string", `{"action":"open`, payloadMeta{}, true},
		{"trailing garbage", `{"action":"x"} x`, payloadMeta{}, true},
		{"two objects", `{}{}`, payloadMeta{}, true},
		{"missing colon", `{"action" "x"}`, payloadMeta{}, true},
		{"missing comma", `{"a":1 "b":2}`, payloadMeta{}, true},
		{"control character in a string", "{\"action\":\"a\nb\"}", payloadMeta{}, true},
		{"unbalanced", `{"a":[1,2}`, payloadMeta{}, true},
		{"too deep", `{"a":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, payloadMeta{}, true},
		{"empty", ``, payloadMeta{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readMeta([]byte(tc.in))
			if (err != nil) != tc.bad {
				t.Fatalf("error %v, want bad=%v", err, tc.bad)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if !tc.bad && !strings.Contains(tc.name, "deep") {
				if ref, err := reference([]byte(tc.in)); err == nil && tc.name != "wrong types are ignored" && ref != got {
					t.Errorf("encoding/json reads %+v", ref)
				}
			}
		})
	}
}

// FuzzReadMeta: on every valid JSON object, readMeta agrees with
// encoding/json.
func FuzzReadMeta(f *testing.F) {
	for _, s := range []string{`{"action":"opened","installation":{"id":42},"repository":{"full_name":"a/b"}}`, `{"a":[{"b":"c"}]}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ref, err := reference(b)
		if err != nil || !json.Valid(b) {
			return
		}
		got, err := readMeta(b)
		if err != nil {
			if strings.Count(string(b), "[")+strings.Count(string(b), "{") > maxDepth {
				return
			}
			t.Fatalf("readMeta(%q): %v; encoding/json reads it", b, err)
		}
		if got != ref {
			t.Fatalf("readMeta(%q) = %+v, encoding/json %+v", b, got, ref)
		}
	})
}

// BenchmarkReadMeta reads a realistic issues payload (about 12 KB), against
// encoding/json decoding the same fields.
func BenchmarkReadMeta(b *testing.B) {
	user := `{"login":"octocat","id":1,"avatar_url":"https://github.com/images/error/octocat_happy.gif","url":"https://api.github.com/users/octocat","type":"User","site_admin":false}`
	payload := []byte(`{"action":"opened","issue":{"number":1347,"title":"RDS request","user":` + user + `,"labels":[{"id":208045946,"name":"rds-request"}],"body":"` +
		strings.Repeat(`### Database request\n\nenvironment: prod\ndatabase: orders\n`, 150) + `"},"repository":{"id":1296269,"full_name":"acme/infra","owner":` + user +
		`,"private":true},"sender":` + user + `,"installation":{"id":424242}}`)
	b.Run("readMeta", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := readMeta(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := reference(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
