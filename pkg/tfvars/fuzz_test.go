package tfvars

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

var fuzzPaths = []Path{adb, nestedADB, {"m"}}

// FuzzUpsert: any input UpsertEntry accepts yields output that parses, keeps
// every other top-level attribute byte for byte, keeps the edited map's
// other entries and the rest of the edited attribute's value, reads back
// the written entry, is idempotent, and can be undone by RemoveEntry with
// the same guarantees. A Format-clean input stays Format-clean.
//
//	go test -fuzz FuzzUpsert ./pkg/tfvars
func FuzzUpsert(f *testing.F) {
	for _, tc := range goldenCases {
		src := readInput(f, tc.name)
		sel := uint8(0)
		if len(tc.path) == 2 {
			sel = 1
		}
		f.Add(src, sel, "orders", "orders", "orders_user")
		f.Add(src, sel, "cloak", "cloak", "${cloak}")
		if tc.existing != "" {
			f.Add(src, sel, tc.existing, "changed", "changed_user")
		}
	}
	f.Add([]byte("m = {}\n"), uint8(2), "a", "x", "y")
	f.Add([]byte("m = { a = 1, b = 2 }\n"), uint8(2), "c", "x\n\"y\"", "%{z}")
	f.Add([]byte("m = {\n  a = 1 # c\n  bbbb = 2\n}\nn = 3\n"), uint8(2), "a", "x", "y")
	f.Add([]byte("m = {\r\n  a = <<EOT\r\nx\r\nEOT\r\n}\r\n"), uint8(2), "b", "x", "y")

	f.Fuzz(func(t *testing.T, src []byte, sel uint8, key, name, user string) {
		// The fuzzed key on the selected path, exactly as given.
		fuzzUpsert(t, src, fuzzPaths[int(sel)%len(fuzzPaths)], key, db(name, user))
		// Then, so that most inputs reach the editor: valid strings, every
		// path, and the input's own entries changed and removed.
		name, user = strings.ToValidUTF8(name, "?"), strings.ToValidUTF8(user, "?")
		for _, path := range fuzzPaths {
			es, err := Entries(src, "t", path)
			if err != nil {
				continue
			}
			fuzzUpsert(t, src, path, strings.ToValidUTF8(key, "?"), db(name, user))
			for i, e := range es {
				if i == 3 {
					break
				}
				fuzzUpsert(t, src, path, e.Key, db(name, user))
				fuzzRemove(t, src, path, e.Key)
			}
		}
	})
}

// fuzzUpsert checks one UpsertEntry call and the RemoveEntry that undoes it.
func fuzzUpsert(t *testing.T, src []byte, path Path, key string, v []Attr) {
	out, err := UpsertEntry(src, "fuzz.tfvars", path, key, v)
	if err != nil {
		if out != nil {
			t.Fatalf("bytes returned with an error: %v", err)
		}
		return
	}
	if !utf8.ValidString(key) || !utf8.ValidString(v[0].Value.AsString()) || !utf8.ValidString(v[1].Value.AsString()) {
		t.Fatal("invalid UTF-8 was accepted")
	}
	k := nfc(key)
	_, existed, _ := Lookup(src, "t", append(Path{}, append(path, k)...))
	checkPreserved(t, src, out, path, k)
	formatStable(t, src, out)
	want := attrsValue(v)
	if es, err := Entries(out, "t", path); err == nil {
		n := 0
		for _, e := range es {
			if e.Key == k {
				n++
				if !sameValue(e.Value, want) {
					t.Fatalf("the entry reads back as %#v", e.Value)
				}
			}
		}
		if n != 1 {
			t.Fatalf("the key is present %d times", n)
		}
	}
	again, err := UpsertEntry(out, "fuzz.tfvars", path, key, v)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("second upsert changed the output (err %v):\n%q\n%q", err, out, again)
	}
	back := fuzzRemove(t, out, path, key)
	// Removing what was just added gives the input back when the input
	// was Format-clean and had no comments (removal takes the comment
	// lines directly above an entry with it, and writes an emptied map
	// as {}).
	if !existed && !bytes.Equal(back, src) && bytes.Equal(hclwrite.Format(src), src) && !bytes.ContainsAny(src, "#/") {
		if es, err := Entries(back, "t", path); err == nil && len(es) > 0 {
			t.Fatalf("upsert of a new key then remove is not the identity:\n%q\n%q\n%q", src, out, back)
		}
	}
}

// fuzzRemove checks RemoveEntry of a key that is present.
func fuzzRemove(t *testing.T, src []byte, path Path, key string) []byte {
	back, removed, err := RemoveEntry(src, "fuzz.tfvars", path, key)
	if errors.Is(err, ErrDuplicateKey) {
		return src
	}
	if err != nil || !removed {
		t.Fatalf("remove %q: removed=%v err=%v\n%q", key, removed, err, src)
	}
	k := nfc(key)
	checkPreserved(t, src, back, path, k)
	formatStable(t, src, back)
	if es, err := Entries(back, "t", path); err == nil {
		for _, e := range es {
			if e.Key == k {
				t.Fatal("the key is still there after RemoveEntry")
			}
		}
	}
	again, removed, err := RemoveEntry(back, "fuzz.tfvars", path, key)
	if err != nil || removed || !bytes.Equal(again, back) {
		t.Fatalf("second remove: removed=%v err=%v", removed, err)
	}
	return back
}
