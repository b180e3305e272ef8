package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// StatusMode is how the rollout writes a status change to the base
// branch (status_commits): StatusDirect or StatusPullRequest.
type StatusMode string

// UnmarshalYAML takes a scalar only, so a misshapen value names its field.
func (m *StatusMode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("status_commits (line %d): must be %s or %s, not a %s", n.Line, StatusDirect, StatusPullRequest, strings.TrimPrefix(n.Tag, "!!"))
	}
	*m = StatusMode(n.Value)
	return nil
}

// The status_commits modes.
const (
	// StatusDirect pushes each status change to the base branch as one
	// commit: the App must be allowed to push there.
	StatusDirect StatusMode = "direct"
	// StatusPullRequest writes each status change to the environment's
	// status branch (StatusBranch), opens a pull request and merges it
	// through the API: for a base branch that refuses direct pushes.
	StatusPullRequest StatusMode = "pull_request"
)

// StatusBranchPrefix starts every status branch: rdsbot/status/<env>.
const StatusBranchPrefix = "rdsbot/status/"

// StatusBranch is the branch of env's status pull requests.
func StatusBranch(env string) string { return StatusBranchPrefix + env }

// checkStatusCommits validates status_commits, and that no request branch
// can be a status branch.
func (c *Config) checkStatusCommits(bad func(field, format string, args ...any)) {
	switch c.StatusCommits {
	case StatusDirect, StatusPullRequest:
	default:
		bad("status_commits", "must be %s or %s, got %q", StatusDirect, StatusPullRequest, c.StatusCommits)
	}
	if strings.HasPrefix(c.Branch, StatusBranchPrefix) {
		bad("branch", "must not start with %s, the branches of status pull requests, got %q", StatusBranchPrefix, c.Branch)
	}
}
