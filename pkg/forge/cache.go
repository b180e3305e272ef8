package forge

import (
	"bytes"
	"container/list"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// etagCache is an HTTP cache that always revalidates: a GET it has answered
// before is sent again with If-None-Match, and a 304 (free of the primary
// budget) is answered with the stored body. It never serves a response
// without asking GitHub, so refs and pull requests are always current. It
// holds at most maxBytes of bodies, least recently used out first.
type etagCache struct {
	next     http.RoundTripper
	maxBytes int64
	maxEntry int64

	mu    sync.Mutex
	size  int64
	order *list.List // of *cacheEntry, most recent first
	items map[string]*list.Element
}

type cacheEntry struct {
	key    string
	etag   string
	header http.Header
	body   []byte
}

// cacheHeader marks responses answered from the cache after a 304.
const cacheHeader = "X-Forge-Cache"

func newETagCache(next http.RoundTripper, maxBytes int64) *etagCache {
	return &etagCache{next: next, maxBytes: maxBytes, maxEntry: max(maxBytes/16, 1),
		order: list.New(), items: map[string]*list.Element{}}
}

func (c *etagCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || c.maxBytes <= 0 || req.Header.Get("If-None-Match") != "" {
		return c.next.RoundTrip(req)
	}
	key := req.URL.String() + "\x00" + req.Header.Get("Accept")
	cached := c.get(key)
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
		body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxEntry+1))
		if err != nil {
			_ = resp.Body.Close()
			return nil, err
		}
		if int64(len(body)) > c.maxEntry {
			// Too large to keep: hand the rest of the stream on untouched.
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
			c.drop(key)
			return resp, nil
		}
		_ = resp.Body.Close()
		c.put(&cacheEntry{key: key, etag: resp.Header.Get("ETag"), header: resp.Header.Clone(), body: body})
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		c.drop(key)
	}
	return resp, nil
}

func (c *etagCache) get(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.items[key]
	if el == nil {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

func (c *etagCache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.items[e.key]; el != nil {
		c.size -= int64(len(el.Value.(*cacheEntry).body))
		c.order.Remove(el)
	}
	c.items[e.key] = c.order.PushFront(e)
	c.size += int64(len(e.body))
	for c.size > c.maxBytes && c.order.Len() > 0 {
		old := c.order.Remove(c.order.Back()).(*cacheEntry)
		delete(c.items, old.key)
		c.size -= int64(len(old.body))
	}
}

func (c *etagCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.items[key]; el != nil {
		c.size -= int64(len(el.Value.(*cacheEntry).body))
		c.order.Remove(el)
		delete(c.items, key)
	}
}
