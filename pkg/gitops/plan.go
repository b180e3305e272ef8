package gitops

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/schema"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
	"github.com/zclconf/go-cty/cty"
)

// Change is one file of a change set.
type Change struct {
	Path string
	Old  []byte // nil when the file is new
	New  []byte // nil (with Old set) when the file is deleted
}

// Deletes reports whether the change removes its file.
func (c Change) Deletes() bool { return c.New == nil && c.Old != nil }

// ErrInvalidRequest is wrapped by every planning error the request itself
// causes (a name another entry holds, a base branch that is not allowed, an
// environment without a root, coupled mode in the contract mode): the
// request must change, the repository is fine. The CLI exits 2 on it.
var ErrInvalidRequest = errors.New("invalid request")

type requestError struct{ err error }

func (e *requestError) Error() string           { return e.err.Error() }
func (e *requestError) Unwrap() []error         { return []error{e.err, ErrInvalidRequest} }
func invalidf(format string, args ...any) error { return &requestError{fmt.Errorf(format, args...)} }

// asInvalid marks an error the request causes (a catalog conflict).
func asInvalid(err error) error {
	if err == nil || errors.Is(err, ErrInvalidRequest) {
		return err
	}
	if errors.Is(err, catalog.ErrConflict) || errors.Is(err, catalog.ErrIllegalTransition) {
		return &requestError{err}
	}
	return err
}

// Kind of plan.
type Kind string

// Plan kinds.
const (
	KindCreate       Kind = "create"
	KindDecommission Kind = "decommission"
)

// Plan is a change set and the pull request that carries it.
type Plan struct {
	Kind          Kind
	Environment   string
	Database      string
	RequestID     string
	Request       *contract.Request // nil for a decommission
	Coupled       bool              // the coupled tfvars is edited too
	Changes       []Change          // sorted by path; only files whose bytes change
	Base          string
	Branch        string
	Title         string
	CommitMessage string
	Body          string
	Labels        []string
	Approval      schema.Approval
	Warnings      []string
}

// Files returns the change set as path to new bytes.
func (p *Plan) Files() map[string][]byte {
	out := make(map[string][]byte, len(p.Changes))
	for _, c := range p.Changes {
		out[c.Path] = c.New
	}
	return out
}

// Empty reports whether the repository already holds the request.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Planner holds what every plan of one repository needs.
type Planner struct {
	Config *config.Config
	Schema *schema.Set
}

// New loads rdsbot.yaml (defaults when absent) and the schemas from a
// repository snapshot. It also reserves, per environment, the instance's
// own master username and admin database, read from the standalone root
// (its tfvars, else the variables' defaults), so no request can take them.
func New(repo fs.FS) (*Planner, error) {
	cfgBytes, err := fs.ReadFile(repo, config.FileName)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", config.FileName, err)
	}
	cfg, err := config.Parse(cfgBytes)
	if err != nil {
		return nil, err
	}
	set, err := schema.Load(repo, cfg.SchemaPathSet())
	if err != nil {
		return nil, err
	}
	p := &Planner{Config: cfg, Schema: set}
	set.Reserved.LookupInstances(func(env string) ([]schema.InstanceName, error) { return p.InstanceNames(repo, env) })
	return p, nil
}

// InstanceNames reads the master username and admin database of env's
// instance from its standalone root: the tfvars value, else the variable's
// default. A root that does not exist or does not parse yields nothing
// (validate reports the latter); a file that cannot be read is an error.
func (p *Planner) InstanceNames(repo fs.FS, env string) ([]schema.InstanceName, error) {
	cfg := p.Config
	tfvarsPath := config.Expand(cfg.Paths.StandaloneTfvars, env)
	varsPath := config.Expand(cfg.Paths.StandaloneVariables, env)
	read := func(path string) ([]byte, error) {
		b, err := fs.ReadFile(repo, path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	src, err := read(tfvarsPath)
	if err != nil {
		return nil, err
	}
	var vars *tfvars.Variables
	b, err := read(varsPath)
	if err != nil {
		return nil, err
	}
	if b != nil {
		vars, _ = tfvars.ParseVariables(tfvars.SourceFile{Name: varsPath, Src: b})
	}
	var out []schema.InstanceName
	for _, a := range []struct{ kind, attr, what string }{
		{schema.ReservedRoles, cfg.Reserved.MasterUsername, "the master user"},
		{schema.ReservedDatabases, cfg.Reserved.AdminDatabase, "the admin database"},
	} {
		if src != nil {
			if v, found, err := tfvars.Lookup(src, tfvarsPath, tfvars.Path{a.attr}); err == nil && found && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				out = append(out, schema.InstanceName{Kind: a.kind, Name: v.AsString(),
					Reason: fmt.Sprintf("%s of the %s instance (%s in %s)", a.what, env, a.attr, tfvarsPath)})
				continue
			}
		}
		if vars != nil {
			if v, ok := vars.Lookup(a.attr); ok && v.Default != cty.NilVal && v.Default.Type() == cty.String && v.Default.IsKnown() && !v.Default.IsNull() {
				out = append(out, schema.InstanceName{Kind: a.kind, Name: v.Default.AsString(),
					Reason: fmt.Sprintf("%s of the %s instance (the default of variable %s in %s)", a.what, env, a.attr, varsPath)})
			}
		}
	}
	return out, nil
}

// editor accumulates the edits of one plan over a snapshot.
type editor struct {
	repo    fs.FS
	changes map[string]*Change
}

func newEditor(repo fs.FS) *editor { return &editor{repo: repo, changes: map[string]*Change{}} }

// read returns the current bytes of a file, edited or not; ok is false when
// the file does not exist (or the plan deletes it).
func (e *editor) read(path string) ([]byte, bool, error) {
	if c, ok := e.changes[path]; ok {
		if c.New == nil {
			return nil, false, nil
		}
		return c.New, true, nil
	}
	b, err := fs.ReadFile(e.repo, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return b, true, nil
}

func (e *editor) write(path string, b []byte) {
	if b == nil {
		b = []byte{}
	}
	if c, ok := e.changes[path]; ok {
		c.New = b
		return
	}
	old, _ := fs.ReadFile(e.repo, path)
	e.changes[path] = &Change{Path: path, Old: old, New: b}
}

// remove deletes a file (nothing when it does not exist).
func (e *editor) remove(path string) {
	if c, ok := e.changes[path]; ok {
		c.New = nil
		return
	}
	old, err := fs.ReadFile(e.repo, path)
	if err != nil {
		return
	}
	e.changes[path] = &Change{Path: path, Old: old}
}

// result drops files whose bytes did not change and sorts by path.
func (e *editor) result() []Change {
	var out []Change
	for _, c := range e.changes {
		if c.Old != nil && c.New != nil && string(c.Old) == string(c.New) {
			continue
		}
		if c.Old == nil && c.New == nil {
			continue
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// entryValue is the application_databases value of a request.
func entryValue(db, user string) []tfvars.Attr {
	return []tfvars.Attr{
		{Name: "database_name", Value: cty.StringVal(db)},
		{Name: "username", Value: cty.StringVal(user)},
	}
}

// PlanRequest plans a create (or update) request, in the repository's
// request mode: direct (tfvars entries) or contract (the request contract
// and its generated files). Errors the request causes wrap
// ErrInvalidRequest.
func (p *Planner) PlanRequest(repo fs.FS, req *contract.Request, now time.Time) (*Plan, error) {
	plan, err := p.planRequest(repo, req, now)
	return plan, asInvalid(err)
}

func (p *Planner) planRequest(repo fs.FS, req *contract.Request, now time.Time) (*Plan, error) {
	cfg := p.Config
	base, err := cfg.BaseFor(req.BaseBranch)
	if err != nil {
		return nil, &requestError{err}
	}
	env, db := req.Environment, req.DatabaseName
	// Validate checked the reserved names already; check again here, with
	// the instance's own names read now, so a failed read cannot let one by.
	instance, err := p.InstanceNames(repo, env)
	if err != nil {
		return nil, err
	}
	for name, f := range p.Schema.Request.Fields {
		v := req.Fields()[name]
		if f.Reserved == "" || v == "" {
			continue
		}
		for _, in := range instance {
			if in.Kind == f.Reserved && strings.EqualFold(in.Name, v) {
				return nil, invalidf("%s %q is reserved: %s", name, v, in.Reason)
			}
		}
		if why, reserved := p.Schema.Reserved.Check(f.Reserved, env, v); reserved {
			return nil, invalidf("%s %q is reserved: %s", name, v, why)
		}
	}
	ed := newEditor(repo)
	plan := &Plan{
		Kind: KindCreate, Environment: env, Database: db, RequestID: req.ID, Request: req,
		Base: base, Branch: cfg.BranchFor(env, db), Approval: req.Approval,
	}

	standalone := config.Expand(cfg.Paths.StandaloneTfvars, env)
	src, ok, err := ed.read(standalone)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidf("%s not found: environment %q has no standalone RDS root; add envs/%s-rds first", standalone, env, env)
	}
	if cfg.ContractMode() {
		if err := p.planContract(ed, plan, src, standalone, now); err != nil {
			return nil, err
		}
		return p.finishCreate(ed, plan), nil
	}
	mapPath := tfvars.Path{cfg.Paths.MapAttribute}
	if err := checkConflicts(src, standalone, mapPath, db, req.Username); err != nil {
		return nil, err
	}
	out, err := tfvars.UpsertEntry(src, standalone, mapPath, db, entryValue(db, req.Username))
	if err != nil {
		return nil, err
	}
	if err := p.typeCheck(ed, config.Expand(cfg.Paths.StandaloneVariables, env), standalone, out); err != nil {
		return nil, err
	}
	ed.write(standalone, out)

	coupled, err := p.editCoupled(ed, env, func(src []byte, path string, m tfvars.Path) ([]byte, error) {
		if err := checkConflicts(src, path, m, db, req.Username); err != nil {
			return nil, err
		}
		return tfvars.UpsertEntry(src, path, m, db, entryValue(db, req.Username))
	})
	if err != nil {
		return nil, err
	}
	plan.Coupled = coupled

	if err := p.editCatalog(ed, env, func(f *catalog.File) error {
		_, err := f.Upsert(p.catalogSpec(req), now)
		return err
	}); err != nil {
		return nil, err
	}

	return p.finishCreate(ed, plan), nil
}

func (p *Planner) finishCreate(ed *editor, plan *Plan) *Plan {
	plan.Changes = ed.result()
	plan.Labels = p.labels(plan.Request)
	plan.Title = fmt.Sprintf("Create RDS database: %s (%s)", plan.Database, plan.Environment)
	plan.CommitMessage = commitMessage(plan)
	plan.Body = p.body(plan)
	return plan
}

// catalogSpec is the catalog entry of a request.
func (p *Planner) catalogSpec(req *contract.Request) catalog.Spec {
	return catalog.Spec{
		Name: req.DatabaseName, RequestID: req.ID, Owner: req.Owner, RequestedBy: req.Requester,
		Domain: req.Domain, Risk: req.Risk, Environment: req.Environment,
		Configuration: catalog.Configuration{
			Username: req.Username, SizeTier: req.Size, InstanceClass: req.InstanceClass,
			SecretPath: req.SecretPath(p.Config.Secrets.Prefix),
		},
	}
}

// checkConflicts refuses a request whose database or role another entry of
// the same map already uses under a different key.
func checkConflicts(src []byte, path string, m tfvars.Path, key, user string) error {
	entries, err := tfvars.Entries(src, path, m)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.Key == key || !e.Value.Type().IsObjectType() {
			continue
		}
		if e.Value.Type().HasAttribute("database_name") {
			if v := e.Value.GetAttr("database_name"); v.Type() == cty.String && v.IsKnown() && !v.IsNull() && v.AsString() == key {
				errs = append(errs, invalidf("%s:%d: entry %q already creates database %q", path, e.Line, e.Key, key))
			}
		}
		if e.Value.Type().HasAttribute("username") {
			if v := e.Value.GetAttr("username"); v.Type() == cty.String && v.IsKnown() && !v.IsNull() && v.AsString() == user {
				errs = append(errs, invalidf("%s:%d: entry %q already uses role %q; pick another username", path, e.Line, e.Key, user))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &requestError{errors.Join(errs...)}
}

// editCoupled applies edit to the coupled map when coupled mode is enabled
// for env, and reports whether it did.
func (p *Planner) editCoupled(ed *editor, env string, edit func(src []byte, path string, m tfvars.Path) ([]byte, error)) (bool, error) {
	cfg := p.Config
	path := config.Expand(cfg.Paths.CoupledTfvars, env)
	src, ok, err := ed.read(path)
	if err != nil || !ok {
		return false, err
	}
	enabled, err := coupledEnabled(src, path, cfg)
	if err != nil || !enabled {
		return false, err
	}
	if err := checkLifecycle(src, path, cfg); err != nil {
		return false, err
	}
	out, err := edit(src, path, tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledMap})
	if err != nil {
		return false, err
	}
	if err := p.typeCheck(ed, config.Expand(cfg.Paths.CoupledVariables, env), path, out); err != nil {
		return false, err
	}
	ed.write(path, out)
	return true, nil
}

func coupledEnabled(src []byte, path string, cfg *config.Config) (bool, error) {
	v, found, err := tfvars.Lookup(src, path, tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled})
	if err != nil || !found {
		return false, err
	}
	if v.Type() != cty.Bool || !v.IsKnown() || v.IsNull() {
		return false, fmt.Errorf("%s: %s.%s must be true or false", path, cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled)
	}
	return v.True(), nil
}

// checkLifecycle mirrors the Terraform precondition: coupled RDS cannot live
// on an ephemeral cluster, which is destroyed with the RDS instance on it.
func checkLifecycle(src []byte, path string, cfg *config.Config) error {
	v, found, err := tfvars.Lookup(src, path, tfvars.Path{cfg.Paths.Lifecycle})
	if err != nil || !found {
		return err
	}
	if v.Type() == cty.String && v.IsKnown() && !v.IsNull() && v.AsString() == "ephemeral" {
		return fmt.Errorf("%s: coupled RDS is enabled but %s is \"ephemeral\": the database would be destroyed with the cluster; disable %s.%s or make the cluster persistent",
			path, cfg.Paths.Lifecycle, cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled)
	}
	return nil
}

func (p *Planner) typeCheck(ed *editor, variablesPath, tfvarsPath string, out []byte) error {
	vars, ok, err := ed.read(variablesPath)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s not found: cannot type-check %s", variablesPath, tfvarsPath)
	}
	schemaVars, err := tfvars.ParseVariables(tfvars.SourceFile{Name: variablesPath, Src: vars})
	if err != nil {
		return err
	}
	if err := schemaVars.Check(out, tfvarsPath).Err(); err != nil {
		return fmt.Errorf("the edit would not type-check: %w", err)
	}
	return nil
}

func (p *Planner) catalogOptions(ed *editor, env string) (catalog.Options, string, error) {
	cfg := p.Config
	path := cfg.CatalogPath(env)
	layout, err := catalog.ParseLayout(cfg.Catalog.Layout)
	if err != nil {
		return catalog.Options{}, "", err
	}
	opts := catalog.Options{Layout: layout, Environment: env, Filename: path}
	if layout == catalog.LayoutPerEnv {
		opts.RDSInstance = p.instanceIdentifier(ed, env)
	}
	return opts, path, nil
}

// instanceIdentifier is <identifier_prefix>-<environment> from the
// standalone tfvars, the name main.tf gives the instance; "" when unknown.
func (p *Planner) instanceIdentifier(ed *editor, env string) string {
	path := config.Expand(p.Config.Paths.StandaloneTfvars, env)
	src, ok, err := ed.read(path)
	if err != nil || !ok {
		return ""
	}
	prefix, found, err := tfvars.Lookup(src, path, tfvars.Path{"identifier_prefix"})
	if err != nil || !found || prefix.Type() != cty.String || prefix.IsNull() {
		return ""
	}
	return prefix.AsString() + "-" + env
}

func (p *Planner) editCatalog(ed *editor, env string, edit func(*catalog.File) error) error {
	opts, path, err := p.catalogOptions(ed, env)
	if err != nil {
		return err
	}
	src, _, err := ed.read(path)
	if err != nil {
		return err
	}
	f, err := catalog.Parse(src, opts)
	if err != nil {
		return err
	}
	if err := edit(f); err != nil {
		return err
	}
	if !f.Changed() {
		return nil
	}
	out, err := f.Bytes()
	if err != nil {
		return err
	}
	ed.write(path, out)
	return nil
}

func (p *Planner) labels(req *contract.Request) []string {
	labels := []string{p.Config.Labels.PullRequest, req.Environment, req.Risk + "-risk", "size:" + req.Size}
	sort.Strings(labels)
	return labels
}

func commitMessage(p *Plan) string {
	var b strings.Builder
	switch p.Kind {
	case KindDecommission:
		fmt.Fprintf(&b, "rds: decommission %s in %s", p.Database, p.Environment)
	default:
		fmt.Fprintf(&b, "rds: create %s in %s", p.Database, p.Environment)
	}
	if p.RequestID != "" {
		fmt.Fprintf(&b, " (%s)", p.RequestID)
	}
	b.WriteString("\n\n")
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "- %s\n", c.Path)
	}
	return b.String()
}
