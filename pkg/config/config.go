package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/schema"
	"gopkg.in/yaml.v3"
)

// FileName is the configuration file at the root of a managed repository.
const FileName = "rdsbot.yaml"

// Catalog layouts.
const (
	LayoutPerEnv     = "per-env"     // rds-catalog/<env>.yaml
	LayoutSingleFile = "single-file" // one file keyed by database name, as the original
)

// Approval modes.
const (
	ModeEnforce = "enforce" // the check stays pending until approvals are complete (default)
	ModeWarn    = "warn"    // the check reports what is missing but passes (rollout)
	// ModeBlocking is the earlier name of ModeEnforce, still accepted.
	ModeBlocking = "blocking"
)

// Config is rdsbot.yaml.
type Config struct {
	// BaseBranch is the branch request pull requests target and applies run
	// from, unless a request names another (the dispatch base_branch input).
	BaseBranch string `yaml:"base_branch"`
	// AllowedBaseBranches limits which base branches a request may name;
	// empty allows only BaseBranch.
	AllowedBaseBranches []string `yaml:"allowed_base_branches"`

	Schemas SchemaPaths `yaml:"schemas"`
	Paths   Paths       `yaml:"paths"`
	Catalog Catalog     `yaml:"catalog"`
	Secrets Secrets     `yaml:"secrets"`
	Branch  string      `yaml:"branch"` // pull request branch template; {env} and {database}
	Labels  Labels      `yaml:"labels"`
	// Teams maps each reviewer group of the schemas to the GitHub team
	// (slug in the App's organisation) whose members approve for it.
	Teams     map[string]string `yaml:"teams"`
	Approvals Approvals         `yaml:"approvals"`
	Generated Generated         `yaml:"generated"`

	// Permissions says who besides a request's requester may act on it.
	Permissions Permissions `yaml:"permissions"`

	// ---- Request mode, contract files and reserved names ----

	// RequestMode is how a request reaches Terraform: "direct" edits the
	// standalone tfvars (and the coupled one); "contract" adds the request
	// contract and the files generated from it and leaves the tfvars alone.
	RequestMode string   `yaml:"request_mode"`
	Contract    Contract `yaml:"contract"`
	Reserved    Reserved `yaml:"reserved"`

	// Apply configures the terraform runners (apply.go).
	Apply Apply `yaml:"apply"`

	// StatusCommits is how the rollout writes status changes to the base
	// branch: direct (a push) or pull_request (a pull request the App
	// merges itself), see status.go.
	StatusCommits StatusMode `yaml:"status_commits"`
}

// Permissions name the GitHub teams (slugs in the App's organisation) that
// may act on requests that are not theirs. The requester always may.
type Permissions struct {
	// EditTeams may edit a request issue someone else opened; any other
	// edit is not applied.
	EditTeams []string `yaml:"edit_teams"`
	// CommandTeams may run /rds commands on any request.
	CommandTeams []string `yaml:"command_teams"`
}

// Request modes.
const (
	ModeDirect   = "direct"
	ModeContract = "contract"
)

// Contract locates the files of the contract mode. Templates take {env},
// {database} and {id} (RDS-0042).
type Contract struct {
	// Path is the request contract, RDS_REQUEST_V1 with its status; {id}
	// must be in the file name, and no other placeholder may be.
	Path string `yaml:"path"`
	// GeneratedTfvars is the rds_databases JSON Terraform reads, in the
	// environment's standalone root.
	GeneratedTfvars string `yaml:"generated_tfvars"`
	// ExternalSecret is the manifest that syncs the credentials into the
	// cluster.
	ExternalSecret string `yaml:"external_secret"`
	// SecretStore and SecretStoreKind name the External Secrets store the
	// manifest reads from; RefreshInterval is its refresh.
	SecretStore     string `yaml:"secret_store"`
	SecretStoreKind string `yaml:"secret_store_kind"`
	RefreshInterval string `yaml:"refresh_interval"`
}

// Reserved names the attributes of an environment's standalone root (its
// tfvars, else the variables' defaults) that hold the instance's own master
// username and admin database: no request may take them.
type Reserved struct {
	MasterUsername string `yaml:"master_username"`
	AdminDatabase  string `yaml:"admin_database"`
}

// SchemaPaths locates the three schema files.
type SchemaPaths struct {
	Enums          string `yaml:"enums"`
	Request        string `yaml:"request"`
	ServiceClasses string `yaml:"service_classes"`
	// ReservedNames lists names no request may take; when the file does
	// not exist the documented list applies.
	ReservedNames string `yaml:"reserved_names"`
}

// Paths are templates with {env}.
type Paths struct {
	StandaloneTfvars    string `yaml:"standalone_tfvars"`    // envs/{env}-rds/terraform.tfvars
	StandaloneVariables string `yaml:"standalone_variables"` // envs/{env}-rds/variables.tf
	StandaloneMain      string `yaml:"standalone_main"`      // envs/{env}-rds/main.tf
	CoupledTfvars       string `yaml:"coupled_tfvars"`       // envs/{env}/terraform.tfvars
	CoupledVariables    string `yaml:"coupled_variables"`    // envs/{env}/variables.tf
	// MapAttribute is the map the standalone root reads; CoupledMap the
	// dotted path of the coupled one.
	MapAttribute   string `yaml:"map_attribute"`   // application_databases
	CoupledObject  string `yaml:"coupled_object"`  // rds_config
	CoupledMap     string `yaml:"coupled_map"`     // application_databases
	CoupledEnabled string `yaml:"coupled_enabled"` // enabled
	Lifecycle      string `yaml:"lifecycle"`       // cluster_lifecycle
}

// Catalog says where the catalog lives.
type Catalog struct {
	Layout string `yaml:"layout"` // per-env or single-file
	Path   string `yaml:"path"`   // rds-catalog/{env}.yaml, or one path for single-file
}

// Secrets names credentials in the secret store.
type Secrets struct {
	Prefix string `yaml:"prefix"` // goldenpath: goldenpath/<env>/<db>/postgres
}

// Labels the bot reads and writes.
type Labels struct {
	Request          string `yaml:"request"`           // request issues (the issue form adds it)
	PullRequest      string `yaml:"pull_request"`      // every request PR
	Invalid          string `yaml:"invalid"`           // requests with errors
	PlatformApproval string `yaml:"platform_approval"` // large sizes
	AllowDelete      string `yaml:"allow_delete"`      // decommission
	Decommission     string `yaml:"decommission"`      // decommission PRs
}

// Approvals configures the required check.
type Approvals struct {
	Mode      string `yaml:"mode"`       // enforce (or its old name blocking) or warn
	CheckName string `yaml:"check_name"` // the required check's name

	// --- approval policy (pkg/policy) ---

	// EnvironmentModes overrides Mode per environment (enforce or warn), for
	// rolling the gate out one environment at a time.
	EnvironmentModes map[string]string `yaml:"environment_modes"`
	// SelfServeEnvironments are the environments where a self-serve routing
	// rule needs nobody, and where the requester may run /rds retry alone.
	// Every other environment needs at least one human approval even when
	// routing says self-serve.
	SelfServeEnvironments []string `yaml:"self_serve_environments"`
	// HumanApprovalGroups are the reviewer groups whose members may give
	// that one human approval.
	HumanApprovalGroups []string   `yaml:"human_approval_groups"`
	BreakGlass          BreakGlass `yaml:"break_glass"`
}

// BreakGlass is the label that lets a merge past the check proceed.
type BreakGlass struct {
	Label string `yaml:"label"`
	// Groups whose members may add the label (never the requester, a commit
	// author or an approver of the same pull request).
	Groups []string `yaml:"groups"`
}

// ModeFor is the approval mode of an environment: ModeEnforce or ModeWarn.
func (a Approvals) ModeFor(env string) string {
	m := a.Mode
	if em, ok := a.EnvironmentModes[env]; ok {
		m = em
	}
	if m == ModeWarn {
		return ModeWarn
	}
	return ModeEnforce
}

// SelfServe reports whether env is one where self-serve needs no human.
func (a Approvals) SelfServe(env string) bool { return slices.Contains(a.SelfServeEnvironments, env) }

func (a Approvals) check(teams map[string]string, bad func(field, format string, args ...any)) {
	okMode := func(m string) bool { return m == ModeEnforce || m == ModeBlocking || m == ModeWarn }
	if !okMode(a.Mode) {
		bad("approvals.mode", "must be %s or %s, got %q", ModeEnforce, ModeWarn, a.Mode)
	}
	for _, env := range slices.Sorted(maps.Keys(a.EnvironmentModes)) {
		if !okMode(a.EnvironmentModes[env]) {
			bad("approvals.environment_modes."+env, "must be %s or %s, got %q", ModeEnforce, ModeWarn, a.EnvironmentModes[env])
		}
	}
	groups := func(field string, gs []string) {
		if len(gs) == 0 {
			bad(field, "must name at least one reviewer group")
		}
		for _, g := range gs {
			if teams[g] == "" {
				bad(field, "group %q has no team under teams", g)
			}
		}
	}
	groups("approvals.human_approval_groups", a.HumanApprovalGroups)
	groups("approvals.break_glass.groups", a.BreakGlass.Groups)
	if a.BreakGlass.Label == "" {
		bad("approvals.break_glass.label", "must not be empty")
	}
}

// Generated are the files `rdsbot gen` writes from the schemas.
type Generated struct {
	IssueForm         string `yaml:"issue_form"`
	DispatchWorkflow  string `yaml:"dispatch_workflow"`
	BackstageTemplate string `yaml:"backstage_template"`
	// BackstageRepoURL is the repoUrl the template dispatches to.
	BackstageRepoURL string `yaml:"backstage_repo_url"`
}

// Default returns the configuration of this repository's layout.
func Default() *Config {
	return &Config{
		BaseBranch:          "main",
		AllowedBaseBranches: []string{},
		Schemas: SchemaPaths{
			Enums:          schema.DefaultPaths.Enums,
			Request:        schema.DefaultPaths.Request,
			ServiceClasses: schema.DefaultPaths.ServiceClasses,
			ReservedNames:  schema.DefaultPaths.Reserved,
		},
		Paths: Paths{
			StandaloneTfvars:    "envs/{env}-rds/terraform.tfvars",
			StandaloneVariables: "envs/{env}-rds/variables.tf",
			StandaloneMain:      "envs/{env}-rds/main.tf",
			CoupledTfvars:       "envs/{env}/terraform.tfvars",
			CoupledVariables:    "envs/{env}/variables.tf",
			MapAttribute:        "application_databases",
			CoupledObject:       "rds_config",
			CoupledMap:          "application_databases",
			CoupledEnabled:      "enabled",
			Lifecycle:           "cluster_lifecycle",
		},
		Catalog: Catalog{Layout: LayoutPerEnv, Path: "rds-catalog/{env}.yaml"},
		Secrets: Secrets{Prefix: "goldenpath"},
		Branch:  "rds/{env}/{database}",
		Labels: Labels{
			Request: "rds-request", PullRequest: "rds-database", Invalid: "rds-invalid",
			PlatformApproval: "platform-approval", AllowDelete: "rds-allow-delete",
			Decommission: "rds-decommission",
		},
		Teams: map[string]string{
			"platform-team": "platform-team", "security-team": "security-team",
			"database-team": "database-team", "operations-team": "operations-team",
			"sre-team": "sre-team", "app-team": "app-team",
		},
		Approvals: Approvals{
			Mode: ModeEnforce, CheckName: "rdsbot/approval",
			EnvironmentModes:      map[string]string{},
			SelfServeEnvironments: []string{"dev"},
			HumanApprovalGroups:   []string{"platform-team"},
			BreakGlass:            BreakGlass{Label: "rds-break-glass", Groups: []string{"platform-team", "security-team"}},
		},
		Permissions: Permissions{
			EditTeams:    []string{"platform-team"},
			CommandTeams: []string{"platform-team"},
		},
		Generated: Generated{
			IssueForm:         ".github/ISSUE_TEMPLATE/rds-request.yml",
			DispatchWorkflow:  ".github/workflows/create-rds-database.yml",
			BackstageTemplate: "backstage/rds-request.yaml",
			BackstageRepoURL:  "github.com?owner=acme&repo=platform-infra",
		},
		RequestMode: ModeDirect,
		Contract: Contract{
			Path:            "docs/20-contracts/rds-requests/{env}/{id}.yaml",
			GeneratedTfvars: "envs/{env}-rds/generated/{id}.auto.tfvars.json",
			ExternalSecret:  "gitops/kustomize/overlays/{env}/apps/{database}/externalsecrets/{id}.yaml",
			SecretStore:     "aws-secretsmanager",
			SecretStoreKind: "ClusterSecretStore",
			RefreshInterval: "1h",
		},
		Reserved: Reserved{MasterUsername: "master_username", AdminDatabase: "database_name"},
		Apply:    DefaultApply(),

		StatusCommits: StatusDirect,
	}
}

// Parse reads rdsbot.yaml over the defaults: a field left out keeps its
// default. Unknown keys are errors, so a misspelt key never goes unnoticed.
// Every problem is reported at once.
func Parse(data []byte) (*Config, error) {
	c := Default()
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("%s: %w", FileName, err)
		}
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}

var (
	branchVar = regexp.MustCompile(`\{[a-z]+\}`)
	teamSlug  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,99}$`)
)

// Check validates the configuration.
func (c *Config) Check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", FileName, field, fmt.Sprintf(format, args...)))
	}
	if c.BaseBranch == "" {
		bad("base_branch", "must not be empty")
	}
	switch c.Catalog.Layout {
	case LayoutPerEnv:
		if !strings.Contains(c.Catalog.Path, "{env}") {
			bad("catalog.path", "the per-env layout needs {env} in the path, got %q", c.Catalog.Path)
		}
	case LayoutSingleFile:
		if strings.Contains(c.Catalog.Path, "{env}") {
			bad("catalog.path", "the single-file layout takes one path without {env}, got %q", c.Catalog.Path)
		}
	default:
		bad("catalog.layout", "must be %s or %s, got %q", LayoutPerEnv, LayoutSingleFile, c.Catalog.Layout)
	}
	for field, tmpl := range map[string]string{
		"paths.standalone_tfvars": c.Paths.StandaloneTfvars, "paths.standalone_variables": c.Paths.StandaloneVariables,
		"paths.coupled_tfvars": c.Paths.CoupledTfvars, "paths.coupled_variables": c.Paths.CoupledVariables,
		"paths.standalone_main": c.Paths.StandaloneMain,
	} {
		if !strings.Contains(tmpl, "{env}") {
			bad(field, "must contain {env}, got %q", tmpl)
		}
	}
	for _, v := range branchVar.FindAllString(c.Branch, -1) {
		if v != "{env}" && v != "{database}" {
			bad("branch", "unknown placeholder %s (use {env} and {database})", v)
		}
	}
	if !strings.Contains(c.Branch, "{env}") || !strings.Contains(c.Branch, "{database}") {
		bad("branch", "must contain {env} and {database} so requests never share a branch, got %q", c.Branch)
	}
	if c.Secrets.Prefix == "" || strings.ContainsAny(c.Secrets.Prefix, " \t\n{}") {
		bad("secrets.prefix", "must be a non-empty path prefix, got %q", c.Secrets.Prefix)
	}
	c.Approvals.check(c.Teams, bad)
	for field, teams := range map[string][]string{"permissions.edit_teams": c.Permissions.EditTeams, "permissions.command_teams": c.Permissions.CommandTeams} {
		for _, t := range teams {
			if !teamSlug.MatchString(t) {
				bad(field, "%q is not a team slug (lowercase letters, digits, '-' and '_')", t)
			}
		}
	}
	errs = append(errs, c.checkContract()...)
	for _, l := range []struct{ field, v string }{
		{"labels.request", c.Labels.Request}, {"labels.pull_request", c.Labels.PullRequest},
		{"labels.invalid", c.Labels.Invalid}, {"labels.platform_approval", c.Labels.PlatformApproval},
		{"labels.allow_delete", c.Labels.AllowDelete}, {"labels.decommission", c.Labels.Decommission},
	} {
		if l.v == "" {
			bad(l.field, "must not be empty")
		}
	}
	checkApply(c.Apply, bad)
	c.checkStatusCommits(bad)
	return errors.Join(errs...)
}

// Expand fills {env} in a path template.
func Expand(tmpl, env string) string { return strings.ReplaceAll(tmpl, "{env}", env) }

// CatalogPath is the catalog file holding env's entries.
func (c *Config) CatalogPath(env string) string { return Expand(c.Catalog.Path, env) }

// BranchFor is the pull request branch of a request: one per environment and
// database, so a retried or edited request always lands on the same branch.
func (c *Config) BranchFor(env, database string) string {
	return strings.NewReplacer("{env}", env, "{database}", database).Replace(c.Branch)
}

// SchemaPathSet converts to the schema package's paths.
func (c *Config) SchemaPathSet() schema.Paths {
	return schema.Paths{Enums: c.Schemas.Enums, Request: c.Schemas.Request, ServiceClasses: c.Schemas.ServiceClasses, Reserved: c.Schemas.ReservedNames}
}

// BaseFor is the base branch a request targets: the requested one when
// allowed, else an error.
func (c *Config) BaseFor(requested string) (string, error) {
	if requested == "" || requested == c.BaseBranch {
		return c.BaseBranch, nil
	}
	for _, b := range c.AllowedBaseBranches {
		if b == requested {
			return b, nil
		}
	}
	allowed := append([]string{c.BaseBranch}, c.AllowedBaseBranches...)
	return "", fmt.Errorf("baseBranch %q is not allowed; requests may target: %s", requested, strings.Join(allowed, ", "))
}
