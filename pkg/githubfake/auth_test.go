package githubfake

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
)

func TestInstallationTokenExpires(t *testing.T) {
	h := newHarness(t, Options{TokenTTL: 10 * time.Minute})
	tok, _, err := h.jwt.Apps.CreateInstallationToken(h.ctx, h.inst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(tok.GetExpiresAt().Time); left < 9*time.Minute || left > 11*time.Minute {
		t.Fatalf("expires_at %v is not about ten minutes ahead", tok.GetExpiresAt())
	}
	c := h.client(&http.Client{Transport: &tokenTransport{tok.GetToken(), http.DefaultTransport}})
	if _, _, err := c.Repositories.Get(h.ctx, "acme", "infra"); err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	// Bearer works as well as token.
	req, _ := http.NewRequest("GET", h.url+"/api/v3/repos/acme/infra", nil)
	req.Header.Set("Authorization", "Bearer "+tok.GetToken())
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("Bearer: %v %v", resp, err)
	}
	h.f.Advance(10 * time.Minute)
	_, _, err = c.Repositories.Get(h.ctx, "acme", "infra")
	wantErr(t, err, 401, "Bad credentials")
}

func TestGhinstallationRefreshesShortLivedTokens(t *testing.T) {
	// ghinstallation renews a token a minute before it expires, so with a
	// 30-second TTL every call fetches a new one from the fake.
	h := newHarness(t, Options{TokenTTL: 30 * time.Second})
	for range 3 {
		if _, _, err := h.gh.Repositories.Get(h.ctx, "acme", "infra"); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.f.CallCount("POST /app/installations/{installation_id}/access_tokens"); n != 3 {
		t.Fatalf("token requests: %d, want 3", n)
	}
	// An installation token narrowed by ghinstallation to one repository.
	itr, err := ghinstallation.New(http.DefaultTransport, h.app.ID, h.inst, h.app.PEM)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = h.url
	itr.InstallationTokenOptions = nil
	c := h.client(&http.Client{Transport: itr})
	if _, _, err := c.Repositories.Get(h.ctx, "acme", "infra"); err != nil {
		t.Fatalf("BaseURL without /api/v3: %v", err)
	}
}

// signJWT signs claims with RS256 (or claims an other alg) like an App would.
func signJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(head))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestAppJWTChecks(t *testing.T) {
	h := newHarness(t, Options{})
	other, _, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	iss := strconv.FormatInt(h.app.ID, 10)
	tests := []struct {
		name   string
		key    *rsa.PrivateKey
		alg    string
		claims map[string]any
		status int
		msg    string
	}{
		{"valid", h.app.PrivateKey, "RS256", map[string]any{"iss": iss, "iat": now - 30, "exp": now + 540}, 200, ""},
		{"numeric iss", h.app.PrivateKey, "RS256", map[string]any{"iss": h.app.ID, "iat": now, "exp": now + 60}, 200, ""},
		{"other key", other, "RS256", map[string]any{"iss": iss, "iat": now, "exp": now + 60}, 401, "could not be decoded"},
		{"expired", h.app.PrivateKey, "RS256", map[string]any{"iss": iss, "iat": now - 700, "exp": now - 100}, 401, "'Expiration time' claim ('exp') must be a numeric value"},
		{"too long", h.app.PrivateKey, "RS256", map[string]any{"iss": iss, "iat": now, "exp": now + 3600}, 401, "too far in the future"},
		{"issued in the future", h.app.PrivateKey, "RS256", map[string]any{"iss": iss, "iat": now + 300, "exp": now + 400}, 401, "'Issued at' claim"},
		{"unknown app", h.app.PrivateKey, "RS256", map[string]any{"iss": "42", "iat": now, "exp": now + 60}, 401, "Integration not found"},
		{"wrong alg", h.app.PrivateKey, "HS256", map[string]any{"iss": iss, "iat": now, "exp": now + 60}, 401, "could not be decoded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jwt := signJWT(t, tc.key, tc.alg, tc.claims)
			c := h.client(&http.Client{Transport: &tokenTransport{jwt, http.DefaultTransport}})
			_, _, err := c.Apps.Get(h.ctx, "")
			if tc.status == 200 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tc.status, tc.msg)
		})
	}
}
