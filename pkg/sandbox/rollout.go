package sandbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rdsbot/rdsbot/pkg/bot"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/provision"
	"github.com/rdsbot/rdsbot/pkg/secrets"
	"github.com/rdsbot/rdsbot/pkg/secrets/smfake"
)

// Rollout turns on what happens after a merge: applies through the local
// runner with the stand-in terraform (pkg/apply/tfstandin, the running
// executable linked as terraform-standin, so a test binary must hand over
// to tfstandin.Main when tfstandin.Invoked), and provisioning through AWS
// Secrets Manager's stand-in (smfake over HTTP, through the AWS SDK) on
// Master's Postgres, or a dry run when Master is nil.
type Rollout struct {
	// Master is an RDS-shaped master user (not a superuser) on a Postgres
	// server; nil: provisioning is a dry run, and the statuses say so.
	Master *Master
	// Debounce is how long an apply waits after the newest merge of its
	// environment (default 1s; negative: none).
	Debounce time.Duration
	// Runner forces the runner of every environment: "" or local (the
	// stand-in terraform), or actions (rds-apply.yml dispatched on the
	// fake, whose runs the test completes).
	Runner string
}

// Master is the login of an RDS master user.
type Master struct {
	Host       string
	Port       int
	User       string
	Password   string
	Database   string
	SSLMode    string // default require
	RootCAFile string
}

// RolloutParts are what the sandbox made for rollouts.
type RolloutParts struct {
	// Terraform is the stand-in's path; TerraformDir its state and calls
	// (tfstandin.ReadCalls).
	Terraform, TerraformDir string
	// Secrets is the Secrets Manager stand-in; SecretsURL its endpoint.
	Secrets    *smfake.Server
	SecretsURL string
	// Options are the bot's rollout options, for a child `rdsbot serve`
	// too (see ServeFlags).
	Options bot.RolloutOptions
	close   func()
}

// Environments the sandbox seeds a master secret for.
var environments = []string{"dev", "test", "staging", "prod"}

func (s *Sandbox) startRollout(ctx context.Context, o *Rollout) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	binDir := filepath.Join(s.Dir, "bin")
	tfDir := filepath.Join(s.Dir, "terraform")
	for _, d := range []string{binDir, tfDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	bin := filepath.Join(binDir, "terraform-standin")
	if err := os.Symlink(exe, bin); err != nil && !os.IsExist(err) {
		return fmt.Errorf("link the stand-in terraform: %w", err)
	}
	sm := smfake.New(smfake.Options{Credentials: map[string]string{"AKIDSANDBOX": "sandbox-secret"}})
	ts := httptest.NewServer(sm)
	store := secrets.NewAWSFromConfig(aws.Config{
		Region:       "eu-west-2",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "sandbox-secret", ""),
		BaseEndpoint: aws.String(ts.URL),
	})
	ro := bot.RolloutOptions{
		Runner: cmp.Or(o.Runner, "local"), Terraform: bin, TerraformEnv: map[string]string{"TF_STANDIN_DIR": tfDir},
		Secrets: store, GenerateMissing: true, Debounce: o.Debounce,
	}
	if ro.Debounce == 0 {
		ro.Debounce = time.Second
	}
	if m := o.Master; m != nil {
		mode := m.SSLMode
		if mode == "" {
			mode = "require"
		}
		ro.Admin = provision.Admin{SSLMode: mode, RootCAFile: m.RootCAFile, RetryFor: -1}
		db := m.Database
		if db == "" {
			db = "postgres"
		}
		for _, env := range environments {
			creds := secrets.Credentials{Username: m.User, Password: m.Password, Host: m.Host, Port: m.Port, DBName: db, Engine: "postgres"}
			sm.Seed(provision.MasterSecretPath("goldenpath", env), creds.JSON())
		}
	} else {
		ro.DryRun = true
	}
	s.Rollout = &RolloutParts{Terraform: bin, TerraformDir: tfDir, Secrets: sm, SecretsURL: ts.URL, Options: ro, close: ts.Close}
	_ = ctx
	return nil
}

// StartPostgres starts a throwaway PostgreSQL cluster shaped like an RDS
// instance (TLS with its own CA, SCRAM passwords, a master user that is not
// a superuser) for the demo. It returns pgtest.ErrNoPostgres when
// PostgreSQL's binaries are not installed.
func StartPostgres(ctx context.Context) (*Master, func() error, error) {
	c, err := pgtest.Start(ctx, pgtest.Options{TLS: true, PasswordAuth: true})
	if err != nil {
		return nil, nil, err
	}
	var pw [18]byte
	if _, err := rand.Read(pw[:]); err != nil {
		c.Stop()
		return nil, nil, err
	}
	m := &Master{Host: "127.0.0.1", Port: c.Port(), User: "rdsadmin_demo", Password: hex.EncodeToString(pw[:]),
		Database: "platform", SSLMode: "verify-full", RootCAFile: c.CAFile()}
	if err := c.CreateRDSMaster(ctx, m.User, m.Password, m.Database); err != nil {
		c.Stop()
		return nil, nil, err
	}
	return m, c.Stop, nil
}
