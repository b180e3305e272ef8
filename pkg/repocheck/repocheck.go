// Package repocheck checks that a managed repository is consistent as a
// whole: every file parses and type-checks, every catalog entry has its
// tfvars entry (or, in the contract mode, its request contract) and the
// reverse, coupled and standalone maps agree in keys and values when coupled
// mode is on, a contract's generated files are exactly what rdsbot renders
// from it, values respect the enums, no database or role takes a reserved
// name, every intake surface can satisfy every rule of the schema, and no
// change lowers deletion protection. It reports every problem with its file
// and line; it never stops at the first.
package repocheck

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/schema"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
	"github.com/zclconf/go-cty/cty"
)

// Finding is one problem: where, and what.
type Finding struct {
	File    string
	Line    int // 0 when the whole file is meant
	Message string
}

func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Message)
	}
	return fmt.Sprintf("%s: %s", f.File, f.Message)
}

type checker struct {
	repo     fs.FS
	cfg      *config.Config
	set      *schema.Set
	planner  *gitops.Planner
	findings []Finding
}

func (c *checker) add(file string, line int, format string, args ...any) {
	c.findings = append(c.findings, Finding{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) read(p string) ([]byte, bool) {
	b, err := fs.ReadFile(c.repo, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		c.add(p, 0, "cannot read: %v", err)
		return nil, false
	}
	return b, true
}

// Check runs every check over a repository with its configuration and
// schemas, and returns the findings sorted by file and line.
func Check(repo fs.FS, cfg *config.Config, set *schema.Set) []Finding {
	c := &checker{repo: repo, cfg: cfg, set: set, planner: &gitops.Planner{Config: cfg, Schema: set}}
	for _, env := range c.environments() {
		c.checkEnvironment(env)
	}
	c.checkGuards()
	for _, err := range set.Request.CheckSurfaces() {
		c.addError(err)
	}
	sort.SliceStable(c.findings, func(i, j int) bool {
		a, b := c.findings[i], c.findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return c.findings
}

// environments are the request environments of the schema plus any
// environment that has a standalone root on disk.
func (c *checker) environments() []string {
	envs := slices.Clone(c.set.Request.Fields["environment"].Enum)
	pattern := c.cfg.Paths.StandaloneTfvars
	dir := path.Dir(pattern)
	if strings.Count(dir, "{env}") == 1 && !strings.Contains(path.Dir(dir), "{env}") {
		prefix, suffix, _ := strings.Cut(path.Base(dir), "{env}")
		entries, _ := fs.ReadDir(c.repo, path.Dir(dir))
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() && strings.HasPrefix(name, prefix) && strings.HasSuffix(name, suffix) && len(name) > len(prefix)+len(suffix) {
				env := strings.TrimSuffix(strings.TrimPrefix(name, prefix), suffix)
				if !slices.Contains(envs, env) {
					envs = append(envs, env)
				}
			}
		}
	}
	return envs
}

type entry struct {
	line  int
	value cty.Value
}

func (c *checker) checkEnvironment(env string) {
	cfg := c.cfg
	envField := c.set.Request.Fields["environment"]
	standalonePath := config.Expand(cfg.Paths.StandaloneTfvars, env)
	standalone, hasRoot := c.read(standalonePath)
	if hasRoot && !slices.Contains(envField.Enum, env) {
		c.add(standalonePath, 0, "environment %q has a standalone root but is not a request environment (%s)", env, strings.Join(envField.Enum, ", "))
	}
	var sEntries map[string]entry
	if hasRoot {
		c.typeCheck(config.Expand(cfg.Paths.StandaloneVariables, env), standalonePath, standalone)
		sEntries = c.entries(env, standalonePath, standalone, tfvars.Path{cfg.Paths.MapAttribute})
		c.checkNoLoweredProtection(standalonePath, standalone)
	}
	c.checkCoupled(env, sEntries)
	contracts := c.checkContracts(env, hasRoot, standalonePath, sEntries)
	c.checkCatalog(env, hasRoot, standalonePath, sEntries, contracts)
}

func (c *checker) typeCheck(variablesPath, tfvarsPath string, src []byte) {
	vars, ok := c.read(variablesPath)
	if !ok {
		c.add(tfvarsPath, 0, "no %s to type-check against", variablesPath)
		return
	}
	v, err := tfvars.ParseVariables(tfvars.SourceFile{Name: variablesPath, Src: vars})
	if err != nil {
		c.add(variablesPath, 0, "%v", err)
		return
	}
	for _, p := range v.Check(src, tfvarsPath).Errors() {
		msg := p.Message
		if p.Path != "" {
			msg = p.Path + ": " + msg
		}
		c.add(p.File, p.Line, "%s", msg)
	}
}

// entries reads a map and checks each entry's names against the schema and
// the reserved names of env.
func (c *checker) entries(env, file string, src []byte, m tfvars.Path) map[string]entry {
	list, err := tfvars.Entries(src, file, m)
	if err != nil {
		c.add(file, 0, "%v", err)
		return nil
	}
	out := map[string]entry{}
	fields := c.set.Request.Fields
	for _, e := range list {
		out[e.Key] = entry{line: e.Line, value: e.Value}
		for _, attr := range []string{"database_name", "username"} {
			field := map[string]string{"database_name": "databaseName", "username": "username"}[attr]
			if e.Value.Type().IsObjectType() && e.Value.Type().HasAttribute(attr) && e.Value.GetAttr(attr).Type() != cty.String {
				c.add(file, e.Line, "%s[%q].%s must be a quoted string", strings.Join(m, "."), e.Key, attr)
				continue
			}
			s, ok := stringAttr(e.Value, attr)
			if !ok {
				continue
			}
			if f := fields[field]; f != nil {
				if msg := f.Check(schema.Value{Str: s}); msg != "" {
					c.add(file, e.Line, "%s[%q].%s %q %s", strings.Join(m, "."), e.Key, attr, s, msg)
				}
				if why, reserved := c.set.Reserved.Check(f.Reserved, env, s); f.Reserved != "" && reserved {
					c.add(file, e.Line, "%s[%q].%s %q is reserved: %s", strings.Join(m, "."), e.Key, attr, s, why)
				}
			}
		}
	}
	return out
}

func stringAttr(v cty.Value, attr string) (string, bool) {
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(attr) {
		return "", false
	}
	a := v.GetAttr(attr)
	if a.Type() != cty.String || a.IsNull() || !a.IsKnown() {
		return "", false
	}
	return a.AsString(), true
}

func (c *checker) checkCoupled(env string, standalone map[string]entry) {
	cfg := c.cfg
	p := config.Expand(cfg.Paths.CoupledTfvars, env)
	src, ok := c.read(p)
	if !ok {
		return
	}
	c.typeCheck(config.Expand(cfg.Paths.CoupledVariables, env), p, src)
	enabled, found, err := tfvars.Lookup(src, p, tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled})
	if err != nil {
		c.add(p, 0, "%v", err)
		return
	}
	if !found || enabled.Type() != cty.Bool || enabled.IsNull() || !enabled.True() {
		return
	}
	if lc, found, _ := tfvars.Lookup(src, p, tfvars.Path{cfg.Paths.Lifecycle}); found && lc.Type() == cty.String && !lc.IsNull() && lc.AsString() == "ephemeral" {
		c.add(p, 0, "coupled RDS is enabled on an ephemeral cluster (%s = \"ephemeral\"); Terraform refuses this", cfg.Paths.Lifecycle)
	}
	m := tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledMap}
	coupled := c.entries(env, p, src, m)
	if coupled == nil {
		coupled = map[string]entry{}
	}
	sp := config.Expand(cfg.Paths.StandaloneTfvars, env)
	for _, k := range sortedKeys(standalone) {
		ce, ok := coupled[k]
		if !ok {
			c.add(p, 0, "coupled mode is enabled but %s has no entry %q (it is in %s:%d)", strings.Join(m, "."), k, sp, standalone[k].line)
			continue
		}
		if !ce.value.RawEquals(standalone[k].value) {
			c.add(p, ce.line, "%s[%q] differs from %s:%d: %s vs %s", strings.Join(m, "."), k, sp, standalone[k].line, show(ce.value), show(standalone[k].value))
		}
	}
	for _, k := range sortedKeys(coupled) {
		if _, ok := standalone[k]; !ok {
			c.add(p, coupled[k].line, "%s[%q] has no entry in %s", strings.Join(m, "."), k, sp)
		}
	}
}

func show(v cty.Value) string {
	if !v.Type().IsObjectType() {
		return v.GoString()
	}
	var parts []string
	for _, name := range sortedKeys(v.Type().AttributeTypes()) {
		if s, ok := stringAttr(v, name); ok {
			parts = append(parts, fmt.Sprintf("%s=%q", name, s))
		} else {
			parts = append(parts, name+"=…")
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// liveStatuses are the catalog statuses whose database must be in tfvars.
var liveStatuses = []catalog.Status{catalog.StatusPending, catalog.StatusApproved, catalog.StatusProvisioning, catalog.StatusActive, catalog.StatusFailed}

func (c *checker) checkCatalog(env string, hasRoot bool, standalonePath string, standalone map[string]entry, contracts map[string]gitops.ContractRecord) {
	cfg := c.cfg
	p := cfg.CatalogPath(env)
	src, ok := c.read(p)
	if !ok {
		if len(standalone) > 0 {
			c.add(p, 0, "missing, but %s has %d application databases", standalonePath, len(standalone))
		}
		for _, name := range sortedKeys(contracts) {
			c.add(contracts[name].Path, 0, "has no catalog entry: %s is missing", p)
		}
		return
	}
	layout, err := catalog.ParseLayout(cfg.Catalog.Layout)
	if err != nil {
		c.add(config.FileName, 0, "%v", err)
		return
	}
	f, err := catalog.Parse(src, catalog.Options{Layout: layout, Environment: env, Filename: p})
	if err != nil {
		c.add(p, 0, "%v", err)
		return
	}
	if err := f.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			c.add(p, 0, "%s", strings.TrimPrefix(line, p+": "))
		}
	}
	seen := map[string]bool{}
	for _, e := range f.Entries() {
		if layout == catalog.LayoutSingleFile && e.Metadata.Environment != env {
			continue
		}
		seen[e.Name] = true
		c.checkEntryEnums(p, e)
		line := e.Line
		live := slices.Contains(liveStatuses, e.Metadata.Status)
		te, inTF := standalone[e.Name]
		ct, inContract := contracts[e.Name]
		switch {
		case live && !hasRoot:
			c.add(p, line, "databases.%s is %s but environment %s has no %s", e.Name, e.Metadata.Status, env, standalonePath)
		case live && !inTF && !inContract && cfg.ContractMode():
			c.add(p, line, "databases.%s is %s but has no request contract in %s and no entry %q in %s", e.Name, e.Metadata.Status, cfg.ContractFiles(env).Dir, e.Name, standalonePath)
		case live && !inTF && !inContract:
			c.add(p, line, "databases.%s is %s but %s has no entry %q", e.Name, e.Metadata.Status, standalonePath, e.Name)
		case !live && inTF:
			c.add(standalonePath, te.line, "entry %q is still in %s but its catalog status is %s", e.Name, cfg.Paths.MapAttribute, e.Metadata.Status)
		}
		if inContract {
			switch {
			case ct.Status != string(e.Metadata.Status):
				c.add(ct.Path, 0, "status is %q but the catalog entry %s:%d is %q; they must agree (rdsbot writes both)", ct.Status, p, line, e.Metadata.Status)
			case e.Metadata.RequestID != "" && e.Metadata.RequestID != ct.ID:
				c.add(p, line, "databases.%s.metadata.request_id is %s but its contract is %s (%s)", e.Name, e.Metadata.RequestID, ct.ID, ct.Path)
			}
		}
		if inTF {
			if u, ok := stringAttr(te.value, "username"); ok && e.Configuration.Username != "" && u != e.Configuration.Username {
				c.add(p, line, "databases.%s.configuration.username is %q but %s:%d has %q", e.Name, e.Configuration.Username, standalonePath, te.line, u)
			}
		}
		if want := secretPath(cfg, env, e.Name); e.Configuration.SecretPath != "" && e.Configuration.SecretPath != want {
			c.add(p, line, "databases.%s.configuration.secret_path is %q; Terraform creates %q", e.Name, e.Configuration.SecretPath, want)
		}
	}
	for _, k := range sortedKeys(standalone) {
		if !seen[k] {
			c.add(standalonePath, standalone[k].line, "entry %q has no catalog entry in %s", k, p)
		}
	}
	for _, k := range sortedKeys(contracts) {
		if !seen[k] {
			c.add(contracts[k].Path, 0, "database %q has no catalog entry in %s", k, p)
		}
	}
}

func secretPath(cfg *config.Config, env, key string) string {
	return strings.TrimSuffix(cfg.Secrets.Prefix, "/") + "/" + env + "/" + key + "/postgres"
}

func (c *checker) checkEntryEnums(file string, e catalog.Entry) {
	fields := c.set.Request.Fields
	for _, chk := range []struct{ where, field, v string }{
		{"metadata.owner", "owner", e.Metadata.Owner},
		{"metadata.domain", "domain", e.Metadata.Domain},
		{"metadata.risk", "risk", e.Metadata.Risk},
		{"metadata.environment", "environment", e.Metadata.Environment},
		{"configuration.size_tier", "size", e.Configuration.SizeTier},
		{"configuration.username", "username", e.Configuration.Username},
	} {
		f := fields[chk.field]
		if f == nil || chk.v == "" {
			continue
		}
		if msg := f.Check(schema.Value{Str: chk.v}); msg != "" {
			c.add(file, e.Line, "databases.%s.%s %q %s", e.Name, chk.where, chk.v, msg)
		}
	}
	if sc, ok := c.set.Request.Size(e.Configuration.SizeTier); ok && e.Configuration.InstanceClass != "" && e.Configuration.InstanceClass != sc.InstanceClass {
		c.add(file, e.Line, "databases.%s.configuration.instance_class %q does not match size %s (%s)", e.Name, e.Configuration.InstanceClass, e.Configuration.SizeTier, sc.InstanceClass)
	}
	if st, err := catalog.ParseStatus(string(e.Metadata.Status)); err != nil || !st.Known() {
		c.add(file, e.Line, "databases.%s.metadata.status %q is not a request status", e.Name, e.Metadata.Status)
	}
}

var deletionProtectionFalse = regexp.MustCompile(`(?m)^\s*deletion_protection\s*=\s*false\b`)

// checkNoLoweredProtection refuses a standalone tfvars that turns deletion
// protection off.
func (c *checker) checkNoLoweredProtection(file string, src []byte) {
	for _, loc := range deletionProtectionFalse.FindAllIndex(src, -1) {
		c.add(file, lineOf(src, loc[0]), "deletion_protection = false is not allowed in a standalone RDS root")
	}
}

func lineOf(src []byte, off int) int { return strings.Count(string(src[:off]), "\n") + 1 }

// checkGuards reads every standalone main.tf: each aws_db_instance keeps
// deletion_protection = true and lifecycle { prevent_destroy = true }.
func (c *checker) checkGuards() {
	for _, env := range c.environments() {
		p := config.Expand(c.cfg.Paths.StandaloneMain, env)
		src, ok := c.read(p)
		if !ok {
			continue
		}
		file, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
		if diags.HasErrors() {
			c.add(p, 0, "does not parse: %s", diags.Error())
			continue
		}
		body := file.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			if b.Type != "resource" || len(b.Labels) != 2 || b.Labels[0] != "aws_db_instance" {
				continue
			}
			where := "aws_db_instance." + b.Labels[1]
			if !literalTrue(b.Body.Attributes["deletion_protection"]) {
				c.add(p, b.DefRange().Start.Line, "%s must set deletion_protection = true", where)
			}
			guarded := false
			for _, lb := range b.Body.Blocks {
				if lb.Type == "lifecycle" && literalTrue(lb.Body.Attributes["prevent_destroy"]) {
					guarded = true
				}
			}
			if !guarded {
				c.add(p, b.DefRange().Start.Line, "%s must keep lifecycle { prevent_destroy = true }", where)
			}
		}
	}
}

func literalTrue(a *hclsyntax.Attribute) bool {
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(nil)
	return !diags.HasErrors() && v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() && v.True()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
