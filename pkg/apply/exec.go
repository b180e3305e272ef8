package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on what a run keeps in memory, whatever terraform prints.
const (
	// MaxLine is the longest log line kept; longer lines are cut.
	MaxLine = 16 * 1024
	// ExcerptLines is how many lines of the log end an Outcome keeps.
	ExcerptLines = 40
	// MaxPlanStream bounds the plan's machine-readable output kept for the
	// summary; a plan that prints more cannot be checked and is refused.
	MaxPlanStream = 32 << 20
	// MaxPlanText bounds the human plan text kept for the report.
	MaxPlanText = 512 << 10
)

// logSink is a run's log: lines go to the caller's writer as they come,
// with secrets masked, and the last ExcerptLines stay for the outcome.
type logSink struct {
	mu     sync.Mutex
	w      io.Writer
	mask   *strings.Replacer
	ring   []string
	next   int
	filled bool
	werr   error
}

func newLogSink(w io.Writer, secrets []string) *logSink {
	var pairs []string
	for _, s := range secrets {
		if len(s) >= 6 { // short values would mask ordinary words
			pairs = append(pairs, s, "***")
		}
	}
	if w == nil {
		w = io.Discard
	}
	return &logSink{w: w, mask: strings.NewReplacer(pairs...), ring: make([]string, ExcerptLines)}
}

// line records one line (without its newline).
func (l *logSink) line(s string) {
	s = l.mask.Replace(s)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = s
	l.next = (l.next + 1) % len(l.ring)
	l.filled = l.filled || l.next == 0
	if l.werr == nil {
		_, l.werr = io.WriteString(l.w, s+"\n")
	}
}

func (l *logSink) linef(format string, args ...any) { l.line(fmt.Sprintf(format, args...)) }

// excerpt is the end of the log.
func (l *logSink) excerpt() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	if l.filled {
		lines = append(lines, l.ring[l.next:]...)
	}
	lines = append(lines, l.ring[:l.next]...)
	return strings.Join(lines, "\n")
}

// lineWriter splits a stream into lines (cut at MaxLine) for fn.
type lineWriter struct {
	buf []byte
	fn  func(line []byte)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := MaxLine - len(w.buf)
			if len(p) > room {
				w.buf = append(w.buf, p[:room]...)
				w.flush()
				p = p[room:]
				continue
			}
			w.buf = append(w.buf, p...)
			break
		}
		if len(w.buf)+i > MaxLine {
			w.buf = append(w.buf, p[:max(0, MaxLine-len(w.buf))]...)
		} else {
			w.buf = append(w.buf, p[:i]...)
		}
		w.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) flush() {
	w.fn(bytes.TrimRight(w.buf, "\r"))
	w.buf = w.buf[:0]
}

func (w *lineWriter) close() {
	if len(w.buf) > 0 {
		w.flush()
	}
}

// proc is one terraform command.
type proc struct {
	bin   string
	args  []string
	dir   string
	env   []string
	grace time.Duration
	log   *logSink
	// json: stdout is the machine-readable UI; the log shows @message.
	json bool
	// keep receives every stdout line (bounded by the caller).
	keep func(line []byte)
}

// errExit is a command that ran and exited non-zero.
type errExit struct{ code int }

func (e errExit) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run runs the command in its own process group. When ctx ends, the group
// gets SIGINT (terraform stops cleanly and releases the state lock); after
// grace, SIGKILL to the leader. Whatever is left of the group when the command returns is
// killed too (provider plugins that outlived it).
func (p proc) run(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, p.bin, p.args...)
	cmd.Args[0] = p.bin
	cmd.Dir, cmd.Env = p.dir, p.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	}
	cmd.WaitDelay = max(p.grace, 100*time.Millisecond) // never 0: Wait would block on a pipe a child holds
	out := &lineWriter{fn: func(line []byte) {
		if p.keep != nil {
			p.keep(line)
		}
		if p.json {
			p.log.line(uiLogLine(line))
			return
		}
		p.log.line(string(line))
	}}
	errw := &lineWriter{fn: func(line []byte) { p.log.line(string(line)) }}
	cmd.Stdout, cmd.Stderr = out, errw
	if err := cmd.Start(); err != nil {
		return err
	}
	pgid := cmd.Process.Pid
	// Past the grace Wait kills the leader (WaitDelay) and returns; the rest
	// of the group is killed just below.
	err := cmd.Wait()
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	out.close()
	errw.close()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &ee):
		return errExit{ee.ExitCode()}
	}
	return err
}

// uiLogLine is the human line of a machine-readable UI message: its
// @message, with a diagnostic's detail.
func uiLogLine(line []byte) string {
	var m struct {
		Message    string `json:"@message"`
		Diagnostic *struct {
			Detail string `json:"detail"`
		} `json:"diagnostic"`
	}
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &m) != nil || m.Message == "" {
		return string(line)
	}
	if m.Diagnostic != nil && strings.TrimSpace(m.Diagnostic.Detail) != "" {
		return m.Message + ": " + strings.Join(strings.Fields(m.Diagnostic.Detail), " ")
	}
	return m.Message
}
