package gitops

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
)

// Decommission names a database to remove.
type Decommission struct {
	Environment string
	Database    string // the application_databases key
	RequestID   string // the decommission request's own id, RDS-<issue>
	Requester   string
	Reason      string
}

// PlanDecommission removes a database's entries from the tfvars (standalone,
// and coupled when enabled) and moves its catalog entry to decommissioning.
// In the contract mode a database that has a contract loses its generated
// files instead and its contract moves to decommissioning too. Terraform then
// schedules its secret for deletion; the database and the role are never
// dropped automatically.
func (p *Planner) PlanDecommission(repo fs.FS, d Decommission, now time.Time) (*Plan, error) {
	plan, err := p.planDecommission(repo, d, now)
	return plan, asInvalid(err)
}

func (p *Planner) planDecommission(repo fs.FS, d Decommission, now time.Time) (*Plan, error) {
	cfg := p.Config
	env, db := d.Environment, d.Database
	if env == "" || db == "" {
		return nil, invalidf("decommission needs an environment and a database")
	}
	ed := newEditor(repo)
	plan := &Plan{
		Kind: KindDecommission, Environment: env, Database: db, RequestID: d.RequestID,
		Base: cfg.BaseBranch, Branch: cfg.BranchFor(env, db) + "-decommission",
		Approval: p.Schema.DecommissionApproval(),
	}
	standalone := config.Expand(cfg.Paths.StandaloneTfvars, env)
	src, ok, err := ed.read(standalone)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidf("%s not found: environment %q has no standalone RDS root", standalone, env)
	}
	removed := false
	if cfg.ContractMode() {
		if removed, err = p.decommissionContract(ed, repo, env, db); err != nil {
			return nil, err
		}
	}
	if !removed {
		out, inTF, err := tfvars.RemoveEntry(src, standalone, tfvars.Path{cfg.Paths.MapAttribute}, db)
		if err != nil {
			return nil, err
		}
		removed = inTF
		ed.write(standalone, out)
		coupled, err := p.editCoupled(ed, env, func(src []byte, path string, m tfvars.Path) ([]byte, error) {
			out, _, err := tfvars.RemoveEntry(src, path, m, db)
			return out, err
		})
		if err != nil {
			return nil, err
		}
		plan.Coupled = coupled
	}

	inCatalog := false
	if err := p.editCatalog(ed, env, func(f *catalog.File) error {
		e, found := f.Get(db, env)
		if !found {
			return nil
		}
		inCatalog = true
		if e.Metadata.Status == catalog.StatusDecommissioning {
			return nil
		}
		note := "decommission requested"
		if d.RequestID != "" {
			note += " by " + d.RequestID
		}
		return f.MarkDecommissioning(db, env, now, note)
	}); err != nil {
		return nil, err
	}
	if !removed && !inCatalog {
		return nil, invalidf("%s has no database %q in %s or the catalog", env, db, standalone)
	}
	plan.Changes = ed.result()
	plan.Labels = []string{cfg.Labels.PullRequest, cfg.Labels.Decommission, env}
	sort.Strings(plan.Labels)
	plan.Title = fmt.Sprintf("Decommission RDS database: %s (%s)", db, env)
	plan.CommitMessage = commitMessage(plan)
	plan.Body = p.decommissionBody(plan, d)
	return plan, nil
}

func (p *Planner) decommissionBody(plan *Plan, d Decommission) string {
	cfg := p.Config
	var b strings.Builder
	b.WriteString(MarkerLine(plan) + "\n")
	fmt.Fprintf(&b, "## Decommission `%s` in %s\n\n", plan.Database, plan.Environment)
	if d.Requester != "" {
		fmt.Fprintf(&b, "Requested by @%s.", d.Requester)
	}
	if d.Reason != "" {
		fmt.Fprintf(&b, " Reason: %s", d.Reason)
	}
	b.WriteString("\n\nThis is a break-glass change. On merge, Terraform removes the entry and schedules the secret `" +
		"" + strings.TrimSuffix(cfg.Secrets.Prefix, "/") + "/" + plan.Environment + "/" + plan.Database + "/postgres` for deletion after its recovery window. " +
		"rdsbot never drops the database or the role: take a final backup and drop them by hand when the data may go.\n")
	writeChanges(&b, plan)
	writeApprovals(&b, cfg, plan.Approval)
	return b.String()
}

// PlanCoupledMode switches coupled mode for an environment. Enabling it is
// refused on an ephemeral cluster and copies every standalone entry into the
// coupled map, so both roots agree from the first commit.
func (p *Planner) PlanCoupledMode(repo fs.FS, env string, enable bool) (*Plan, error) {
	cfg := p.Config
	ed := newEditor(repo)
	path := config.Expand(cfg.Paths.CoupledTfvars, env)
	src, ok, err := ed.read(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s not found: environment %q has no cluster root", path, env)
	}
	if enable {
		if err := checkLifecycle(src, path, cfg); err != nil {
			return nil, fmt.Errorf("refusing to enable coupled mode: %w", err)
		}
	}
	out, err := tfvars.SetAttribute(src, path, tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled}, boolVal(enable))
	if err != nil {
		return nil, err
	}
	if enable {
		standalone := config.Expand(cfg.Paths.StandaloneTfvars, env)
		ssrc, ok, err := ed.read(standalone)
		if err != nil {
			return nil, err
		}
		if ok {
			entries, err := tfvars.Entries(ssrc, standalone, tfvars.Path{cfg.Paths.MapAttribute})
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				attrs, err := objectAttrs(e)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", standalone, e.Line, err)
				}
				out, err = tfvars.UpsertEntry(out, path, tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledMap}, e.Key, attrs)
				if err != nil {
					return nil, err
				}
			}
		}
	}
	if err := p.typeCheck(ed, config.Expand(cfg.Paths.CoupledVariables, env), path, out); err != nil {
		return nil, err
	}
	ed.write(path, out)
	verb := "Disable"
	if enable {
		verb = "Enable"
	}
	plan := &Plan{
		Kind: "coupled-mode", Environment: env, Coupled: enable, Base: cfg.BaseBranch,
		Branch: "rds/" + env + "/coupled-mode", Changes: ed.result(),
		Title:  fmt.Sprintf("%s coupled RDS mode in %s", verb, env),
		Labels: []string{cfg.Labels.PullRequest, env},
	}
	sort.Strings(plan.Labels)
	plan.CommitMessage = fmt.Sprintf("rds: %s coupled mode in %s\n\n- %s\n", strings.ToLower(verb), env, path)
	plan.Body = MarkerLine(plan) + "\n" + plan.Title + ".\n"
	return plan, nil
}
