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
)

// Label is a repository label.
type Label struct {
	Name        string
	Color       string // six hex digits; empty: Config.LabelColors, else derived from the name
	Description string
}

// EnsureLabels creates the repository labels that do not exist yet (an
// existing label is left as it is). Labels known to exist are remembered
// for the life of the Client, so using them again costs nothing.
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
	repo := strings.ToLower(owner + "/" + name)
	if len(c.labels.unknown(repo, labels)) == 0 {
		return nil
	}
	// One listing and one create per label, however many callers need them.
	defer c.locks.lock("labels:" + repo)()
	missing := c.labels.unknown(repo, labels)
	if len(missing) > 0 && !c.labels.isLoaded(repo) {
		opt := &github.ListOptions{PerPage: 100}
		var names []string
		for {
			list, resp, err := c.gh.Issues.ListLabels(ctx, owner, name, opt)
			if err != nil {
				return wrap("list labels of "+repo, err)
			}
			for _, l := range list {
				names = append(names, l.GetName())
			}
			if resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
		c.labels.loaded(repo, names)
		missing = c.labels.unknown(repo, labels)
	}
	for _, l := range missing {
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
			return wrap(fmt.Sprintf("create label %q in %s", l.Name, repo), err)
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

// labelMemo remembers which repository labels exist.
type labelMemo struct {
	mu     sync.Mutex
	known  map[string]map[string]bool // repo -> lower-case label
	listed map[string]bool
}

func newLabelMemo() *labelMemo {
	return &labelMemo{known: map[string]map[string]bool{}, listed: map[string]bool{}}
}

func (m *labelMemo) unknown(repo string, labels []Label) []Label {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Label
	seen := map[string]bool{}
	for _, l := range labels {
		k := strings.ToLower(l.Name)
		if strings.TrimSpace(l.Name) == "" || m.known[repo][k] || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, l)
	}
	return out
}

func (m *labelMemo) isLoaded(repo string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.listed[repo]
}

func (m *labelMemo) loaded(repo string, names []string) {
	m.mu.Lock()
	m.listed[repo] = true
	m.mu.Unlock()
	m.add(repo, names...)
}

func (m *labelMemo) add(repo string, names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.known[repo] == nil {
		m.known[repo] = map[string]bool{}
	}
	for _, n := range names {
		m.known[repo][strings.ToLower(n)] = true
	}
}
