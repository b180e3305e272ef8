package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/sync/semaphore"
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

// Defaults of the limits on reading bodies before their signature is checked.
const (
	MaxConcurrentReadsDefault = 64
	MaxPendingBytesDefault    = 64 << 20
	ReadWaitDefault           = 2 * time.Second
)

// Delivery is one authenticated webhook delivery.
type Delivery struct {
	ID             string    // X-GitHub-Delivery
	Event          string    // X-GitHub-Event, e.g. "issues"
	Action         string    // the payload's "action", empty when it has none
	InstallationID int64     // the payload's installation.id, 0 when absent
	Repository     string    // the payload's repository.full_name, "" when absent
	Payload        []byte    // the JSON payload, exactly as signed for JSON deliveries
	ReceivedAt     time.Time // when the handler read it
	// NoOp marks a delivery that needs nothing beyond being recorded (its
	// id, for deduplication): a ping, or an event the Handler's Handles
	// says nobody handles. Its payload is not kept and no job runs for it.
	NoOp bool
}

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
	OutcomeBusy              Outcome = "busy"               // too many bodies being read at once, 503
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
	// Handles reports whether an event (and action) is handled. A signed
	// delivery of any other event is stored as a no-op: its id is kept for
	// deduplication, its payload is not, and no job runs. Nil handles every
	// event but ping.
	Handles func(event, action string) bool
	// MaxConcurrentReads bounds how many request bodies are read at once
	// before their signature is checked, and MaxPendingBytes the memory
	// their buffers take together (at least twice MaxBodyBytes, so that a
	// body of the largest size can be read). A request that waits longer
	// than ReadWait for either is answered 503 (GitHub counts it failed; it
	// can be redelivered). Defaults MaxConcurrentReadsDefault,
	// max(MaxPendingBytesDefault, 2×MaxBodyBytes) and ReadWaitDefault.
	MaxConcurrentReads int
	MaxPendingBytes    int64
	ReadWait           time.Duration
}

// Handler is the webhook endpoint; see the package documentation.
type Handler struct {
	secrets      [][]byte
	store        Store
	log          *slog.Logger
	metrics      Metrics
	maxBody      int64
	storeTimeout time.Duration
	handles      func(event, action string) bool
	reads        chan struct{}       // a slot per body being read before its signature is checked
	pending      *semaphore.Weighted // bytes of buffers holding bodies not yet checked
	readWait     time.Duration
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
	if cfg.MaxConcurrentReads < 0 {
		errs = append(errs, fmt.Errorf("webhook: MaxConcurrentReads: %d is negative", cfg.MaxConcurrentReads))
	}
	if cfg.ReadWait < 0 {
		errs = append(errs, fmt.Errorf("webhook: ReadWait: %s is negative", cfg.ReadWait))
	}
	maxBody := cmp.Or(cfg.MaxBodyBytes, MaxBodyBytesDefault)
	if cfg.MaxPendingBytes != 0 && cfg.MaxPendingBytes < 2*maxBody {
		errs = append(errs, fmt.Errorf("webhook: MaxPendingBytes: %d is less than twice MaxBodyBytes (%d); a body of the largest size could not be read", cfg.MaxPendingBytes, maxBody))
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
		handles:      cfg.Handles,
		readWait:     cfg.ReadWait,
		now:          time.Now,
	}
	if h.handles == nil {
		h.handles = func(event, _ string) bool { return event != "ping" }
	}
	reads := cfg.MaxConcurrentReads
	if reads == 0 {
		reads = MaxConcurrentReadsDefault
	}
	h.reads = make(chan struct{}, reads)
	pending := cfg.MaxPendingBytes
	if pending == 0 {
		pending = max(MaxPendingBytesDefault, 2*h.maxBody)
	}
	h.pending = semaphore.NewWeighted(pending)
	if h.readWait == 0 {
		h.readWait = ReadWaitDefault
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
		case OutcomeRejectedSignature, OutcomeTooLarge, OutcomeBadRequest, OutcomeBusy:
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
	if !h.acquireRead(r.Context()) {
		w.Header().Set("Retry-After", "5")
		finish(OutcomeBusy, http.StatusServiceUnavailable, "busy, redeliver later", logID)
		return
	}
	body, reserved, err := h.readBody(w, r)
	<-h.reads
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			finish(OutcomeTooLarge, http.StatusRequestEntityTooLarge, "payload too large", logID)
		case errors.Is(err, errBusy):
			w.Header().Set("Retry-After", "5")
			finish(OutcomeBusy, http.StatusServiceUnavailable, "busy, redeliver later", logID)
		default:
			finish(OutcomeBadRequest, http.StatusBadRequest, "could not read body", logID, slog.String("error", err.Error()))
		}
		return
	}
	ok := verify(sig, body, h.secrets)
	h.pending.Release(reserved)
	if !ok {
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
	meta, err := readMeta(payload)
	if err != nil {
		finish(OutcomeBadRequest, http.StatusBadRequest, "payload is not a JSON object", logID, slog.String("event", event))
		return
	}
	d := Delivery{
		ID:             deliveryID,
		Event:          event,
		Action:         meta.Action,
		InstallationID: meta.InstallationID,
		Repository:     meta.Repository,
		Payload:        payload,
		ReceivedAt:     start,
		NoOp:           event == "ping" || !h.handles(event, meta.Action),
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

// acquireRead takes a read slot, waiting at most h.readWait.
func (h *Handler) acquireRead(ctx context.Context) bool {
	select {
	case h.reads <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(h.readWait)
	defer t.Stop()
	select {
	case h.reads <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// errBusy: the budget of unauthenticated bytes stayed exhausted.
var errBusy = errors.New("webhook: too many bytes being read")

// readBody reads at most h.maxBody bytes; a longer body yields an
// *http.MaxBytesError without being read to its end. The buffer grows with
// what arrives, never to a size the caller declared (until the signature is
// checked, Content-Length is only a claim), and its size is reserved from
// h.pending first; the caller releases reserved once the body is checked.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (body []byte, reserved int64, err error) {
	const initialMax = 64 << 10
	reserve := func(n int) error {
		ctx, cancel := context.WithTimeout(r.Context(), h.readWait)
		defer cancel()
		if h.pending.Acquire(ctx, int64(n)) != nil {
			return errBusy
		}
		reserved += int64(n)
		return nil
	}
	defer func() {
		if err != nil {
			h.pending.Release(reserved)
			reserved = 0
		}
	}()
	size := bytes.MinRead
	if r.ContentLength > 0 {
		size = int(min(r.ContentLength+1, initialMax)) // +1: room to see EOF without growing
	}
	if err := reserve(size); err != nil {
		return nil, 0, err
	}
	buf := make([]byte, 0, size)
	rd := http.MaxBytesReader(w, r.Body, h.maxBody)
	for {
		if len(buf) == cap(buf) {
			grown := int(min(2*int64(cap(buf)), h.maxBody+1))
			if grown <= cap(buf) {
				return nil, 0, &http.MaxBytesError{Limit: h.maxBody}
			}
			if err := reserve(grown); err != nil {
				return nil, 0, err
			}
			nb := make([]byte, len(buf), grown)
			copy(nb, buf)
			h.pending.Release(int64(cap(buf)))
			reserved -= int64(cap(buf))
			buf = nb
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, reserved, nil
		}
		if err != nil {
			return nil, 0, err
		}
	}
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

// validEvent accepts GitHub event names: a lowercase letter, then lowercase
// letters, digits and underscores ("projects_v2_item").
func validEvent(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
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
