package config

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// ContractMode reports whether requests are written as contract files.
func (c *Config) ContractMode() bool { return c.RequestMode == ModeContract }

func fill(tmpl, env, database, id string) string {
	return strings.NewReplacer("{env}", env, "{database}", database, "{id}", id).Replace(tmpl)
}

// ContractPath is the request contract of a request.
func (c *Config) ContractPath(env, id string) string { return fill(c.Contract.Path, env, "", id) }

// GeneratedTfvarsPath is the rds_databases JSON generated from a contract.
func (c *Config) GeneratedTfvarsPath(env, id string) string {
	return fill(c.Contract.GeneratedTfvars, env, "", id)
}

// ExternalSecretPath is the ExternalSecret manifest generated from a contract.
func (c *Config) ExternalSecretPath(env, database, id string) string {
	return fill(c.Contract.ExternalSecret, env, database, id)
}

// FilePattern is a directory and a file name around {id}: the files of one
// environment a template can produce.
type FilePattern struct {
	Dir, Prefix, Suffix string
}

// Match returns the id in a file name of the pattern's directory.
func (p FilePattern) Match(name string) (string, bool) {
	if len(name) <= len(p.Prefix)+len(p.Suffix) || !strings.HasPrefix(name, p.Prefix) || !strings.HasSuffix(name, p.Suffix) {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(name, p.Prefix), p.Suffix), true
}

func pattern(tmpl, env string) FilePattern {
	p := fill(tmpl, env, "{database}", "{id}")
	dir, file := path.Split(p)
	prefix, suffix, _ := strings.Cut(file, "{id}")
	return FilePattern{Dir: strings.TrimSuffix(dir, "/"), Prefix: prefix, Suffix: suffix}
}

// ContractFiles is where the contracts of env live.
func (c *Config) ContractFiles(env string) FilePattern { return pattern(c.Contract.Path, env) }

// GeneratedTfvarsFiles is where the generated JSON of env lives.
func (c *Config) GeneratedTfvarsFiles(env string) FilePattern {
	return pattern(c.Contract.GeneratedTfvars, env)
}

func (c *Config) checkContract() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", FileName, field, fmt.Sprintf(format, args...)))
	}
	switch c.RequestMode {
	case ModeDirect, ModeContract:
	default:
		bad("request_mode", "must be %s or %s, got %q", ModeDirect, ModeContract, c.RequestMode)
	}
	for _, t := range []struct {
		field, tmpl string
		allowed     []string
		needEnv     bool
	}{
		{"contract.path", c.Contract.Path, []string{"{env}", "{id}"}, false},
		{"contract.generated_tfvars", c.Contract.GeneratedTfvars, []string{"{env}", "{id}"}, true},
		{"contract.external_secret", c.Contract.ExternalSecret, []string{"{env}", "{database}", "{id}"}, false},
	} {
		for _, v := range placeholder.FindAllString(t.tmpl, -1) {
			if !contains(t.allowed, v) {
				bad(t.field, "unknown placeholder %s (use %s)", v, strings.Join(t.allowed, ", "))
			}
		}
		dir, file := path.Split(t.tmpl)
		switch {
		case strings.Count(file, "{id}") != 1:
			bad(t.field, "the file name must hold {id} once, so each request has its own file; got %q", t.tmpl)
		case strings.Contains(dir, "{id}"):
			bad(t.field, "{id} may appear only in the file name; got %q", t.tmpl)
		}
		if t.needEnv && !strings.Contains(t.tmpl, "{env}") {
			bad(t.field, "must contain {env}: the file belongs to one environment's Terraform root; got %q", t.tmpl)
		}
		if t.field == "contract.path" && strings.Contains(file, "{env}") {
			bad(t.field, "{env} may appear only in the directory; got %q", t.tmpl)
		}
	}
	if c.Contract.SecretStore == "" || c.Contract.SecretStoreKind == "" || c.Contract.RefreshInterval == "" {
		bad("contract", "secret_store, secret_store_kind and refresh_interval must not be empty")
	}
	if c.Reserved.MasterUsername == "" || c.Reserved.AdminDatabase == "" {
		bad("reserved", "master_username and admin_database must name the root's attributes (master_username, database_name)")
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
