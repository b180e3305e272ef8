package bot

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/policy/digest"
	"github.com/rdsbot/rdsbot/pkg/repocheck"
	"github.com/rdsbot/rdsbot/pkg/schema"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
)

// gatePaths says which files the gate covers and which environment a file
// belongs to, from the configuration of the default branch (never from the
// pull request's own copy).
type gatePaths struct {
	cfg *config.Config
	// templates are the configured paths with {env}.
	templates []string
}

func newGatePaths(cfg *config.Config) gatePaths {
	p := cfg.Paths
	return gatePaths{cfg: cfg, templates: []string{p.StandaloneTfvars, p.StandaloneVariables, p.StandaloneMain,
		p.CoupledTfvars, p.CoupledVariables, cfg.Catalog.Path}}
}

// covers reports whether a change to p needs the gate: any
// envs/**/terraform.tfvars, envs/*-rds/*.tf, the catalog, the request
// contracts (rds-requests/**.yaml and generated *.auto.tfvars.json), and
// every path the configuration names.
func (g gatePaths) covers(p string) bool {
	switch {
	case strings.HasPrefix(p, "envs/") && path.Base(p) == "terraform.tfvars":
		return true
	case strings.HasPrefix(p, "envs/") && strings.Count(p, "/") == 2 && strings.HasSuffix(path.Dir(p), "-rds") && path.Ext(p) == ".tf":
		return true
	case strings.HasSuffix(p, ".auto.tfvars.json") && strings.HasPrefix(p, "envs/"):
		return true
	case strings.Contains("/"+p, "/rds-requests/") && (path.Ext(p) == ".yaml" || path.Ext(p) == ".yml"):
		return true
	}
	for _, t := range g.templates {
		if _, ok := matchTemplate(t, p); ok {
			return true
		}
	}
	return false
}

// envOf is the environment a covered file belongs to: from a configured
// template, else envs/<env>[-rds]/..., else rds-requests/<env>/... "" when
// the path does not tell (a single-file catalog).
func (g gatePaths) envOf(p string) string {
	for _, t := range g.templates {
		if env, ok := matchTemplate(t, p); ok && env != "" {
			return env
		}
	}
	parts := strings.Split(p, "/")
	if len(parts) >= 3 && parts[0] == "envs" {
		return strings.TrimSuffix(parts[1], "-rds")
	}
	for i, s := range parts {
		if s == "rds-requests" && i+2 < len(parts) {
			return parts[i+1]
		}
	}
	return ""
}

// matchTemplate matches p against a path with one {env}; a template
// without {env} matches itself with env "".
func matchTemplate(tmpl, p string) (string, bool) {
	if tmpl == "" {
		return "", false
	}
	pre, post, ok := strings.Cut(tmpl, "{env}")
	if !ok {
		return "", tmpl == p
	}
	if !strings.HasPrefix(p, pre) || !strings.HasSuffix(p, post) || len(p) <= len(pre)+len(post) {
		return "", false
	}
	env := p[len(pre) : len(p)-len(post)]
	if strings.Contains(env, "/") {
		return "", false
	}
	return env, true
}

// touched lists the covered files a comparison changes and the
// environments they belong to. unknown: a covered file whose environment
// the path does not tell.
func (g gatePaths) touched(files []forge.PullFile) (covered []string, envs []string, unknown bool) {
	add := func(p string) {
		if p == "" || !g.covers(p) || slices.Contains(covered, p) {
			return
		}
		covered = append(covered, p)
		if env := g.envOf(p); env == "" {
			unknown = true
		} else if !slices.Contains(envs, env) {
			envs = append(envs, env)
		}
	}
	for _, f := range files {
		add(f.Path)
		add(f.PreviousPath)
	}
	sort.Strings(covered)
	sort.Strings(envs)
	return covered, envs, unknown
}

// validation is the rdsbot/validate check's finding list.
type validation struct {
	problems []string // plain sentences, "file:line: message"
}

// validate holds a pull request's head to the rules rdsbot's own plans
// follow: `rdsbot validate` (pkg/repocheck) on the head, reporting what is
// new against the merge base; no lowered deletion_protection or
// prevent_destroy; no application_databases entry removed without a
// decommission; coupled and standalone roots agree (repocheck).
func validate(cfg *config.Config, set *schema.Set, base, head fs.FS, changes []digest.Change, envs []string, decommission bool) validation {
	var v validation
	before := map[string]bool{}
	for _, f := range repocheck.Check(base, cfg, set) {
		before[f.File+"\x00"+f.Message] = true
	}
	for _, f := range repocheck.Check(head, cfg, set) {
		if !before[f.File+"\x00"+f.Message] {
			v.problems = append(v.problems, f.String())
		}
	}
	for _, ch := range changes {
		last := ch.Key
		if i := strings.LastIndexByte(last, '.'); i >= 0 {
			last = last[i+1:]
		}
		if (last == "deletion_protection" || last == "prevent_destroy") && ch.Old == "true" && ch.New != "true" {
			now := "removed"
			if ch.Op == digest.Changed {
				now = "set to " + ch.New
			}
			v.problems = append(v.problems, fmt.Sprintf("%s: %s was true and is %s; deletion protection may never be lowered", ch.File, ch.Key, now))
		}
	}
	p := cfg.Paths
	for _, env := range envs {
		for _, m := range []struct {
			file string
			path tfvars.Path
		}{
			{config.Expand(p.StandaloneTfvars, env), tfvars.Path{p.MapAttribute}},
			{config.Expand(p.CoupledTfvars, env), tfvars.Path{p.CoupledObject, p.CoupledMap}},
		} {
			gone := removedEntries(base, head, m.file, m.path)
			if len(gone) > 0 && !decommission {
				v.problems = append(v.problems, fmt.Sprintf("%s: %s removes %s; removing a database takes a decommission request (label %s, with its approvals)",
					m.file, strings.Join(m.path, "."), strings.Join(gone, ", "), cfg.Labels.Decommission))
			}
		}
	}
	return v
}

// removedEntries lists the keys of a tfvars map present at base and gone at
// head (a file that does not parse is repocheck's finding).
func removedEntries(base, head fs.FS, file string, mp tfvars.Path) []string {
	keys := func(fsys fs.FS) map[string]bool {
		src, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil
		}
		list, err := tfvars.Entries(src, file, mp)
		if err != nil {
			return nil
		}
		out := map[string]bool{}
		for _, e := range list {
			out[e.Key] = true
		}
		return out
	}
	was, is := keys(base), keys(head)
	if was == nil || is == nil {
		if was != nil && is == nil {
			if _, err := fs.Stat(head, file); err != nil {
				// The whole file is gone: every entry with it.
				is = map[string]bool{}
			} else {
				return nil
			}
		} else {
			return nil
		}
	}
	var out []string
	for k := range was {
		if !is[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
