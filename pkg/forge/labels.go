package forge

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Label is a repository label.
type Label struct {
	Name        string
	Color       string // six hex digits; empty: Config.LabelColors, else derived from the name
	Description string
}

// EnsureLabels creates the repository labels that do not exist yet (an
// existing label is left as it is). Labels known to exist are remembered
// (for the most recently used repositories), so using them again costs
// nothing.
func (c *Client) EnsureLabels(ctx context.Context, repo string, labels ...Label) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	return c.ensure(ctx, owner, name, labels)
}

// ensureLabels is EnsureLabels by name with the configured colours.
func (c *Client) ensureLabels(ctx context.Context, owner, name string, names []string) error {
	labels := make([]Label, 0, len(names))
	for _, n := range names {
		labels = append(labels, Label{Name: n})
	}
	return c.ensure(ctx, owner, name, labels)
}

func (c *Client) ensure(ctx context.Context, owner, name string, labels []Label) error {
	repo := c.repoKey(owner, name)
	if len(c.labels.unknown(repo, labels)) == 0 {
		return nil
	}
	// One listing and one create per label, however many callers need them.
	defer c.locks.lock("labels:" + repo)()
	missing := c.labels.unknown(repo, labels)
	if len(missing) == 0 {
		return nil
	}
	// List until every missing label is found or the listing ends; only the
	// labels asked about are remembered, not the repository's whole list.
	want := map[string]bool{}
	for _, l := range missing {
		want[strings.ToLower(l.Name)] = true
	}
	opt := &github.ListOptions{PerPage: 100}
	for len(want) > 0 {
		list, resp, err := c.gh.Issues.ListLabels(ctx, owner, name, opt)
		if err != nil {
			return wrap(fmt.Sprintf("list labels of %s/%s", owner, name), err)
		}
		for _, l := range list {
			if k := strings.ToLower(l.GetName()); want[k] {
				c.labels.add(repo, k)
				delete(want, k)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	for _, l := range missing {
		if !want[strings.ToLower(l.Name)] {
			continue
		}
		color := l.Color
		if color == "" {
			color = c.colorFor(l.Name)
		}
		req := &github.Label{Name: github.String(l.Name), Color: github.String(strings.TrimPrefix(color, "#"))}
		if l.Description != "" {
			req.Description = github.String(l.Description)
		}
		_, _, err := c.gh.Issues.CreateLabel(ctx, owner, name, req)
		if ae := apiError(err); err != nil && !(ae != nil && ae.Status == http.StatusUnprocessableEntity && ae.has("already_exists")) {
			return wrap(fmt.Sprintf("create label %q in %s/%s", l.Name, owner, name), err)
		}
		c.labels.add(repo, l.Name)
	}
	return nil
}

func (c *Client) colorFor(label string) string {
	for k, v := range c.cfg.LabelColors {
		if strings.EqualFold(k, label) {
			return strings.TrimPrefix(v, "#")
		}
	}
	sum := sha1.Sum([]byte(label))
	return hex.EncodeToString(sum[:3])
}

// AddLabels adds labels to an issue or pull request (creating them in the
// repository first when missing) and returns all its labels. Adding a label
// that is already there changes nothing.
func (c *Client) AddLabels(ctx context.Context, repo string, number int, labels ...string) ([]string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	return c.addLabels(ctx, owner, name, number, labels)
}

func (c *Client) addLabels(ctx context.Context, owner, name string, number int, labels []string) ([]string, error) {
	if err := c.ensureLabels(ctx, owner, name, labels); err != nil {
		return nil, err
	}
	list, _, err := c.gh.Issues.AddLabelsToIssue(ctx, owner, name, number, labels)
	if err != nil {
		return nil, wrap(fmt.Sprintf("add labels to #%d of %s/%s", number, owner, name), err)
	}
	out := make([]string, 0, len(list))
	for _, l := range list {
		out = append(out, l.GetName())
	}
	return out, nil
}

// RemoveLabel removes a label from an issue or pull request; a label that
// is not there is not an error.
func (c *Client) RemoveLabel(ctx context.Context, repo string, number int, label string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	_, err = c.gh.Issues.RemoveLabelForIssue(ctx, owner, name, number, label)
	if err != nil && !IsNotFound(err) {
		return wrap(fmt.Sprintf("remove label %q from #%d of %s", label, number, repo), err)
	}
	return nil
}

// labelMemo remembers which repository labels are known to exist: only
// the labels forge was asked for, for the most recently used repositories,
// so neither a repository with thousands of labels nor thousands of
// repositories make it grow without bound.
type labelMemo struct {
	mu    sync.Mutex
	repos *simplelru.LRU[string, map[string]bool] // repo key -> lower-case label
}

// maxLabelRepos bounds the repositories remembered; maxLabelsPerRepo the
// labels remembered for one (the bot uses a handful).
const (
	maxLabelRepos    = 1024
	maxLabelsPerRepo = 256
)

func newLabelMemo() *labelMemo {
	l, _ := simplelru.NewLRU[string, map[string]bool](maxLabelRepos, nil)
	return &labelMemo{repos: l}
}

func (m *labelMemo) unknown(repo string, labels []Label) []Label {
	m.mu.Lock()
	defer m.mu.Unlock()
	known, _ := m.repos.Get(repo)
	var out []Label
	seen := map[string]bool{}
	for _, l := range labels {
		k := strings.ToLower(l.Name)
		if strings.TrimSpace(l.Name) == "" || known[k] || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, l)
	}
	return out
}

func (m *labelMemo) add(repo string, names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	known, ok := m.repos.Get(repo)
	if !ok {
		known = map[string]bool{}
		m.repos.Add(repo, known)
	}
	for _, n := range names {
		if len(known) >= maxLabelsPerRepo {
			return
		}
		known[strings.ToLower(n)] = true
	}
}
