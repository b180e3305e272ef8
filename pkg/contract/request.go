package contract

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/schema"
)

// Request is a validated RDS_REQUEST_V1 request with its derived values.
type Request struct {
	ID                  string // RDS-0042; "" until rdsbot assigns it
	Service             string
	Environment         string
	DatabaseName        string
	Username            string
	Owner               string
	Domain              string
	Risk                string
	Size                string
	InitialSchema       string
	BaseBranch          string // "" means the configured base branch
	Requester           string // who asked (the issue author, the dispatch `user` input)
	StorageGB           int
	MaxStorageGB        int
	BackupRetentionDays int
	MultiAZ             bool
	PerformanceInsights bool

	// Derived.
	InstanceClass  string // from size_mapping
	MaxConnections int
	Approval       schema.Approval

	Source      Source
	Title       string
	Description string

	// Values holds every field by its schema name, including any the schema
	// adds beyond the ones above.
	Values map[string]schema.Value
	types  map[string]string
}

func build(set *schema.Set, raw Raw, vals map[string]schema.Value) *Request {
	s := set.Request
	str := func(n string) string { return vals[n].Str }
	r := &Request{
		ID: str("id"), Service: str("service"), Environment: str("environment"),
		DatabaseName: str("databaseName"), Username: str("username"), Owner: str("owner"),
		Domain: str("domain"), Risk: str("risk"), Size: str("size"),
		InitialSchema: str("initialSchema"), BaseBranch: str("baseBranch"), Requester: str("requester"),
		StorageGB: vals["storageGb"].Int, MaxStorageGB: vals["maxStorageGb"].Int,
		BackupRetentionDays: vals["backupRetentionDays"].Int,
		MultiAZ:             vals["multiAz"].Bool, PerformanceInsights: vals["performanceInsights"].Bool,
		Source: raw.Source, Title: raw.Title, Description: raw.Description,
		Values: vals, types: map[string]string{},
	}
	for name, f := range s.Fields {
		r.types[name] = f.Type
	}
	if sc, ok := s.Size(r.Size); ok {
		r.InstanceClass, r.MaxConnections = sc.InstanceClass, sc.MaxConnections
	}
	r.Approval = set.Approvals(r.Fields())
	return r
}

// Fields returns every field as text, keyed by schema name (for routing
// rules and display).
func (r *Request) Fields() map[string]string {
	out := make(map[string]string, len(r.Values))
	for name, v := range r.Values {
		out[name] = v.Text(r.types[name])
	}
	return out
}

// CatalogID is the catalog's metadata.id: DATABASE_<NAME>, kept from the
// original workflow for compatibility.
func (r *Request) CatalogID() string { return CatalogID(r.DatabaseName) }

// CatalogID returns DATABASE_<NAME> for a database name.
func CatalogID(db string) string {
	return "DATABASE_" + strings.ToUpper(strings.ReplaceAll(db, "-", "_"))
}

// DefaultSecretPrefix is the first segment of secret paths.
const DefaultSecretPrefix = "goldenpath"

// SecretPath is where the database's credentials live in the secret store:
// <prefix>/<env>/<key>/postgres, the path Terraform creates for the
// application_databases key (the database name).
func (r *Request) SecretPath(prefix string) string {
	return SecretPath(prefix, r.Environment, r.DatabaseName)
}

// SecretPath builds <prefix>/<env>/<key>/postgres.
func SecretPath(prefix, env, key string) string {
	if prefix == "" {
		prefix = DefaultSecretPrefix
	}
	return strings.TrimSuffix(prefix, "/") + "/" + env + "/" + key + "/postgres"
}

var idPattern = regexp.MustCompile(`^RDS-([0-9]{4,})$`)

// RequestID is the id of the request tracked by an issue: RDS-<number>,
// padded to four digits.
func RequestID(issueNumber int) string { return fmt.Sprintf("RDS-%04d", issueNumber) }

// IssueNumber is the inverse of RequestID.
func IssueNumber(id string) (int, bool) {
	m := idPattern.FindStringSubmatch(id)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil && n > 0
}

// WithID returns a copy of r carrying id (assigned once the request issue exists).
func (r *Request) WithID(id string) *Request {
	c := *r
	c.ID = id
	c.Values = make(map[string]schema.Value, len(r.Values))
	for k, v := range r.Values {
		c.Values[k] = v
	}
	c.Values["id"] = schema.Value{Str: id}
	return &c
}
