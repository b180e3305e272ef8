// Package server assembles the GitHub App process: the webhook intake, the
// durable job queue, the bot's handlers, and the health and metrics
// endpoints. `rdsbot serve` runs it against GitHub; `rdsbot sandbox` and the
// end-to-end tests run the very same server against githubfake.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rdsbot/rdsbot/pkg/bot"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Config is everything the process needs.
type Config struct {
	// GitHub App.
	GitHubURL      string // "" for github.com; the server for GHES; githubfake's URL
	AppID          int64
	PrivateKey     []byte // PEM
	BotLogin       string // optional; asked from GitHub when empty
	WebhookSecrets []string
	// Job store: exactly one.
	SQLitePath  string
	DatabaseURL string
	// Tuning.
	Workers        int
	ReconcileEvery time.Duration // negative disables the periodic reconcile
	JobRetryDelay  func(attempt int) time.Duration
	LockRetry      time.Duration  // how soon a request job busy on its key tries again
	Pacing         []forge.Window // nil: GitHub's limits
	Retry          forge.RetryPolicy
	// ShutdownGrace is how long running jobs may finish on shutdown before
	// they are handed back to the queue (default 20s).
	ShutdownGrace time.Duration
	// RecoverAfter is how long a replica sharing a Postgres store must have
	// been silent before its running jobs go to the others (default 30s).
	RecoverAfter time.Duration
	// IntakeOnly accepts and stores deliveries but runs no jobs: a replica
	// that only takes webhooks (several replicas share a Postgres store), or
	// one kept quiet during maintenance. Its deliveries wait in the store for
	// a replica that works jobs. It needs no App id or key.
	IntakeOnly bool
	// Rollout are the host's settings of plans, applies and provisioning.
	Rollout bot.RolloutOptions
	Logger  *slog.Logger
	// Observer, when set, also hears every job outcome (the sandbox's
	// timeline); the metrics always do.
	Observer jobs.Observer
}

// Server is one rdsbot process.
type Server struct {
	cfg     Config
	log     *slog.Logger
	queue   *jobs.Queue
	ledger  *ledger.Ledger
	app     *forge.App
	bot     *bot.Bot
	metrics *metrics
	mux     *http.ServeMux
	ready   func(context.Context) error
}

// New opens the job store and prepares every part; it does not start work.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 20 * time.Second
	}
	var errs []error
	if cfg.AppID == 0 && !cfg.IntakeOnly {
		errs = append(errs, errors.New("the GitHub App id is required (--app-id, RDSBOT_APP_ID)"))
	}
	if len(cfg.PrivateKey) == 0 && !cfg.IntakeOnly {
		errs = append(errs, errors.New("the App's private key is required (--private-key-file, RDSBOT_PRIVATE_KEY_FILE)"))
	}
	if len(cfg.WebhookSecrets) == 0 {
		errs = append(errs, errors.New("a webhook secret is required (--webhook-secret, RDSBOT_WEBHOOK_SECRET); rdsbot never accepts unsigned deliveries"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	ghMetrics := forge.NewMetrics()
	obs := &observer{next: cfg.Observer}
	q, err := jobs.Open(ctx, jobs.Config{
		SQLitePath: cfg.SQLitePath, DatabaseURL: cfg.DatabaseURL, Workers: cfg.Workers,
		RetryDelay: cfg.JobRetryDelay, LockRetry: cfg.LockRetry, RecoverAfter: cfg.RecoverAfter, Logger: cfg.Logger, Observer: obs,
	})
	if err != nil {
		return nil, err
	}
	s.queue = q
	s.metrics = newMetrics(q, ghMetrics)
	obs.m = s.metrics
	if !cfg.IntakeOnly {
		if err := s.openBot(ctx, ghMetrics); err != nil {
			q.Close()
			return nil, err
		}
	}
	hook, err := webhook.NewHandler(webhook.Config{Secrets: cfg.WebhookSecrets, Store: q, Logger: cfg.Logger,
		Metrics: s.metrics, Handles: bot.Handles})
	if err != nil {
		q.Close()
		return nil, err
	}
	s.ready = func(ctx context.Context) error {
		_, err := q.Stats(ctx)
		return err
	}
	s.mux.Handle("POST /webhook", hook)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	return s, nil
}

// openBot opens the ledger (what the bot recorded itself, beside the job
// store: among it the commits the App made, which forge trusts as its
// own), the GitHub App and the bot.
func (s *Server) openBot(ctx context.Context, ghMetrics *forge.Metrics) error {
	cfg := s.cfg
	lcfg := ledger.Config{DatabaseURL: cfg.DatabaseURL}
	if cfg.SQLitePath != "" {
		lcfg = ledger.Config{SQLitePath: ledger.PathFor(cfg.SQLitePath)}
	}
	led, err := ledger.Open(ctx, lcfg)
	if err != nil {
		return err
	}
	app, err := forge.NewApp(forge.Config{
		BaseURL: cfg.GitHubURL, AppID: cfg.AppID, PrivateKey: cfg.PrivateKey, BotLogin: cfg.BotLogin,
		Pacing: cfg.Pacing, Retry: cfg.Retry, Metrics: ghMetrics, Logger: cfg.Logger, Ledger: led,
	})
	if err != nil {
		led.Close()
		return err
	}
	b, err := bot.New(bot.Options{App: app, Queue: s.queue, Ledger: led, Logger: cfg.Logger,
		ReconcileEvery: cfg.ReconcileEvery, RetryDelay: cfg.JobRetryDelay, Rollout: cfg.Rollout})
	if err != nil {
		led.Close()
		return err
	}
	s.ledger, s.app, s.bot = led, app, b
	return nil
}

// observer forwards queue events to the metrics once they exist, and to
// the configured observer.
type observer struct {
	m    *metrics
	next jobs.Observer
}

func (o *observer) JobDone(kind string, outcome jobs.Outcome, elapsed time.Duration) {
	if o.m != nil {
		o.m.JobDone(kind, outcome, elapsed)
	}
	if o.next != nil {
		o.next.JobDone(kind, outcome, elapsed)
	}
}

func (o *observer) JobDiscarded(kind string) {
	if o.m != nil {
		o.m.JobDiscarded(kind)
	}
	if lo, ok := o.next.(jobs.LossObserver); ok {
		lo.JobDiscarded(kind)
	}
}

func (o *observer) DeliveriesRedriven(redriven, abandoned int) {
	if o.m != nil {
		o.m.DeliveriesRedriven(redriven, abandoned)
	}
	if lo, ok := o.next.(jobs.LossObserver); ok {
		lo.DeliveriesRedriven(redriven, abandoned)
	}
}

func (o *observer) IntakeCommitted(n int, elapsed time.Duration) {
	if o.m != nil {
		o.m.IntakeCommitted(n, elapsed)
	}
	if o.next != nil {
		o.next.IntakeCommitted(n, elapsed)
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		http.Error(w, "job store unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Handler serves /webhook, /healthz, /readyz and /metrics.
func (s *Server) Handler() http.Handler { return s.mux }

// App is the GitHub App client (for the sandbox's narration); nil for an
// intake-only server.
func (s *Server) App() *forge.App { return s.app }

// Ledger is the store of facts the bot recorded itself; nil for an
// intake-only server.
func (s *Server) Ledger() *ledger.Ledger { return s.ledger }

// Queue is the job queue.
func (s *Server) Queue() *jobs.Queue { return s.queue }

// Start starts the job workers (and the periodic reconcile).
func (s *Server) Start(ctx context.Context) error {
	if s.bot == nil {
		return errors.New("server: an intake-only server runs no jobs")
	}
	reg := jobs.NewRegistry()
	s.bot.Register(reg)
	return s.queue.Start(ctx, reg)
}

// Stop stops taking jobs, lets running ones finish within the grace period
// (then hands them back to the queue) and closes the store.
func (s *Server) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownGrace)
	defer cancel()
	return s.stop(ctx, nil)
}

// stop stops the workers and, concurrently, the HTTP server srv (when
// given), both by ctx's deadline, then closes the store.
func (s *Server) stop(ctx context.Context, srv *http.Server) error {
	var (
		wg      sync.WaitGroup
		httpErr error
	)
	if srv != nil {
		wg.Go(func() {
			httpErr = srv.Shutdown(ctx)
			if errors.Is(httpErr, context.DeadlineExceeded) {
				// Connections still open (or dialled and never used) at
				// the deadline: their deliveries were not acknowledged, so
				// GitHub will redeliver them. Close them.
				httpErr = srv.Close()
			}
			if httpErr != nil {
				httpErr = fmt.Errorf("stop http server: %w", httpErr)
			}
		})
	}
	var errs []error
	if err := s.queue.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop jobs: %w", err))
	}
	wg.Wait()
	if err := s.queue.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close job store: %w", err))
	}
	if s.ledger != nil {
		if err := s.ledger.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close ledger: %w", err))
		}
	}
	return errors.Join(append(errs, httpErr)...)
}

// HTTP server limits. Until a delivery's signature is checked its sender is
// anonymous: it gets ReadHeaderTimeout for its headers and ReadTimeout for
// the whole request (GitHub sends a delivery at once and gives up waiting
// for an answer after 10 s), and the webhook handler bounds how many bodies,
// and how many bytes, are read at once.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Serve listens on ln until ctx ends, then shuts down within
// Config.ShutdownGrace: it stops taking deliveries and lets running jobs
// finish, and hands back to the queue those that do not.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.cfg.IntakeOnly {
		if err := s.Start(ctx); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("rdsbot serving", "addr", ln.Addr().String())
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.log.Info("shutting down: no new deliveries; letting running jobs finish", "grace", s.cfg.ShutdownGrace)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownGrace)
	defer cancel()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, s.stop(stopCtx, srv))
}

// Reconcile runs the bot's reconcile now (tests, and operators through the
// sandbox); the queue also runs it every Config.ReconcileEvery.
func (s *Server) Reconcile(ctx context.Context) error {
	if s.bot == nil {
		return errors.New("server: an intake-only server has no bot")
	}
	return s.bot.Reconcile(ctx)
}
