package provision

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
)

// Access is what an entry's role may do in its database.
type Access string

// Access levels. An owner entry's role owns the database; editor and reader
// entries name a database that an owner entry of the same run owns.
const (
	Owner  Access = "owner"
	Editor Access = "editor"
	Reader Access = "reader"
)

// Entry is one application_databases entry: a role, with its secret, and the
// database it uses.
type Entry struct {
	// Key is the map key; the secret is <prefix>/<env>/<key>/postgres.
	Key      string `json:"key"`
	Database string `json:"database"`
	Username string `json:"username"`
	// Access defaults to owner.
	Access Access `json:"access"`
	// CreateDB gives the role CREATEDB (ADR-0181: Backstage creates its
	// plugin databases itself). Read from the optional createdb attribute;
	// true when absent.
	CreateDB bool `json:"createdb"`
	// File and Line locate the entry for error messages ("" and 0 when the
	// entry did not come from a file).
	File string `json:"-"`
	Line int    `json:"-"`
}

func (e Entry) where() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: entry %q", e.File, e.Line, e.Key)
	case e.File != "":
		return fmt.Sprintf("%s: entry %q", e.File, e.Key)
	}
	return fmt.Sprintf("entry %q", e.Key)
}

// ErrInvalid marks errors in the entries or options (the caller's input).
var ErrInvalid = errors.New("invalid provisioning input")

// ReadEntries reads the map at mapPath of a tfvars file (through pkg/tfvars,
// so quoted and bare keys, comments and any layout read the same). Each
// entry needs database_name and username strings; access_level (owner,
// editor, reader) and createdb (bool) are optional. Every problem is
// reported at once.
func ReadEntries(src []byte, filename string, mapPath tfvars.Path) ([]Entry, error) {
	raw, err := tfvars.Entries(src, filename, mapPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out []Entry
	var errs []error
	for _, r := range raw {
		e := Entry{Key: r.Key, Access: Owner, CreateDB: true, File: filename, Line: r.Line}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", e.where(), fmt.Sprintf(format, args...)))
		}
		v := r.Value
		if v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
			bad("must be an object with database_name and username")
			continue
		}
		attrs := v.AsValueMap()
		str := func(name string, required bool) string {
			a, ok := attrs[name]
			if !ok || a.IsNull() {
				if required {
					bad("%s is required", name)
				}
				return ""
			}
			if a.Type() != cty.String {
				bad("%s must be a string", name)
				return ""
			}
			return a.AsString()
		}
		e.Database = str("database_name", true)
		e.Username = str("username", true)
		if lvl := str("access_level", false); lvl != "" {
			e.Access = Access(lvl)
		}
		if a, ok := attrs["createdb"]; ok && !a.IsNull() {
			if a.Type() != cty.Bool {
				bad("createdb must be true or false")
			} else {
				e.CreateDB = a.True()
			}
		}
		out = append(out, e)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return out, nil
}

var (
	// identRE is the original's rule for database and role names, kept:
	// lower-case, starting with a letter; at most 63 bytes (NAMEDATALEN-1).
	identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	// keyRE: the key is a path segment of the secret name.
	keyRE = regexp.MustCompile(`^[A-Za-z0-9_+=.@-]{1,128}$`)
	// envRE: the environment is a path segment of files and secrets.
	envRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

// reservedDatabases and reservedRoles are never provisioned.
var (
	reservedDatabases = map[string]bool{"postgres": true, "template0": true, "template1": true, "rdsadmin": true}
	reservedRoles     = map[string]bool{"postgres": true, "public": true, "rdsadmin": true, "rdsrepladmin": true, "rdstopmgr": true,
		"none": true, "current_user": true, "session_user": true, "current_role": true}
)

// ValidateEntries checks names and the relations between entries, reporting
// every problem at once: names follow ^[a-z][a-z0-9_]*$ (at most 63 bytes)
// and are not reserved; keys are unique and usable in a secret path; a
// username belongs to one entry (one role, one secret); a database has
// exactly one owner entry, and its editor and reader entries use other roles.
func ValidateEntries(entries []Entry) error {
	var errs []error
	bad := func(e Entry, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", e.where(), fmt.Sprintf(format, args...)))
	}
	keys := map[string]Entry{}
	users := map[string]Entry{}
	owners := map[string][]Entry{}
	others := map[string][]Entry{}
	for _, e := range entries {
		if !keyRE.MatchString(e.Key) {
			bad(e, "key must be 1 to 128 letters, digits or _+=.@- (it is part of the secret name)")
		} else if prev, ok := keys[e.Key]; ok {
			bad(e, "key is used twice (also %s)", prev.where())
		}
		keys[e.Key] = e
		if !identRE.MatchString(e.Database) {
			bad(e, "database_name %q must match ^[a-z][a-z0-9_]*$ and be at most 63 characters", e.Database)
		} else if reservedDatabases[e.Database] {
			bad(e, "database_name %q is reserved", e.Database)
		}
		switch {
		case !identRE.MatchString(e.Username):
			bad(e, "username %q must match ^[a-z][a-z0-9_]*$ and be at most 63 characters", e.Username)
		case reservedRoles[e.Username] || strings.HasPrefix(e.Username, "pg_") || strings.HasPrefix(e.Username, "rds_"):
			bad(e, "username %q is reserved (postgres, public, rdsadmin, pg_*, rds_*)", e.Username)
		default:
			if prev, ok := users[e.Username]; ok {
				bad(e, "username %q is also used by %s; each role has one entry and one secret", e.Username, prev.where())
			}
			users[e.Username] = e
		}
		switch e.Access {
		case Owner:
			owners[e.Database] = append(owners[e.Database], e)
		case Editor, Reader:
			others[e.Database] = append(others[e.Database], e)
		default:
			bad(e, "access_level %q must be owner, editor or reader", e.Access)
		}
	}
	for db, os := range owners {
		if len(os) > 1 {
			bad(os[1], "database %q already has an owner entry (%s); a database has one owner", db, os[0].where())
		}
	}
	for db, es := range others {
		if len(owners[db]) == 0 {
			bad(es[0], "database %q has %s entries but no owner entry; add the entry of the role that owns it", db, es[0].Access)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// CheckEnvironment validates an environment name (a path segment).
func CheckEnvironment(env string) error {
	if !envRE.MatchString(env) {
		return fmt.Errorf("%w: environment %q must match ^[a-z][a-z0-9-]*$", ErrInvalid, env)
	}
	return nil
}

// SecretPath is the app secret of an entry: <prefix>/<env>/<key>/postgres.
func SecretPath(prefix, env, key string) string {
	return prefix + "/" + env + "/" + key + "/postgres"
}

// MasterSecretPath is the master secret: <prefix>/<env>/rds/master.
func MasterSecretPath(prefix, env string) string { return prefix + "/" + env + "/rds/master" }

// Mode says which tfvars file holds the entries.
type Mode string

// Modes.
const (
	ModeAuto       Mode = "auto"       // coupled when rds_config.enabled = true, else standalone
	ModeCoupled    Mode = "coupled"    // envs/<env>/terraform.tfvars, rds_config.application_databases
	ModeStandalone Mode = "standalone" // envs/<env>-rds/terraform.tfvars, application_databases
)

// Source is where the entries of an environment are read from.
type Source struct {
	Mode    Mode
	Path    string // slash path inside the repository
	MapPath tfvars.Path
}

// ResolveSource picks the tfvars file of env in a repository, following the
// configured paths. Auto is coupled when rds_config.enabled is true in the
// coupled tfvars, else standalone when that file exists. Coupled mode is
// refused when it is off, or when cluster_lifecycle is ephemeral (the
// coupled root refuses RDS for ephemeral clusters).
func ResolveSource(repo fs.FS, cfg *config.Config, env string, mode Mode) (Source, error) {
	if err := CheckEnvironment(env); err != nil {
		return Source{}, err
	}
	coupled := Source{Mode: ModeCoupled, Path: config.Expand(cfg.Paths.CoupledTfvars, env),
		MapPath: tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledMap}}
	standalone := Source{Mode: ModeStandalone, Path: config.Expand(cfg.Paths.StandaloneTfvars, env),
		MapPath: tfvars.Path{cfg.Paths.MapAttribute}}

	coupledOn := func() (bool, error) {
		src, err := fs.ReadFile(repo, coupled.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		v, found, err := tfvars.Lookup(src, coupled.Path, tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled})
		if err != nil || !found {
			return false, err
		}
		if v.Type() != cty.Bool || v.IsNull() {
			return false, fmt.Errorf("%s: %s.%s must be true or false", coupled.Path, cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled)
		}
		if !v.True() {
			return false, nil
		}
		lc, found, err := tfvars.Lookup(src, coupled.Path, tfvars.Path{cfg.Paths.Lifecycle})
		if err == nil && found && lc.Type() == cty.String && !lc.IsNull() && lc.AsString() == "ephemeral" {
			return false, fmt.Errorf("%s: %s is ephemeral, and the coupled root refuses RDS for ephemeral clusters", coupled.Path, cfg.Paths.Lifecycle)
		}
		return true, err
	}
	exists := func(p string) bool { _, err := fs.Stat(repo, p); return err == nil }

	switch mode {
	case ModeCoupled:
		on, err := coupledOn()
		if err != nil {
			return Source{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if !on {
			return Source{}, fmt.Errorf("%w: coupled mode asked for, but %s.%s is not true in %s", ErrInvalid, cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled, coupled.Path)
		}
		return coupled, nil
	case ModeStandalone:
		if !exists(standalone.Path) {
			return Source{}, fmt.Errorf("%w: standalone tfvars %s not found", ErrInvalid, standalone.Path)
		}
		return standalone, nil
	case ModeAuto, "":
		on, err := coupledOn()
		if err != nil {
			return Source{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if on {
			return coupled, nil
		}
		if exists(standalone.Path) {
			return standalone, nil
		}
		return Source{}, fmt.Errorf("%w: unable to detect the RDS mode of %s: %s.%s is not true in %s and %s does not exist; pass --mode coupled|standalone",
			ErrInvalid, env, cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled, coupled.Path, standalone.Path)
	}
	return Source{}, fmt.Errorf("%w: mode %q must be auto, coupled or standalone", ErrInvalid, mode)
}

// LoadEntries reads and validates the entries of a source.
func LoadEntries(repo fs.FS, src Source) ([]Entry, error) {
	b, err := fs.ReadFile(repo, src.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	entries, err := ReadEntries(b, src.Path, src.MapPath)
	if err != nil {
		return nil, err
	}
	return entries, ValidateEntries(entries)
}
