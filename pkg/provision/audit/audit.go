// Package audit is the provisioning audit trail: one row per action on a
// database or role, written as CSV with the original's exact header
//
//	timestamp_utc,environment,build_id,run_id,database,username,action,status,duration_ms,message
//
// and RFC 4180 quoting (a message with a comma, a quote or a line break is
// quoted, never rewritten). It is its own package so that the engine only
// produces rows and a caller chooses where they go: a local file
// (governance/<env>/rds_provision_audit.csv, appended by File), a commit the
// bot writes, or memory in tests. Rows never hold a password: the engine
// builds messages from names and versions only.
package audit

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Header is the CSV header, byte for byte the original's.
const Header = "timestamp_utc,environment,build_id,run_id,database,username,action,status,duration_ms,message"

// TimeFormat is the timestamp_utc format.
const TimeFormat = "2006-01-02T15:04:05Z"

// Action is what a row records.
type Action string

// Actions.
const (
	FetchSecret    Action = "fetch_secret"
	CreateRole     Action = "create_role"
	UpdateRole     Action = "update_role"
	CreateDatabase Action = "create_database"
	ApplyGrants    Action = "apply_grants"
	Decommission   Action = "decommission"
)

// Status is how the action ended.
type Status string

// Statuses.
const (
	Success  Status = "success"
	NoChange Status = "no_change"
	Warning  Status = "warning"
	Error    Status = "error"
	DryRun   Status = "dry_run"
)

// Row is one audit record.
type Row struct {
	Time        time.Time     `json:"timestamp_utc"`
	Environment string        `json:"environment"`
	BuildID     string        `json:"build_id"`
	RunID       string        `json:"run_id"`
	Database    string        `json:"database"`
	Username    string        `json:"username"`
	Action      Action        `json:"action"`
	Status      Status        `json:"status"`
	Duration    time.Duration `json:"duration_ns"`
	Message     string        `json:"message"`
}

// Record is the row as CSV fields, in Header order.
func (r Row) Record() []string {
	return []string{
		r.Time.UTC().Format(TimeFormat), r.Environment, r.BuildID, r.RunID, r.Database, r.Username,
		string(r.Action), string(r.Status), strconv.FormatInt(r.Duration.Milliseconds(), 10), r.Message,
	}
}

// Encode writes rows as CSV (no header).
func Encode(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	for _, r := range rows {
		if err := cw.Write(r.Record()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Sink receives rows as the engine produces them. Write is called from one
// goroutine at a time.
type Sink interface {
	Write(rows []Row) error
}

// File appends rows to a CSV file, creating it (and its directories) with
// the header when it does not exist or is empty. Each Write is one append
// under an exclusive flock, so concurrent writers, in this process or
// others, never interleave rows or write the header twice.
type File struct {
	Path string
}

// Write implements Sink.
func (f File) Write(rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	fh, err := os.OpenFile(f.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer fh.Close()
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("audit: lock %s: %w", f.Path, err)
	}
	defer func() { _ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN) }()
	fi, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	var buf []byte
	if fi.Size() == 0 {
		buf = append(buf, Header+"\n"...)
	} else if err := checkHeader(f.Path); err != nil {
		return err
	}
	w := &appendBuffer{b: buf}
	if err := Encode(w, rows); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := fh.Write(w.b); err != nil {
		return fmt.Errorf("audit: append to %s: %w", f.Path, err)
	}
	return fh.Sync()
}

// checkHeader refuses to append to a file that is not an audit CSV.
func checkHeader(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer fh.Close()
	head := make([]byte, len(Header)+1)
	n, _ := io.ReadFull(fh, head)
	if n < len(Header) || string(head[:len(Header)]) != Header {
		return fmt.Errorf("audit: %s exists but does not start with the audit header %q", path, Header)
	}
	return nil
}

type appendBuffer struct{ b []byte }

func (a *appendBuffer) Write(p []byte) (int, error) { a.b = append(a.b, p...); return len(p), nil }

// Memory keeps rows in memory.
type Memory struct {
	mu   sync.Mutex
	rows []Row
}

// Write implements Sink.
func (m *Memory) Write(rows []Row) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows = append(m.rows, rows...)
	return nil
}

// Rows returns a copy of the rows written so far.
func (m *Memory) Rows() []Row {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Row(nil), m.rows...)
}

// Multi writes to every sink, reporting every failure.
type Multi []Sink

// Write implements Sink.
func (ms Multi) Write(rows []Row) error {
	var errs []error
	for _, s := range ms {
		if err := s.Write(rows); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
