package catalog

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzUpsertValues writes arbitrary one-line values through Upsert and
// checks that they read back exactly (or are refused with an error).
func FuzzUpsertValues(f *testing.F) {
	for _, v := range []string{
		"a: b", "- x", "'quoted'", `"dq"`, "ü-team", "[x]", "{x}", "@x", "*x", "&x", "!x", "%x", "`x`",
		"~", "null", "Null", "0x1F", "1e3", ".inf", "2026-01-01", "yes", "off", "12:30", "#x", "x #y", "? x", "|", ">",
		"a\u00a0b", "\ufeffbom", "tab\tinside",
	} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		file, err := Parse(nil, devOpts)
		if err != nil {
			t.Fatal(err)
		}
		s := spec("orders", "dev", "RDS-0042")
		s.Owner, s.RequestedBy, s.Configuration.SecretPath = v, v, v
		if _, err := file.Upsert(s, t0); err != nil {
			return // refused values are fine; what is written must read back
		}
		out, err := file.Bytes()
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		again, err := Parse(out, devOpts)
		if err != nil {
			t.Fatalf("%q: %v\n%s", v, err, out)
		}
		e, ok := again.Get("orders", "dev")
		if !ok || e.Metadata.Owner != v || e.Metadata.RequestedBy != v || e.Configuration.SecretPath != v {
			t.Fatalf("%q read back as %+v\n%s", v, e, out)
		}
	})
}

// FuzzParseUpsert feeds arbitrary documents to Parse, Upsert, SetStatus and
// Bytes: nothing may panic, and whatever Bytes returns must parse again and
// hold the upserted entry.
func FuzzParseUpsert(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "in", "*.yaml"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("databases: {} # c\n# foot\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse(src, devOpts)
		if err != nil {
			return
		}
		_ = file.Validate()
		s := spec("orders", "dev", "RDS-0042")
		if _, err := file.Upsert(s, t0); err != nil {
			return
		}
		_ = file.SetStatus("orders", "dev", StatusApproved, t0, "fuzz")
		out, err := file.Bytes()
		if err != nil {
			return // refusing to write is allowed; writing something broken is not
		}
		again, err := Parse(out, devOpts)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		if _, ok := again.Get("orders", "dev"); !ok {
			t.Fatalf("upserted entry missing from\n%s", out)
		}
	})
}
