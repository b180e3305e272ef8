package githubfake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Window is a rate limit: at most Max requests per Per.
type Window struct {
	Max int
	Per time.Duration
}

// Options configure a Fake. The zero value behaves like github.com.
type Options struct {
	// WebhookSecret signs deliveries (X-Hub-Signature-256). Empty sends no signature.
	WebhookSecret string
	// WebhookURLs receive every event. More can be added with AddWebhookURL.
	WebhookURLs []string
	// TokenTTL is the life of an installation token (default one hour).
	TokenTTL time.Duration
	// RateLimit is the primary budget of requests per token per hour (default 5000).
	RateLimit int
	// RateLimitStatus answers an exhausted primary budget: 403 (default) or 429.
	RateLimitStatus int
	// SecondaryLimits bound content-creating requests (POST, PATCH, PUT, DELETE)
	// per token. Default: GitHub's 80 a minute and 500 an hour. Tests use e.g.
	// []Window{{Max: 5, Per: time.Second}}.
	SecondaryLimits []Window
	// SecondaryStatus answers a secondary limit: 403 (default) or 429.
	SecondaryStatus int
	// SecondaryRetryAfter is the Retry-After sent with a secondary limit (default 60s).
	SecondaryRetryAfter time.Duration
	// WebhookTimeout bounds one delivery attempt (default 10s).
	WebhookTimeout time.Duration
	// Now is the clock (default time.Now). Advance moves it further.
	Now func() time.Time
	// Logger receives one line per request and delivery (default: discard).
	Logger *slog.Logger
	// FaultSeed seeds the random choice of rate-based faults (default 1).
	FaultSeed int64
}

// Fake is an in-memory GitHub served over HTTP. All methods are safe for
// concurrent use.
type Fake struct {
	mu      sync.Mutex
	opts    Options
	log     *slog.Logger
	baseURL string
	offset  atomic.Int64 // nanoseconds added to opts.Now by Advance

	nextID   int64
	users    map[string]*User // lower-case login
	orgs     map[string]*org
	repos    map[string]*repo // lower-case full name
	apps     map[int64]*App
	installs map[int64]*installation
	tokens   map[string]*token

	router *router
	stats  *callStats
	limits *limiter
	faults *faults
	hooks  *hookQueue

	server   *http.Server
	listener net.Listener

	runDetails atomic.Int32 // RunDetailsMode of workflow dispatches (workflow.go)
}

// New returns a Fake with no data. Seed it with the test API, then Start it.
func New(opts Options) *Fake {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = 5000
	}
	if opts.RateLimitStatus == 0 {
		opts.RateLimitStatus = http.StatusForbidden
	}
	if opts.SecondaryLimits == nil {
		opts.SecondaryLimits = []Window{{Max: 80, Per: time.Minute}, {Max: 500, Per: time.Hour}}
	}
	if opts.SecondaryStatus == 0 {
		opts.SecondaryStatus = http.StatusForbidden
	}
	if opts.SecondaryRetryAfter <= 0 {
		opts.SecondaryRetryAfter = time.Minute
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FaultSeed == 0 {
		opts.FaultSeed = 1
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fake{
		opts: opts, log: log, baseURL: "http://github.fake",
		nextID: 1000,
		users:  map[string]*User{}, orgs: map[string]*org{}, repos: map[string]*repo{},
		apps: map[int64]*App{}, installs: map[int64]*installation{}, tokens: map[string]*token{},
		stats: newCallStats(), limits: newLimiter(), faults: newFaults(opts.FaultSeed),
	}
	f.router = f.routes()
	f.hooks = newHookQueue(f)
	for _, u := range opts.WebhookURLs {
		f.hooks.addURL(u)
	}
	return f
}

// now is the fake's clock, truncated to seconds like GitHub's timestamps.
func (f *Fake) now() time.Time {
	return f.opts.Now().Add(time.Duration(f.offset.Load())).UTC().Truncate(time.Second)
}

// Advance moves the fake's clock forward (token expiry, rate-limit windows,
// merge queue check timeouts: a group whose required checks are still
// missing after the rule's timeout is dequeued).
func (f *Fake) Advance(d time.Duration) {
	f.offset.Add(int64(d))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.repos {
		f.checksChanged(r)
	}
}

// id hands out the next globally unique object id. Callers hold f.mu.
func (f *Fake) id() int64 {
	f.nextID++
	return f.nextID
}

// URL is the base URL the fake is reachable at (set by Start, ListenAndServe
// or SetBaseURL). go-github clients use URL()+"/api/v3/" or URL()+"/".
func (f *Fake) URL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.baseURL
}

// SetBaseURL tells the fake where it is served when the caller serves
// it itself (for example through httptest.NewServer(fake)). Links in
// responses (url, html_url) are built from it.
func (f *Fake) SetBaseURL(u string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.baseURL = strings.TrimRight(u, "/")
}

// apiURL is the REST root used in `url` fields.
func (f *Fake) apiURL() string { return f.baseURL + "/api/v3" }

// Start listens on a free loopback port and serves in the background. It
// returns the base URL.
func (f *Fake) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("githubfake: listen: %w", err)
	}
	f.serve(ln)
	return f.URL(), nil
}

// ListenAndServe serves on addr (for example ":8081" in the sandbox) until
// Close. It returns http.ErrServerClosed after Close.
func (f *Fake) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("githubfake: listen: %w", err)
	}
	srv := f.serve(ln)
	<-srv.done
	return http.ErrServerClosed
}

type serving struct{ done chan struct{} }

func (f *Fake) serve(ln net.Listener) serving {
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	host := ln.Addr().String()
	if strings.HasPrefix(host, "[::]") || strings.HasPrefix(host, "0.0.0.0") {
		_, port, _ := net.SplitHostPort(host)
		host = "127.0.0.1:" + port
	}
	f.SetBaseURL("http://" + host)
	f.mu.Lock()
	f.server, f.listener = srv, ln
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.log.Error("githubfake: serve", "err", err)
		}
	}()
	return serving{done: done}
}

// Close stops the server (if started) and the webhook sender.
func (f *Fake) Close() error {
	f.hooks.close()
	f.mu.Lock()
	srv := f.server
	f.mu.Unlock()
	if srv == nil {
		return nil
	}
	// A connection a client dialled but never used counts as busy for five
	// seconds; don't wait for it: give requests in flight a moment, then
	// close whatever is left.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && errors.Is(err, context.DeadlineExceeded) {
		return srv.Close()
	} else if err != nil {
		return err
	}
	return nil
}
