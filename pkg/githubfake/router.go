package githubfake

import (
	"net/url"
	"sort"
	"strings"
	"sync"
)

// authKind says how a route authenticates.
type authKind int

const (
	authToken authKind = iota // installation or user token
	authJWT                   // the App's JWT
)

// route is one endpoint. Its template uses GitHub's docs notation; a
// segment "{name*}" matches one or more path segments (refs with slashes,
// file paths) and may be followed by literal segments.
type route struct {
	method   string
	template string
	auth     authKind
	handle   func(*call)
	segments []string
}

// key is the name calls are counted under: "GET /repos/{owner}/{repo}/pulls".
func (rt *route) key() string { return rt.method + " " + strings.ReplaceAll(rt.template, "*}", "}") }

type router struct{ routes []*route }

func (rr *router) add(method, template string, auth authKind, h func(*call)) {
	rr.routes = append(rr.routes, &route{
		method: method, template: template, auth: auth, handle: h,
		segments: strings.Split(strings.Trim(template, "/"), "/"),
	})
}

// match finds the route for a method and escaped path and its parameters.
// pathOnly reports that the path matched but the method did not (405).
func (rr *router) match(method, escapedPath string) (rt *route, params map[string]string, pathOnly bool) {
	trimmed := strings.Trim(escapedPath, "/")
	var segs []string
	if trimmed != "" {
		segs = strings.Split(trimmed, "/")
	}
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = u
		}
	}
	for _, r := range rr.routes {
		p, ok := matchSegments(r.segments, segs)
		if !ok {
			continue
		}
		if r.method != method {
			pathOnly = true
			continue
		}
		return r, p, false
	}
	return nil, nil, pathOnly
}

func matchSegments(tmpl, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	star := -1
	for i, t := range tmpl {
		if strings.HasSuffix(t, "*}") {
			star = i
		}
	}
	if star < 0 {
		if len(tmpl) != len(segs) {
			return nil, false
		}
		return params, matchFixed(tmpl, segs, params)
	}
	before, after := tmpl[:star], tmpl[star+1:]
	if len(segs) < len(before)+len(after)+1 {
		return nil, false
	}
	if !matchFixed(before, segs[:len(before)], params) ||
		!matchFixed(after, segs[len(segs)-len(after):], params) {
		return nil, false
	}
	name := strings.TrimSuffix(strings.TrimPrefix(tmpl[star], "{"), "*}")
	params[name] = strings.Join(segs[len(before):len(segs)-len(after)], "/")
	return params, true
}

func matchFixed(tmpl, segs []string, params map[string]string) bool {
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return false
			}
			params[strings.Trim(t, "{}")] = segs[i]
			continue
		}
		if t != segs[i] {
			return false
		}
	}
	return true
}

// callStats counts requests by route key and status code.
type callStats struct {
	mu     sync.Mutex
	counts map[string]map[int]int
}

func newCallStats() *callStats { return &callStats{counts: map[string]map[int]int{}} }

func (s *callStats) record(key string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[key] == nil {
		s.counts[key] = map[int]int{}
	}
	s.counts[key][status]++
}

func (s *callStats) snapshot() map[string]map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[int]int{}
	for k, m := range s.counts {
		out[k] = map[int]int{}
		for st, n := range m {
			out[k][st] = n
		}
	}
	return out
}

func (s *callStats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]map[int]int{}
}

// routeKeys lists every route key, sorted (for docs and tests).
func (rr *router) routeKeys() []string {
	var out []string
	for _, r := range rr.routes {
		out = append(out, r.key())
	}
	sort.Strings(out)
	return out
}
