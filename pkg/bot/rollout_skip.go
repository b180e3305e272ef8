package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/provision"
)

// Skipping terraform. A merge that changes only the catalog, or a request
// contract's own file, changes nothing terraform reads, so its apply would
// be a full init/plan/apply (a state lock, minutes; an Actions run) of no
// change. The rollout skips terraform when the environment's terraform
// inputs at the target are byte for byte those of its last apply: every
// root (apply.roots, generated *.auto.tfvars.json included), compared by
// git tree id, and, when the environment is coupled at either commit, the
// coupled tfvars, compared by blob id. The ids come from the cached tree
// listings, so the comparison costs no more than the snapshots.
//
// Terraform runs anyway on a retry (/rds retry, or a re-run owed), for an
// environment never applied, when the last apply is not on the target's
// first-parent history, when terraform ran for a commit after it (a failed
// apply may have changed the state), while a decommission is in flight (its apply
// removes the secret), when a root uses a local module outside itself
// (source = "../…": the roots alone do not say what it holds), and with the
// actions runner while any entry is in flight (the workflow provisions).

// skipWhy is the ledger's and the log's reason for a skipped apply.
func skipWhy(since string) string { return "terraform inputs unchanged since " + since }

// unchangedSince returns the last applied commit when terraform has
// nothing new to apply at the target; "" when terraform must run.
func (r *rollout) unchangedSince(ctx context.Context, names []string, runner string) (string, error) {
	if r.retry || r.rerun {
		return "", nil
	}
	last, err := r.b.ledger.LastApplied(ctx, r.repo, r.env)
	if err != nil || last == "" || strings.EqualFold(last, r.target.SHA) {
		return "", err
	}
	if runner == config.RunnerActions && len(names) > 0 {
		// The workflow's last step provisions them: it must run.
		return "", nil
	}
	f, _, err := r.b.readCatalog(ctx, r.c, r.rc, r.env, "")
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if e, ok := f.Get(n, r.env); ok && e.Metadata.Status == lifecycle.Decommissioning {
			return "", nil
		}
	}
	if ok, err := r.onFirstParents(ctx, last); err != nil || !ok {
		return "", err
	}
	if ran, err := r.ranSince(ctx, last); err != nil || ran {
		return "", err
	}
	same, err := r.sameInputs(ctx, last)
	if err != nil || !same {
		return "", err
	}
	return strings.ToLower(last), nil
}

// onFirstParents reports whether sha is on the target's first-parent
// history within the guard's bound. The guard walked the same commits
// before (commits are cached), so this costs no calls after it.
func (r *rollout) onFirstParents(ctx context.Context, sha string) (bool, error) {
	cur := strings.ToLower(r.target.SHA)
	for range guardDepth {
		parents, err := r.c.CommitParents(ctx, r.repo, cur)
		if err != nil || len(parents) == 0 {
			return false, err
		}
		cur = strings.ToLower(parents[0])
		if strings.EqualFold(cur, sha) {
			return true, nil
		}
	}
	return false, nil
}

// ranSince reports whether terraform may have run for a commit between
// the last apply and the target (a failed apply, or provisioning that
// failed after one): the state then holds more than the last apply's
// inputs, and only an apply of the target brings it back to them.
func (r *rollout) ranSince(ctx context.Context, last string) (bool, error) {
	merges, err := r.b.ledger.Merges(ctx, r.repo, r.env)
	if err != nil {
		return false, err
	}
	after := false
	for _, m := range merges {
		switch {
		case strings.EqualFold(m.SHA, last):
			after = true
		case !after || strings.EqualFold(m.SHA, r.target.SHA):
		default:
			rec, ok, err := r.b.ledger.ApplyOf(ctx, r.repo, r.env, m.SHA)
			if err != nil || (ok && rec.Skipped == "") {
				return ok, err
			}
		}
	}
	return false, nil
}

// sameInputs reports whether the environment's terraform inputs at the
// target are those at commit last.
func (r *rollout) sameInputs(ctx context.Context, last string) (bool, error) {
	from, err := r.c.SnapshotAt(ctx, r.repo, last)
	if err != nil {
		return false, err
	}
	to, err := r.c.SnapshotAt(ctx, r.repo, r.target.SHA)
	if err != nil {
		return false, err
	}
	from, to = from.WithContext(ctx), to.WithContext(ctx)
	cfg := r.rc.config()
	roots := cfg.Apply.RootsFor(r.env)
	for _, root := range roots {
		if same, err := sameObject(from, to, root); err != nil || !same {
			return false, err
		}
	}
	tfvars := config.Expand(cfg.Paths.CoupledTfvars, r.env)
	same, err := sameObject(from, to, tfvars)
	if err != nil {
		return false, err
	}
	if !same {
		for _, s := range []*forge.Snapshot{from, to} {
			src, err := provision.ResolveSource(s, cfg, r.env, provision.ModeAuto)
			if err != nil || src.Mode == provision.ModeCoupled {
				return false, nil // coupled, or cannot tell: terraform runs
			}
		}
	}
	for _, root := range roots {
		if out, err := leavesRoot(to, root); err != nil || out {
			return false, err
		}
	}
	return true, nil
}

// sameObject reports whether a path holds the same git object (or nothing)
// at both commits.
func sameObject(a, b *forge.Snapshot, p string) (bool, error) {
	ida, ta, oka, err := a.ObjectID(p)
	if err != nil {
		return false, fmt.Errorf("terraform inputs at %.12s: %w", a.SHA, err)
	}
	idb, tb, okb, err := b.ObjectID(p)
	if err != nil {
		return false, fmt.Errorf("terraform inputs at %.12s: %w", b.SHA, err)
	}
	return oka == okb && ida == idb && ta == tb, nil
}

// localModule finds a module source that leaves its directory.
var localModule = regexp.MustCompile(`(?m)^\s*source\s*=\s*"\.\./`)

// leavesRoot reports whether a *.tf file under a root names a local
// module by a path that goes up ("../"), which the root's tree id may not
// cover.
func leavesRoot(s *forge.Snapshot, root string) (bool, error) {
	found := false
	err := fs.WalkDir(s, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found || d.IsDir() || path.Ext(p) != ".tf" {
			return err
		}
		src, err := fs.ReadFile(s, p)
		if err != nil {
			return err
		}
		found = localModule.Match(src)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // no root: nothing leaves it
	}
	if err != nil {
		return false, fmt.Errorf("terraform inputs at %.12s: %w", s.SHA, err)
	}
	return found, nil
}
