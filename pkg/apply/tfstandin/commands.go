package tfstandin

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// common are the flags of init, plan and apply.
type common struct {
	input, lock, noColor, json bool
	lockTimeout                time.Duration
}

func (s *standin) flags(cmd string, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.BoolVar(&c.input, "input", true, "")
	fs.BoolVar(&c.lock, "lock", true, "")
	fs.BoolVar(&c.noColor, "no-color", false, "")
	fs.DurationVar(&c.lockTimeout, "lock-timeout", 0, "")
	return fs
}

// backendFile is .terraform/terraform.tfstate: the backend init configured.
type backendFile struct {
	Version int `json:"version"`
	Backend struct {
		Type   string            `json:"type"`
		Config map[string]string `json:"config"`
	} `json:"backend"`
}

func (s *standin) init(cmd string, args []string) int {
	var c common
	var backend stringList
	fs := s.flags(cmd, &c)
	fs.Var(&backend, "backend-config", "")
	fs.Bool("reconfigure", false, "")
	fs.Bool("upgrade", false, "")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if s.matches(s.ctl.Fail, cmd) {
		return s.fail(c, "Failed to get existing workspaces", s.ctl.Message)
	}
	if tf, _ := filepath.Glob("*.tf"); len(tf) == 0 {
		fmt.Fprintln(s.stdout, "Terraform initialized in an empty directory!")
		return 0
	}
	var bf backendFile
	bf.Version = 3
	bf.Backend.Type = "s3"
	bf.Backend.Config = map[string]string{}
	for _, kv := range backend {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return s.fail(c, "Invalid backend configuration argument", fmt.Sprintf("The -backend-config value %q is not a key=value pair.", kv))
		}
		bf.Backend.Config[k] = v
	}
	if err := os.MkdirAll(".terraform/providers", 0o755); err != nil {
		return s.fail(c, "Failed to create .terraform", err.Error())
	}
	data, _ := json.MarshalIndent(bf, "", "  ")
	if err := os.WriteFile(".terraform/terraform.tfstate", data, 0o644); err != nil {
		return s.fail(c, "Failed to write backend configuration", err.Error())
	}
	_ = os.WriteFile(".terraform.lock.hcl", []byte("# This file is maintained automatically by \"terraform init\" (rdsbot stand-in).\n"), 0o644)
	fmt.Fprintf(s.stdout, "\nInitializing the backend...\n\nSuccessfully configured the backend %q! Terraform will automatically\nuse this backend unless the backend configuration changes.\n\nInitializing provider plugins...\n\nTerraform has been successfully initialized!\n", bf.Backend.Type)
	return 0
}

// change is one planned change.
type change struct {
	Addr    string   `json:"addr"`
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Key     any      `json:"key"`
	Action  string   `json:"action"`  // the UI's: create, update, delete, replace
	Actions []string `json:"actions"` // show -json's
	Reason  string   `json:"reason,omitempty"`
	Hash    string   `json:"hash,omitempty"`
}

// planFile is what -out writes.
type planFile struct {
	Format  string      `json:"rdsbot_standin_plan"`
	Version string      `json:"terraform_version"`
	State   string      `json:"state"`
	Serial  int         `json:"serial"`
	Changes []change    `json:"changes"`
	Backend backendFile `json:"backend"`
}

var reasonRE = regexp.MustCompile(`^[a-z_]+$`)

func (s *standin) plan(cmd string, args []string) int {
	var c common
	var out string
	var detailed bool
	fs := s.flags(cmd, &c)
	fs.BoolVar(&c.json, "json", false, "")
	fs.StringVar(&out, "out", "", "")
	fs.BoolVar(&detailed, "detailed-exitcode", false, "")
	fs.Bool("refresh", true, "")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() > 0 {
		return s.fail(c, "Too many command line arguments", "To specify a working directory for the plan, use the global -chdir flag.")
	}
	s.versionLine(c)
	bf, ok := readBackend()
	if !ok {
		return s.fail(c, "Backend initialization required, please run \"terraform init\"", "Reason: Initial configuration of the requested backend \"s3\"")
	}
	want, err := desired(".")
	if err != nil {
		return s.fail(c, "Invalid configuration", err.Error())
	}
	st := s.stateRef(bf)
	unlock, err := st.lock(c)
	if err != nil {
		return s.fail(c, "Error acquiring the state lock", err.Error())
	}
	defer unlock()
	if s.matches(s.ctl.Fail, cmd) {
		return s.fail(c, "reading RDS DB Instance (goldenpath): operation error RDS: DescribeDBInstances", s.ctl.Message)
	}
	state := st.read()
	changes := diff(state.Resources, want, s.ctl)
	if out != "" {
		pf := planFile{Format: "1", Version: Version, State: st.name, Serial: state.Serial, Changes: changes, Backend: bf}
		data, _ := json.MarshalIndent(pf, "", "  ")
		if err := os.WriteFile(out, data, 0o600); err != nil {
			return s.fail(c, "Failed to write plan file", err.Error())
		}
	}
	add, chg, del := counts(changes)
	if c.json {
		for _, ch := range changes {
			extra := map[string]any{"change": uiChange(ch)}
			s.ui("info", fmt.Sprintf("%s: Plan to %s", ch.Addr, ch.Action), "planned_change", extra)
		}
		s.ui("info", fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", add, chg, del), "change_summary",
			map[string]any{"changes": map[string]any{"add": add, "change": chg, "import": 0, "remove": del, "operation": "plan"}})
	} else {
		s.text(changes)
	}
	if detailed && len(changes) > 0 {
		return 2
	}
	return 0
}

func (s *standin) show(cmd string, args []string) int {
	var c common
	fs := s.flags(cmd, &c)
	fs.BoolVar(&c.json, "json", false, "")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if s.matches(s.ctl.Fail, cmd) {
		return s.fail(c, "Failed to read the given file as a state or plan file", s.ctl.Message)
	}
	if fs.NArg() != 1 {
		return s.fail(c, "Missing plan file", "The stand-in shows saved plans only: show [-json] PLANFILE.")
	}
	pf, err := readPlan(fs.Arg(0))
	if err != nil {
		return s.fail(c, "Failed to read the given file as a state or plan file", err.Error())
	}
	if c.json {
		var rc []map[string]any
		for _, ch := range pf.Changes {
			rc = append(rc, map[string]any{"address": ch.Addr, "mode": "managed", "type": ch.Type, "name": ch.Name,
				"index": ch.Key, "provider_name": "registry.terraform.io/hashicorp/" + provider(ch.Type),
				"change": map[string]any{"actions": ch.Actions, "before": nil, "after": nil, "after_unknown": map[string]any{},
					"before_sensitive": false, "after_sensitive": false}})
		}
		if rc == nil {
			rc = []map[string]any{}
		}
		_ = json.NewEncoder(s.stdout).Encode(map[string]any{"format_version": "1.2", "terraform_version": Version,
			"resource_changes": rc, "applyable": len(pf.Changes) > 0, "complete": true, "errored": false})
		return 0
	}
	s.text(pf.Changes)
	return 0
}

func (s *standin) apply(cmd string, args []string) int {
	var c common
	var approve bool
	fs := s.flags(cmd, &c)
	fs.BoolVar(&c.json, "json", false, "")
	fs.BoolVar(&approve, "auto-approve", false, "")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	s.versionLine(c)
	if fs.NArg() != 1 {
		if !approve {
			return s.fail(c, "No configuration files", "The stand-in applies saved plans (apply PLANFILE); without one it needs -auto-approve and still refuses.")
		}
		return s.fail(c, "Apply without a saved plan", "The stand-in only applies saved plans.")
	}
	pf, err := readPlan(fs.Arg(0))
	if err != nil {
		return s.fail(c, "Failed to load saved plan", err.Error())
	}
	st := stateRef{dir: filepath.Join(s.dir, "state"), name: pf.State}
	unlock, err := st.lock(c)
	if err != nil {
		return s.fail(c, "Error acquiring the state lock", err.Error())
	}
	defer unlock()
	state := st.read()
	if state.Serial != pf.Serial {
		return s.fail(c, "Saved plan is stale", "The given plan file can no longer be applied because the state was changed by another operation after the plan was created.")
	}
	add, chg, del := 0, 0, 0
	for i, ch := range pf.Changes {
		hook := map[string]any{"resource": uiResource(ch), "action": ch.Action}
		s.ui("info", fmt.Sprintf("%s: %s...", ch.Addr, verb(ch.Action, "ing")), "apply_start", map[string]any{"hook": hook})
		if i == 0 && s.matches(s.ctl.Fail, cmd) {
			hook["elapsed_seconds"] = 0
			s.ui("error", fmt.Sprintf("%s: %s errored after 0s", ch.Addr, verb(ch.Action, "ion")), "apply_errored", map[string]any{"hook": hook})
			return s.fail(c, "creating Secrets Manager Secret: operation error Secrets Manager: CreateSecret, AccessDeniedException", s.ctl.Message)
		}
		switch ch.Action {
		case "delete":
			delete(state.Resources, ch.Addr)
			del++
		case "create", "replace":
			state.Resources[ch.Addr] = stateResource{Type: ch.Type, Name: ch.Name, Key: ch.Key, Hash: ch.Hash}
			add++
			if ch.Action == "replace" {
				del++
			}
		case "update":
			state.Resources[ch.Addr] = stateResource{Type: ch.Type, Name: ch.Name, Key: ch.Key, Hash: ch.Hash}
			chg++
		}
		hook["elapsed_seconds"] = 0
		if ch.Action != "delete" {
			hook["id_key"], hook["id_value"] = "id", idOf(ch)
		}
		msg := fmt.Sprintf("%s: %s complete after 0s", ch.Addr, verb(ch.Action, "ion"))
		if ch.Action != "delete" {
			msg += " [id=" + idOf(ch) + "]"
		}
		s.ui("info", msg, "apply_complete", map[string]any{"hook": hook})
	}
	if len(pf.Changes) > 0 {
		state.Serial++
		if err := st.write(state); err != nil {
			return s.fail(c, "Failed to save state", err.Error())
		}
	}
	s.ui("info", fmt.Sprintf("Apply complete! Resources: %d added, %d changed, %d destroyed.", add, chg, del), "change_summary",
		map[string]any{"changes": map[string]any{"add": add, "change": chg, "import": 0, "remove": del, "operation": "apply"}})
	s.ui("info", "Outputs: 0", "outputs", map[string]any{"outputs": map[string]any{}})
	return 0
}

// diff compares the state with the configuration, plus the knobs.
func diff(state map[string]stateResource, want map[string]instance, ctl Control) []change {
	var out []change
	seen := map[string]bool{}
	for addr, in := range want {
		cur, ok := state[addr]
		switch {
		case !ok:
			out = append(out, change{Addr: addr, Type: in.Type, Name: in.Name, Key: in.Key, Action: "create", Actions: []string{"create"}, Hash: in.Hash})
		case cur.Hash != in.Hash:
			out = append(out, change{Addr: addr, Type: in.Type, Name: in.Name, Key: in.Key, Action: "update", Actions: []string{"update"}, Hash: in.Hash})
		}
		seen[addr] = true
	}
	for addr, cur := range state {
		if !seen[addr] {
			out = append(out, change{Addr: addr, Type: cur.Type, Name: cur.Name, Key: cur.Key, Action: "delete", Actions: []string{"delete"}, Reason: "delete_because_no_resource_config"})
		}
	}
	forced := func(addrs []string, action string) {
		for _, addr := range addrs {
			addr = strings.TrimSpace(addr)
			if addr == "" {
				continue
			}
			typ, name := splitAddr(addr)
			ch := change{Addr: addr, Type: typ, Name: name, Action: action, Actions: []string{"delete"}}
			if action == "replace" {
				ch.Actions, ch.Reason = []string{"delete", "create"}, "cannot_update"
				if in, ok := want[addr]; ok {
					ch.Hash, ch.Key = in.Hash, in.Key
				}
			}
			replaced := false
			for i := range out {
				if out[i].Addr == addr {
					out[i], replaced = ch, true
				}
			}
			if !replaced {
				out = append(out, ch)
			}
		}
	}
	forced(ctl.Destroy, "delete")
	forced(ctl.Replace, "replace")
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

func splitAddr(addr string) (string, string) {
	base := addr
	if i := strings.IndexByte(base, '['); i >= 0 {
		base = base[:i]
	}
	parts := strings.Split(base, ".")
	if len(parts) < 2 {
		return base, ""
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

func counts(cs []change) (add, chg, del int) {
	for _, c := range cs {
		switch c.Action {
		case "create":
			add++
		case "update":
			chg++
		case "delete":
			del++
		case "replace":
			add++
			del++
		}
	}
	return
}

func provider(typ string) string {
	p, _, _ := strings.Cut(typ, "_")
	return p
}

func uiResource(c change) map[string]any {
	return map[string]any{"addr": c.Addr, "module": "", "resource": c.Addr, "implied_provider": provider(c.Type),
		"resource_type": c.Type, "resource_name": c.Name, "resource_key": c.Key}
}

func uiChange(c change) map[string]any {
	m := map[string]any{"resource": uiResource(c), "action": c.Action}
	if c.Reason != "" && reasonRE.MatchString(c.Reason) {
		m["reason"] = c.Reason
	}
	return m
}

func verb(action, form string) string {
	words := map[string][2]string{"create": {"Creating", "Creation"}, "update": {"Modifying", "Modifications"},
		"delete": {"Destroying", "Destruction"}, "replace": {"Creating", "Creation"}}
	w := words[action]
	if form == "ing" {
		return w[0]
	}
	return w[1]
}

func idOf(c change) string { return "standin-" + c.Hash }

// ui writes one machine-readable UI message.
func (s *standin) ui(level, msg, typ string, extra map[string]any) {
	m := map[string]any{"@level": level, "@message": msg, "@module": "terraform.ui",
		"@timestamp": time.Now().Format("2006-01-02T15:04:05.000000Z07:00"), "type": typ}
	for k, v := range extra {
		m[k] = v
	}
	data, _ := json.Marshal(m)
	fmt.Fprintln(s.stdout, string(data))
}

func (s *standin) versionLine(c common) {
	if c.json {
		s.ui("info", "Terraform "+Version, "version", map[string]any{"terraform": Version, "ui": "1.2"})
	}
}

// fail reports an error diagnostic and returns exit code 1.
func (s *standin) fail(c common, summary, detail string) int {
	if c.json {
		s.ui("error", "Error: "+summary, "diagnostic", map[string]any{"diagnostic": map[string]any{
			"severity": "error", "summary": summary, "detail": detail}})
		return 1
	}
	fmt.Fprintf(s.stderr, "\nError: %s\n\n%s\n", summary, detail)
	return 1
}

var textSymbols = map[string][2]string{"create": {"+", "will be created"}, "update": {"~", "will be updated in-place"},
	"delete": {"-", "will be destroyed"}, "replace": {"-/+", "must be replaced"}}

// text prints changes as terraform's human plan does.
func (s *standin) text(cs []change) {
	w := s.stdout
	if len(cs) == 0 {
		fmt.Fprintln(w, "\nNo changes. Your infrastructure matches the configuration.")
		return
	}
	fmt.Fprint(w, "\nTerraform used the selected providers to generate the following execution\nplan. Resource actions are indicated with the following symbols:\n  + create\n  ~ update in-place\n  - destroy\n-/+ destroy and then create replacement\n\nTerraform will perform the following actions:\n")
	for _, c := range cs {
		sw := textSymbols[c.Action]
		fmt.Fprintf(w, "\n  # %s %s\n  %s resource %q %q {\n      id = %q\n    }\n", c.Addr, sw[1], sw[0], c.Type, c.Name, idOf(c))
	}
	add, chg, del := counts(cs)
	fmt.Fprintf(w, "\nPlan: %d to add, %d to change, %d to destroy.\n", add, chg, del)
}

func readBackend() (backendFile, bool) {
	var bf backendFile
	data, err := os.ReadFile(".terraform/terraform.tfstate")
	if err != nil || json.Unmarshal(data, &bf) != nil {
		return bf, false
	}
	return bf, true
}

func readPlan(p string) (planFile, error) {
	var pf planFile
	data, err := os.ReadFile(p)
	if err != nil {
		return pf, err
	}
	if err := json.Unmarshal(data, &pf); err != nil || pf.Format == "" {
		return pf, fmt.Errorf("%s is not a saved plan of the stand-in", p)
	}
	return pf, nil
}

// stateResource is a resource instance in the state.
type stateResource struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Key  any    `json:"key,omitempty"`
	Hash string `json:"hash"`
}

type stateDoc struct {
	Version   int                      `json:"version"`
	Serial    int                      `json:"serial"`
	Resources map[string]stateResource `json:"resources"`
}

// stateRef is the state of one backend bucket and key.
type stateRef struct{ dir, name string }

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (s *standin) stateRef(bf backendFile) stateRef {
	name := bf.Backend.Config["bucket"] + "/" + bf.Backend.Config["key"]
	if name == "/" {
		name = "local"
	}
	return stateRef{dir: filepath.Join(s.dir, "state"), name: unsafeName.ReplaceAllString(name, "_")}
}

func (r stateRef) path() string { return filepath.Join(r.dir, r.name+".json") }

func (r stateRef) read() stateDoc {
	doc := stateDoc{Version: 4, Resources: map[string]stateResource{}}
	if data, err := os.ReadFile(r.path()); err == nil {
		_ = json.Unmarshal(data, &doc)
		if doc.Resources == nil {
			doc.Resources = map[string]stateResource{}
		}
	}
	return doc
}

func (r stateRef) write(doc stateDoc) error {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp := r.path() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, r.path())
}

// lock takes the state lock (a file created exclusively), waiting up to
// -lock-timeout. An interrupt releases it and exits, as terraform does.
func (r stateRef) lock(c common) (func(), error) {
	if !c.lock {
		return func() {}, nil
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(r.dir, r.name+".lock")
	deadline := time.Now().Add(c.lockTimeout)
	for {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			holder, _ := os.ReadFile(p)
			return nil, fmt.Errorf("ConditionalCheckFailedException: the state %s is locked (held by pid %s)", r.name, strings.TrimSpace(string(holder)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			os.Remove(p)
			fmt.Fprintln(os.Stderr, "Interrupt received. Gracefully shutting down... state lock released.")
			os.Exit(1)
		case <-done:
		}
	}()
	return func() {
		close(done)
		signal.Stop(sig)
		os.Remove(p)
	}, nil
}
