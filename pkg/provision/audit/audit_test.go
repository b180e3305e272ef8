package audit_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/provision/audit"
)

func row(msg string) audit.Row {
	return audit.Row{
		Time: time.Date(2025, 3, 4, 5, 6, 7, 8, time.FixedZone("x", 3600)), Environment: "dev", BuildID: "ci-42", RunID: "run-1",
		Database: "orders", Username: "orders_app", Action: audit.CreateRole, Status: audit.Success,
		Duration: 1500 * time.Microsecond, Message: msg,
	}
}

func TestFileQuotingAndHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "governance", "dev", "rds_provision_audit.csv")
	f := audit.File{Path: path}
	msgs := []string{"plain", "with, comma", `with "quotes"`, "two\nlines", "=cmd()"}
	for _, m := range msgs {
		if err := f.Write([]audit.Row{row(m)}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), audit.Header+"\n") || strings.Count(string(b), "timestamp_utc") != 1 {
		t.Fatalf("header:\n%s", b)
	}
	if !strings.Contains(string(b), `"with, comma"`) || !strings.Contains(string(b), `"with ""quotes"""`) {
		t.Errorf("RFC 4180 quoting missing:\n%s", b)
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(msgs)+1 {
		t.Fatalf("%d records", len(recs))
	}
	for i, m := range msgs {
		r := recs[i+1]
		if r[9] != m || r[0] != "2025-03-04T04:06:07Z" || r[8] != "1" || r[6] != "create_role" || r[7] != "success" {
			t.Errorf("record %d = %q", i, r)
		}
	}
}

// TestFileConcurrentAppends: writers in parallel never interleave rows or
// write the header twice.
func TestFileConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.csv")
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				if err := (audit.File{Path: path}).Write([]audit.Row{row(fmt.Sprintf("w%d-%d, long enough %s", w, i, strings.Repeat("x", 500)))}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	b, _ := os.ReadFile(path)
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 161 || strings.Join(recs[0], ",") != audit.Header {
		t.Errorf("%d records, first %q", len(recs), recs[0])
	}
}

func TestFileRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.csv")
	if err := os.WriteFile(path, []byte("a,b,c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (audit.File{Path: path}).Write([]audit.Row{row("x")}); err == nil {
		t.Error("appended to a file without the audit header")
	}
	if b, _ := os.ReadFile(path); string(b) != "a,b,c\n" {
		t.Errorf("file changed: %q", b)
	}
}
