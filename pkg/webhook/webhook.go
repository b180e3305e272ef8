package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// Header names GitHub sends with every delivery.
const (
	HeaderSignature256 = "X-Hub-Signature-256"
	HeaderDelivery     = "X-GitHub-Delivery"
	HeaderEvent        = "X-GitHub-Event"
)

// MaxBodyBytesDefault is GitHub's own cap on a webhook payload, 25 MiB.
const MaxBodyBytesDefault = 25 << 20

// StoreTimeoutDefault bounds how long a delivery may wait for the Store. GitHub
// gives up on a delivery after 10 seconds.
const StoreTimeoutDefault = 8 * time.Second

// Delivery is one authenticated webhook delivery.
type Delivery struct {
	ID             string    // X-GitHub-Delivery
	Event          string    // X-GitHub-Event, e.g. "issues"
	Action         string    // the payload's "action", empty when it has none
	InstallationID int64     // the payload's installation.id, 0 when absent
	Repository     string    // the payload's repository.full_name, "" when absent
	Payload        []byte    // the JSON payload, exactly as signed for JSON deliveries
	ReceivedAt     time.Time // when the handler read it
}

// NoOp reports whether the delivery needs nothing beyond being recorded: a
// ping, which GitHub sends when a webhook is created.
func (d Delivery) NoOp() bool { return d.Event == "ping" }

// Store persists deliveries durably. Accept returns only once d is stored (or
// known to be stored already, duplicate=true); an error means it may not be.
// It must be safe for concurrent use.
type Store interface {
	Accept(ctx context.Context, d Delivery) (duplicate bool, err error)
}

// Outcome is what became of one request to the handler.
type Outcome string

// Outcomes, as metric label values.
const (
	OutcomeAccepted          Outcome = "accepted"           // stored, 202
	OutcomeDuplicate         Outcome = "duplicate"          // a replay of a stored delivery id, 200
	OutcomeRejectedSignature Outcome = "rejected_signature" // missing, malformed, SHA-1-only or wrong signature, 401
	OutcomeTooLarge          Outcome = "too_large"          // body over MaxBodyBytes, 413
	OutcomeBadRequest        Outcome = "bad_request"        // wrong method, missing headers, invalid payload: 400/405
	OutcomeStoreError        Outcome = "store_error"        // the Store failed or timed out, 503
)

// UnverifiedEvent is the event label of requests rejected before their
// signature was verified: the header is attacker-controlled until then.
const UnverifiedEvent = "unverified"

// Metrics receives one observation per request.
type Metrics interface {
	Delivery(event string, outcome Outcome, elapsed time.Duration)
}

// MetricsFunc adapts a function to Metrics.
type MetricsFunc func(event string, outcome Outcome, elapsed time.Duration)

// Delivery implements Metrics.
func (f MetricsFunc) Delivery(event string, outcome Outcome, elapsed time.Duration) {
	f(event, outcome, elapsed)
}

// Config configures a Handler.
type Config struct {
	// Secrets are the webhook secrets a delivery may be signed with: the
	// current one, plus the previous one while a rotation is under way.
	// One or two, none empty.
	Secrets []string
	// Store persists accepted deliveries. Required.
	Store Store
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics is optional.
	Metrics Metrics
	// MaxBodyBytes defaults to MaxBodyBytesDefault.
	MaxBodyBytes int64
	// StoreTimeout defaults to StoreTimeoutDefault.
	StoreTimeout time.Duration
}

// Handler is the webhook endpoint; see the package documentation.
type Handler struct {
	secrets      [][]byte
	store        Store
	log          *slog.Logger
	metrics      Metrics
	maxBody      int64
	storeTimeout time.Duration
	now          func() time.Time
}

// NewHandler checks cfg and returns a Handler. It fails when no secret or no
// store is configured: the handler never runs unauthenticated.
func NewHandler(cfg Config) (*Handler, error) {
	var errs []error
	switch n := len(cfg.Secrets); {
	case n == 0:
		errs = append(errs, errors.New("webhook: Secrets: at least one webhook secret is required; refusing to accept unsigned deliveries"))
	case n > 2:
		errs = append(errs, fmt.Errorf("webhook: Secrets: %d given, at most two are allowed (the current secret and the previous one during a rotation)", n))
	}
	for i, s := range cfg.Secrets {
		if s == "" {
			errs = append(errs, fmt.Errorf("webhook: Secrets[%d]: a webhook secret may not be empty", i))
		}
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("webhook: Store: required, deliveries must be stored before they are acknowledged"))
	}
	if cfg.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("webhook: MaxBodyBytes: %d is negative", cfg.MaxBodyBytes))
	}
	if cfg.StoreTimeout < 0 {
		errs = append(errs, fmt.Errorf("webhook: StoreTimeout: %s is negative", cfg.StoreTimeout))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	h := &Handler{
		store:        cfg.Store,
		log:          cfg.Logger,
		metrics:      cfg.Metrics,
		maxBody:      cfg.MaxBodyBytes,
		storeTimeout: cfg.StoreTimeout,
		now:          time.Now,
	}
	for _, s := range cfg.Secrets {
		h.secrets = append(h.secrets, []byte(s))
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody == 0 {
		h.maxBody = MaxBodyBytesDefault
	}
	if h.storeTimeout == 0 {
		h.storeTimeout = StoreTimeoutDefault
	}
	return h, nil
}

// Sign returns the X-Hub-Signature-256 value GitHub would send for body signed
// with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// verify reports whether header is a well-formed sha256 signature of body
// under one of secrets. Every secret is tried, so the time taken does not
// depend on which one matched.
func verify(header string, body []byte, secrets [][]byte) bool {
	const prefix = "sha256="
	if len(header) != len(prefix)+2*sha256.Size || header[:len(prefix)] != prefix {
		return false
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(header[len(prefix):])); err != nil {
		return false
	}
	ok := false
	for _, s := range secrets {
		m := hmac.New(sha256.New, s)
		m.Write(body)
		if hmac.Equal(m.Sum(nil), got[:]) {
			ok = true
		}
	}
	return ok
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	event := UnverifiedEvent
	finish := func(outcome Outcome, status int, body string, attrs ...slog.Attr) {
		if h.metrics != nil {
			h.metrics.Delivery(event, outcome, h.now().Sub(start))
		}
		level := slog.LevelInfo
		switch outcome {
		case OutcomeStoreError:
			level = slog.LevelError
		case OutcomeRejectedSignature, OutcomeTooLarge, OutcomeBadRequest:
			level = slog.LevelWarn
		}
		if h.log.Enabled(r.Context(), level) {
			attrs = append(attrs,
				slog.String("outcome", string(outcome)),
				slog.Int("status", status),
				slog.Duration("elapsed", h.now().Sub(start)),
				slog.String("remote", r.RemoteAddr))
			h.log.LogAttrs(r.Context(), level, "webhook delivery", attrs...)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body+"\n")
	}
	// Header values are attacker-controlled until the signature checks out:
	// they are logged clipped and never used as metric labels before that.
	deliveryID := r.Header.Get(HeaderDelivery)
	logID := slog.String("delivery", clip(deliveryID))

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		finish(OutcomeBadRequest, http.StatusMethodNotAllowed, "method not allowed: deliveries are POSTed", logID)
		return
	}
	sig := r.Header.Get(HeaderSignature256)
	if sig == "" {
		reason := "missing " + HeaderSignature256
		if r.Header.Get("X-Hub-Signature") != "" {
			reason += " (SHA-1 signatures are not accepted)"
		}
		finish(OutcomeRejectedSignature, http.StatusUnauthorized, "signature required", logID, slog.String("reason", reason))
		return
	}
	if r.ContentLength > h.maxBody {
		finish(OutcomeTooLarge, http.StatusRequestEntityTooLarge, "payload too large", logID, slog.Int64("content_length", r.ContentLength))
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			finish(OutcomeTooLarge, http.StatusRequestEntityTooLarge, "payload too large", logID)
			return
		}
		finish(OutcomeBadRequest, http.StatusBadRequest, "could not read body", logID, slog.String("error", err.Error()))
		return
	}
	if !verify(sig, body, h.secrets) {
		finish(OutcomeRejectedSignature, http.StatusUnauthorized, "signature does not match", logID, slog.String("reason", "signature mismatch or malformed"))
		return
	}

	// Authenticated from here on.
	eventHeader := r.Header.Get(HeaderEvent)
	if !validEvent(eventHeader) {
		finish(OutcomeBadRequest, http.StatusBadRequest, "missing or invalid "+HeaderEvent, logID)
		return
	}
	event = eventHeader
	if !validDeliveryID(deliveryID) {
		finish(OutcomeBadRequest, http.StatusBadRequest, "missing or invalid "+HeaderDelivery, logID, slog.String("event", event))
		return
	}
	payload, err := payloadOf(r.Header.Get("Content-Type"), body)
	if err != nil {
		finish(OutcomeBadRequest, http.StatusBadRequest, err.Error(), logID, slog.String("event", event))
		return
	}
	var meta payloadMeta
	if err := json.Unmarshal(payload, &meta); err != nil {
		finish(OutcomeBadRequest, http.StatusBadRequest, "payload is not a JSON object", logID, slog.String("event", event))
		return
	}
	d := Delivery{
		ID:             deliveryID,
		Event:          event,
		Action:         meta.Action,
		InstallationID: meta.Installation.ID,
		Repository:     meta.Repository.FullName,
		Payload:        payload,
		ReceivedAt:     start,
	}
	attrs := []slog.Attr{logID, slog.String("event", event), slog.String("action", d.Action), slog.String("repository", d.Repository), slog.Int64("installation", d.InstallationID)}

	ctx, cancel := context.WithTimeout(r.Context(), h.storeTimeout)
	defer cancel()
	dup, err := h.store.Accept(ctx, d)
	switch {
	case err != nil:
		w.Header().Set("Retry-After", "5")
		finish(OutcomeStoreError, http.StatusServiceUnavailable, "delivery not stored, redeliver later", append(attrs, slog.String("error", err.Error()))...)
	case dup:
		finish(OutcomeDuplicate, http.StatusOK, "duplicate", attrs...)
	default:
		finish(OutcomeAccepted, http.StatusAccepted, "accepted", attrs...)
	}
}

// readBody reads at most h.maxBody bytes; a longer body yields an
// *http.MaxBytesError without being read to its end.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, h.maxBody)
	size := int64(bytes.MinRead)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1 // +1: ReadFrom needs room to see EOF without growing
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(rd); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// payloadMeta is the little a delivery's routing needs from its payload.
type payloadMeta struct {
	Action       string `json:"action"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

// payloadOf returns the JSON document of a delivery: the body for
// application/json, the "payload" field for form-encoded deliveries.
func payloadOf(contentType string, body []byte) ([]byte, error) {
	mt := "application/json"
	if contentType != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(contentType); err != nil {
			return nil, fmt.Errorf("invalid Content-Type %q", clip(contentType))
		}
	}
	var payload []byte
	switch mt {
	case "application/json":
		payload = body
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("form-encoded body does not parse")
		}
		if !form.Has("payload") {
			return nil, errors.New(`form-encoded body has no "payload" field`)
		}
		payload = []byte(form.Get("payload"))
	default:
		return nil, fmt.Errorf("unsupported Content-Type %q: use application/json or application/x-www-form-urlencoded", clip(mt))
	}
	if len(payload) == 0 || firstNonSpace(payload) != '{' {
		return nil, errors.New("payload is not a JSON object")
	}
	return payload, nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// validEvent accepts GitHub event names: lowercase letters and underscores.
func validEvent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// validDeliveryID accepts GitHub's GUIDs and similar opaque ids: 1 to 128
// characters of letters, digits, '-', '_', '.' and ':'.
func validDeliveryID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// clip bounds an untrusted header value for a log line.
func clip(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
