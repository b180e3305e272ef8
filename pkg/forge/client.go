package forge

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Config configures an App (or a token client). Only AppID and PrivateKey
// are required for an App.
type Config struct {
	// BaseURL is the API root: "" for github.com, the server for GitHub
	// Enterprise Server ("https://ghe.example.com", "/api/v3" is added) or
	// githubfake's URL.
	BaseURL string
	// AppID and PrivateKey (PEM) authenticate the GitHub App.
	AppID      int64
	PrivateKey []byte
	// BotLogin is the App's bot account ("rdsbot[bot]"); empty asks GitHub
	// once (GET /app). Comments, labels and pull requests GitHub shows as
	// made by this login are the bot's own (commits are not: see Ledger).
	BotLogin string
	// Ledger records the commits the bot writes and is the only judge of
	// whether a branch head is the bot's (see CommitLedger). It must be
	// durable and shared by all replicas; nil is a MemoryLedger for this
	// App alone, with a warning: after a restart the bot's earlier branches
	// count as someone else's, so their requests stop until a person acts.
	Ledger CommitLedger
	// Transport is the HTTP transport under everything (default: a clone of
	// http.DefaultTransport with more idle connections per host).
	Transport http.RoundTripper
	// Retry is the retry policy (see RetryPolicy for defaults).
	Retry RetryPolicy
	// Pacing bounds content-creating requests per installation; nil is
	// DefaultPacing (GitHub's 80/minute and 500/hour), an empty non-nil
	// slice turns pacing off (the holds GitHub's refusals ask for stay).
	Pacing []Window
	// CacheBytes bounds the ETag cache that all the App's installation
	// clients share (default 16 MiB; negative disables it).
	CacheBytes int64
	// SnapshotBytes bounds the cache of tree listings and blobs that all the
	// App's installation clients share (default 64 MiB).
	SnapshotBytes int64
	// MaxInstallations bounds the installation clients an App keeps (default
	// 256), least recently used out first: anyone can install a public App,
	// so their number is not the operator's to bound. An evicted
	// installation gets a new client (and token) when it is used again.
	MaxInstallations int
	// TeamTTL is how long a team membership answer is reused (default 1m;
	// negative disables the cache).
	TeamTTL time.Duration
	// LabelColors gives repository labels their colour ("d73a4a") when
	// forge creates them; others get a colour derived from the name.
	LabelColors map[string]string
	// ProposeAttempts bounds Propose's re-read and re-plan loop (default 5).
	ProposeAttempts int
	// Metrics receives every call (default: a new Metrics per App).
	Metrics *Metrics
	// Logger (default: discard).
	Logger *slog.Logger
	// UserAgent is sent with every request (default "rdsbot").
	UserAgent string
}

func (c Config) withDefaults() Config {
	if c.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		c.Transport = t
	}
	c.Retry = c.Retry.withDefaults()
	if c.Pacing == nil {
		c.Pacing = DefaultPacing
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 16 << 20
	}
	if c.SnapshotBytes <= 0 {
		c.SnapshotBytes = 64 << 20
	}
	if c.MaxInstallations <= 0 {
		c.MaxInstallations = 256
	}
	if c.TeamTTL == 0 {
		c.TeamTTL = time.Minute
	}
	if c.ProposeAttempts <= 0 {
		c.ProposeAttempts = 5
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Ledger == nil {
		c.Logger.Warn("forge: no durable commit ledger configured; the bot's commits are remembered in memory only, " +
			"so after a restart its earlier branches count as someone else's")
		c.Ledger = NewMemoryLedger(0)
	}
	if c.UserAgent == "" {
		c.UserAgent = "rdsbot"
	}
	return c
}

// App is a GitHub App: it authenticates with its JWT and hands out one
// Client per installation, the Config.MaxInstallations most recently used
// kept (ghinstallation refreshes installation tokens before they expire).
// Its clients share one set of caches, each under one bound.
type App struct {
	cfg    Config
	key    *rsa.PrivateKey
	apiURL string // for ghinstallation; "" keeps its github.com default
	jwt    *github.Client
	caches *caches

	mu       sync.Mutex
	clients  *simplelru.LRU[int64, *Client]
	repoInst *simplelru.LRU[string, int64]
	bot      string
}

// maxRepoInstallations bounds the remembered repository -> installation
// lookups (repository names come from events).
const maxRepoInstallations = 4096

// caches are an App's memory, shared by its clients: every key starts with
// the client's label, so no client reads what GitHub showed another.
type caches struct {
	etag   *etagStore // nil: disabled
	snaps  *snapshotStore
	teams  *teamCache
	labels *labelMemo
}

func newCaches(cfg Config) *caches {
	cs := &caches{snaps: newSnapshotStore(cfg.SnapshotBytes, sharedFetchTimeout(cfg.Retry)),
		teams: newTeamCache(cfg.TeamTTL), labels: newLabelMemo()}
	if cfg.CacheBytes > 0 {
		cs.etag = newETagStore(cfg.CacheBytes)
	}
	return cs
}

// sharedFetchTimeout bounds a fetch that several callers share: every
// attempt the retry policy allows, and a rate-limit wait.
func sharedFetchTimeout(p RetryPolicy) time.Duration {
	return time.Duration(p.MaxAttempts)*(p.AttemptTimeout+p.MaxDelay) + p.MaxWait
}

// NewApp prepares an App; it makes no request.
func NewApp(cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	if cfg.AppID == 0 || len(cfg.PrivateKey) == 0 {
		return nil, fmt.Errorf("forge: app id and private key are required")
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("forge: private key: %w", err)
	}
	a := &App{cfg: cfg, key: key, caches: newCaches(cfg), bot: cfg.BotLogin}
	a.clients, _ = simplelru.NewLRU(cfg.MaxInstallations, func(_ int64, c *Client) { cfg.Metrics.forget(c.label) })
	a.repoInst, _ = simplelru.NewLRU[string, int64](maxRepoInstallations, nil)
	tr := &transport{next: cfg.Transport, policy: cfg.Retry, metrics: cfg.Metrics, label: "app"}
	atr := ghinstallation.NewAppsTransportFromPrivateKey(tr, cfg.AppID, key)
	a.jwt, err = newGitHub(cfg, atr)
	if err != nil {
		return nil, err
	}
	a.apiURL = strings.TrimRight(a.jwt.BaseURL.String(), "/")
	atr.BaseURL = a.apiURL
	return a, nil
}

// newGitHub builds a go-github client over rt for the configured base URL.
func newGitHub(cfg Config, rt http.RoundTripper) (*github.Client, error) {
	gh := github.NewClient(&http.Client{Transport: rt})
	gh.UserAgent = cfg.UserAgent
	if cfg.BaseURL == "" {
		return gh, nil
	}
	base := strings.TrimRight(cfg.BaseURL, "/") + "/"
	gh, err := gh.WithEnterpriseURLs(base, base)
	if err != nil {
		return nil, fmt.Errorf("forge: base url %q: %w", cfg.BaseURL, err)
	}
	return gh, nil
}

// Metrics returns the counters shared by the App and its clients.
func (a *App) Metrics() *Metrics { return a.cfg.Metrics }

// BotLogin returns the App's bot account, asking GitHub once when the
// configuration does not name it.
func (a *App) BotLogin(ctx context.Context) (string, error) {
	a.mu.Lock()
	bot := a.bot
	a.mu.Unlock()
	if bot != "" {
		return bot, nil
	}
	app, _, err := a.jwt.Apps.Get(ctx, "")
	if err != nil {
		return "", wrap("get app", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bot = app.GetSlug() + "[bot]"
	return a.bot, nil
}

// Installation returns the client of an installation (cached).
func (a *App) Installation(ctx context.Context, id int64) (*Client, error) {
	bot, err := a.BotLogin(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients.Get(id); ok {
		return c, nil
	}
	label := fmt.Sprintf("installation:%d", id)
	tr := &transport{next: a.cfg.Transport, policy: a.cfg.Retry, pacer: newPacer(a.cfg.Pacing), metrics: a.cfg.Metrics, label: label}
	atr := ghinstallation.NewAppsTransportFromPrivateKey(tr, a.cfg.AppID, a.key)
	atr.BaseURL = a.apiURL
	itr := ghinstallation.NewFromAppsTransport(atr, id)
	itr.BaseURL = a.apiURL
	var rt http.RoundTripper = itr
	if a.caches.etag != nil {
		rt = &etagCache{next: itr, store: a.caches.etag, prefix: label}
	}
	gh, err := newGitHub(a.cfg, rt)
	if err != nil {
		return nil, err
	}
	c := newClient(gh, a.cfg, a.caches, bot, label)
	c.appID, c.installation = a.cfg.AppID, id
	a.clients.Add(id, c)
	return c, nil
}

// ForRepo returns the client of the installation that covers repo
// ("owner/name"), looking the installation up once.
func (a *App) ForRepo(ctx context.Context, repo string) (*Client, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(repo)
	a.mu.Lock()
	id, ok := a.repoInst.Get(key)
	a.mu.Unlock()
	if !ok {
		inst, _, err := a.jwt.Apps.FindRepositoryInstallation(ctx, owner, name)
		if err != nil {
			return nil, wrap("find installation of "+repo, err)
		}
		id = inst.GetID()
		a.mu.Lock()
		a.repoInst.Add(key, id)
		a.mu.Unlock()
	}
	return a.Installation(ctx, id)
}

// NewTokenClient returns a client that authenticates with a token (a
// personal or installation token: the CLI, tests). Its bot login is the
// token's user unless cfg.BotLogin names one. Writes are paced and counted
// under "token".
func NewTokenClient(ctx context.Context, cfg Config, token string) (*Client, error) {
	cfg = cfg.withDefaults()
	tr := &transport{next: cfg.Transport, policy: cfg.Retry, pacer: newPacer(cfg.Pacing), metrics: cfg.Metrics, label: "token"}
	cs := newCaches(cfg)
	var rt http.RoundTripper = &tokenAuth{next: tr, token: token}
	if cs.etag != nil {
		rt = &etagCache{next: rt, store: cs.etag, prefix: "token"}
	}
	gh, err := newGitHub(cfg, rt)
	if err != nil {
		return nil, err
	}
	bot := cfg.BotLogin
	if bot == "" {
		u, _, err := gh.Users.Get(ctx, "")
		if err != nil {
			return nil, wrap("get authenticated user", err)
		}
		bot = u.GetLogin()
	}
	return newClient(gh, cfg, cs, bot, "token"), nil
}

type tokenAuth struct {
	next  http.RoundTripper
	token string
}

func (t *tokenAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(r)
}

// Client is rdsbot's GitHub for one installation: every operation the bot
// needs, with caches, retries, pacing and metrics. Safe for concurrent use.
type Client struct {
	gh           *github.Client
	cfg          Config
	bot          string
	label        string
	appID        int64
	installation int64
	log          *slog.Logger

	snaps  *snapshotStore
	teams  *teamCache
	labels *labelMemo
	locks  keyedMutex
}

func newClient(gh *github.Client, cfg Config, cs *caches, bot, label string) *Client {
	return &Client{gh: gh, cfg: cfg, bot: bot, label: label, log: cfg.Logger.With("github", label),
		snaps: cs.snaps, teams: cs.teams, labels: cs.labels}
}

// GitHub is the underlying go-github client, for calls forge does not wrap.
// Its requests go through the same cache, retries, pacing and metrics.
func (c *Client) GitHub() *github.Client { return c.gh }

// BotLogin is the account whose commits and comments are the bot's own.
func (c *Client) BotLogin() string { return c.bot }

// InstallationID is the installation this client acts as (0 for a token client).
func (c *Client) InstallationID() int64 { return c.installation }

// Metrics returns the counters this client records into.
func (c *Client) Metrics() *Metrics { return c.cfg.Metrics }

// RateLimit is the primary budget the last response reported.
func (c *Client) RateLimit() RateState { return c.cfg.Metrics.Snapshot().RateLimit[c.label] }

func (c *Client) isBot(login string) bool { return login != "" && strings.EqualFold(login, c.bot) }

// splitRepo splits "owner/name".
func splitRepo(repo string) (string, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("forge: repository %q must be owner/name", repo)
	}
	return owner, name, nil
}

// keyedMutex serialises work on one key (an issue's bot comment, a check
// run) inside this process, so two goroutines never both create it.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
