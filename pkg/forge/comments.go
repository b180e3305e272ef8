package forge

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Marker is the hidden marker that identifies the bot's comment of a kind
// ("status", "validation", ...) on an issue or pull request.
func Marker(kind string) string { return "<!-- rdsbot:" + kind + " -->" }

// Comment is an issue or pull request comment.
type Comment struct {
	ID   int64
	User string
	Body string
	URL  string
}

// UpsertComment keeps one bot comment per marker on an issue or pull
// request: it edits the bot's comment that carries marker, or creates it
// (with the marker added to the body when missing). changed is false when
// the comment already said exactly this.
//
// It never duplicates the comment: comments by other accounts are ignored
// (quoting the marker cannot hijack it); concurrent calls in this process
// are serialised per marker; and a create that fails with an unknown
// outcome (5xx, timeout) is not repeated blindly: the comments are read
// again first and an existing one is edited instead.
func (c *Client) UpsertComment(ctx context.Context, repo string, number int, marker, body string) (*Comment, bool, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, false, err
	}
	if marker == "" {
		return nil, false, fmt.Errorf("forge: upsert comment: a marker is required")
	}
	if !strings.Contains(body, marker) {
		body = marker + "\n" + body
	}
	defer c.locks.lock(fmt.Sprintf("comment:%s#%d:%s", strings.ToLower(repo), number, marker))()
	const rounds = 3
	for round := 1; ; round++ {
		found, err := c.FindComment(ctx, repo, number, marker)
		if err != nil {
			return nil, false, err
		}
		if found != nil {
			if found.Body == body {
				return found, false, nil
			}
			cm, _, err := c.gh.Issues.EditComment(ctx, owner, name, found.ID, &github.IssueComment{Body: github.String(body)})
			if err != nil {
				return nil, false, wrap(fmt.Sprintf("edit comment %d on #%d of %s", found.ID, number, repo), err)
			}
			return commentOf(cm), true, nil
		}
		cm, _, err := c.gh.Issues.CreateComment(notRepeatable(ctx), owner, name, number, &github.IssueComment{Body: github.String(body)})
		if err == nil {
			return commentOf(cm), true, nil
		}
		if !uncertain(ctx, err) {
			return nil, false, wrap(fmt.Sprintf("comment on #%d of %s", number, repo), err)
		}
		if round == rounds {
			return nil, false, fmt.Errorf("forge: comment on #%d of %s: %w: %w", number, repo, ErrUncertain, wrap("create comment", err))
		}
		c.log.Warn("forge: comment creation uncertain, looking for it", "repo", repo, "number", number, "err", err)
		if err := c.settle(ctx, round); err != nil {
			return nil, false, err
		}
	}
}

// FindComment returns the bot's oldest comment carrying marker, or nil.
func (c *Client) FindComment(ctx context.Context, repo string, number int, marker string) (*Comment, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opt := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		list, resp, err := c.gh.Issues.ListComments(ctx, owner, name, number, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list comments of #%d in %s", number, repo), err)
		}
		for _, cm := range list {
			if c.isBot(cm.GetUser().GetLogin()) && strings.Contains(cm.GetBody(), marker) {
				return commentOf(cm), nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opt.Page = resp.NextPage
	}
}

func commentOf(cm *github.IssueComment) *Comment {
	return &Comment{ID: cm.GetID(), User: cm.GetUser().GetLogin(), Body: cm.GetBody(), URL: cm.GetHTMLURL()}
}
