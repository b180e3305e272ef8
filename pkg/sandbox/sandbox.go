// Package sandbox runs rdsbot end to end in one process: githubfake seeded
// with a GitOps repository, an organisation with its teams and users, and
// the App installed; and rdsbot's server (intake, SQLite job store, bot)
// wired to it by signed webhooks over loopback HTTP, exactly as in
// production. `rdsbot sandbox` plays a story on it; the end-to-end tests
// drive it the same way.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/rdsbot/rdsbot/pkg/bot"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/server"
)

// The people of the sandbox organisation.
const (
	Org       = "acme"
	RepoName  = "acme/platform-infra"
	Requester = "alice"         // app-team: asks for databases
	Platform  = "bob"           // platform-team: reviews and merges
	Security  = "carol"         // security-team
	DBA       = "dave"          // database-team
	Backstage = "backstage-bot" // the identity Backstage dispatches with
)

// Options shape a sandbox. The zero value is the demo's setup.
type Options struct {
	// Content is the repository to seed; default the embedded example.
	Content fs.FS
	// Dir holds the job store; default a new temporary directory, removed
	// on Close.
	Dir string
	// DatabaseURL moves the job store to Postgres.
	DatabaseURL string
	// NoServer seeds githubfake only: the caller runs rdsbot itself (a
	// child process) and registers its URL with AddWebhook.
	NoServer bool
	Logger   *slog.Logger
	Observer jobs.Observer
	// Fake configures githubfake; its zero value has GitHub's limits
	// (5,000 requests an hour, 80 content-creating requests a minute).
	Fake githubfake.Options
	// Pacing and Retry tune rdsbot's GitHub client; their zero values are
	// production's (GitHub's secondary limits, forge's retry policy), so
	// the sandbox runs the App exactly as production does.
	Pacing []forge.Window
	Retry  forge.RetryPolicy
	// JobRetryDelay spaces a failing request job's retries (default the
	// bot's: one second, doubled, at most a minute).
	JobRetryDelay func(attempt int) time.Duration
	// Rollout turns on applies (stand-in terraform) and provisioning after
	// merges; nil: merges are recorded and stop at "merged".
	Rollout *Rollout
}

// Sandbox is a running fake GitHub with rdsbot installed.
type Sandbox struct {
	Fake           *githubfake.Fake
	GitHubURL      string
	Repo           string
	App            githubfake.AppCredentials
	InstallationID int64
	WebhookSecret  string
	Server         *server.Server
	ServerURL      string
	Dir            string
	// Rollout is set when Options.Rollout was.
	Rollout *RolloutParts

	ownDir bool
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start seeds githubfake and, unless NoServer, starts rdsbot against it.
func Start(ctx context.Context, o Options) (_ *Sandbox, err error) {
	if o.Content == nil {
		o.Content = rdsbot.Example()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sandbox{Repo: RepoName, Dir: o.Dir}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "rdsbot-sandbox-"); err != nil {
			return nil, err
		}
		s.ownDir = true
	}
	var secret [16]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	s.WebhookSecret = hex.EncodeToString(secret[:])
	fo := o.Fake
	fo.WebhookSecret = s.WebhookSecret
	if fo.Logger == nil {
		fo.Logger = o.Logger
	}
	s.Fake = githubfake.New(fo)
	if s.GitHubURL, err = s.Fake.Start(); err != nil {
		return nil, err
	}
	if err := s.seed(o.Content); err != nil {
		return nil, err
	}
	if o.Rollout != nil {
		if err := s.startRollout(ctx, o.Rollout); err != nil {
			return nil, err
		}
	}
	if o.NoServer {
		return s, nil
	}
	if err := s.startServer(ctx, o); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) seed(content fs.FS) error {
	f := s.Fake
	for _, u := range []string{Requester, Platform, Security, DBA, "erin"} {
		f.AddUser(u)
	}
	f.AddBot(Backstage)
	f.AddOrg(Org, Requester, Platform, Security, DBA, "erin")
	for team, members := range map[string][]string{
		"platform-team": {Platform}, "security-team": {Security}, "database-team": {DBA}, "app-team": {Requester, "erin"},
	} {
		f.AddTeam(Org, team, members...)
	}
	files := map[string]string{}
	err := fs.WalkDir(content, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(content, p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("read repository content: %w", err)
	}
	if _, err := f.AddRepo(s.Repo, files); err != nil {
		return err
	}
	// The labels rdsbot uses, as a repository that ran it before has them
	// (creating them is a one-time cost of 20-odd writes).
	if err := f.SeedLabels(s.Repo, "rds-request", "rds-database", "rds-invalid", "platform-approval", "rds-allow-delete",
		"rds-decommission", "rds-break-glass", "dev", "test", "staging", "prod", "size:small", "size:medium", "size:large",
		"size:xlarge", "low-risk", "medium-risk", "high-risk"); err != nil {
		return err
	}
	if s.App, err = f.NewApp("rdsbot", Org); err != nil {
		return err
	}
	s.InstallationID, err = f.Install(s.App.ID, Org, s.Repo)
	return err
}

func (s *Sandbox) startServer(ctx context.Context, o Options) error {
	store := filepath.Join(s.Dir, "rdsbot.db")
	if o.DatabaseURL != "" {
		store = ""
	}
	srv, err := server.New(ctx, server.Config{
		GitHubURL: s.GitHubURL, AppID: s.App.ID, PrivateKey: s.App.PEM, WebhookSecrets: []string{s.WebhookSecret},
		SQLitePath: store, DatabaseURL: o.DatabaseURL, Workers: 4, ReconcileEvery: -1,
		// A job busy on its key tries again soon: the sandbox is one
		// process, and the story should not wait on a production timer.
		LockRetry: 50 * time.Millisecond,
		Pacing:    o.Pacing, Retry: o.Retry, JobRetryDelay: o.JobRetryDelay, ShutdownGrace: 5 * time.Second,
		Rollout: s.rolloutOptions(),
		Logger:  o.Logger, Observer: o.Observer,
	})
	if err != nil {
		return err
	}
	s.Server = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Stop(ctx)
		return err
	}
	s.ServerURL = "http://" + ln.Addr().String()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- srv.Serve(runCtx, ln) }()
	if err := waitHTTP(ctx, s.ServerURL+"/readyz"); err != nil {
		return err
	}
	s.AddWebhook(s.ServerURL + "/webhook")
	return nil
}

// AddWebhook registers a receiver of the App's webhooks.
func (s *Sandbox) AddWebhook(url string) { s.Fake.AddWebhookURL(url) }

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("rdsbot did not become ready at %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Settle waits until nothing is left to happen: every webhook delivered and
// answered, and no job waiting, running or due for a retry.
func (s *Sandbox) Settle(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	quiet := 0
	last := -1
	for time.Now().Before(deadline) {
		if err := s.Fake.Quiesce(time.Until(deadline)); err != nil {
			return err
		}
		busy := false
		if s.Server != nil {
			st, err := s.Server.Queue().Stats(ctx)
			if err != nil {
				return err
			}
			for _, k := range st.Kinds {
				if k.Available+k.Running+k.Retryable+k.Scheduled > 0 {
					busy = true
				}
			}
		}
		events := len(s.Fake.Events())
		if !busy && events == last {
			quiet++
			if quiet >= 2 {
				return nil
			}
		} else {
			quiet = 0
		}
		last = events
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return errors.New("sandbox: still busy after " + timeout.String())
}

// Close stops rdsbot and githubfake and removes the temporary directory.
func (s *Sandbox) Close() error {
	var errs []error
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
			errs = append(errs, <-s.done)
		}
		if s.Fake != nil {
			errs = append(errs, s.Fake.Close())
		}
		if s.Rollout != nil && s.Rollout.close != nil {
			s.Rollout.close()
		}
		if s.ownDir {
			errs = append(errs, os.RemoveAll(s.Dir))
		}
	})
	return errors.Join(errs...)
}

func (s *Sandbox) rolloutOptions() bot.RolloutOptions {
	if s.Rollout == nil {
		return bot.RolloutOptions{Off: true}
	}
	return s.Rollout.Options
}
