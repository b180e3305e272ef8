package forge

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"
)

// BlobSHA is git's id of a file's content: the blob sha GitHub reports
// for it, and what PutFile's compare-and-swap compares.
func BlobSHA(content []byte) string { return blobHash(content) }

// PutFile writes one file as one commit on branch through the Contents API
// (PUT /repos/{owner}/{repo}/contents/{path}): one write, where the Git
// Data API takes three. blobSHA is the sha of the file as it was read ("":
// the file does not exist yet), a compare-and-swap on the file, not on the
// branch: GitHub commits on the branch head as it finds it, so another
// file's change meanwhile is kept, and a change to this file fails with
// ErrFileMoved (re-read and redo). Branch protection or a ruleset refusing
// the App fails with ErrProtected; an unknown branch with ErrNotFound. It
// returns the commit.
//
// The commit and the ref move are one step, so the commit cannot be put in
// the ledger before a branch points at it (as CommitChangeSet does); it is
// recorded right after GitHub answers. Until then, or for ever after a crash
// in between, the bot does not know the commit as its own, and that is
// harmless: ownership of a base-branch commit decides only whether a push
// is the rollout's own status commit (bot.statusPush), and an unknown one
// is taken as any other push to the base (request pull requests touching
// the file are re-planned when they no longer merge cleanly). A request
// branch is never written with PutFile: Propose's ownership of request
// branches still rests on commits recorded first.
func (c *Client) PutFile(ctx context.Context, repo, branch, path string, content []byte, blobSHA, message string) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	path = strings.Trim(path, "/")
	if branch == "" || path == "" {
		return "", fmt.Errorf("forge: put file: branch and path are required")
	}
	opts := &github.RepositoryContentFileOptions{Message: github.String(message), Content: content, Branch: github.String(branch)}
	if blobSHA != "" {
		opts.SHA = github.String(blobSHA)
	}
	// Safe to repeat: a repeat of a write that went through finds another
	// blob sha and fails with ErrFileMoved, and the caller re-reads.
	res, _, err := c.gh.Repositories.UpdateFile(ctx, owner, name, path, opts)
	if err != nil {
		return "", putFileError(fmt.Sprintf("put %s on %s of %s", path, branch, repo), err)
	}
	ci := commitOf(&res.Commit)
	if ci.SHA == "" {
		return "", fmt.Errorf("forge: put %s on %s of %s: GitHub answered no commit", path, branch, repo)
	}
	c.snaps.commits.add(c.repoKey(owner, name)+"@"+ci.SHA, ci)
	if err := c.recordCommit(ctx, owner, name, ci.SHA); err != nil {
		return "", err
	}
	return ci.SHA, nil
}

// putFileError maps a refused contents write to ErrProtected or
// ErrFileMoved; other answers keep their status's sentinel.
func putFileError(op string, err error) error {
	ae := apiError(err)
	switch {
	case ae == nil:
	case protectionRefusal(ae):
		return fmt.Errorf("forge: %s: %w: %w", op, ErrProtected, ae)
	case (ae.Status == http.StatusConflict || ae.Status == http.StatusUnprocessableEntity) && ae.has("does not match"):
		return fmt.Errorf("forge: %s: %w: %w", op, ErrFileMoved, ae)
	}
	return wrap(op, err)
}

// protectionRefusal reports whether GitHub refused a write to a branch
// because of branch protection or a ruleset: 409 "Repository rule
// violations found", 422 "Protected branch update failed", or 403 naming a
// protected branch.
func protectionRefusal(ae *APIError) bool {
	switch ae.Status {
	case http.StatusConflict, http.StatusUnprocessableEntity, http.StatusForbidden:
	default:
		return false
	}
	return ae.has("protected branch") || ae.has("rule violation") || ae.has("must be made through")
}
