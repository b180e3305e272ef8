package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
)

// MaxValueSize is the largest secret value a store accepts (Secrets Manager's
// own limit).
const MaxValueSize = 65536

// Store holds named, versioned secrets.
type Store interface {
	// Describe returns the secret's metadata and current version id, without
	// reading its value.
	Describe(ctx context.Context, name string) (*Metadata, error)
	// Get returns the current version's value.
	Get(ctx context.Context, name string) (*Secret, error)
	// Create adds a new secret; ErrExists if the name is taken.
	Create(ctx context.Context, name, value string, opts CreateOptions) (*Metadata, error)
	// Put stores value as the new current version of an existing secret.
	Put(ctx context.Context, name, value string) (*Metadata, error)
}

// Secret is one version of a secret with its value.
type Secret struct {
	Name      string
	VersionID string
	Value     string
}

// String never shows the value.
func (s Secret) String() string {
	return fmt.Sprintf("secret %s (version %s)", s.Name, s.VersionID)
}

// Metadata describes a secret without its value.
type Metadata struct {
	Name      string
	ARN       string // empty for stores that have none
	VersionID string // the current version
}

// CreateOptions are optional attributes of a new secret.
type CreateOptions struct {
	Description string
	Tags        map[string]string
}

var (
	// ErrNotFound: no secret of that name (see NotFoundError).
	ErrNotFound = errors.New("secret not found")
	// ErrExists: Create on a name that is taken.
	ErrExists = errors.New("secret already exists")
	// ErrDeleted: the secret is scheduled for deletion and must be restored.
	ErrDeleted = errors.New("secret is scheduled for deletion")
	// ErrAccessDenied: the caller may not read or write the secret.
	ErrAccessDenied = errors.New("access denied to secret")
	// ErrInvalidName: the name is not a valid secret name.
	ErrInvalidName = errors.New("invalid secret name")
)

// NotFoundError names the missing secret.
type NotFoundError struct {
	Name  string
	cause error // the store's own error, if any
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("secret %s not found", e.Name) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Unwrap returns the store's own error (the SDK's, for AWS).
func (e *NotFoundError) Unwrap() error { return e.cause }

// nameRE is Secrets Manager's alphabet for names: letters, digits and
// /_+=.@- ; at most 512 characters.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

// CheckName validates a secret name; the file store further refuses empty,
// "." and ".." path segments.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1 to 512 letters, digits and /_+=.@-", ErrInvalidName, name)
	}
	return nil
}

// Credentials is the JSON a database secret holds. RDS's own managed master
// secret has only username and password; Terraform's have all fields. Port is
// read from a JSON number or string.
type Credentials struct {
	Username string
	Password string
	Host     string
	Port     int
	DBName   string
	Engine   string
}

type credentialsJSON struct {
	Username string          `json:"username"`
	Password string          `json:"password"`
	Host     string          `json:"host,omitempty"`
	Port     json.RawMessage `json:"port,omitempty"`
	DBName   string          `json:"dbname,omitempty"`
	Engine   string          `json:"engine,omitempty"`
}

// ParseCredentials reads a database secret's JSON. Only a syntax error or a
// port that is not a number is an error here; callers check the fields they
// need with Missing.
func ParseCredentials(value string) (Credentials, error) {
	var j credentialsJSON
	if err := json.Unmarshal([]byte(value), &j); err != nil {
		// Never include the value: it holds a password.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Credentials{}, fmt.Errorf("secret value is not valid JSON (at byte %d)", se.Offset)
		}
		return Credentials{}, errors.New("secret value is not a JSON object of strings")
	}
	c := Credentials{Username: j.Username, Password: j.Password, Host: j.Host, DBName: j.DBName, Engine: j.Engine}
	if len(j.Port) > 0 && string(j.Port) != "null" {
		s := strings.Trim(string(j.Port), `"`)
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 65535 {
			return Credentials{}, fmt.Errorf("secret field port must be a port number, got %s", j.Port)
		}
		c.Port = p
	}
	return c, nil
}

// JSON encodes the credentials as Terraform writes them (port as a string).
func (c Credentials) JSON() string {
	j := credentialsJSON{Username: c.Username, Password: c.Password, Host: c.Host, DBName: c.DBName, Engine: c.Engine}
	if c.Port != 0 {
		j.Port = json.RawMessage(strconv.Quote(strconv.Itoa(c.Port)))
	}
	b, _ := json.Marshal(j)
	return string(b)
}

// Missing lists the named fields that are empty, in the order given; field
// names are the JSON ones (username, password, host, port, dbname, engine).
func (c Credentials) Missing(fields ...string) []string {
	var out []string
	for _, f := range fields {
		empty := false
		switch f {
		case "username":
			empty = c.Username == ""
		case "password":
			empty = c.Password == ""
		case "host":
			empty = c.Host == ""
		case "port":
			empty = c.Port == 0
		case "dbname":
			empty = c.DBName == ""
		case "engine":
			empty = c.Engine == ""
		}
		if empty {
			out = append(out, f)
		}
	}
	return out
}

// String redacts the password.
func (c Credentials) String() string {
	return fmt.Sprintf("{username:%s password:<redacted> host:%s port:%d dbname:%s}", c.Username, c.Host, c.Port, c.DBName)
}

// GoString redacts the password (%#v).
func (c Credentials) GoString() string { return "secrets.Credentials" + c.String() }

// Format redacts the password for every verb.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(c.GoString()))
		return
	}
	_, _ = f.Write([]byte(c.String()))
}

// LogValue redacts the password in slog output.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.Username), slog.String("host", c.Host),
		slog.Int("port", c.Port), slog.String("dbname", c.DBName))
}
