package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/bot"
	"github.com/rdsbot/rdsbot/pkg/provision"
	secretstore "github.com/rdsbot/rdsbot/pkg/secrets"
	"github.com/rdsbot/rdsbot/pkg/server"
)

func init() {
	register("serve", "run the GitHub App: webhook intake, durable jobs, /metrics", runServe)
}

const serveHelp = `
Runs the GitHub App. Deliveries to POST /webhook are checked (HMAC-SHA256,
fail closed), stored durably and acknowledged at once; the work happens in
jobs. Jobs live in a SQLite file by default (one replica, nothing else to run)
or in Postgres with --database-url (several replicas). Also serves /healthz,
/readyz and /metrics (Prometheus). Logs are JSON on stderr.

Every flag can be given as an environment variable instead; secrets should
be (RDSBOT_WEBHOOK_SECRET takes two comma-separated secrets during a
rotation). SIGTERM or SIGINT stops taking deliveries, lets running jobs
finish within --shutdown-grace and hands the rest back to the queue.`

// envFlag registers a string flag whose default comes from an environment
// variable.
func envFlag(fs *flag.FlagSet, c *cli, name, env, def, usage string) *string {
	if v := c.getenv(env); v != "" {
		def = v
	}
	return fs.String(name, def, usage+" ($"+env+")")
}

func runServe(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "serve", "[flags]", serveHelp)
	listen := envFlag(fs, c, "listen", "RDSBOT_LISTEN", ":8080", "address to listen on")
	appID := envFlag(fs, c, "app-id", "RDSBOT_APP_ID", "", "GitHub App id")
	keyFile := envFlag(fs, c, "private-key-file", "RDSBOT_PRIVATE_KEY_FILE", "", "the App's private key (PEM file)")
	secretFile := envFlag(fs, c, "webhook-secret-file", "RDSBOT_WEBHOOK_SECRET_FILE", "", "file with the webhook secret (a second line: the previous secret, during a rotation)")
	githubURL := envFlag(fs, c, "github-url", "RDSBOT_GITHUB_URL", "", "GitHub API base URL: empty for github.com, https://HOST for Enterprise Server")
	sqlite := envFlag(fs, c, "sqlite", "RDSBOT_SQLITE", "rdsbot.db", "job store file (single replica)")
	dbURL := envFlag(fs, c, "database-url", "RDSBOT_DATABASE_URL", "", "postgres:// job store shared by several replicas (replaces --sqlite)")
	workers := envFlag(fs, c, "workers", "RDSBOT_WORKERS", "10", "jobs worked at once per queue")
	reconcile := envFlag(fs, c, "reconcile-every", "RDSBOT_RECONCILE_EVERY", "15m", "period of the reconcile job; 0 disables it")
	grace := envFlag(fs, c, "shutdown-grace", "RDSBOT_SHUTDOWN_GRACE", "20s", "time running jobs get to finish on shutdown")
	recoverAfter := envFlag(fs, c, "recover-after", "RDSBOT_RECOVER_AFTER", "30s", "with --database-url: how long a replica must be silent before its running jobs go to the others")
	intakeOnly := fs.Bool("intake-only", c.getenv("RDSBOT_INTAKE_ONLY") == "true", "store deliveries but run no jobs (an intake replica, or maintenance); needs no App id or key ($RDSBOT_INTAKE_ONLY)")
	level := envFlag(fs, c, "log-level", "RDSBOT_LOG_LEVEL", "info", "debug, info, warn or error")
	runner := envFlag(fs, c, "runner", "RDSBOT_RUNNER", "", "apply runner of every environment, local or actions (default: each repository's apply.runner)")
	terraform := envFlag(fs, c, "terraform", "RDSBOT_TERRAFORM", "", "terraform or tofu binary of the local runner and PR plans (default: the repository's apply.terraform.binary)")
	secretStore := envFlag(fs, c, "secrets", "RDSBOT_SECRETS", "", "secret store for provisioning after a local apply: aws, or file:DIR (empty: none)")
	region := envFlag(fs, c, "region", "RDSBOT_REGION", "", "AWS region of the secret store (default: the SDK's)")
	sslmode := envFlag(fs, c, "sslmode", "RDSBOT_SSLMODE", "require", "TLS to the instances: require, verify-ca, verify-full or disable")
	rootCert := envFlag(fs, c, "sslrootcert", "RDSBOT_SSLROOTCERT", "", "CA bundle for verify-ca / verify-full (RDS publishes one)")
	dryRun := fs.Bool("provision-dry-run", c.getenv("RDSBOT_PROVISION_DRY_RUN") == "true", "provision nothing after a local apply: report the statements only ($RDSBOT_PROVISION_DRY_RUN)")
	generate := fs.Bool("generate-missing", c.getenv("RDSBOT_GENERATE_MISSING") == "true", "create application secrets that do not exist ($RDSBOT_GENERATE_MISSING)")
	var tfEnv listFlag
	fs.Var(&tfEnv, "terraform-env", "NAME=VALUE added to terraform's environment (repeatable, comma-separated)")
	debounce := envFlag(fs, c, "apply-debounce", "RDSBOT_APPLY_DEBOUNCE", "5s", "wait this long after the newest merge of an environment, so close merges make one apply")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	var errs []error
	// An intake-only replica stores deliveries and never calls GitHub: it
	// needs the webhook secret, not the App's id or key.
	var id int64
	if *appID != "" || !*intakeOnly {
		var err error
		if id, err = strconv.ParseInt(*appID, 10, 64); err != nil || id <= 0 {
			errs = append(errs, fmt.Errorf("--app-id: %q is not a GitHub App id", *appID))
		}
	}
	var key []byte
	switch {
	case *keyFile != "":
		var err error
		if key, err = os.ReadFile(*keyFile); err != nil {
			errs = append(errs, fmt.Errorf("--private-key-file: %w", err))
		}
	case !*intakeOnly:
		errs = append(errs, errors.New("--private-key-file is required (unless --intake-only)"))
	}
	secrets, err := webhookSecrets(c, *secretFile)
	if err != nil {
		errs = append(errs, err)
	}
	nWorkers, err := strconv.Atoi(*workers)
	if err != nil || nWorkers <= 0 {
		errs = append(errs, fmt.Errorf("--workers: %q is not a positive number", *workers))
	}
	every, err := time.ParseDuration(*reconcile)
	if err != nil {
		errs = append(errs, fmt.Errorf("--reconcile-every: %w", err))
	}
	if every == 0 {
		every = -1
	}
	graceD, err := time.ParseDuration(*grace)
	if err != nil {
		errs = append(errs, fmt.Errorf("--shutdown-grace: %w", err))
	}
	recoverD, err := time.ParseDuration(*recoverAfter)
	if err != nil || recoverD <= 0 {
		errs = append(errs, fmt.Errorf("--recover-after: %q is not a positive duration", *recoverAfter))
	}
	debounceD, err := time.ParseDuration(*debounce)
	if err != nil {
		errs = append(errs, fmt.Errorf("--apply-debounce: %w", err))
	}
	if debounceD == 0 {
		debounceD = -1
	}
	if *runner != "" && *runner != "local" && *runner != "actions" {
		errs = append(errs, fmt.Errorf("--runner: %q is not local or actions", *runner))
	}
	tfEnvMap := map[string]string{}
	for _, kv := range tfEnv {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("--terraform-env: %q is not NAME=VALUE", kv))
			continue
		}
		tfEnvMap[k] = v
	}
	var secretStoreV secretstore.Store
	if *secretStore != "" && !*intakeOnly {
		if secretStoreV, err = openStore(ctx, *secretStore, *region, nil); err != nil {
			errs = append(errs, fmt.Errorf("--secrets: %w", err))
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	if len(errs) > 0 {
		return invalid(errors.Join(errs...))
	}
	store := *sqlite
	if *dbURL != "" {
		store = ""
	}
	log := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: lvl}))
	srv, err := server.New(ctx, server.Config{
		GitHubURL: *githubURL, AppID: id, PrivateKey: key, WebhookSecrets: secrets,
		SQLitePath: store, DatabaseURL: *dbURL, Workers: nWorkers, ReconcileEvery: every,
		ShutdownGrace: graceD, RecoverAfter: recoverD, Logger: log, IntakeOnly: *intakeOnly,
		Rollout: bot.RolloutOptions{Runner: *runner, Terraform: *terraform, TerraformEnv: tfEnvMap, Secrets: secretStoreV, DryRun: *dryRun,
			GenerateMissing: *generate, Debounce: debounceD, Admin: provision.Admin{SSLMode: *sslmode, RootCAFile: *rootCert}},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		srv.Stop(context.Background())
		return err
	}
	return srv.Serve(ctx, ln)
}

// webhookSecrets reads the secrets from a file (one per line) or from
// RDSBOT_WEBHOOK_SECRET (comma-separated): the current one and, during a
// rotation, the previous one.
func webhookSecrets(c *cli, file string) ([]string, error) {
	var raw []string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--webhook-secret-file: %w", err)
		}
		raw = strings.Split(string(b), "\n")
	case c.getenv("RDSBOT_WEBHOOK_SECRET") != "":
		raw = strings.Split(c.getenv("RDSBOT_WEBHOOK_SECRET"), ",")
	default:
		return nil, errors.New("a webhook secret is required: --webhook-secret-file or $RDSBOT_WEBHOOK_SECRET (rdsbot never accepts unsigned deliveries)")
	}
	var out []string
	for _, s := range raw {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 || len(out) > 2 {
		return nil, fmt.Errorf("webhook secrets: %d given; give the current secret and at most one previous one", len(out))
	}
	return out, nil
}
