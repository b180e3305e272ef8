package tfvars

import (
	"bytes"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// goldenCases are the file shapes the editor must handle. Each input is
// testdata/editor/<name>.tfvars; outputs are <name>.<step>.golden.
var goldenCases = []struct {
	name     string
	path     Path
	existing string // a key present in the input ("" for none)
	changed  []Attr // a new value for existing
}{
	// spec §3.1: bare keys, `},` separators, comments, unaligned top level
	{"standalone", Path{"application_databases"}, "keycloak", db("keycloak", "keycloak_app")},
	// spec §3.2: quoted keys, newline separated, inside rds_config, inline comments
	{"coupled", Path{"rds_config", "application_databases"}, "backstage", db("backstage_plugin_catalog", "backstage_catalog")},
	// rds_config without application_databases: the map is created
	{"coupled-nomap", Path{"rds_config", "application_databases"}, "", nil},
	{"empty", Path{"application_databases"}, "", nil},
	{"oneline", Path{"application_databases"}, "backstage", db("backstage", "backstage_app")},
	// a map followed by other attributes, lead comments, blank lines between entries
	{"followed", Path{"application_databases"}, "keycloak", []Attr{
		{"database_name", cty.StringVal("keycloak")},
		{"username", cty.StringVal("keycloak_user")},
		{"access_level", cty.StringVal("owner")},
	}},
	// heredocs and ${} elsewhere, and inside an entry
	{"heredoc", Path{"application_databases"}, "keycloak", []Attr{
		{"database_name", cty.StringVal("keycloak")},
		{"username", cty.StringVal("keycloak_admin")},
		{"notes", cty.StringVal("  heredoc inside an entry, kept as is\n")},
	}},
	{"crlf", Path{"application_databases"}, "backstage", db("backstage", "backstage_app")},
	// one-line entries in a multi-line map (an alignment chain)
	{"flat", Path{"application_databases"}, "kc", db("keycloak", "kc_app")},
}

func TestGolden(t *testing.T) {
	newEntry := db("orders", "orders_user")
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			src := readInput(t, tc.name)
			file := "envs/dev/terraform.tfvars"

			// Upsert a new entry.
			added, err := UpsertEntry(src, file, tc.path, "orders", newEntry)
			if err != nil {
				t.Fatalf("upsert new: %v", err)
			}
			golden(t, "editor", tc.name+".upsert-new", added)
			checkPreserved(t, src, added, tc.path, "orders")
			formatStable(t, src, added)
			checkCRLF(t, src, added)
			assertEntry(t, added, tc.path, "orders", newEntry)

			// Idempotency: the same upsert again changes nothing.
			again, err := UpsertEntry(added, file, tc.path, "orders", newEntry)
			if err != nil || !bytes.Equal(again, added) {
				t.Fatalf("second upsert of the same entry changed the file (err %v):\n%s", err, again)
			}

			// Remove it again: back to the input, byte for byte.
			back, removed, err := RemoveEntry(added, file, tc.path, "orders")
			if err != nil || !removed {
				t.Fatalf("remove new: removed=%v err=%v", removed, err)
			}
			if tc.name == "coupled-nomap" {
				// The created map stays, empty.
				golden(t, "editor", tc.name+".remove-new", back)
			} else if !bytes.Equal(back, src) {
				t.Fatalf("upsert then remove is not the identity:\n--- got ---\n%q\n--- want ---\n%q", back, src)
			}

			if tc.existing == "" {
				return
			}
			entries, err := Entries(src, file, tc.path)
			if err != nil {
				t.Fatal(err)
			}
			var current cty.Value
			for _, e := range entries {
				if e.Key == tc.existing {
					current = e.Value
				}
			}
			// Upsert the existing entry with its current value: identical bytes.
			var same []Attr
			for it := current.ElementIterator(); it.Next(); {
				k, v := it.Element()
				same = append(same, Attr{k.AsString(), v})
			}
			out, err := UpsertEntry(src, file, tc.path, tc.existing, same)
			if err != nil || !bytes.Equal(out, src) {
				t.Fatalf("upsert of an unchanged entry changed the file (err %v):\n%s", err, out)
			}

			// Upsert the existing entry with a changed value.
			changed, err := UpsertEntry(src, file, tc.path, tc.existing, tc.changed)
			if err != nil {
				t.Fatalf("upsert changed: %v", err)
			}
			golden(t, "editor", tc.name+".upsert-changed", changed)
			checkPreserved(t, src, changed, tc.path, tc.existing)
			formatStable(t, src, changed)
			checkCRLF(t, src, changed)
			assertEntry(t, changed, tc.path, tc.existing, tc.changed)
			again, err = UpsertEntry(changed, file, tc.path, tc.existing, tc.changed)
			if err != nil || !bytes.Equal(again, changed) {
				t.Fatalf("second changed upsert changed the file (err %v)", err)
			}

			// Remove the existing entry.
			removedOut, removed, err := RemoveEntry(src, file, tc.path, tc.existing)
			if err != nil || !removed {
				t.Fatalf("remove: removed=%v err=%v", removed, err)
			}
			golden(t, "editor", tc.name+".remove", removedOut)
			checkPreserved(t, src, removedOut, tc.path, tc.existing)
			formatStable(t, src, removedOut)
			checkCRLF(t, src, removedOut)
			again, removed, err = RemoveEntry(removedOut, file, tc.path, tc.existing)
			if err != nil || removed || !bytes.Equal(again, removedOut) {
				t.Fatalf("second remove: removed=%v err=%v", removed, err)
			}
		})
	}
}

// TestGoldenSetAttribute: rds_config.enabled false → true keeps the comment.
func TestGoldenSetAttribute(t *testing.T) {
	src := readInput(t, "coupled")
	out, err := SetAttribute(src, "envs/dev/terraform.tfvars", Path{"rds_config", "enabled"}, cty.True)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "editor", "coupled.set-enabled", out)
	if !bytes.Contains(out, []byte("  enabled               = true # Use standalone RDS state (envs/dev-rds)\n")) {
		t.Errorf("the enabled line lost its alignment or comment:\n%s", out)
	}
	formatStable(t, src, out)
	// Only that line changed.
	if got, want := bytes.Count(out, []byte("\n")), bytes.Count(src, []byte("\n")); got != want {
		t.Errorf("line count %d, want %d", got, want)
	}
	diff := 0
	ol, sl := bytes.Split(out, []byte("\n")), bytes.Split(src, []byte("\n"))
	for i := range sl {
		if !bytes.Equal(ol[i], sl[i]) {
			diff++
		}
	}
	if diff != 1 {
		t.Errorf("%d lines changed, want 1", diff)
	}
	back, err := SetAttribute(out, "envs/dev/terraform.tfvars", Path{"rds_config", "enabled"}, cty.False)
	if err != nil || !bytes.Equal(back, src) {
		t.Fatalf("setting it back is not the identity (err %v):\n%s", err, back)
	}
}

func assertEntry(t *testing.T, src []byte, path Path, key string, want []Attr) {
	t.Helper()
	entries, err := Entries(src, "t.tfvars", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Key == key {
			if !sameValue(e.Value, attrsValue(want)) {
				t.Fatalf("entry %q reads back as %#v", key, e.Value)
			}
			return
		}
	}
	t.Fatalf("entry %q not found after the edit", key)
}

// checkCRLF asserts a CRLF input gives a CRLF output without a lone LF.
func checkCRLF(t *testing.T, before, after []byte) {
	t.Helper()
	if !bytes.Contains(before, []byte("\r\n")) {
		if bytes.Contains(after, []byte("\r")) {
			t.Fatalf("an LF file gained CR characters")
		}
		return
	}
	if bytes.Count(after, []byte("\n")) != bytes.Count(after, []byte("\r\n")) {
		t.Fatalf("a CRLF file got mixed line endings: %q", after)
	}
}
