package gitops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"
)

// Contract mode: a request is a file, the request contract
// (RDS_REQUEST_V1 with its status), plus the files generated from it: the
// rds_databases JSON the environment's standalone root reads and an
// ExternalSecret manifest. The contract is the one source of truth; the
// generated files are always exactly what Outputs renders from it, and the
// tfvars are never edited.

// ContractRecord is a request contract found in a repository.
type ContractRecord struct {
	Path        string
	ID          string // from the file name
	Environment string // the folder it is in
	Status      string
	Created     string
	// Request is the validated contract; nil when it does not validate,
	// with Problems saying why.
	Request  *contract.Request
	Problems contract.Problems
}

// Live reports whether the contract's database is meant to exist: its
// generated files must be present.
func (r ContractRecord) Live() bool { return liveStatus(r.Status) }

func liveStatus(s string) bool {
	return s != string(catalog.StatusDecommissioning) && s != string(catalog.StatusDecommissioned)
}

// Contracts reads every request contract of env, sorted by path. A file
// that does not validate comes back with its problems; an unreadable
// folder is an error.
func (p *Planner) Contracts(repo fs.FS, env string) ([]ContractRecord, error) {
	pat := p.Config.ContractFiles(env)
	entries, err := fs.ReadDir(repo, pat.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", pat.Dir, err)
	}
	var out []ContractRecord
	for _, e := range entries {
		id, ok := pat.Match(e.Name())
		if e.IsDir() || !ok {
			continue
		}
		rec := ContractRecord{Path: path.Join(pat.Dir, e.Name()), ID: id, Environment: env}
		b, err := fs.ReadFile(repo, rec.Path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", rec.Path, err)
		}
		raw, probs := contract.FromYAML(p.Schema.Request, b, rec.Path)
		req, vprobs := contract.Validate(p.Schema, raw)
		rec.Status, rec.Created, rec.Problems = raw.Status, raw.Created, append(probs, vprobs...)
		if rec.Problems.Err() == nil {
			rec.Request = req
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Outputs renders the files generated from a validated contract, keyed by
// path: the rds_databases JSON and the ExternalSecret.
func (p *Planner) Outputs(req *contract.Request) (map[string][]byte, error) {
	j, err := GeneratedTfvars(req)
	if err != nil {
		return nil, err
	}
	es, err := ExternalSecret(p.Config, req)
	if err != nil {
		return nil, err
	}
	cfg := p.Config
	return map[string][]byte{
		cfg.GeneratedTfvarsPath(req.Environment, req.ID):                  j,
		cfg.ExternalSecretPath(req.Environment, req.DatabaseName, req.ID): es,
	}, nil
}

// GeneratedTfvars is the rds_databases JSON of a request (spec §2.2): keys
// sorted, two-space indent, a trailing newline.
func GeneratedTfvars(req *contract.Request) ([]byte, error) {
	doc := map[string]any{"rds_databases": map[string]any{
		req.DatabaseName: map[string]any{
			"identifier":                   req.Environment + "-" + req.DatabaseName,
			"database_name":                req.DatabaseName,
			"username":                     req.Username,
			"instance_class":               req.InstanceClass,
			"allocated_storage":            req.StorageGB,
			"max_allocated_storage":        req.MaxStorageGB,
			"backup_retention_period":      req.BackupRetentionDays,
			"multi_az":                     req.MultiAZ,
			"performance_insights_enabled": req.PerformanceInsights,
			"metadata": map[string]any{
				"id": req.ID, "owner": req.Owner, "domain": req.Domain, "risk": req.Risk, "requester": req.Requester,
			},
		},
	}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil { // Encode ends with the newline
		return nil, fmt.Errorf("encode %s: %w", req.ID, err)
	}
	return b.Bytes(), nil
}

// kubeName turns a database name into a Kubernetes object name: the
// original used the database name as is, and underscores are not allowed
// in namespaces or names.
func kubeName(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }

// ExternalSecret is the manifest that syncs the database's credentials from
// the secret store into the cluster (spec §2.2, with Kubernetes-valid names).
func ExternalSecret(cfg *config.Config, req *contract.Request) ([]byte, error) {
	s := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	m := func(kv ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: kv}
	}
	name := kubeName(req.DatabaseName)
	doc := m(
		s("apiVersion"), s("external-secrets.io/v1beta1"),
		s("kind"), s("ExternalSecret"),
		s("metadata"), m(
			s("name"), s(name+"-credentials-sync"),
			s("namespace"), s(name),
			s("labels"), m(
				s("goldenpath.idp/id"), s(req.ID),
				s("platform.idp/service"), s(req.DatabaseName),
				s("platform.idp/env"), s(req.Environment),
				s("platform.idp/type"), s("rds-credentials"),
			),
		),
		s("spec"), m(
			s("refreshInterval"), s(cfg.Contract.RefreshInterval),
			s("secretStoreRef"), m(s("name"), s(cfg.Contract.SecretStore), s("kind"), s(cfg.Contract.SecretStoreKind)),
			s("target"), m(s("name"), s(name+"-db-credentials"), s("creationPolicy"), s("Owner")),
			s("dataFrom"), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{
				m(s("extract"), m(s("key"), s(req.SecretPath(cfg.Secrets.Prefix)))),
			}},
		),
	)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Generated by rdsbot from %s; do not edit.\n", cfg.ContractPath(req.Environment, req.ID))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode ExternalSecret: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// planContract writes a request's contract, its generated files and its
// catalog entry. The tfvars are read only, to refuse a name a direct entry
// already holds.
func (p *Planner) planContract(ed *editor, plan *Plan, standalone []byte, standalonePath string, now time.Time) error {
	cfg := p.Config
	req := plan.Request
	env, db := req.Environment, req.DatabaseName
	if req.ID == "" {
		return invalidf("the contract mode needs the request id (RDS-<number of the request issue>)")
	}
	if on, path, err := p.coupledOn(ed, env); err != nil {
		return err
	} else if on {
		return invalidf("%s: coupled mode is on for %s, but request_mode is contract, which writes no tfvars: the coupled root would never see this database; turn coupled mode off for %s or use request_mode: direct", path, env, env)
	}
	entries, err := tfvars.Entries(standalone, standalonePath, tfvars.Path{cfg.Paths.MapAttribute})
	if err != nil {
		return err
	}
	for _, e := range entries {
		dbName, _ := stringAttrOf(e, "database_name")
		user, _ := stringAttrOf(e, "username")
		switch {
		case e.Key == db || dbName == db:
			return invalidf("%s:%d: entry %q of %s already creates database %q", standalonePath, e.Line, e.Key, cfg.Paths.MapAttribute, db)
		case user == req.Username:
			return invalidf("%s:%d: entry %q of %s already uses role %q; pick another username", standalonePath, e.Line, e.Key, cfg.Paths.MapAttribute, user)
		}
	}
	records, err := p.Contracts(ed.repo, env)
	if err != nil {
		return err
	}
	status, created := string(catalog.StatusPending), now.UTC().Format("2006-01-02")
	for _, r := range records {
		if r.ID == req.ID {
			if r.Request == nil {
				return fmt.Errorf("%s, the contract of this request, does not validate: %w", r.Path, r.Problems.Err())
			}
			if r.Request.DatabaseName != db {
				return invalidf("request %s already holds database %q (%s); a request cannot move to another database once its contract is on the base branch", req.ID, r.Request.DatabaseName, r.Path)
			}
			status = r.Status
			if r.Created != "" {
				created = r.Created
			}
			continue
		}
		if r.Request == nil {
			return fmt.Errorf("cannot check %s for names this request would share: it does not validate: %w", r.Path, r.Problems.Err())
		}
		if !r.Live() {
			continue
		}
		if r.Request.DatabaseName == db {
			return invalidf("database %q belongs to request %s (%s)", db, r.ID, r.Path)
		}
		if r.Request.Username == req.Username {
			return invalidf("role %q is used by request %s (%s); pick another username", req.Username, r.ID, r.Path)
		}
	}
	for _, other := range p.Schema.Request.Fields["environment"].Enum {
		if other == env {
			continue
		}
		if pth := cfg.ContractPath(other, req.ID); pth != cfg.ContractPath(env, req.ID) {
			if _, found, _ := ed.read(pth); found {
				return invalidf("request %s already has its contract in %s; a request cannot move to another environment", req.ID, pth)
			}
		}
	}
	if !liveStatus(status) {
		return invalidf("request %s is %s; it cannot be planned again", req.ID, status)
	}
	doc, err := req.ContractYAML(p.Schema.Request, status, created)
	if err != nil {
		return err
	}
	ed.write(cfg.ContractPath(env, req.ID), doc)
	outs, err := p.Outputs(req)
	if err != nil {
		return err
	}
	for _, pth := range sortedPaths(outs) {
		ed.write(pth, outs[pth])
	}
	return p.editCatalog(ed, env, func(f *catalog.File) error {
		_, err := f.Upsert(p.catalogSpec(req), now)
		return err
	})
}

func sortedPaths(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func stringAttrOf(e tfvars.Entry, attr string) (string, bool) {
	v := e.Value
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(attr) {
		return "", false
	}
	a := v.GetAttr(attr)
	if !a.Type().Equals(cty.String) || a.IsNull() || !a.IsKnown() {
		return "", false
	}
	return a.AsString(), true
}

// coupledOn reports whether coupled mode is enabled for env.
func (p *Planner) coupledOn(ed *editor, env string) (bool, string, error) {
	path := config.Expand(p.Config.Paths.CoupledTfvars, env)
	src, ok, err := ed.read(path)
	if err != nil || !ok {
		return false, path, err
	}
	on, err := coupledEnabled(src, path, p.Config)
	return on, path, err
}

// liveContract finds the live contract of a database in env.
func (p *Planner) liveContract(repo fs.FS, env, db string) (*ContractRecord, error) {
	records, err := p.Contracts(repo, env)
	if err != nil {
		return nil, err
	}
	for _, r := range records {
		if r.Request != nil && r.Request.DatabaseName == db && r.Live() {
			return &r, nil
		}
	}
	return nil, nil
}

// setContractStatus rewrites a contract with another status, after
// checking the move with the catalog's state machine.
func (p *Planner) setContractStatus(ed *editor, r *ContractRecord, to catalog.Status) error {
	from, err := catalog.ParseStatus(r.Status)
	if err != nil {
		return fmt.Errorf("%s: status: %w", r.Path, err)
	}
	if from == to {
		return nil
	}
	if err := catalog.CheckTransition(from, to); err != nil {
		return fmt.Errorf("%s: %w", r.Path, err)
	}
	doc, err := r.Request.ContractYAML(p.Schema.Request, string(to), r.Created)
	if err != nil {
		return err
	}
	ed.write(r.Path, doc)
	return nil
}

// PlanStatus records a move of a database's request to another status: the
// catalog entry (and its history) and, in the contract mode, the status of
// its contract, in one change set so the two never disagree. The move must
// be legal for the state machine.
func (p *Planner) PlanStatus(repo fs.FS, env, db string, to catalog.Status, at time.Time, note string) (*Plan, error) {
	ed := newEditor(repo)
	if p.Config.ContractMode() {
		r, err := p.currentContract(repo, env, db)
		if err != nil {
			return nil, err
		}
		if r != nil { // nil: a direct tfvars entry, whose status only the catalog holds
			if err := p.setContractStatus(ed, r, to); err != nil {
				return nil, err
			}
		}
	}
	if err := p.editCatalog(ed, env, func(f *catalog.File) error { return f.SetStatus(db, env, to, at, note) }); err != nil {
		return nil, err
	}
	plan := &Plan{Kind: "status", Environment: env, Database: db, Base: p.Config.BaseBranch, Changes: ed.result()}
	plan.Title = fmt.Sprintf("RDS database %s (%s): %s", db, env, to)
	plan.CommitMessage = fmt.Sprintf("rds: %s in %s is %s\n\n", db, env, to)
	for _, c := range plan.Changes {
		plan.CommitMessage += "- " + c.Path + "\n"
	}
	return plan, nil
}

// currentContract is the contract that speaks for a database now: its live
// one, else the one being decommissioned.
func (p *Planner) currentContract(repo fs.FS, env, db string) (*ContractRecord, error) {
	records, err := p.Contracts(repo, env)
	if err != nil {
		return nil, err
	}
	var decom *ContractRecord
	for i, r := range records {
		if r.Request == nil || r.Request.DatabaseName != db {
			continue
		}
		if r.Live() {
			return &records[i], nil
		}
		if r.Status == string(catalog.StatusDecommissioning) {
			decom = &records[i]
		}
	}
	return decom, nil
}

// decommissionContract removes a contract's generated files and moves the
// contract to decommissioning; Terraform then drops the database's secret
// from the root. It reports whether the database had a live contract.
func (p *Planner) decommissionContract(ed *editor, repo fs.FS, env, db string) (bool, error) {
	r, err := p.liveContract(repo, env, db)
	if err != nil || r == nil {
		return false, err
	}
	outs, err := p.Outputs(r.Request)
	if err != nil {
		return false, err
	}
	for _, pth := range sortedPaths(outs) {
		ed.remove(pth)
	}
	if err := p.setContractStatus(ed, r, catalog.StatusDecommissioning); err != nil {
		return false, asInvalid(err)
	}
	return true, nil
}

// GeneratedDir is the directory of env's generated JSON, relative to the
// standalone root when it lies inside it.
func (p *Planner) GeneratedDir(env string) string {
	dir := p.Config.GeneratedTfvarsFiles(env).Dir
	root := path.Dir(config.Expand(p.Config.Paths.StandaloneTfvars, env))
	if rel, ok := strings.CutPrefix(dir, root+"/"); ok {
		return rel
	}
	return dir
}

// ContractStatus is the change that has the contract of env's database db
// follow its catalog entry to the status to (the rollout's transitions):
// ok is false when there is nothing to change (no contract, as for a
// direct tfvars entry, or the contract there already). The catalog's state
// machine decides the move; the contract mirrors it.
func (p *Planner) ContractStatus(repo fs.FS, env, db string, to catalog.Status) (Change, bool, error) {
	if !p.Config.ContractMode() {
		return Change{}, false, nil
	}
	r, err := p.currentContract(repo, env, db)
	if err != nil || r == nil || r.Request == nil || r.Status == string(to) {
		return Change{}, false, err
	}
	doc, err := r.Request.ContractYAML(p.Schema.Request, string(to), r.Created)
	if err != nil {
		return Change{}, false, err
	}
	old, err := fs.ReadFile(repo, r.Path)
	if err != nil {
		return Change{}, false, err
	}
	return Change{Path: r.Path, Old: old, New: doc}, true, nil
}

// ContractStatusOnly reports whether after is before with only its status
// changed, as ContractStatus writes it: the contract validates, and after
// is its canonical rendering with after's status (a known one) and
// before's creation date.
func (p *Planner) ContractStatusOnly(name string, before, after []byte) bool {
	raw, probs := contract.FromYAML(p.Schema.Request, before, name)
	req, vprobs := contract.Validate(p.Schema, raw)
	if append(probs, vprobs...).Err() != nil {
		return false
	}
	next, _ := contract.FromYAML(p.Schema.Request, after, name)
	if _, err := catalog.ParseStatus(next.Status); err != nil {
		return false
	}
	doc, err := req.ContractYAML(p.Schema.Request, next.Status, raw.Created)
	return err == nil && bytes.Equal(doc, after)
}
