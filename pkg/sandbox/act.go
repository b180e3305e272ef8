package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

// Session is what a running sandbox (`rdsbot sandbox --keep`) tells other
// processes: where the fake GitHub and rdsbot listen, the repository, and a
// token per sandbox user, so a person can act as any of them over plain HTTP.
type Session struct {
	GitHubURL string            `json:"github_url"`
	ServerURL string            `json:"server_url"`
	Repo      string            `json:"repo"`
	Tokens    map[string]string `json:"tokens"` // login -> token
}

// Users are the sandbox's people, in the order they are shown.
var Users = []string{Requester, Platform, Security, DBA, "erin", Backstage}

// Session describes s for other processes.
func (s *Sandbox) Session() Session {
	out := Session{GitHubURL: s.GitHubURL, ServerURL: s.ServerURL, Repo: s.Repo, Tokens: map[string]string{}}
	for _, u := range Users {
		out.Tokens[u] = s.Fake.UserToken(u)
	}
	return out
}

// WriteSession writes the session to path, readable by its owner only (it
// holds tokens).
func WriteSession(path string, sess Session) error {
	b, err := json.MarshalIndent(sess, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ReadSession reads a session file.
func ReadSession(path string) (Session, error) {
	var sess Session
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return sess, fmt.Errorf("no sandbox session at %s: start one with `rdsbot sandbox --keep`", path)
	}
	if err != nil {
		return sess, err
	}
	if err := json.Unmarshal(b, &sess); err != nil {
		return sess, fmt.Errorf("%s: %w", path, err)
	}
	return sess, nil
}

// Verbs a person can act with, and what they take.
var Verbs = [][2]string{
	{"request", `"Label=value" ... : open a request with the issue form's answers (Database name, Environment, ...)`},
	{"dispatch", `key=value ... : dispatch create-rds-database.yml with these inputs (as Backstage does)`},
	{"comment", `<number> <text> : comment (for example "/rds status")`},
	{"label", `<number> <label> : add a label`},
	{"unlabel", `<number> <label> : remove a label`},
	{"approve", `<pull> : approve a pull request`},
	{"request-changes", `<pull> <text> : request changes`},
	{"merge", `<pull> : merge a pull request`},
	{"close", `<number> : close an issue or pull request`},
	{"reopen", `<number> : reopen it`},
	{"show", `<number> : print an issue or pull request with its comments`},
}

// Act does one thing as user in the session's repository, through GitHub's
// REST API with that user's token, as the user's browser would, and returns
// what to print.
func Act(ctx context.Context, sess Session, user, verb string, args []string) (string, error) {
	token, ok := sess.Tokens[user]
	if !ok {
		var known []string
		for u := range sess.Tokens {
			known = append(known, u)
		}
		sort.Strings(known)
		return "", fmt.Errorf("no sandbox user %q (users: %s)", user, strings.Join(known, ", "))
	}
	gh, err := github.NewClient(&http.Client{Timeout: 30 * time.Second}).WithAuthToken(token).WithEnterpriseURLs(sess.GitHubURL+"/", sess.GitHubURL+"/")
	if err != nil {
		return "", err
	}
	owner, repo, _ := strings.Cut(sess.Repo, "/")
	num := func(i int) (int, error) {
		if len(args) <= i {
			return 0, fmt.Errorf("%s: a number is required", verb)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(args[i], "#"))
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%s: %q is not an issue or pull request number", verb, args[i])
		}
		return n, nil
	}
	rest := func(i int) string { return strings.Join(args[min(i, len(args)):], " ") }
	switch verb {
	case "request":
		body, title, err := formBody(ctx, gh, owner, repo, args)
		if err != nil {
			return "", err
		}
		is, _, err := gh.Issues.Create(ctx, owner, repo, &github.IssueRequest{Title: &title, Body: &body, Labels: &[]string{"rds-request"}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s opened request #%d: %s", user, is.GetNumber(), is.GetHTMLURL()), nil
	case "dispatch":
		inputs := map[string]any{}
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				return "", fmt.Errorf("dispatch: %q is not key=value", a)
			}
			inputs[k] = v
		}
		_, err := gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, owner, repo, "create-rds-database.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: inputs})
		if err != nil {
			return "", err
		}
		return user + " dispatched create-rds-database.yml", nil
	case "comment":
		n, err := num(0)
		if err != nil {
			return "", err
		}
		text := rest(1)
		if text == "" {
			return "", errors.New("comment: the text is required")
		}
		if _, _, err := gh.Issues.CreateComment(ctx, owner, repo, n, &github.IssueComment{Body: &text}); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s commented on #%d", user, n), nil
	case "label", "unlabel":
		n, err := num(0)
		if err != nil {
			return "", err
		}
		label := rest(1)
		if label == "" {
			return "", fmt.Errorf("%s: the label is required", verb)
		}
		if verb == "label" {
			_, _, err = gh.Issues.AddLabelsToIssue(ctx, owner, repo, n, []string{label})
		} else {
			_, err = gh.Issues.RemoveLabelForIssue(ctx, owner, repo, n, label)
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %sed #%d %s", user, verb, n, label), nil
	case "approve", "request-changes":
		n, err := num(0)
		if err != nil {
			return "", err
		}
		event, text := "APPROVE", rest(1)
		if verb == "request-changes" {
			event = "REQUEST_CHANGES"
			if text == "" {
				return "", errors.New("request-changes: a reason is required")
			}
		}
		if _, _, err := gh.PullRequests.CreateReview(ctx, owner, repo, n, &github.PullRequestReviewRequest{Event: &event, Body: &text}); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s reviewed #%d: %s", user, n, event), nil
	case "merge":
		n, err := num(0)
		if err != nil {
			return "", err
		}
		res, _, err := gh.PullRequests.Merge(ctx, owner, repo, n, "", &github.PullRequestOptions{MergeMethod: "squash"})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s merged #%d: %s", user, n, res.GetSHA()), nil
	case "close", "reopen":
		n, err := num(0)
		if err != nil {
			return "", err
		}
		state := map[string]string{"close": "closed", "reopen": "open"}[verb]
		if _, _, err := gh.Issues.Edit(ctx, owner, repo, n, &github.IssueRequest{State: &state}); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s set #%d %s", user, n, state), nil
	case "show":
		n, err := num(0)
		if err != nil {
			return "", err
		}
		return show(ctx, gh, owner, repo, n)
	}
	return "", fmt.Errorf("unknown action %q", verb)
}

// formBody renders issue-form answers ("Label=value") as GitHub renders a
// submitted form: one section per question of the repository's schema.
func formBody(ctx context.Context, gh *github.Client, owner, repo string, args []string) (body, title string, err error) {
	answers := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return "", "", fmt.Errorf("request: %q is not \"Label=value\"", a)
		}
		answers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	set, err := schema.Load(repoFS{ctx: ctx, gh: gh, owner: owner, repo: repo}, schema.DefaultPaths)
	if err != nil {
		return "", "", fmt.Errorf("read the repository's schemas: %w", err)
	}
	var b strings.Builder
	used := map[string]bool{}
	for _, f := range set.Request.FormFields() {
		v := contract.NoResponse
		for _, k := range []string{strings.ToLower(f.Label), strings.ToLower(f.Name), strings.ToLower(f.Input)} {
			if a, ok := answers[k]; ok && k != "" {
				v, used[k] = a, true
			}
		}
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", f.Label, v)
	}
	for k := range answers {
		if !used[k] {
			return "", "", fmt.Errorf("request: the form has no question %q", k)
		}
	}
	db := answers["database name"]
	if db == "" {
		db = "a database"
	}
	return b.String(), "RDS request: " + db, nil
}

func show(ctx context.Context, gh *github.Client, owner, repo string, n int) (string, error) {
	is, _, err := gh.Issues.Get(ctx, owner, repo, n)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	kind := "issue"
	if is.IsPullRequest() {
		kind = "pull request"
	}
	fmt.Fprintf(&b, "%s #%d %q by %s (%s)\n", kind, n, is.GetTitle(), is.GetUser().GetLogin(), is.GetState())
	for _, l := range is.Labels {
		fmt.Fprintf(&b, "  label %s\n", l.GetName())
	}
	comments, _, err := gh.Issues.ListComments(ctx, owner, repo, n, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return "", err
	}
	for _, c := range comments {
		fmt.Fprintf(&b, "\n--- %s:\n%s\n", c.GetUser().GetLogin(), c.GetBody())
	}
	return b.String(), nil
}

// repoFS reads the repository's default branch through the contents API.
type repoFS struct {
	ctx         context.Context
	gh          *github.Client
	owner, repo string
}

func (r repoFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
}

// ReadFile implements fs.ReadFileFS.
func (r repoFS) ReadFile(name string) ([]byte, error) {
	fc, _, _, err := r.gh.Repositories.GetContents(r.ctx, r.owner, r.repo, name, nil)
	if err != nil {
		var er *github.ErrorResponse
		if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
		}
		return nil, err
	}
	if fc == nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	s, err := fc.GetContent()
	return []byte(s), err
}
