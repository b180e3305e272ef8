package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ident quotes an SQL identifier. Names are validated before they get here;
// quoting is the second line of defence.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// literal quotes an SQL string literal. E” escapes backslashes too, so the
// result means the same whatever standard_conforming_strings says.
func literal(s string) string {
	if strings.ContainsRune(s, '\\') {
		return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Comments mark what rdsbot manages. A role's comment also records the
// secret and the version of it whose password the role has, so a rerun knows
// without reading the secret's value whether the password must be set; a
// database's records the grants applied inside it.
const (
	roleMarkPrefix = "rdsbot: managed role"
	dbMarkPrefix   = "rdsbot: managed database"
)

// Role states recorded in the mark.
const (
	stateActive         = "active"
	stateDecommissioned = "decommissioned"
)

type roleMark struct {
	Secret  string // secret path
	Version string // secret version whose password is set
	State   string // active or decommissioned
}

// safeVersion keeps a version id in the comment's alphabet; an id with other
// characters (no store makes one) is recorded by digest.
var safeVersion = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func markVersion(v string) string {
	if safeVersion.MatchString(v) {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:12])
}

func (m roleMark) String() string {
	return fmt.Sprintf("%s; secret=%s; version=%s; state=%s", roleMarkPrefix, m.Secret, markVersion(m.Version), m.State)
}

// parseRoleMark reads a role comment; ok is false when the role is not
// marked as managed by rdsbot.
func parseRoleMark(comment string) (m roleMark, ok bool) {
	fields, ok := parseMark(comment, roleMarkPrefix)
	if !ok {
		return roleMark{}, false
	}
	return roleMark{Secret: fields["secret"], Version: fields["version"], State: fields["state"]}, true
}

type dbMark struct {
	Owner  string
	Grants string // fingerprint of the grants applied (grantsFingerprint)
}

func (m dbMark) String() string {
	return fmt.Sprintf("%s; owner=%s; grants=%s", dbMarkPrefix, m.Owner, m.Grants)
}

func parseDBMark(comment string) (dbMark, bool) {
	fields, ok := parseMark(comment, dbMarkPrefix)
	if !ok {
		return dbMark{}, false
	}
	return dbMark{Owner: fields["owner"], Grants: fields["grants"]}, true
}

func parseMark(comment, prefix string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(comment, prefix)
	if !ok {
		return nil, false
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			fields[k] = v
		}
	}
	return fields, true
}

// grantSpec is what one role gets in a database.
type grantSpec struct {
	Role   string
	Access Access
}

// grantsFingerprint identifies the grants of a database: its owner, every
// role with its access level, the admin that holds the default privileges,
// and the scheme version of this code. A database whose mark carries the
// fingerprint needs no connection on a rerun.
func grantsFingerprint(admin, owner string, roles []grantSpec, serverMajor int) string {
	parts := make([]string, 0, len(roles))
	for _, r := range roles {
		parts = append(parts, r.Role+":"+string(r.Access))
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(fmt.Sprintf("v1|%d|%s|%s|%s", serverMajor, admin, owner, strings.Join(parts, ","))))
	return hex.EncodeToString(sum[:8])
}

// lockKey is the advisory lock key of a role or database. Keys live in the
// database the lock is taken in: role and database keys on the admin
// connection, the in-database key on the target database's connection.
func lockKey(kind, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rdsbot\x00" + kind + "\x00" + name))
	return int64(h.Sum64())
}

// lockKeys returns the keys sorted: every transaction takes its locks in
// this one order, so two runs never wait on each other in a cycle.
func lockKeys(keys ...int64) []int64 {
	out := slices.Clone(keys)
	slices.Sort(out)
	return slices.Compact(out)
}

// stmt is one statement to run. SQL is sent; Shown is what reports and logs
// show (the verifier replaced).
type stmt struct {
	SQL   string
	Shown string
	// DDL is false for the statements that only read or lock.
	DDL bool
}

func ddl(sql string) stmt { return stmt{SQL: sql, Shown: sql, DDL: true} }

// redacted is how a password appears in shown statements.
const redacted = "'<redacted>'"

// privilege lists by access level, as GRANT writes them and as aclexplode
// and has_*_privilege name them.
var (
	tablePrivs = map[Access][]string{
		Owner:  {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"},
		Editor: {"SELECT", "INSERT", "UPDATE", "DELETE"},
		Reader: {"SELECT"},
	}
	sequencePrivs = map[Access][]string{
		Owner:  {"USAGE", "SELECT", "UPDATE"},
		Editor: {"USAGE", "SELECT"},
		Reader: {"SELECT"},
	}
	schemaPrivs = map[Access][]string{
		Owner:  {"USAGE", "CREATE"},
		Editor: {"USAGE"},
		Reader: {"USAGE"},
	}
)

// tablePrivsFor adds MAINTAIN (PostgreSQL 17+) to the owner's table
// privileges, so that "all privileges" means the same as the server's ALL.
func tablePrivsFor(a Access, serverVersion int) []string {
	p := tablePrivs[a]
	if a == Owner && serverVersion >= 170000 {
		p = append(slices.Clone(p), "MAINTAIN")
	}
	return p
}
