package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/provision"
	"github.com/rdsbot/rdsbot/pkg/provision/audit"
	"github.com/rdsbot/rdsbot/pkg/secrets"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
)

func init() {
	register("provision", "create the roles, databases and grants of an environment on its Postgres (or --dry-run)", runProvision)
}

const provisionHelp = `
Provisions the application_databases entries of an environment on its
PostgreSQL instance, logged in as the RDS master user (not a superuser):
roles with LOGIN (and CREATEDB unless an entry says createdb = false), the
password of each entry's secret <prefix>/<env>/<key>/postgres set as a
SCRAM-SHA-256 verifier (no password ever reaches the server's log), the
database owned by the role, closed to PUBLIC, and privileges inside it
(owner, or editor/reader with access_level). It reads the current state and
changes only the difference: a second run sends no DDL.

Entries come from envs/<env>-rds/terraform.tfvars (standalone) or
rds_config.application_databases in envs/<env>/terraform.tfvars (coupled);
--mode auto picks coupled when rds_config.enabled = true. --tfvars reads a
file directly. Paths and the secret prefix follow the repository's
rdsbot.yaml.

The master secret (JSON: username, password, and host, port, dbname unless
--host/--port/--dbname give them) is read from AWS Secrets Manager (the SDK's
standard configuration: AWS_REGION, the credential chain,
AWS_ENDPOINT_URL_SECRETS_MANAGER) or, with --secrets file:DIR, from one JSON
file per secret under DIR. TLS is required; --sslmode verify-full
--sslrootcert FILE verifies the server (RDS publishes its CA bundle).

Environments other than dev need ALLOW_DB_PROVISION=true. Fail-fast by
default: a role or database rdsbot does not manage blocks the run before
anything changes. Each action is appended to the audit CSV
(governance/<env>/rds_provision_audit.csv unless --audit-output says
otherwise). --decommission DB:USER disables roles instead (NOLOGIN, CONNECT
revoked, sessions ended; nothing is dropped).

Exit codes: 0 done, 1 a failure or a blocked entry, 2 invalid input.`

// listFlag collects repeatable, comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func runProvision(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "provision", "--env ENV [--mode auto|coupled|standalone | --tfvars FILE] [flags]", provisionHelp)
	repo := fs.String("repo", ".", "the GitOps repository (tfvars, rdsbot.yaml, governance/)")
	env := fs.String("env", "", "environment (required)")
	mode := fs.String("mode", "auto", "auto, coupled or standalone")
	tfvarsFile := fs.String("tfvars", "", "read the entries from this tfvars file instead (application_databases or rds_config.application_databases)")
	masterSecret := fs.String("master-secret", "", "master secret name (default <prefix>/<env>/rds/master)")
	store := fs.String("secrets", "aws", "secret store: aws, or file:DIR")
	region := fs.String("region", "", "AWS region (default: the SDK's, else aws_region from the tfvars)")
	host := fs.String("host", "", "instance address (overrides the master secret's)")
	port := fs.Int("port", 0, "instance port (overrides the master secret's)")
	dbname := fs.String("dbname", "", "database the master logs in to (default the secret's, else postgres)")
	sslmode := fs.String("sslmode", "require", "require, verify-ca, verify-full or disable")
	rootCert := fs.String("sslrootcert", "", "CA bundle for verify-ca / verify-full")
	connectTimeout := fs.Duration("connect-timeout", 10*time.Second, "one connection attempt")
	connectRetry := fs.Duration("connect-retry", 2*time.Minute, "keep retrying a refused connection this long (a fresh instance)")
	buildID := fs.String("build-id", "", "build id recorded in the audit trail (default build_id from envs/<env>/terraform.tfvars, else manual)")
	runID := fs.String("run-id", "local", "run id recorded in the audit trail")
	auditOut := fs.String("audit-output", "", "audit CSV to append to (default <repo>/governance/<env>/rds_provision_audit.csv; \"none\" writes none)")
	dryRun := fs.Bool("dry-run", false, "connect to nothing, read no secret: print the statements a fresh server would get (passwords redacted)")
	noFailFast := fs.Bool("no-fail-fast", false, "go on with the other databases after one fails")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	parallel := fs.Int("parallel", 4, "databases provisioned at once")
	generate := fs.Bool("generate-missing", false, "create application secrets that do not exist (random password)")
	verify := fs.Bool("verify-grants", false, "check the privileges inside every database, even those marked done, and repair drift")
	verbose := fs.Bool("verbose", false, "log every statement (passwords redacted) and each step")
	var adopt, decommission listFlag
	fs.Var(&adopt, "adopt", "existing role(s) without rdsbot's mark that this run may take over (repeatable)")
	fs.Var(&decommission, "decommission", "DATABASE:USERNAME to decommission instead of provisioning (repeatable)")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	if *env == "" {
		return invalid(errors.New("--env is required"))
	}
	if err := provision.CheckEnvironment(*env); err != nil {
		return invalid(err)
	}
	cfg, err := loadConfig(*repo)
	if err != nil {
		return invalid(err)
	}

	if *buildID == "" {
		*buildID = defaultBuildID(*repo, cfg, *env)
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))

	opts := provision.Options{
		Environment: *env, SecretPrefix: cfg.Secrets.Prefix, MasterSecret: *masterSecret,
		Admin: provision.Admin{Host: *host, Port: *port, Database: *dbname, SSLMode: *sslmode, RootCAFile: *rootCert,
			ConnectTimeout: *connectTimeout, RetryFor: *connectRetry},
		Approved:        strings.EqualFold(strings.TrimSpace(c.getenv("ALLOW_DB_PROVISION")), "true"),
		DryRun:          *dryRun,
		ContinueOnError: *noFailFast,
		GenerateMissing: *generate,
		VerifyGrants:    *verify,
		Adopt:           adopt,
		Parallel:        *parallel,
		BuildID:         *buildID, RunID: *runID,
		Logger: logger,
	}
	if *connectRetry == 0 {
		opts.Admin.RetryFor = -1
	}

	var tfvarsSrc []byte // for the region fallback
	var sourceNote string
	if len(decommission) > 0 {
		for _, d := range decommission {
			db, user, ok := strings.Cut(d, ":")
			if !ok {
				return invalid(fmt.Errorf("--decommission %q: want DATABASE:USERNAME", d))
			}
			opts.Entries = append(opts.Entries, provision.Entry{Database: db, Username: user, Access: provision.Owner})
		}
		sourceNote = "decommission"
	} else {
		entries, src, note, err := readProvisionEntries(*repo, cfg, *env, provision.Mode(*mode), *tfvarsFile)
		if err != nil {
			return invalid(err)
		}
		opts.Entries, tfvarsSrc, sourceNote = entries, src, note
	}

	if !*dryRun {
		// Opening the store reads configuration only; the approval gate
		// (provision.Run) still comes before any secret is read.
		if opts.Secrets, err = openStore(ctx, *store, *region, tfvarsSrc); err != nil {
			return err
		}
	}

	sinks := audit.Multi{}
	auditPath := *auditOut
	if auditPath == "" && !*dryRun {
		auditPath = filepath.Join(*repo, "governance", *env, "rds_provision_audit.csv")
	}
	if auditPath != "" && auditPath != "none" {
		sinks = append(sinks, audit.File{Path: auditPath})
	}
	opts.Audit = sinks

	total := len(opts.Entries)
	done := 0
	if isTerminal(c.stderr) && !*jsonOut {
		opts.Progress = func(r provision.EntryResult) {
			done++
			fmt.Fprintf(c.stderr, "[%d/%d] %-14s %s (%s/%s)\n", done, total, r.Outcome, r.Key, r.Database, r.Username)
		}
	}

	var rep *provision.Report
	if len(decommission) > 0 {
		rep, err = provision.Decommission(ctx, opts)
	} else {
		rep, err = provision.Run(ctx, opts)
	}
	if *jsonOut {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		printReport(c.stdout, rep, sourceNote, auditPath)
	}
	if errors.Is(err, provision.ErrInvalid) {
		return invalid(err)
	}
	return err
}

// loadConfig reads the repository's rdsbot.yaml, or the defaults.
func loadConfig(repo string) (*config.Config, error) {
	b, err := os.ReadFile(filepath.Join(repo, config.FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return config.Default(), nil
	}
	if err != nil {
		return nil, err
	}
	return config.Parse(b)
}

// defaultBuildID is build_id from the environment's coupled tfvars (the
// Makefile convention), else "manual".
func defaultBuildID(repo string, cfg *config.Config, env string) string {
	p := config.Expand(cfg.Paths.CoupledTfvars, env)
	b, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(p)))
	if err != nil {
		return "manual"
	}
	v, found, err := tfvars.Lookup(b, p, tfvars.Path{"build_id"})
	if err != nil || !found || v.Type() != cty.String || v.IsNull() || v.AsString() == "" {
		return "manual"
	}
	return v.AsString()
}

// readProvisionEntries reads the entries from --tfvars or from the
// environment's tfvars chosen by mode.
func readProvisionEntries(repo string, cfg *config.Config, env string, mode provision.Mode, file string) ([]provision.Entry, []byte, string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, "", err
		}
		path := tfvars.Path{cfg.Paths.MapAttribute}
		if _, found, _ := tfvars.Lookup(b, file, path); !found {
			path = tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledMap}
		}
		entries, err := provision.ReadEntries(b, file, path)
		if err != nil {
			return nil, nil, "", err
		}
		return entries, b, fmt.Sprintf("%s (%s)", file, path), provision.ValidateEntries(entries)
	}
	dir := os.DirFS(repo)
	entries, src, where, err := provision.LoadEnvironment(dir, cfg, env, mode)
	if err != nil {
		return nil, nil, "", err
	}
	var b []byte
	if src.Path != "" {
		b, _ = fs.ReadFile(dir, src.Path)
	}
	return entries, b, where, nil
}

// openStore opens the secret store named by --secrets.
func openStore(ctx context.Context, spec, region string, tfvarsSrc []byte) (secrets.Store, error) {
	if dir, ok := strings.CutPrefix(spec, "file:"); ok {
		return secrets.NewFile(dir)
	}
	if spec != "aws" {
		return nil, invalid(fmt.Errorf("--secrets %q: want aws or file:DIR", spec))
	}
	if region == "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" && tfvarsSrc != nil {
		if v, found, err := tfvars.Lookup(tfvarsSrc, "tfvars", tfvars.Path{"aws_region"}); err == nil && found && v.Type() == cty.String && !v.IsNull() {
			region = v.AsString()
		}
	}
	return secrets.NewAWS(ctx, secrets.AWSOptions{Region: region})
}

func printReport(w io.Writer, rep *provision.Report, source, auditPath string) {
	if rep == nil || (len(rep.Rows) == 0 && rep.Target == "" && !rep.DryRun) {
		return // stopped before anything ran: the error says why
	}
	if rep.DryRun {
		fmt.Fprintf(w, "# %s\n# entries: %s\n", provision.DryRunNote, source)
		db := ""
		for _, s := range rep.Statements {
			if s.Database != db {
				db = s.Database
				fmt.Fprintf(w, "\n-- on %s\n", db)
			}
			fmt.Fprintf(w, "%s;\n", s.SQL)
		}
		fmt.Fprintln(w)
	} else if rep.Target != "" {
		fmt.Fprintf(w, "%s on %s (PostgreSQL %d.%d), entries from %s\n", rep.Environment, rep.Target, rep.ServerVersion/10000, rep.ServerVersion%100, source)
	}
	for _, r := range rep.Results {
		line := fmt.Sprintf("%-14s %s (%s/%s, %s)", r.Outcome, r.Key, r.Database, r.Username, r.Access)
		if len(r.Changes) > 0 {
			line += ": " + strings.Join(r.Changes, "; ")
		}
		for _, warn := range r.Warnings {
			line += "\n               warning: " + warn
		}
		if r.Error != "" {
			line += "\n               " + strings.ReplaceAll(r.Error, "\n", "\n               ")
		}
		fmt.Fprintln(w, line)
	}
	counts := map[audit.Status]int{}
	for _, row := range rep.Rows {
		counts[row.Status]++
	}
	fmt.Fprintf(w, "audit: %d success, %d no change, %d warning, %d error, %d dry run", counts[audit.Success], counts[audit.NoChange],
		counts[audit.Warning], counts[audit.Error], counts[audit.DryRun])
	if auditPath != "" && auditPath != "none" && len(rep.Rows) > 0 {
		fmt.Fprintf(w, " (appended to %s)", auditPath)
	}
	fmt.Fprintf(w, "\n%d DDL statement(s) in %s\n", rep.DDL, rep.Duration.Round(time.Millisecond))
}

// isTerminal reports whether w is a character device (progress lines are
// for people, not for logs).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
