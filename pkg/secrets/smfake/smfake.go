// Package smfake is an in-memory AWS Secrets Manager that speaks the service's
// JSON 1.1 protocol over HTTP (POST /, X-Amz-Target: secretsmanager.<Op>,
// Content-Type: application/x-amz-json-1.1), so that aws-sdk-go-v2 can be
// pointed at it (AWS_ENDPOINT_URL_SECRETS_MANAGER) in tests and the sandbox.
//
// It implements CreateSecret, DescribeSecret, GetSecretValue, PutSecretValue,
// ListSecretVersionIds, DeleteSecret and RestoreSecret with the service's
// version semantics: the ClientRequestToken is the version id, a retried
// write with the same token and value is idempotent, a new version takes
// AWSCURRENT and the old one becomes AWSPREVIOUS, a deleted secret is kept
// (DeletedDate) until restored. Errors use the service's codes
// (ResourceNotFoundException, ResourceExistsException,
// InvalidRequestException, ...) in a {"__type", "message"} body.
//
// Requests must be signed with Signature Version 4. With Credentials set, the
// signature is recomputed with the SDK's signer and compared; without, only
// its form is checked. Failures can be injected (error answers or dropped
// connections) to exercise the client's retries, and every call is counted.
package smfake

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/uuid"
)

// maxBody bounds what a caller can make the server read: a secret value is
// at most 64 KiB, and the JSON around it is small.
const maxBody = 256 << 10

// Options configure a Server.
type Options struct {
	// Region and Account make up ARNs (default eu-west-2, 123456789012).
	Region, Account string
	// Credentials maps access key ids to secret keys. When set, every request
	// must carry a valid SigV4 signature from one of them.
	Credentials map[string]string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server is the fake. It is an http.Handler.
type Server struct {
	opts Options

	mu      sync.Mutex
	secrets map[string]*secret // by name
	faults  []fault
	calls   map[string]int
}

type secret struct {
	name, arn, description string
	tags                   []tag
	versions               map[string]*version
	stages                 map[string]string // stage -> version id
	created, changed       time.Time
	deleted                *time.Time
}

type version struct {
	id, value string
	created   time.Time
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type fault struct {
	op     string // "" for any
	code   string // error code; "" drops the connection
	status int
	after  bool // drop the connection after carrying the request out
}

// New returns an empty Server.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = "eu-west-2"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{opts: opts, secrets: map[string]*secret{}, calls: map[string]int{}}
}

// Fail makes the next n requests for op (every operation when op is empty)
// fail with the given error code and HTTP status, e.g.
// ("GetSecretValue", 2, "InternalServiceError", 500) or
// ("", 1, "ThrottlingException", 400).
func (s *Server) Fail(op string, n int, code string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{op: op, code: code, status: status})
	}
}

// Drop makes the next n requests for op (every operation when op is empty)
// end with the connection closed and no answer.
func (s *Server) Drop(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{op: op})
	}
}

// DropAfter makes the next n requests for op be carried out and then end
// with the connection closed before the answer, as when a response is lost:
// the client retries a write it does not know succeeded.
func (s *Server) DropAfter(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{op: op, after: true})
	}
}

// Calls returns how many requests for op were received (every operation
// when op is empty), including failed ones.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "" {
		n := 0
		for _, c := range s.calls {
			n += c
		}
		return n
	}
	return s.calls[op]
}

// Seed creates or updates a secret directly (no HTTP) and returns the new
// version id.
func (s *Server) Seed(name, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	sec := s.secrets[name]
	if sec == nil {
		sec = s.newSecret(name, "", nil, now)
	}
	return s.addVersion(sec, newID(), value, now).id
}

// MarkDeleted schedules a secret for deletion, as DeleteSecret with a
// recovery window does.
func (s *Server) MarkDeleted(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		t := s.opts.Now()
		sec.deleted = &t
	}
}

// Value returns the current value of a secret, for tests.
func (s *Server) Value(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return "", false
	}
	return sec.versions[sec.stages["AWSCURRENT"]].value, true
}

// Names lists the secrets, sorted.
func (s *Server) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.secrets))
	for n := range s.secrets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

var (
	targetRE = regexp.MustCompile(`^secretsmanager\.([A-Za-z]+)$`)
	// AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-2/secretsmanager/aws4_request, SignedHeaders=..., Signature=...
	authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/\s]+)/(\d{8})/([a-z0-9-]+)/secretsmanager/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)
)

// ServeHTTP implements the protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := ""
	if m := targetRE.FindStringSubmatch(r.Header.Get("X-Amz-Target")); m != nil {
		op = m[1]
	}
	s.mu.Lock()
	s.calls[op]++
	var f *fault
	for i := range s.faults {
		if s.faults[i].op == "" || s.faults[i].op == op {
			ff := s.faults[i]
			f = &ff
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			break
		}
	}
	s.mu.Unlock()

	if f != nil && f.code == "" && !f.after {
		drop(w)
		return
	}

	body, aerr := s.check(r, op)
	if aerr == nil && f != nil && f.code != "" {
		aerr = errf(f.status, f.code, "injected failure")
	}
	var out any
	if aerr == nil {
		out, aerr = s.dispatch(op, body)
	}
	if f != nil && f.after {
		drop(w)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newID())
	if aerr != nil {
		w.Header().Set("X-Amzn-ErrorType", aerr.code)
		w.WriteHeader(aerr.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": aerr.code, "message": aerr.message})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// check validates the envelope and the signature and returns the body.
func (s *Server) check(r *http.Request, op string) ([]byte, *apiError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, errf(404, "UnknownOperationException", "POST / expected")
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		return nil, errf(400, "SerializationException", "Content-Type must be application/x-amz-json-1.1, got %q", ct)
	}
	if op == "" {
		return nil, errf(400, "UnknownOperationException", "X-Amz-Target must be secretsmanager.<Operation>")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errf(400, "SerializationException", "reading body: %v", err)
	}
	if len(body) > maxBody {
		return nil, errf(413, "RequestEntityTooLarge", "request body over %d bytes", maxBody)
	}
	if aerr := s.verify(r, body); aerr != nil {
		return nil, aerr
	}
	return body, nil
}

// verify checks the SigV4 signature: its form always, its value when the
// server knows the access key's secret.
func (s *Server) verify(r *http.Request, body []byte) *apiError {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return errf(400, "IncompleteSignatureException", "Authorization must be an AWS4-HMAC-SHA256 signature for secretsmanager")
	}
	akid, region, signed := m[1], m[3], m[4]
	if s.opts.Credentials == nil {
		return nil
	}
	secretKey, ok := s.opts.Credentials[akid]
	if !ok {
		return errf(400, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errf(400, "IncompleteSignatureException", "X-Amz-Date missing or malformed")
	}
	if d := s.opts.Now().Sub(when); d > 15*time.Minute || d < -15*time.Minute {
		return errf(400, "InvalidSignatureException", "Signature expired")
	}
	// Rebuild the request with exactly the headers the client signed and
	// sign it again with the SDK's signer.
	re, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	re.Host = r.Host
	re.ContentLength = int64(len(body))
	for _, h := range strings.Split(signed, ";") {
		switch h {
		case "host", "content-length":
			continue
		}
		for _, v := range r.Header.Values(h) {
			re.Header.Add(h, v)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secretKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, re, hex.EncodeToString(sum[:]), "secretsmanager", region, when); err != nil {
		return errf(500, "InternalServiceError", "signing: %v", err)
	}
	if subtle.ConstantTimeCompare([]byte(re.Header.Get("Authorization")), []byte(r.Header.Get("Authorization"))) != 1 {
		return errf(403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
	}
	return nil
}

func (s *Server) dispatch(op string, body []byte) (any, *apiError) {
	var in struct {
		SecretID           string `json:"SecretId"`
		Name               string `json:"Name"`
		SecretString       *string
		SecretBinary       []byte
		ClientRequestToken string
		Description        string
		Tags               []tag
		VersionID          string `json:"VersionId"`
		VersionStage       string
		ForceDelete        bool `json:"ForceDeleteWithoutRecovery"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errf(400, "SerializationException", "invalid JSON: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()

	switch op {
	case "CreateSecret":
		if in.Name == "" {
			return nil, errf(400, "InvalidParameterException", "Name is required")
		}
		value, aerr := secretValue(in.SecretString, in.SecretBinary)
		if aerr != nil {
			return nil, aerr
		}
		token := tokenOrNew(in.ClientRequestToken)
		if sec := s.secrets[in.Name]; sec != nil {
			if sec.deleted != nil {
				return nil, errf(400, "InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
			}
			if v := sec.versions[token]; v != nil && v.value == value {
				return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id}, nil
			}
			return nil, errf(400, "ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
		}
		sec := s.newSecret(in.Name, in.Description, in.Tags, now)
		v := s.addVersion(sec, token, value, now)
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id}, nil

	case "PutSecretValue":
		sec, aerr := s.find(in.SecretID, false)
		if aerr != nil {
			return nil, aerr
		}
		value, aerr := secretValue(in.SecretString, in.SecretBinary)
		if aerr != nil {
			return nil, aerr
		}
		token := tokenOrNew(in.ClientRequestToken)
		if v := sec.versions[token]; v != nil {
			if v.value != value {
				return nil, errf(400, "ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
			}
		} else {
			s.addVersion(sec, token, value, now)
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": token, "VersionStages": stagesOf(sec, token)}, nil

	case "GetSecretValue":
		sec, aerr := s.find(in.SecretID, false)
		if aerr != nil {
			return nil, aerr
		}
		id := in.VersionID
		if id == "" {
			stage := in.VersionStage
			if stage == "" {
				stage = "AWSCURRENT"
			}
			id = sec.stages[stage]
		}
		v := sec.versions[id]
		if v == nil {
			return nil, errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", in.VersionID)
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "SecretString": v.value,
			"VersionStages": stagesOf(sec, v.id), "CreatedDate": epoch(v.created)}, nil

	case "DescribeSecret":
		sec, aerr := s.find(in.SecretID, true)
		if aerr != nil {
			return nil, aerr
		}
		out := map[string]any{"ARN": sec.arn, "Name": sec.name, "CreatedDate": epoch(sec.created),
			"LastChangedDate": epoch(sec.changed), "VersionIdsToStages": versionStages(sec)}
		if sec.description != "" {
			out["Description"] = sec.description
		}
		if len(sec.tags) > 0 {
			out["Tags"] = sec.tags
		}
		if sec.deleted != nil {
			out["DeletedDate"] = epoch(*sec.deleted)
		}
		return out, nil

	case "ListSecretVersionIds":
		sec, aerr := s.find(in.SecretID, true)
		if aerr != nil {
			return nil, aerr
		}
		var versions []map[string]any
		for id, v := range sec.versions {
			versions = append(versions, map[string]any{"VersionId": id, "VersionStages": stagesOf(sec, id), "CreatedDate": epoch(v.created)})
		}
		sort.Slice(versions, func(i, j int) bool { return versions[i]["VersionId"].(string) < versions[j]["VersionId"].(string) })
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "Versions": versions}, nil

	case "DeleteSecret":
		sec, aerr := s.find(in.SecretID, true)
		if aerr != nil {
			return nil, aerr
		}
		if in.ForceDelete {
			delete(s.secrets, sec.name)
		} else {
			t := now
			sec.deleted = &t
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(now.Add(30 * 24 * time.Hour))}, nil

	case "RestoreSecret":
		sec, aerr := s.find(in.SecretID, true)
		if aerr != nil {
			return nil, aerr
		}
		sec.deleted = nil
		return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
	}
	return nil, errf(400, "UnknownOperationException", "operation %s is not implemented by smfake", op)
}

// find resolves a SecretId (name or ARN). A deleted secret is an error
// unless includeDeleted.
func (s *Server) find(id string, includeDeleted bool) (*secret, *apiError) {
	if id == "" {
		return nil, errf(400, "InvalidParameterException", "SecretId is required")
	}
	sec := s.secrets[id]
	if sec == nil {
		for _, c := range s.secrets {
			if c.arn == id {
				sec = c
				break
			}
		}
	}
	if sec == nil {
		return nil, errf(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	}
	if sec.deleted != nil && !includeDeleted {
		return nil, errf(400, "InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
	}
	return sec, nil
}

func (s *Server) newSecret(name, description string, tags []tag, now time.Time) *secret {
	sec := &secret{
		name: name, description: description, tags: tags,
		arn:      fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.opts.Region, s.opts.Account, name, newID()[:6]),
		versions: map[string]*version{}, stages: map[string]string{}, created: now, changed: now,
	}
	s.secrets[name] = sec
	return sec
}

func (s *Server) addVersion(sec *secret, id, value string, now time.Time) *version {
	v := &version{id: id, value: value, created: now}
	sec.versions[id] = v
	if cur, ok := sec.stages["AWSCURRENT"]; ok {
		sec.stages["AWSPREVIOUS"] = cur
	}
	sec.stages["AWSCURRENT"] = id
	sec.changed = now
	return v
}

func secretValue(str *string, bin []byte) (string, *apiError) {
	if str == nil {
		if bin != nil {
			return "", errf(400, "InvalidParameterException", "smfake stores SecretString only")
		}
		return "", errf(400, "InvalidParameterException", "SecretString is required")
	}
	if len(*str) > 65536 {
		return "", errf(400, "InvalidParameterException", "SecretString is over 65536 bytes")
	}
	return *str, nil
}

func stagesOf(sec *secret, id string) []string {
	var out []string
	for stage, v := range sec.stages {
		if v == id {
			out = append(out, stage)
		}
	}
	sort.Strings(out)
	return out
}

func versionStages(sec *secret) map[string][]string {
	out := map[string][]string{}
	for stage, id := range sec.stages {
		out[id] = append(out[id], stage)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

func tokenOrNew(t string) string {
	if t != "" {
		return t
	}
	return newID()
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func newID() string { return uuid.NewString() }
