package repocheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
	"github.com/zclconf/go-cty/cty"
)

var fileLine = regexp.MustCompile(`^([^:\s]+):([0-9]+): (.*)$`)

// addError records an error of the form "file:line: message" (as the schema
// package writes them) as a finding.
func (c *checker) addError(err error) {
	msg := err.Error()
	if m := fileLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[2])
		c.add(m[1], line, "%s", m[3])
		return
	}
	c.add(config.FileName, 0, "%s", msg)
}

var originLine = regexp.MustCompile(`^[^:\s]+:([0-9]+)`)

// checkContracts checks the request contracts of env and returns, by
// database, the contract that speaks for it now (the live one, else the
// last one decommissioned). In the direct mode it only refuses generated
// files, which Terraform would apply without a request behind them.
func (c *checker) checkContracts(env string, hasRoot bool, standalonePath string, standalone map[string]entry) map[string]gitops.ContractRecord {
	cfg := c.cfg
	genFiles := c.listIDs(cfg.GeneratedTfvarsFiles(env))
	if !cfg.ContractMode() {
		for _, id := range sortedKeys(genFiles) {
			c.add(genFiles[id], 0, "request_mode is %s, but this generated file is here and the standalone root applies it; remove it or set request_mode: %s", cfg.RequestMode, config.ModeContract)
		}
		return nil
	}
	records, err := c.planner.Contracts(c.repo, env)
	if err != nil {
		c.add(cfg.ContractFiles(env).Dir, 0, "%v", err)
		return nil
	}
	if hasRoot || len(records) > 0 || len(genFiles) > 0 {
		c.checkContractRoot(env, hasRoot, standalonePath)
	}
	statuses, _ := c.set.Enums.Values("rds.request_status")
	current := map[string]gitops.ContractRecord{}
	liveDB := map[string]gitops.ContractRecord{}
	liveRole := map[string]gitops.ContractRecord{}
	for _, r := range records {
		if r.Request == nil {
			for _, p := range r.Problems.Errors() {
				line := 0
				if m := originLine.FindStringSubmatch(p.Origin); m != nil {
					line, _ = strconv.Atoi(m[1])
				}
				c.add(r.Path, line, "%s", p.String())
			}
			continue
		}
		req := r.Request
		if req.ID != r.ID {
			c.add(r.Path, 1, "id is %s but the file is named for %s", req.ID, r.ID)
		}
		if req.Environment != env {
			c.add(r.Path, 0, "environment is %s but the contract is in the folder of %s", req.Environment, env)
		}
		if len(statuses) > 0 && !contains(statuses, r.Status) {
			c.add(r.Path, 0, "status %q is not one of rds.request_status: %s", r.Status, strings.Join(statuses, ", "))
		}
		db := req.DatabaseName
		if r.Live() {
			if other, dup := liveDB[db]; dup {
				c.add(r.Path, 0, "database %q is also requested by %s (%s); one database, one live request", db, other.ID, other.Path)
			}
			if other, dup := liveRole[req.Username]; dup {
				c.add(r.Path, 0, "role %q is also used by %s (%s)", req.Username, other.ID, other.Path)
			}
			liveDB[db], liveRole[req.Username] = r, r
			if te, inTF := standalone[db]; inTF {
				c.add(standalonePath, te.line, "entry %q is also requested by the contract %s; a database has one source: remove one of them", db, r.Path)
			}
		}
		if cur, ok := current[db]; !ok || r.Live() || (!cur.Live() && r.Path > cur.Path) {
			current[db] = r
		}
		c.checkOutputs(r, genFiles)
	}
	for _, id := range sortedKeys(genFiles) {
		c.add(genFiles[id], 0, "generated from no request contract: %s does not exist", cfg.ContractPath(env, id))
	}
	return current
}

// checkOutputs compares a contract's generated files with what rdsbot
// renders from it; it removes the generated JSON it accounts for from gen.
func (c *checker) checkOutputs(r gitops.ContractRecord, gen map[string]string) {
	delete(gen, r.ID)
	outs, err := c.planner.Outputs(r.Request)
	if err != nil {
		c.add(r.Path, 0, "cannot render its generated files: %v", err)
		return
	}
	for _, p := range sortedMapKeys(outs) {
		have, ok := c.read(p)
		switch {
		case !r.Live() && ok:
			c.add(p, 0, "still exists but its contract %s is %s; Terraform would keep the database's secret", r.Path, r.Status)
		case !r.Live():
		case !ok:
			c.add(p, 0, "is missing: the contract %s needs it; regenerate it with `rdsbot request --file %s`", r.Path, r.Path)
		case !bytes.Equal(have, outs[p]):
			c.add(p, 0, "does not match its contract %s: %s; regenerate it with `rdsbot request --file %s`", r.Path, describeDrift(p, have, outs[p]), r.Path)
		}
	}
}

// describeDrift names what differs between a generated file and its
// rendering: the JSON paths for the tfvars, else the first differing line.
func describeDrift(p string, have, want []byte) string {
	if strings.HasSuffix(p, ".json") {
		var a, b any
		if json.Unmarshal(have, &a) == nil && json.Unmarshal(want, &b) == nil {
			var diffs []string
			jsonDiff("", a, b, &diffs)
			if len(diffs) > 0 {
				if len(diffs) > 5 {
					diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
				}
				return strings.Join(diffs, "; ")
			}
			return "the values agree but the formatting differs (sorted keys, two-space indent, trailing newline)"
		}
		return "it is not valid JSON"
	}
	hl, wl := strings.Split(string(have), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(hl), len(wl)); i++ {
		var h, w string
		if i < len(hl) {
			h = hl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if h != w {
			return fmt.Sprintf("line %d is %q, the contract gives %q", i+1, strings.TrimSpace(h), strings.TrimSpace(w))
		}
	}
	return "the bytes differ"
}

func jsonDiff(at string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			p := k
			if at != "" {
				p = at + "." + k
			}
			av, ain := am[k]
			bv, bin := bm[k]
			switch {
			case !ain:
				*out = append(*out, fmt.Sprintf("%s is missing (the contract gives %s)", p, show1(bv)))
			case !bin:
				*out = append(*out, fmt.Sprintf("%s is not in the contract", p))
			default:
				jsonDiff(p, av, bv, out)
			}
		}
		return
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		*out = append(*out, fmt.Sprintf("%s is %s, the contract gives %s", at, show1(a), show1(b)))
	}
}

func show1(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// listIDs lists the files of a pattern by request id.
func (c *checker) listIDs(pat config.FilePattern) map[string]string {
	out := map[string]string{}
	entries, err := fs.ReadDir(c.repo, pat.Dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.add(pat.Dir, 0, "cannot list: %v", err)
		}
		return out
	}
	for _, e := range entries {
		if id, ok := pat.Match(e.Name()); ok && !e.IsDir() {
			out[id] = path.Join(pat.Dir, e.Name())
		}
	}
	return out
}

var filesetCall = regexp.MustCompile(`fileset\([^)]*\)`)

// checkContractRoot: the contract mode only works if the standalone root
// reads the generated files (the original system wrote them where Terraform
// never looked) and coupled mode is off.
func (c *checker) checkContractRoot(env string, hasRoot bool, standalonePath string) {
	cfg := c.cfg
	if !hasRoot {
		c.add(standalonePath, 0, "environment %s has request contracts but no standalone root", env)
		return
	}
	mainPath := config.Expand(cfg.Paths.StandaloneMain, env)
	dir := c.planner.GeneratedDir(env)
	src, ok := c.read(mainPath)
	reads := false
	for _, call := range filesetCall.FindAll(src, -1) {
		if bytes.Contains(call, []byte(dir)) {
			reads = true
		}
	}
	if ok && !reads {
		c.add(mainPath, 0, "never reads %s/*%s (no fileset over it): Terraform would ignore every contract request of %s", dir, cfg.GeneratedTfvarsFiles(env).Suffix, env)
	}
	coupledPath := config.Expand(cfg.Paths.CoupledTfvars, env)
	if src, ok := c.read(coupledPath); ok {
		if v, found, err := lookupBool(src, coupledPath, cfg); err == nil && found && v {
			c.add(coupledPath, 0, "coupled mode is on, but request_mode is contract, which writes no tfvars: the coupled root would miss every contract request")
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedMapKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func lookupBool(src []byte, path string, cfg *config.Config) (bool, bool, error) {
	v, found, err := tfvars.Lookup(src, path, tfvars.Path{cfg.Paths.CoupledObject, cfg.Paths.CoupledEnabled})
	if err != nil || !found || v.Type() != cty.Bool || v.IsNull() || !v.IsKnown() {
		return false, false, err
	}
	return v.True(), true, nil
}
