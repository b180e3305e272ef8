package forge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/google/go-github/v60/github"
)

// CheckRunInfo is a check run on a commit with the App that made it.
type CheckRunInfo struct {
	ID          int64
	Name        string
	HeadSHA     string
	Status      string // queued, in_progress, completed, ...
	Conclusion  string // when completed: success, failure, neutral, ...
	AppID       int64  // the App that created it: a check run's only trustworthy source
	AppSlug     string
	Title       string
	DetailsURL  string
	StartedAt   time.Time
	CompletedAt time.Time
}

// CheckRunFilter selects check runs.
type CheckRunFilter struct {
	Name  string // check_name
	AppID int64  // only this App's runs (0: every App's)
	// All lists every run, not only the latest per App and name.
	All bool
}

// CheckRuns lists the check runs on a ref (a commit, a branch, a merge
// group's head), all pages. By default GitHub returns the latest run of
// each name per App: a run of the same name from another App is listed
// beside this App's, never instead of it.
func (c *Client) CheckRuns(ctx context.Context, repo, ref string, f CheckRunFilter) ([]CheckRunInfo, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListCheckRunsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	if f.Name != "" {
		opt.CheckName = github.String(f.Name)
	}
	if f.AppID != 0 {
		opt.AppID = github.Int64(f.AppID)
	}
	if f.All {
		opt.Filter = github.String("all")
	}
	var out []CheckRunInfo
	for {
		res, resp, err := c.gh.Checks.ListCheckRunsForRef(ctx, owner, name, ref, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list check runs of %.40s in %s", ref, repo), err)
		}
		for _, r := range res.CheckRuns {
			out = append(out, CheckRunInfo{ID: r.GetID(), Name: r.GetName(), HeadSHA: r.GetHeadSHA(), Status: r.GetStatus(),
				Conclusion: r.GetConclusion(), AppID: r.GetApp().GetID(), AppSlug: r.GetApp().GetSlug(),
				Title: r.GetOutput().GetTitle(), DetailsURL: r.GetDetailsURL(),
				StartedAt: r.GetStartedAt().Time, CompletedAt: r.GetCompletedAt().Time})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// CommitStatus is a commit status with who set it. Anyone with write
// access can set any context, so a status proves only its creator.
type CommitStatus struct {
	ID          int64
	Context     string
	State       string // error, failure, pending, success
	Description string
	TargetURL   string
	Creator     string
	CreatorBot  bool // set by an App (its bot account) or another bot
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// CommitStatuses lists every commit status on a ref, newest first, all
// pages (the combined status would hide who created each one). Use
// LatestStatuses for the one per context that counts.
func (c *Client) CommitStatuses(ctx context.Context, repo, ref string) ([]CommitStatus, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.ListOptions{PerPage: 100}
	var out []CommitStatus
	for {
		list, resp, err := c.gh.Repositories.ListStatuses(ctx, owner, name, ref, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list statuses of %.40s in %s", ref, repo), err)
		}
		for _, s := range list {
			out = append(out, CommitStatus{ID: s.GetID(), Context: s.GetContext(), State: s.GetState(),
				Description: s.GetDescription(), TargetURL: s.GetTargetURL(), Creator: s.GetCreator().GetLogin(),
				CreatorBot: s.GetCreator().GetType() == "Bot", CreatedAt: s.GetCreatedAt().Time, UpdatedAt: s.GetUpdatedAt().Time})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// LatestStatuses keeps the newest status of each context (statuses as
// CommitStatuses returns them, newest first).
func LatestStatuses(statuses []CommitStatus) []CommitStatus {
	seen := map[string]bool{}
	var out []CommitStatus
	for _, s := range statuses {
		if !seen[s.Context] {
			seen[s.Context] = true
			out = append(out, s)
		}
	}
	return out
}

// RequiredCheck is a check a branch requires before a merge.
type RequiredCheck struct {
	Context string
	// AppID is the App the check is pinned to: only its check runs (and
	// statuses its installation sets) satisfy it. 0: any source, which
	// anyone with write access can satisfy with a commit status.
	AppID int64
	// RulesetID is the ruleset that requires it; 0 for branch protection.
	RulesetID int64
}

// RequiredChecks is what a branch requires, from its branch protection and
// the rulesets in force on it.
type RequiredChecks struct {
	Checks []RequiredCheck
	// Strict: the head must be up to date with the branch.
	Strict bool
	// MergeQueue: merges go through a merge queue (a ruleset's merge_queue
	// rule), so required checks must also be reported on merge groups.
	MergeQueue bool
}

// Find returns the required checks named context (branch protection and
// each ruleset may require it).
func (r *RequiredChecks) Find(context string) []RequiredCheck {
	var out []RequiredCheck
	for _, c := range r.Checks {
		if c.Context == context {
			out = append(out, c)
		}
	}
	return out
}

// PinnedTo reports whether context is required and every requirement of
// it is pinned to appID, so that nothing but that App can satisfy it.
func (r *RequiredChecks) PinnedTo(context string, appID int64) bool {
	found := r.Find(context)
	for _, c := range found {
		if c.AppID != appID {
			return false
		}
	}
	return len(found) > 0
}

// RequiredChecks reads the checks a branch requires: the branch's
// protection as every reader of the repository sees it (GET branch; the
// protection endpoint needs the administration permission rdsbot does not
// ask for) and the rules of the rulesets in force (GET rules/branches).
// Both are decoded here: go-github v60 drops a branch's protection and
// fails on merge_queue rules.
func (c *Client) RequiredChecks(ctx context.Context, repo, branch string) (*RequiredChecks, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	var b struct {
		Protection *struct {
			Enabled              bool `json:"enabled"`
			RequiredStatusChecks *struct {
				Strict   bool     `json:"strict"`
				Contexts []string `json:"contexts"`
				Checks   []struct {
					Context string `json:"context"`
					AppID   *int64 `json:"app_id"`
				} `json:"checks"`
			} `json:"required_status_checks"`
		} `json:"protection"`
	}
	path := fmt.Sprintf("repos/%s/%s/branches/%s", owner, name, url.PathEscape(branch))
	if err := c.rawGet(ctx, path, &b); err != nil {
		return nil, wrap(fmt.Sprintf("get branch %s of %s", branch, repo), err)
	}
	out := &RequiredChecks{}
	if p := b.Protection; p != nil && p.Enabled && p.RequiredStatusChecks != nil {
		rsc := p.RequiredStatusChecks
		out.Strict = rsc.Strict
		for _, ch := range rsc.Checks {
			rc := RequiredCheck{Context: ch.Context}
			if ch.AppID != nil && *ch.AppID > 0 {
				rc.AppID = *ch.AppID
			}
			out.Checks = append(out.Checks, rc)
		}
		if len(rsc.Checks) == 0 { // servers that only report contexts
			for _, ctxName := range rsc.Contexts {
				out.Checks = append(out.Checks, RequiredCheck{Context: ctxName})
			}
		}
	}
	for page := 1; ; {
		var rules []struct {
			Type       string          `json:"type"`
			RulesetID  int64           `json:"ruleset_id"`
			Parameters json.RawMessage `json:"parameters"`
		}
		resp, err := c.rawGetPage(ctx, fmt.Sprintf("repos/%s/%s/rules/branches/%s", owner, name, url.PathEscape(branch)), page, &rules)
		if IsNotFound(err) && page == 1 {
			break // a server without rulesets
		}
		if err != nil {
			return nil, wrap(fmt.Sprintf("get rules of branch %s of %s", branch, repo), err)
		}
		for _, rule := range rules {
			switch rule.Type {
			case "merge_queue":
				out.MergeQueue = true
			case "required_status_checks":
				var p struct {
					Checks []struct {
						Context       string `json:"context"`
						IntegrationID int64  `json:"integration_id"`
					} `json:"required_status_checks"`
					Strict bool `json:"strict_required_status_checks_policy"`
				}
				if err := json.Unmarshal(rule.Parameters, &p); err != nil {
					return nil, fmt.Errorf("forge: rules of branch %s of %s: required_status_checks of ruleset %d: %w", branch, repo, rule.RulesetID, err)
				}
				out.Strict = out.Strict || p.Strict
				for _, ch := range p.Checks {
					out.Checks = append(out.Checks, RequiredCheck{Context: ch.Context, AppID: ch.IntegrationID, RulesetID: rule.RulesetID})
				}
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		page = resp.NextPage
	}
	return out, nil
}

// rawGet reads a path of the REST API into v through the client's cache,
// retries and metrics (for shapes go-github does not decode).
func (c *Client) rawGet(ctx context.Context, path string, v any) error {
	_, err := c.rawGetPage(ctx, path, 0, v)
	return err
}

func (c *Client) rawGetPage(ctx context.Context, path string, page int, v any) (*github.Response, error) {
	if page > 0 {
		path += fmt.Sprintf("?per_page=100&page=%d", page)
	}
	req, err := c.gh.NewRequest("GET", path, nil)
	if err != nil {
		return nil, err
	}
	return c.gh.Do(ctx, req, v)
}
