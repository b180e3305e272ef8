package forge

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entryOverhead is what one cache entry costs besides its key and value:
// the map slot, the list element and the headers of the strings.
const entryOverhead = 128

// sizedLRU is a least-recently-used map bounded both in entries and in
// bytes (as size estimates them when an entry is added), on
// hashicorp/golang-lru's simplelru. Safe for concurrent use.
type sizedLRU[V any] struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, sized[V]]
	size  func(key string, v V) int64
	bytes int64
	max   int64
}

type sized[V any] struct {
	v V
	n int64 // the weight counted when added
}

func newSizedLRU[V any](maxEntries int, maxBytes int64, size func(string, V) int64) *sizedLRU[V] {
	c := &sizedLRU[V]{size: size, max: maxBytes}
	// simplelru calls back on every removal (eviction, Remove, Purge), always
	// under c.mu here.
	c.lru, _ = simplelru.NewLRU(max(maxEntries, 1), func(_ string, e sized[V]) { c.bytes -= e.n })
	return c
}

func (c *sizedLRU[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	return e.v, ok
}

// add stores v under key, evicting the least recently used entries until
// the bound holds again. A value larger than the whole bound is not kept.
func (c *sizedLRU[V]) add(key string, v V) {
	n := c.size(key, v)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key)
	if n > c.max {
		return
	}
	c.lru.Add(key, sized[V]{v: v, n: n})
	c.bytes += n
	for c.bytes > c.max {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

func (c *sizedLRU[V]) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key)
}

// stats reports the entries and bytes held.
func (c *sizedLRU[V]) stats() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

// etagStore holds the bodies of revalidatable GET responses for all the
// installation clients of an App, keyed by client, URL and Accept header,
// so the App's whole ETag cache stays under one bound however many
// installations it serves.
type etagStore struct {
	*sizedLRU[*cacheEntry]
	maxEntry int64
}

type cacheEntry struct {
	etag   string
	header http.Header
	body   []byte
}

// maxETagEntries bounds the entries whatever their size (a listing of
// nothing is a few bytes of body but a kilobyte of key and headers).
const maxETagEntries = 1 << 16

func newETagStore(maxBytes int64) *etagStore {
	size := func(key string, e *cacheEntry) int64 {
		n := int64(len(key)+len(e.etag)+len(e.body)) + entryOverhead
		for k, vs := range e.header {
			n += int64(len(k))
			for _, v := range vs {
				n += int64(len(v)) + 16
			}
		}
		return n
	}
	return &etagStore{sizedLRU: newSizedLRU(maxETagEntries, maxBytes, size), maxEntry: max(maxBytes/16, 1)}
}

// etagCache is an HTTP cache that always revalidates: a GET it has answered
// before is sent again with If-None-Match, and a 304 (free of the primary
// budget) is answered with the stored body. It never serves a response
// without asking GitHub, so refs and pull requests are always current, and
// a body is only ever handed to the client whose own request GitHub
// answered with 304.
type etagCache struct {
	next   http.RoundTripper
	store  *etagStore
	prefix string // the client's label: entries are never shared between clients
}

// cacheHeader marks responses answered from the cache after a 304.
const cacheHeader = "X-Forge-Cache"

func (c *etagCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Header.Get("If-None-Match") != "" {
		return c.next.RoundTrip(req)
	}
	key := c.prefix + "\x00" + req.URL.String() + "\x00" + req.Header.Get("Accept")
	cached, _ := c.store.get(key)
	out := req
	if cached != nil {
		out = req.Clone(req.Context())
		out.Header.Set("If-None-Match", cached.etag)
	}
	resp, err := c.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && cached != nil:
		_ = resp.Body.Close()
		h := cached.header.Clone()
		for k, v := range resp.Header {
			if k != "Content-Length" && k != "Content-Type" {
				h[k] = v
			}
		}
		h.Set(cacheHeader, "revalidated")
		h.Set("Content-Length", strconv.Itoa(len(cached.body)))
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK, Proto: resp.Proto, ProtoMajor: resp.ProtoMajor,
			ProtoMinor: resp.ProtoMinor, Header: h, Body: io.NopCloser(bytes.NewReader(cached.body)),
			ContentLength: int64(len(cached.body)), Request: req,
		}, nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		body, err := io.ReadAll(io.LimitReader(resp.Body, c.store.maxEntry+1))
		if err != nil {
			_ = resp.Body.Close()
			return nil, err
		}
		if int64(len(body)) > c.store.maxEntry {
			// Too large to keep: hand the rest of the stream on untouched.
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
			c.store.remove(key)
			return resp, nil
		}
		_ = resp.Body.Close()
		c.store.add(key, &cacheEntry{etag: resp.Header.Get("ETag"), header: resp.Header.Clone(), body: body})
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		c.store.remove(key)
	}
	return resp, nil
}
