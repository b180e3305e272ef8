package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (f *Fake) getApp(c *call) { c.json(http.StatusOK, f.appJSON(c.p.app)) }

// appInstallations lists the calling App's installations by id.
func (f *Fake) appInstallations(a *App) []*installation {
	var out []*installation
	for _, in := range f.installs {
		if in.app == a {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(x, y *installation) int { return int(x.ID - y.ID) })
	return out
}

func (f *Fake) listInstallations(c *call) {
	out := []obj{}
	for _, in := range paginate(c, f.appInstallations(c.p.app)) {
		out = append(out, f.installationJSON(in))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) installationByParam(c *call) (*installation, bool) {
	id, ok := c.number("installation_id")
	if !ok {
		return nil, false
	}
	in := f.installs[id]
	if in == nil || in.app != c.p.app {
		c.notFound()
		return nil, false
	}
	return in, true
}

func (f *Fake) getInstallation(c *call) {
	if in, ok := f.installationByParam(c); ok {
		c.json(http.StatusOK, f.installationJSON(in))
	}
}

// createInstallationToken answers POST /app/installations/{id}/access_tokens,
// optionally narrowed to some repositories.
func (f *Fake) createInstallationToken(c *call) {
	in, ok := f.installationByParam(c)
	if !ok {
		return
	}
	var req struct {
		Repositories  []string `json:"repositories"`
		RepositoryIDs []int64  `json:"repository_ids"`
	}
	if !c.decode(&req) {
		return
	}
	t := f.issueInstallationToken(in)
	body := obj{"token": t.value, "expires_at": ts(t.expires), "permissions": appPermissions(), "repository_selection": "all"}
	if len(req.Repositories) > 0 || len(req.RepositoryIDs) > 0 {
		t.repos = map[string]bool{}
		repos := []obj{}
		for _, r := range f.repos {
			if !in.covers(r) {
				continue
			}
			if slices.ContainsFunc(req.Repositories, func(n string) bool { return strings.EqualFold(n, r.name) }) ||
				slices.Contains(req.RepositoryIDs, r.ID) {
				t.repos[strings.ToLower(r.fullName())] = true
				repos = append(repos, f.repoJSON(r, false))
			}
		}
		if len(t.repos) != len(req.Repositories)+len(req.RepositoryIDs) {
			delete(f.tokens, t.value)
			c.invalid("There is at least one repository that does not exist or is not accessible to the parent installation.")
			return
		}
		body["repository_selection"] = "selected"
		body["repositories"] = repos
	} else if in.repos != nil {
		body["repository_selection"] = "selected"
	}
	c.json(http.StatusCreated, body)
}

func (f *Fake) getRepoInstallation(c *call) {
	r := f.repos[strings.ToLower(c.param("owner")+"/"+c.param("repo"))]
	if r != nil {
		for _, in := range f.appInstallations(c.p.app) {
			if in.covers(r) {
				c.json(http.StatusOK, f.installationJSON(in))
				return
			}
		}
	}
	c.notFound()
}

func (f *Fake) getOrgInstallation(c *call) { f.accountInstallation(c, c.param("org")) }

func (f *Fake) getUserInstallation(c *call) { f.accountInstallation(c, c.param("username")) }

func (f *Fake) accountInstallation(c *call, account string) {
	for _, in := range f.appInstallations(c.p.app) {
		if strings.EqualFold(in.account.Login, account) {
			c.json(http.StatusOK, f.installationJSON(in))
			return
		}
	}
	c.notFound()
}

func (f *Fake) listInstallationRepos(c *call) {
	if c.p.inst == nil {
		c.fail(http.StatusForbidden, "This endpoint can only be accessed with an installation access token")
		return
	}
	var list []*repo
	for _, r := range f.repos {
		if f.canSee(c.p, r) {
			list = append(list, r)
		}
	}
	slices.SortFunc(list, func(a, b *repo) int { return int(a.ID - b.ID) })
	out := []obj{}
	for _, r := range paginate(c, list) {
		out = append(out, f.repoJSON(r, false))
	}
	c.json(http.StatusOK, obj{"total_count": len(list), "repository_selection": "all", "repositories": out})
}

func (f *Fake) getRateLimit(c *call) {
	st, _ := f.limits.primary(c.p.key, f.opts.RateLimit, f.now())
	core := obj{"limit": st.limit, "used": st.used, "remaining": max(st.limit-st.used, 0), "reset": st.reset.Unix()}
	other := func(limit int) obj {
		return obj{"limit": limit, "used": 0, "remaining": limit, "reset": st.reset.Unix()}
	}
	c.json(http.StatusOK, obj{"resources": obj{"core": core, "search": other(30), "graphql": other(5000),
		"integration_manifest": other(5000), "code_search": other(10)}, "rate": core})
}

// deliveryItemJSON is hook-delivery-item.
func deliveryItemJSON(d Delivery) obj {
	return obj{
		"id": d.ID, "guid": d.GUID, "delivered_at": ts(d.DeliveredAt), "redelivery": d.Redelivery,
		"duration": d.Duration.Seconds(), "status": d.Status, "status_code": d.StatusCode,
		"event": d.Event, "action": nullable(d.Action), "installation_id": nullableID(d.InstallationID),
		"repository_id": nullableID(d.RepositoryID), "throttled_at": nil,
	}
}

func nullableID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// listDeliveries answers GET /app/hook/deliveries, newest first, paged by cursor.
func (f *Fake) listDeliveries(c *call) {
	all := f.hooks.snapshot()
	perPage, _ := strconv.Atoi(c.query("per_page"))
	if perPage <= 0 || perPage > 100 {
		perPage = 30
	}
	cursor, _ := strconv.ParseInt(c.query("cursor"), 10, 64)
	out := []obj{}
	var last int64
	more := false
	for i := len(all) - 1; i >= 0; i-- {
		d := all[i]
		if !d.Done || (cursor > 0 && d.ID >= cursor) {
			continue
		}
		if len(out) == perPage {
			more = true
			break
		}
		out = append(out, deliveryItemJSON(d))
		last = d.ID
	}
	if more {
		c.header.Set("Link", fmt.Sprintf("<%s/app/hook/deliveries?per_page=%d&cursor=%d>; rel=\"next\"", f.apiURL(), perPage, last))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) deliveryByParam(c *call) (Delivery, bool) {
	id, ok := c.number("delivery_id")
	if !ok {
		return Delivery{}, false
	}
	for _, d := range f.hooks.snapshot() {
		if d.ID == id && d.Done {
			return d, true
		}
	}
	c.notFound()
	return Delivery{}, false
}

func (f *Fake) getDelivery(c *call) {
	d, ok := f.deliveryByParam(c)
	if !ok {
		return
	}
	o := deliveryItemJSON(d)
	o["url"] = d.URL
	reqHeaders := obj{}
	for k := range d.RequestHeaders {
		reqHeaders[k] = d.RequestHeaders.Get(k)
	}
	respHeaders := obj{}
	for k := range d.ResponseHeaders {
		respHeaders[k] = d.ResponseHeaders.Get(k)
	}
	o["request"] = obj{"headers": reqHeaders, "payload": json.RawMessage(d.Payload)}
	o["response"] = obj{"headers": respHeaders, "payload": nullable(d.ResponseBody)}
	c.json(http.StatusOK, o)
}

func (f *Fake) redeliverDelivery(c *call) {
	d, ok := f.deliveryByParam(c)
	if !ok {
		return
	}
	f.hooks.redeliver(d.ID)
	c.json(http.StatusAccepted, obj{})
}
