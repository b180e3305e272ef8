package smfake_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/secrets/smfake"
)

// TestProtocolEnvelope: requests that are not Secrets Manager JSON 1.1, or
// not signed, get the service's error codes; bodies are bounded.
func TestProtocolEnvelope(t *testing.T) {
	ts := httptest.NewServer(smfake.New(smfake.Options{}))
	defer ts.Close()
	const auth = "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-2/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=" +
		"0000000000000000000000000000000000000000000000000000000000000000"
	cases := []struct {
		name, target, ctype, auth, body string
		status                          int
		code                            string
	}{
		{"unknown op", "secretsmanager.Frobnicate", "application/x-amz-json-1.1", auth, `{}`, 400, "UnknownOperationException"},
		{"no target", "", "application/x-amz-json-1.1", auth, `{}`, 400, "UnknownOperationException"},
		{"wrong content type", "secretsmanager.GetSecretValue", "application/json", auth, `{}`, 400, "SerializationException"},
		{"unsigned", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", "", `{"SecretId":"x"}`, 400, "IncompleteSignatureException"},
		{"too large", "secretsmanager.CreateSecret", "application/x-amz-json-1.1", auth, `{"Name":"x","SecretString":"` + strings.Repeat("a", 300<<10) + `"}`, 413, "RequestEntityTooLarge"},
		{"missing", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", auth, `{"SecretId":"nope"}`, 400, "ResourceNotFoundException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(c.body))
			req.Header.Set("X-Amz-Target", c.target)
			req.Header.Set("Content-Type", c.ctype)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != c.status || body.Type != c.code || body.Message == "" {
				t.Errorf("got %d %+v, want %d %s", resp.StatusCode, body, c.status, c.code)
			}
		})
	}
}
