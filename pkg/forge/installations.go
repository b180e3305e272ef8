package forge

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// InstalledRepo is a repository the App is installed on.
type InstalledRepo struct {
	Installation int64
	Repo         string // "owner/name"
}

// Repositories lists every repository of every installation of the App, so
// a periodic reconcile can visit them all. It also remembers which
// installation covers each repository, sparing ForRepo a lookup.
func (a *App) Repositories(ctx context.Context) ([]InstalledRepo, error) {
	var out []InstalledRepo
	opt := &github.ListOptions{PerPage: 100}
	for {
		insts, resp, err := a.jwt.Apps.ListInstallations(ctx, opt)
		if err != nil {
			return nil, wrap("list installations", err)
		}
		for _, inst := range insts {
			c, err := a.Installation(ctx, inst.GetID())
			if err != nil {
				return nil, err
			}
			ropt := &github.ListOptions{PerPage: 100}
			for {
				repos, rresp, err := c.gh.Apps.ListRepos(ctx, ropt)
				if err != nil {
					return nil, wrap("list repositories of installation", err)
				}
				for _, r := range repos.Repositories {
					full := r.GetFullName()
					out = append(out, InstalledRepo{Installation: inst.GetID(), Repo: full})
					a.mu.Lock()
					a.repoInst.Add(strings.ToLower(full), inst.GetID())
					a.mu.Unlock()
				}
				if rresp.NextPage == 0 {
					break
				}
				ropt.Page = rresp.NextPage
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return out, nil
}

// HookDelivery is one entry of the App's webhook delivery log.
type HookDelivery struct {
	ID          int64
	GUID        string // the X-GitHub-Delivery id
	Event       string
	Action      string
	StatusCode  int // 0 when GitHub could not deliver at all
	Redelivery  bool
	DeliveredAt time.Time
}

// Failed reports whether the receiver did not acknowledge the delivery.
func (d HookDelivery) Failed() bool { return d.StatusCode < 200 || d.StatusCode > 299 }

// HookDeliveries lists the App's webhook deliveries since a time, newest
// first (GitHub keeps them for a few days).
func (a *App) HookDeliveries(ctx context.Context, since time.Time) ([]HookDelivery, error) {
	var out []HookDelivery
	opt := &github.ListCursorOptions{PerPage: 100}
	for {
		ds, resp, err := a.jwt.Apps.ListHookDeliveries(ctx, opt)
		if err != nil {
			return nil, wrap("list hook deliveries", err)
		}
		for _, d := range ds {
			at := d.GetDeliveredAt().Time
			if !since.IsZero() && at.Before(since) {
				return out, nil
			}
			out = append(out, HookDelivery{ID: d.GetID(), GUID: d.GetGUID(), Event: d.GetEvent(), Action: d.GetAction(),
				StatusCode: d.GetStatusCode(), Redelivery: d.GetRedelivery(), DeliveredAt: at})
		}
		if resp.Cursor == "" {
			break
		}
		opt.Cursor = resp.Cursor
	}
	return out, nil
}

// Redeliver asks GitHub to send a delivery again.
func (a *App) Redeliver(ctx context.Context, id int64) error {
	_, _, err := a.jwt.Apps.RedeliverHookDelivery(ctx, id)
	var accepted *github.AcceptedError
	if errors.As(err, &accepted) {
		return nil // 202: GitHub queued the new attempt
	}
	return wrap("redeliver hook delivery", err)
}
