package githubfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// token is an installation access token or a user's personal token.
type token struct {
	value   string
	inst    *installation   // installation token
	user    *User           // personal token
	expires time.Time       // zero: never
	repos   map[string]bool // narrowed to these full names (lower case); nil: all the installation covers
}

// principal is who a request acts as.
type principal struct {
	app   *App          // App JWT
	inst  *installation // installation token
	user  *User         // the acting account (the App's bot for installation tokens)
	key   string        // rate-limit bucket
	token *token
}

// authError is a 401 with GitHub's message.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

// GenerateKey makes a 2048-bit RSA key for an App and its PEM (PKCS#1), the
// format GitHub hands out and ghinstallation reads.
func GenerateKey() (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("githubfake: generate key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return key, pemBytes, nil
}

// randomToken returns prefix plus 36 base62 characters, like GitHub's tokens.
func randomToken(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b strings.Builder
	b.WriteString(prefix)
	for range 36 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String()
}

// authenticate resolves the Authorization header for a route. Callers hold f.mu.
func (f *Fake) authenticate(header string, kind authKind) (*principal, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	if header == "" || cred == "" {
		return nil, &authError{"Requires authentication"}
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
	default:
		return nil, &authError{"Bad credentials"}
	}
	if kind == authJWT {
		app, err := f.verifyJWT(cred)
		if err != nil {
			return nil, err
		}
		return &principal{app: app, user: app.bot, key: "app:" + strconv.FormatInt(app.ID, 10)}, nil
	}
	if strings.Count(cred, ".") == 2 {
		// a JWT where an installation token is expected
		return nil, &authError{"A JSON web token could not be decoded"}
	}
	t := f.tokens[cred]
	if t == nil {
		return nil, &authError{"Bad credentials"}
	}
	if !t.expires.IsZero() && !f.now().Before(t.expires) {
		return nil, &authError{"Bad credentials"}
	}
	// Budgets belong to the installation or the user, not to one token, as
	// on GitHub: refreshing a token does not refill them.
	if t.inst != nil {
		return &principal{inst: t.inst, user: t.inst.app.bot, key: "installation:" + strconv.FormatInt(t.inst.ID, 10), token: t}, nil
	}
	return &principal{user: t.user, key: "user:" + strings.ToLower(t.user.Login), token: t}, nil
}

// verifyJWT checks an App JWT: RS256, signed by a registered App's key, iss
// naming that App, iat not in the future, exp in the future and at most ten
// minutes after iat (with a minute of clock skew either way).
func (f *Fake) verifyJWT(tok string) (*App, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, &authError{"A JSON web token could not be decoded"}
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat *int64          `json:"iat"`
		Exp *int64          `json:"exp"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, &authError{"A JSON web token could not be decoded"}
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, &authError{"A JSON web token could not be decoded"}
	}
	if header.Alg != "RS256" {
		return nil, &authError{"A JSON web token could not be decoded"}
	}
	issStr := strings.Trim(string(claims.Iss), `"`)
	appID, err := strconv.ParseInt(issStr, 10, 64)
	if err != nil {
		return nil, &authError{"'Issuer' claim ('iss') must be an Integer"}
	}
	app := f.apps[appID]
	if app == nil {
		return nil, &authError{"Integration not found"}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, &authError{"A JSON web token could not be decoded"}
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(app.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return nil, &authError{"A JSON web token could not be decoded"}
	}
	now := f.now().Unix()
	const skew = 60
	if claims.Iat == nil || *claims.Iat > now+skew {
		return nil, &authError{"'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued."}
	}
	if claims.Exp == nil || *claims.Exp <= now {
		return nil, &authError{"'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."}
	}
	if *claims.Exp-*claims.Iat > 600+skew || *claims.Exp > now+600+skew {
		return nil, &authError{"'Expiration time' claim ('exp') is too far in the future."}
	}
	return app, nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errors.New("not JSON")
	}
	return nil
}

// issueInstallationToken creates a token for an installation. Callers hold f.mu.
func (f *Fake) issueInstallationToken(in *installation) *token {
	t := &token{value: randomToken("ghs_"), inst: in, expires: f.now().Add(f.opts.TokenTTL)}
	f.tokens[t.value] = t
	return t
}

// canSee reports whether a principal may read a repository; everything else
// answers 404 like GitHub does for private repositories.
func (f *Fake) canSee(p *principal, r *repo) bool {
	if p.token != nil && p.token.repos != nil && !p.token.repos[strings.ToLower(r.fullName())] {
		return false
	}
	switch {
	case p.inst != nil:
		return p.inst.covers(r)
	case p.user != nil:
		if strings.EqualFold(r.owner.Login, p.user.Login) || !r.private {
			return true
		}
		if _, collaborator := r.perms[strings.ToLower(p.user.Login)]; collaborator {
			return true
		}
		if o := f.orgs[strings.ToLower(r.owner.Login)]; o != nil {
			return o.members[strings.ToLower(p.user.Login)]
		}
	}
	return false
}
