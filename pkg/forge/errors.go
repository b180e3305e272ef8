package forge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Sentinel errors the bot branches on with errors.Is. Every error forge
// returns wraps one of these when it applies, and an *APIError when GitHub
// answered.
var (
	// ErrNotFound: 404. The object does not exist or the installation cannot
	// see it (GitHub answers 404 for private repositories it hides).
	ErrNotFound = errors.New("not found")
	// ErrConflict: 409, for example a merge whose expected head moved.
	ErrConflict = errors.New("conflict")
	// ErrValidation: 422 that no more specific error below describes.
	ErrValidation = errors.New("validation failed")
	// ErrRefExists: creating a branch that already exists (422).
	ErrRefExists = errors.New("reference already exists")
	// ErrRefMoved: a compare-and-swap ref update found the branch somewhere
	// else (not a fast-forward, or deleted meanwhile).
	ErrRefMoved = errors.New("reference moved")
	// ErrFileMoved: a one-file write (PutFile) named a blob sha the file no
	// longer has (409 "does not match"): re-read it and redo the change.
	ErrFileMoved = errors.New("file moved")
	// ErrProtected: branch protection or a ruleset refused a write to a
	// branch (a push, not a merge): the App is not allowed to push there.
	ErrProtected = errors.New("refused by branch protection")
	// ErrBaseMoved: Propose re-read and re-planned its bounded number of
	// times and the base or the branch moved every time.
	ErrBaseMoved = errors.New("base or branch kept moving")
	// ErrBranchNotOurs: the pull request branch holds what the bot did not
	// write, so the bot will not build on it: ErrForeignChange or
	// ErrBranchSquatted.
	ErrBranchNotOurs = errors.New("branch is not the bot's")
	// ErrForeignChange: commits the bot did not write were pushed to its
	// pull request branch. See ForeignChangeError.
	ErrForeignChange = errors.New("branch holds commits the bot did not write")
	// ErrBranchSquatted: the request's branch, or a pull request from it, was
	// made by someone else. See SquattedBranchError.
	ErrBranchSquatted = errors.New("branch was made by someone else")
	// ErrNotMergeable: 405 from a merge (conflicts, a required check missing).
	ErrNotMergeable = errors.New("not mergeable")
	// ErrForbidden: 403 that is not a rate limit (missing permission).
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: 401 (bad or expired credentials).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: the primary budget is spent, or a secondary limit (or
	// forge's pacing) asks for a longer wait than RetryPolicy.MaxWait or the
	// context allows. The error is a *RateLimitError: its RetryAfter says
	// how long to wait before trying again.
	ErrRateLimited = errors.New("rate limited")
	// ErrUncertain: a write that is not safe to repeat failed in a way that
	// leaves its outcome unknown (5xx or timeout after sending). Operations
	// that can look for their result (comments, issues, check runs) do so
	// themselves; this error reaches the caller only where they cannot.
	ErrUncertain = errors.New("outcome unknown")
)

// RateLimitError is returned when GitHub's rate limits, or forge's pacing
// of them, ask for a longer wait than the request may take (more than
// RetryPolicy.MaxWait in all, or past the context's deadline). Nothing was
// done: the request was refused, or held back and never sent. It matches
// ErrRateLimited. Callers that can wait, such as a job queue, read how long
// through RetryAfter (any error implementing
// interface{ RetryAfter() time.Duration }) and try again then, rather than
// counting a failed attempt.
type RateLimitError struct {
	// Until is when a retry can succeed: from Retry-After, from
	// X-RateLimit-Reset, or when forge's pacing frees a slot.
	Until time.Time
	// Primary: the installation's hourly budget is spent (otherwise a
	// secondary limit or forge's pacing).
	Primary bool
	// Method and Path of the request; Status is GitHub's refusal (403 or
	// 429), 0 when forge held the request back without sending it.
	Method, Path string
	Status       int
	Message      string
	// Err is go-github's error when the refusal reached it.
	Err error
}

func (e *RateLimitError) Error() string {
	what := "secondary rate limit"
	if e.Primary {
		what = "primary rate limit"
	}
	req := ""
	if e.Method != "" {
		req = e.Method + " " + e.Path + ": "
	}
	status := ""
	if e.Status != 0 {
		status = fmt.Sprintf("%d ", e.Status)
	}
	return fmt.Sprintf("%s%s%s: %s; retry after %s", req, status, what, e.Message, e.RetryAfter().Round(time.Second))
}

// RetryAfter is how long to wait before trying again: until Until, and at
// least a second.
func (e *RateLimitError) RetryAfter() time.Duration {
	return max(time.Until(e.Until), time.Second)
}

// Is matches ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

func (e *RateLimitError) Unwrap() error { return e.Err }

// rateLimitOf turns a rate-limit refusal that reached go-github (a
// refusal GitHub sent, or one go-github made locally while a budget it saw
// spent has not reset) into a *RateLimitError; nil for any other error.
func rateLimitOf(ae *APIError) *RateLimitError {
	if ae == nil || !ae.rateLimited() {
		return nil
	}
	out := &RateLimitError{Method: ae.Method, Path: ae.Path, Status: ae.Status, Message: ae.Message, Err: ae}
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	switch {
	case errors.As(ae.Err, &rl):
		out.Primary, out.Until = true, rl.Rate.Reset.Time
	case errors.As(ae.Err, &ab) && ab.RetryAfter != nil:
		out.Until = time.Now().Add(*ab.RetryAfter)
	default:
		out.Until = time.Now().Add(time.Minute) // GitHub's advice without a header
	}
	return out
}

// IsNotFound reports whether err is a 404 (or wraps ErrNotFound).
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	ae := apiError(err)
	return ae != nil && ae.Status == http.StatusNotFound
}

// APIError is GitHub's answer to a failed request.
type APIError struct {
	Method  string
	Path    string // URL path of the request
	Status  int
	Message string
	Details []string // the "errors" array: messages or resource/field/code
	Err     error    // go-github's error
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
	if len(e.Details) > 0 {
		msg += " (" + strings.Join(e.Details, "; ") + ")"
	}
	return msg
}

func (e *APIError) Unwrap() error { return e.Err }

// Is maps the status to the sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrValidation:
		return e.Status == http.StatusUnprocessableEntity
	case ErrNotMergeable:
		return e.Status == http.StatusMethodNotAllowed
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden && !e.rateLimited()
	case ErrRateLimited:
		return e.rateLimited()
	case ErrUncertain:
		return e.Status >= 500
	}
	return false
}

func (e *APIError) rateLimited() bool {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	return errors.As(e.Err, &rl) || errors.As(e.Err, &ab) || e.Status == http.StatusTooManyRequests
}

// has reports whether the message or a detail contains s (case-insensitive).
func (e *APIError) has(s string) bool {
	s = strings.ToLower(s)
	if strings.Contains(strings.ToLower(e.Message), s) {
		return true
	}
	for _, d := range e.Details {
		if strings.Contains(strings.ToLower(d), s) {
			return true
		}
	}
	return false
}

// apiError converts go-github's errors into *APIError (nil when err is not
// an answer from GitHub).
func apiError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var resp *http.Response
	var msg string
	var details []string
	var er *github.ErrorResponse
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	switch {
	case errors.As(err, &er):
		resp, msg = er.Response, er.Message
		for _, d := range er.Errors {
			if d.Message != "" {
				details = append(details, d.Message)
				continue
			}
			details = append(details, strings.TrimSpace(d.Resource+" "+d.Field+" "+d.Code))
		}
	case errors.As(err, &rl):
		resp, msg = rl.Response, rl.Message
	case errors.As(err, &ab):
		resp, msg = ab.Response, ab.Message
	default:
		return nil
	}
	out := &APIError{Message: msg, Details: details, Err: err}
	if resp != nil {
		out.Status = resp.StatusCode
		if resp.Request != nil {
			out.Method, out.Path = resp.Request.Method, resp.Request.URL.Path
		}
	}
	return out
}

// wrap gives an operation's error its context: "forge: <op>: <cause>",
// keeping *APIError and the sentinels reachable through errors.Is/As.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if ae := apiError(err); ae != nil {
		if rl := rateLimitOf(ae); rl != nil {
			return fmt.Errorf("forge: %s: %w", op, rl)
		}
		return fmt.Errorf("forge: %s: %w", op, ae)
	}
	return fmt.Errorf("forge: %s: %w", op, err)
}

// uncertain reports whether a failed write may have been applied: a 5xx
// answer, or a transport failure other than the caller's own cancellation.
func uncertain(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, ErrRateLimited) {
		return false // a rate-limit refusal proves nothing was done
	}
	if ae := apiError(err); ae != nil {
		return ae.Status >= 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errAttemptTimeout)
}

// errNotExist is fs.ErrNotExist, named here for the tree code.
var errNotExist = fs.ErrNotExist

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
