package githubfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	docsREST      = "https://docs.github.com/rest"
	docsPrimary   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
	docsSecondary = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	maxBodyBytes  = 25 << 20
)

var requestSeq atomic.Int64

// call is one request being answered: its route parameters, principal and
// the buffered response.
type call struct {
	f      *Fake
	r      *http.Request
	params map[string]string
	p      *principal
	body   []byte
	key    string
	reqID  string
	status int
	header http.Header
	out    []byte
}

func (c *call) param(name string) string { return c.params[name] }
func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }

// json answers status with v encoded as JSON.
func (c *call) json(status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		c.fail(http.StatusInternalServerError, "Server Error")
		return
	}
	c.status, c.out = status, data
	c.header.Set("Content-Type", "application/json; charset=utf-8")
}

// noContent answers 204.
func (c *call) noContent() { c.status, c.out = http.StatusNoContent, nil }

// fail answers GitHub's error body {"message", "documentation_url", "status"}.
func (c *call) fail(status int, msg string) {
	c.json(status, obj{"message": msg, "documentation_url": docsREST, "status": strconv.Itoa(status)})
}

func (c *call) notFound() { c.fail(http.StatusNotFound, "Not Found") }

// invalid answers 422 Validation Failed with GitHub's errors array; each
// error is a resource/field/code triple or a message.
func (c *call) invalid(msg string, errs ...any) {
	body := obj{"message": msg, "documentation_url": docsREST, "status": "422"}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	c.json(http.StatusUnprocessableEntity, body)
}

// decode reads the JSON body into v, answering 400 when it is not JSON.
func (c *call) decode(v any) bool {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return true
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// repo resolves {owner}/{repo} and checks the principal may see it.
func (c *call) repo() (*repo, bool) {
	r := c.f.repos[strings.ToLower(c.param("owner")+"/"+c.param("repo"))]
	if r == nil || !c.f.canSee(c.p, r) {
		c.notFound()
		return nil, false
	}
	return r, true
}

// number parses an integer path parameter, answering 404 when it is not one.
func (c *call) number(name string) (int64, bool) {
	n, err := strconv.ParseInt(c.param(name), 10, 64)
	if err != nil {
		c.notFound()
		return 0, false
	}
	return n, true
}

// ServeHTTP answers one REST request: route, fault injection, authentication,
// rate limits, the handler, ETag/304, headers and call counting.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(path, "/api/v3"); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
		path = rest
	}
	rt, params, _ := f.router.match(r.Method, path)
	reqID := fmt.Sprintf("FAKE:%06X", requestSeq.Add(1))
	w.Header().Set("X-GitHub-Request-Id", reqID)
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	if rt == nil {
		writeJSON(w, http.StatusNotFound, obj{"message": "Not Found", "documentation_url": docsREST, "status": "404"})
		f.stats.record(r.Method+" (unmatched)", http.StatusNotFound)
		return
	}
	key := rt.key()
	if delay, status := f.faults.pick(key); delay > 0 || status != 0 {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
			}
		}
		if status != 0 {
			writeJSON(w, status, obj{"message": http.StatusText(status), "documentation_url": docsREST, "status": strconv.Itoa(status)})
			f.stats.record(key, status)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, obj{"message": "Problems reading body", "documentation_url": docsREST})
		f.stats.record(key, http.StatusBadRequest)
		return
	}
	c := &call{f: f, r: r, params: params, body: body, key: key, reqID: reqID, header: http.Header{}}
	f.mu.Lock()
	rate, limited := f.admit(c, rt)
	if !limited {
		rt.handle(c)
	}
	now := f.now()
	f.mu.Unlock()

	if r.Method == http.MethodGet && c.status == http.StatusOK {
		sum := sha256.Sum256(c.out)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		c.header.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			c.status, c.out = http.StatusNotModified, nil
		}
	}
	if c.p != nil && !limited && c.status != http.StatusNotModified {
		f.limits.charge(c.p.key, now)
		rate.used++
	}
	if c.p != nil {
		setRateHeaders(c.header, rate)
	}
	for k, vs := range c.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(c.status)
	if c.status != http.StatusNoContent && c.status != http.StatusNotModified {
		_, _ = w.Write(c.out)
	}
	f.stats.record(key, c.status)
	f.log.Debug("githubfake request", "method", r.Method, "path", r.URL.Path, "route", key, "status", c.status)
}

// admit authenticates and applies the primary and secondary limits. It
// answers the call itself when the request may not proceed. Callers hold f.mu.
func (f *Fake) admit(c *call, rt *route) (rateState, bool) {
	p, err := f.authenticate(c.r.Header.Get("Authorization"), rt.auth)
	if err != nil {
		var ae *authError
		msg := "Bad credentials"
		if errors.As(err, &ae) {
			msg = ae.msg
		}
		c.fail(http.StatusUnauthorized, msg)
		return rateState{}, true
	}
	c.p = p
	now := f.now()
	rate, exhausted := f.limits.primary(p.key, f.opts.RateLimit, now)
	if exhausted {
		who := "this token"
		if p.inst != nil {
			who = fmt.Sprintf("installation ID %d", p.inst.ID)
		}
		c.json(f.opts.RateLimitStatus, obj{"message": "API rate limit exceeded for " + who + ".", "documentation_url": docsPrimary, "status": strconv.Itoa(f.opts.RateLimitStatus)})
		return rate, true
	}
	if rt.auth == authToken && c.r.Method != http.MethodGet && c.r.Method != http.MethodHead &&
		f.limits.secondary(p.key, f.opts.SecondaryLimits, f.opts.SecondaryRetryAfter, now) {
		c.json(f.opts.SecondaryStatus, obj{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + c.reqID + ".",
			"documentation_url": docsSecondary,
			"status":            strconv.Itoa(f.opts.SecondaryStatus),
		})
		c.header.Set("Retry-After", strconv.Itoa(int(f.opts.SecondaryRetryAfter/time.Second)))
		f.limits.charge(p.key, now)
		rate.used++
		return rate, true
	}
	return rate, false
}

func setRateHeaders(h http.Header, s rateState) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(s.limit-s.used, 0)))
	h.Set("X-RateLimit-Used", strconv.Itoa(s.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	for _, cand := range strings.Split(ifNoneMatch, ",") {
		cand = strings.TrimPrefix(strings.TrimSpace(cand), "W/")
		if cand == etag || cand == "*" {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// paginate slices items by ?page and ?per_page (default 30, at most 100) and
// sets GitHub's Link header.
func paginate[T any](c *call, items []T) []T {
	perPage, _ := strconv.Atoi(c.query("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, _ := strconv.Atoi(c.query("page"))
	page = max(page, 1)
	last := max((len(items)+perPage-1)/perPage, 1)
	link := func(p int, rel string) string {
		q := c.r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u := url.URL{Path: c.r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s%s>; rel=%q", c.f.baseURL, u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		c.header.Set("Link", strings.Join(links, ", "))
	}
	start := min((page-1)*perPage, len(items))
	end := min(start+perPage, len(items))
	return items[start:end]
}
