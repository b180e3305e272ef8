package config

// ---- apply: the terraform runners (pkg/apply) ---------------------------
//
// Everything about how plans and applies run lives under the `apply:` key,
// in this file: the types, their defaults and their checks. Config carries
// it as Config.Apply; Default and Check call DefaultApply and checkApply.

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Apply runners.
const (
	RunnerLocal   = "local"   // rdsbot runs terraform (or tofu) itself on a checkout of the commit
	RunnerActions = "actions" // rdsbot dispatches the apply workflow and follows its run
)

// Apply configures the terraform runners: which runner each environment
// uses, how terraform runs, the state backend, what a plan may never
// destroy, and the workflow the actions runner dispatches.
type Apply struct {
	// Runner is the runner of every environment not listed in Runners.
	Runner string `yaml:"runner"`
	// Runners names the runner of an environment (local or actions).
	Runners map[string]string `yaml:"runners"`
	// Roots are the terraform root directories of an environment, templates
	// with {env}; an apply runs in each root the change touched.
	Roots []string `yaml:"roots"`
	// Backend is passed to `init` as -backend-config=key=value, values
	// templates with {env} and {root} (the root directory).
	Backend   map[string]string `yaml:"backend"`
	Terraform Terraform         `yaml:"terraform"`
	Plan      PlanPolicy        `yaml:"plan"`
	Actions   ActionsRunner     `yaml:"actions"`
}

// Terraform is how the local runner (and PR plans) run the binary.
type Terraform struct {
	// Binary is terraform, tofu, or a path to either.
	Binary string `yaml:"binary"`
	// LockTimeout is passed as -lock-timeout to init, plan and apply.
	LockTimeout time.Duration `yaml:"lock_timeout"`
	// Timeout bounds one whole run (checkout, every root, every command).
	Timeout time.Duration `yaml:"timeout"`
	// KillGrace is how long terraform may take to stop after an interrupt
	// (it releases the state lock) before its process group is killed.
	KillGrace time.Duration `yaml:"kill_grace"`
	// PassEnv names the variables of rdsbot's own environment passed to
	// terraform; nothing else is inherited.
	PassEnv []string `yaml:"pass_env"`
	// Env are fixed variables for terraform (for example TF_PLUGIN_CACHE_DIR).
	Env map[string]string `yaml:"env"`
	// WorkDir is where fresh checkouts are made; empty: the system's temporary directory.
	WorkDir string `yaml:"work_dir"`
}

// PlanPolicy says which planned changes fail a plan.
type PlanPolicy struct {
	// Protected are resource types or addresses ('*' matches any text, e.g.
	// aws_kms_key, aws_kms_key.*, module.db.aws_db_instance.main) that a plan may never
	// destroy or replace. Database instances and Secrets Manager secrets are
	// always protected.
	Protected []string `yaml:"protected"`
	// Skip lists environments where no pull-request plan runs (for example
	// where rdsbot holds no credentials and applies through actions).
	Skip []string `yaml:"skip"`
	// DecommissionDestroys are the addresses an approved decommission may
	// destroy although they are protected, "{db}" standing for the
	// database's name (its key in the root's for_each): its secret and the
	// secret's version in this repository's standalone root. A database
	// instance never.
	DecommissionDestroys []string `yaml:"decommission_destroys"`
}

// ActionsRunner configures the actions runner.
type ActionsRunner struct {
	// Workflow is the apply workflow's file under .github/workflows.
	Workflow string `yaml:"workflow"`
	// PollEvery is how often a run is read when no workflow_run webhook came.
	PollEvery time.Duration `yaml:"poll_every"`
	// Timeout bounds how long a run is followed before it is reported as timed out.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultApply is the apply configuration of this repository's layout:
// the standalone root per environment, the S3 backend of the original
// workflow, applies through GitHub Actions.
func DefaultApply() Apply {
	return Apply{
		Runner:  RunnerActions,
		Runners: map[string]string{},
		Roots:   []string{"envs/{env}-rds"},
		Backend: map[string]string{
			"bucket":         "goldenpath-idp-{env}-bucket",
			"key":            "{root}/terraform.tfstate",
			"region":         "eu-west-2",
			"dynamodb_table": "goldenpath-idp-{env}-db-key",
			"encrypt":        "true",
		},
		Terraform: Terraform{
			Binary:      "terraform",
			LockTimeout: 5 * time.Minute,
			Timeout:     30 * time.Minute,
			KillGrace:   30 * time.Second,
			PassEnv: []string{
				"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
				"AWS_REGION", "AWS_DEFAULT_REGION",
				"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
				"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
				"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
			},
			Env: map[string]string{},
		},
		Plan: PlanPolicy{Protected: []string{}, Skip: []string{},
			DecommissionDestroys: []string{`aws_secretsmanager_secret.app["{db}"]`, `aws_secretsmanager_secret_version.app["{db}"]`}},
		Actions: ActionsRunner{Workflow: "rds-apply.yml", PollEvery: time.Minute, Timeout: 2 * time.Hour},
	}
}

// RunnerFor is the runner of an environment.
func (a Apply) RunnerFor(env string) string {
	if r, ok := a.Runners[env]; ok {
		return r
	}
	return a.Runner
}

// RootsFor are an environment's terraform roots.
func (a Apply) RootsFor(env string) []string {
	out := make([]string, len(a.Roots))
	for i, r := range a.Roots {
		out[i] = Expand(r, env)
	}
	return out
}

// BackendFor is the -backend-config of a root, sorted by key.
func (a Apply) BackendFor(env, root string) []string {
	keys := make([]string, 0, len(a.Backend))
	for k := range a.Backend {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := strings.NewReplacer("{env}", env, "{root}", root)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+r.Replace(a.Backend[k]))
	}
	return out
}

// PlanSkipped reports whether pull requests of env get no plan.
func (a Apply) PlanSkipped(env string) bool { return slices.Contains(a.Plan.Skip, env) }

var (
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	backendKey = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	workflowRE = regexp.MustCompile(`^[A-Za-z0-9._-]+\.ya?ml$`)
)

// checkApply validates the apply block; bad reports one problem.
func checkApply(a Apply, bad func(field, format string, args ...any)) {
	runner := func(field, v string) {
		if v != RunnerLocal && v != RunnerActions {
			bad(field, "must be %s or %s, got %q", RunnerLocal, RunnerActions, v)
		}
	}
	runner("apply.runner", a.Runner)
	for _, env := range sortedKeys(a.Runners) {
		runner("apply.runners."+env, a.Runners[env])
	}
	if len(a.Roots) == 0 {
		bad("apply.roots", "must list at least one terraform root")
	}
	for i, r := range a.Roots {
		field := fmt.Sprintf("apply.roots[%d]", i)
		p := Expand(r, "env")
		switch {
		case !strings.Contains(r, "{env}"):
			bad(field, "must contain {env}, got %q", r)
		case p == "" || path.IsAbs(p) || path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../"):
			bad(field, "must be a clean relative directory inside the repository, got %q", r)
		}
	}
	for _, k := range sortedKeys(a.Backend) {
		if !backendKey.MatchString(k) {
			bad("apply.backend."+k, "is not a backend setting name (lower case letters, digits, _)")
		}
		for _, v := range placeholder.FindAllString(a.Backend[k], -1) {
			if v != "{env}" && v != "{root}" {
				bad("apply.backend."+k, "unknown placeholder %s (use {env} and {root})", v)
			}
		}
	}
	t := a.Terraform
	if strings.TrimSpace(t.Binary) == "" {
		bad("apply.terraform.binary", "must name terraform, tofu or a path to either")
	}
	for field, d := range map[string]time.Duration{
		"apply.terraform.lock_timeout": t.LockTimeout, "apply.terraform.timeout": t.Timeout,
		"apply.actions.poll_every": a.Actions.PollEvery, "apply.actions.timeout": a.Actions.Timeout,
	} {
		if d <= 0 {
			bad(field, "must be a positive duration such as 5m, got %s", d)
		}
	}
	if t.KillGrace < 0 {
		bad("apply.terraform.kill_grace", "must not be negative, got %s", t.KillGrace)
	}
	for i, n := range t.PassEnv {
		if !envName.MatchString(n) {
			bad(fmt.Sprintf("apply.terraform.pass_env[%d]", i), "%q is not an environment variable name", n)
		}
	}
	for _, n := range sortedKeys(t.Env) {
		if !envName.MatchString(n) {
			bad("apply.terraform.env."+n, "is not an environment variable name")
		}
	}
	for i, p := range a.Plan.Protected {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, "\n\t") {
			bad(fmt.Sprintf("apply.plan.protected[%d]", i), "%q is not a resource type or address pattern", p)
		}
	}
	for i, p := range a.Plan.DecommissionDestroys {
		field := fmt.Sprintf("apply.plan.decommission_destroys[%d]", i)
		switch {
		case strings.TrimSpace(p) != p || strings.ContainsAny(p, " \n\t*"):
			bad(field, "%q is not a resource address (no spaces or wildcards)", p)
		case !strings.Contains(p, "{db}"):
			bad(field, "%q must name the database with {db}: one decommission destroys only its own database's resources", p)
		case strings.HasPrefix(p, "aws_db_instance") || strings.Contains(p, ".aws_db_instance"):
			bad(field, "%q is a database instance, which a decommission never destroys", p)
		}
	}
	if !workflowRE.MatchString(a.Actions.Workflow) {
		bad("apply.actions.workflow", "must be a workflow file name under .github/workflows (name.yml), got %q", a.Actions.Workflow)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
