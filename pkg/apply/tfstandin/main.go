package tfstandin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version is the terraform version the stand-in reports.
const Version = "1.9.8"

// Names the stand-in answers to (the base name of argv[0] starts with one).
var Names = []string{"terraform-standin", "tofu-standin"}

const providerArg = "__standin_provider"

// maxTreeFiles bounds the working tree a call records.
const maxTreeFiles = 20000

// Invoked reports whether a process started as argv0 should act as the stand-in.
func Invoked(argv0 string) bool {
	base := filepath.Base(argv0)
	for _, n := range Names {
		if strings.HasPrefix(base, n) {
			return true
		}
	}
	return false
}

// Control are the knobs of control.json (and TF_STANDIN_* variables).
type Control struct {
	Fail    string   `json:"fail,omitempty"`
	Hang    string   `json:"hang,omitempty"`
	Destroy []string `json:"destroy,omitempty"`
	Replace []string `json:"replace,omitempty"`
	Message string   `json:"message,omitempty"`
}

// Call is one line of calls.jsonl.
type Call struct {
	Time        time.Time         `json:"time"`
	Args        []string          `json:"args"` // without argv[0]
	Dir         string            `json:"dir"`
	Env         map[string]string `json:"env"`
	Files       []File            `json:"files"`
	PID         int               `json:"pid"`
	ProviderPID int               `json:"provider_pid,omitempty"`
}

// File is a file of the working tree (.terraform/ and .git/ excluded, at
// most 20,000 files):
// the working directory, or the directory TF_STANDIN_TREE_UP levels above
// it (so a test sees a whole checkout from a root inside it).
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256,omitempty"`
	Mode   string `json:"mode"`
	Link   string `json:"link,omitempty"`
}

// Dir is the stand-in's directory for an executable path and environment.
func Dir(argv0 string, getenv func(string) string) string {
	if d := getenv("TF_STANDIN_DIR"); d != "" {
		return d
	}
	if !filepath.IsAbs(argv0) {
		if p, err := exec.LookPath(argv0); err == nil {
			argv0 = p
		}
	}
	if abs, err := filepath.Abs(argv0); err == nil {
		return abs + ".d"
	}
	return filepath.Join(os.TempDir(), "terraform-standin.d")
}

// ReadCalls reads the calls recorded in dir.
func ReadCalls(dir string) ([]Call, error) {
	data, err := os.ReadFile(filepath.Join(dir, "calls.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Call
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var c Call
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, fmt.Errorf("tfstandin: calls.jsonl: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// WriteControl writes control.json in dir.
func WriteControl(dir string, c Control) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "control.json.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "control.json"))
}

// Main runs the stand-in with os.Args-style args and returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 && args[1] == providerArg {
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		select {}
	}
	s := &standin{argv0: args[0], dir: Dir(args[0], os.Getenv), stdout: stdout, stderr: stderr}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "terraform-standin: %v\n", err)
		return 1
	}
	s.ctl = s.control()
	if len(args) < 2 {
		fmt.Fprintln(stderr, "Usage: terraform [global options] <subcommand> [args]")
		return 127
	}
	cmd, rest := args[1], args[2:]
	// Global option -chdir=DIR, as terraform has it.
	if strings.HasPrefix(cmd, "-chdir=") {
		if err := os.Chdir(strings.TrimPrefix(cmd, "-chdir=")); err != nil {
			fmt.Fprintf(stderr, "Error handling -chdir option: %v\n", err)
			return 1
		}
		if len(rest) == 0 {
			return 127
		}
		cmd, rest = rest[0], rest[1:]
	}
	call := s.record(args[1:])
	if s.matches(s.ctl.Hang, cmd) {
		return s.hang(call)
	}
	s.appendCall(call)
	switch cmd {
	case "version", "-version", "--version":
		return s.version(rest)
	case "init":
		return s.init(cmd, rest)
	case "plan":
		return s.plan(cmd, rest)
	case "show":
		return s.show(cmd, rest)
	case "apply":
		return s.apply(cmd, rest)
	}
	fmt.Fprintf(stderr, "Terraform has no command named %q.\n", cmd)
	return 1
}

type standin struct {
	argv0, dir     string
	stdout, stderr io.Writer
	ctl            Control
}

func (s *standin) control() Control {
	var c Control
	if data, err := os.ReadFile(filepath.Join(s.dir, "control.json")); err == nil {
		if err := json.Unmarshal(data, &c); err != nil {
			fmt.Fprintf(s.stderr, "terraform-standin: control.json: %v\n", err)
		}
	}
	if v := os.Getenv("TF_STANDIN_FAIL"); v != "" {
		c.Fail = v
	}
	if v := os.Getenv("TF_STANDIN_HANG"); v != "" {
		c.Hang = v
	}
	if v := os.Getenv("TF_STANDIN_DESTROY"); v != "" {
		c.Destroy = append(c.Destroy, strings.Split(v, ",")...)
	}
	if v := os.Getenv("TF_STANDIN_REPLACE"); v != "" {
		c.Replace = append(c.Replace, strings.Split(v, ",")...)
	}
	return c
}

func (s *standin) matches(knob, cmd string) bool {
	return knob != "" && (knob == cmd || knob == "any")
}

var secretName = regexp.MustCompile(`(?i)secret|token|password|passwd|private|credential`)

// record describes this invocation.
func (s *standin) record(args []string) Call {
	wd, _ := os.Getwd()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if secretName.MatchString(k) && v != "" {
			sum := sha256.Sum256([]byte(v))
			v = "sha256:" + hex.EncodeToString(sum[:])
		}
		env[k] = v
	}
	root := wd
	if n, err := strconv.Atoi(os.Getenv("TF_STANDIN_TREE_UP")); err == nil {
		for range n {
			root = filepath.Dir(root)
		}
	}
	return Call{Time: time.Now().UTC(), Args: args, Dir: wd, Env: env, Files: tree(root), PID: os.Getpid()}
}

func tree(root string) []File {
	var out []File
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if d.Name() == ".terraform" || d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if len(out) >= maxTreeFiles {
			return filepath.SkipAll
		}
		f := File{Path: filepath.ToSlash(rel)}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		f.Mode = info.Mode().String()
		if info.Mode()&fs.ModeSymlink != 0 {
			f.Link, _ = os.Readlink(p)
		} else if data, err := os.ReadFile(p); err == nil {
			sum := sha256.Sum256(data)
			f.SHA256 = hex.EncodeToString(sum[:])
		}
		out = append(out, f)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// appendCall adds a line to calls.jsonl (one write, O_APPEND: lines of
// concurrent invocations do not interleave).
func (s *standin) appendCall(c Call) {
	data, err := json.Marshal(c)
	if err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "calls.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(s.stderr, "terraform-standin: %v\n", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(data, '\n'))
}

// hang starts a provider-like child, records the call and blocks forever,
// deaf to SIGINT and SIGTERM.
func (s *standin) hang(call Call) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
	exe, err := os.Executable()
	if err == nil {
		child := &exec.Cmd{Path: exe, Args: []string{s.argv0, providerArg}}
		if err := child.Start(); err == nil {
			call.ProviderPID = child.Process.Pid
		}
	}
	s.appendCall(call)
	fmt.Fprintln(s.stdout, "terraform-standin: hanging as told (only a kill of the process group ends this)")
	select {}
}

func (s *standin) version(args []string) int {
	for _, a := range args {
		if a == "-json" {
			_ = json.NewEncoder(s.stdout).Encode(map[string]any{"terraform_version": Version, "platform": "linux_amd64",
				"provider_selections": map[string]string{}, "terraform_outdated": false})
			return 0
		}
	}
	fmt.Fprintf(s.stdout, "Terraform v%s (rdsbot stand-in)\non linux_amd64\n", Version)
	return 0
}
