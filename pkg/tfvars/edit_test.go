package tfvars

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

const standaloneFile = "envs/dev-rds/terraform.tfvars"

var adb = Path{"application_databases"}
var nestedADB = Path{"rds_config", "application_databases"}

func TestErrors(t *testing.T) {
	const twoDBs = "application_databases = {\n  keycloak = {\n    database_name = \"keycloak\"\n    username      = \"keycloak_user\"\n  }\n}\n"
	tests := []struct {
		name     string
		src      string
		call     func(src []byte) error
		wantKind error
		wantMsg  string // exact message when it starts with the file name, else a substring
	}{
		{"empty file", "", upsert(adb, "orders", db("orders", "o")), ErrNotFound,
			`envs/dev-rds/terraform.tfvars: attribute "application_databases" not found (the file is empty)`},
		{"missing attribute", "environment = \"dev\"\n", upsert(adb, "orders", db("orders", "o")), ErrNotFound,
			`envs/dev-rds/terraform.tfvars: attribute "application_databases" not found`},
		{"remove from missing attribute", "environment = \"dev\"\n", remove(adb, "orders"), ErrNotFound,
			`envs/dev-rds/terraform.tfvars: attribute "application_databases" not found`},
		{"entries of missing attribute", "environment = \"dev\"\n", entries(adb), ErrNotFound,
			`envs/dev-rds/terraform.tfvars: attribute "application_databases" not found`},
		{"not a map", "environment = \"dev\"\napplication_databases = \"none\"\n", upsert(adb, "orders", db("orders", "o")), ErrNotMap,
			`envs/dev-rds/terraform.tfvars:2: attribute "application_databases" is not a map written as { ... }`},
		{"for expression", "application_databases = { for k in [\"a\"] : k => {} }\n", remove(adb, "a"), ErrNotMap,
			`attribute "application_databases" is not a map`},
		{"nested parent missing", "environment = \"dev\"\n", upsert(nestedADB, "orders", db("orders", "o")), ErrNotFound,
			`envs/dev-rds/terraform.tfvars: attribute "rds_config" not found`},
		{"nested parent not an object", "rds_config = null\n", upsert(nestedADB, "orders", db("orders", "o")), ErrNotMap,
			`envs/dev-rds/terraform.tfvars:1: attribute "rds_config" is not an object written as { ... }`},
		{"deep path missing in the middle", "rds_config = {\n  enabled = true\n}\n", set(Path{"rds_config", "tags", "Owner"}, cty.StringVal("x")), ErrNotFound,
			`envs/dev-rds/terraform.tfvars:1: rds_config: attribute "tags" not found`},
		{"nested map not a map", "rds_config = {\n  application_databases = []\n}\n", upsert(nestedADB, "orders", db("orders", "o")), ErrNotMap,
			`envs/dev-rds/terraform.tfvars:2: attribute "rds_config.application_databases" is not a map written as { ... }`},
		{"syntax error", "application_databases = {\n  keycloak = {\n", upsert(adb, "orders", db("orders", "o")), ErrSyntax,
			"envs/dev-rds/terraform.tfvars:"},
		{"attribute defined twice", "a = 1\na = 2\n", set(Path{"a"}, cty.NumberIntVal(3)), ErrSyntax, "Attribute redefined"},
		{"duplicate key", "application_databases = {\n  a = {}\n  \"a\" = {}\n}\n", upsert(adb, "a", db("a", "a")), ErrDuplicateKey,
			`envs/dev-rds/terraform.tfvars:3: application_databases: key "a" appears more than once (lines 2 and 3)`},
		{"duplicate key remove", "application_databases = {\n  a = {}\n  \"a\" = {}\n}\n", remove(adb, "a"), ErrDuplicateKey, `key "a" appears more than once`},
		{"empty key", twoDBs, upsert(adb, "", db("x", "y")), ErrInvalidValue, "the key must be a non-empty UTF-8 string"},
		{"key not UTF-8", twoDBs, upsert(adb, "a\xff", db("x", "y")), ErrInvalidValue, "the key must be a non-empty UTF-8 string"},
		{"unknown value", twoDBs, upsert(adb, "orders", []Attr{{"database_name", cty.UnknownVal(cty.String)}}), ErrInvalidValue,
			`application_databases["orders"]: database_name: the value is unknown`},
		{"string not UTF-8", twoDBs, upsert(adb, "orders", []Attr{{"username", cty.StringVal("a\xffb")}}), ErrInvalidValue, "not valid UTF-8"},
		{"infinite number", twoDBs, upsert(adb, "orders", []Attr{{"size", cty.PositiveInfinity}}), ErrInvalidValue, "infinite numbers"},
		{"attribute twice", twoDBs, upsert(adb, "orders", []Attr{{"username", cty.StringVal("a")}, {"username", cty.StringVal("b")}}), ErrInvalidValue,
			`attribute "username" is given twice`},
		{"empty attribute name", twoDBs, upsert(adb, "orders", []Attr{{"", cty.StringVal("a")}}), ErrInvalidValue, "attribute names must be non-empty"},
		{"marked value", twoDBs, upsert(adb, "orders", []Attr{{"password", cty.StringVal("s").Mark("sensitive")}}), ErrInvalidValue, "marked"},
		{"nil value", twoDBs, set(Path{"x"}, cty.NilVal), ErrInvalidValue, "no value"},
		{"empty path", twoDBs, set(nil, cty.True), ErrNotFound, "empty attribute path"},
		{"empty path element", twoDBs, set(Path{"rds_config", ""}, cty.True), ErrNotFound, "empty element"},
		{"entries not literal", "application_databases = {\n  a = var.x\n}\n", entries(adb), ErrInvalidValue,
			`envs/dev-rds/terraform.tfvars:2: application_databases["a"]: Variables not allowed: Variables may not be used here.`},
		{"lookup through a non-object", "rds_config = true\n", lookup(Path{"rds_config", "enabled"}), ErrNotMap, `"rds_config" is not an object`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call([]byte(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.wantKind) {
				t.Errorf("error kind: got %v, want %v", err, tc.wantKind)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Errorf("not an *Error: %T", err)
			}
			if strings.HasPrefix(tc.wantMsg, "envs/") && !strings.HasSuffix(tc.wantMsg, ":") {
				if err.Error() != tc.wantMsg {
					t.Errorf("message:\n got %s\nwant %s", err, tc.wantMsg)
				}
			} else if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

// upsert, remove, ... adapt the API to the error table; they assert that a
// failing call returns no bytes.
func upsert(p Path, key string, v []Attr) func([]byte) error {
	return func(src []byte) error {
		out, err := UpsertEntry(src, standaloneFile, p, key, v)
		if err != nil && out != nil {
			return errors.New("output returned with an error")
		}
		return err
	}
}

func remove(p Path, key string) func([]byte) error {
	return func(src []byte) error {
		out, _, err := RemoveEntry(src, standaloneFile, p, key)
		if err != nil && out != nil {
			return errors.New("output returned with an error")
		}
		return err
	}
}

func set(p Path, v cty.Value) func([]byte) error {
	return func(src []byte) error {
		out, err := SetAttribute(src, standaloneFile, p, v)
		if err != nil && out != nil {
			return errors.New("output returned with an error")
		}
		return err
	}
}

func entries(p Path) func([]byte) error {
	return func(src []byte) error {
		_, err := Entries(src, standaloneFile, p)
		return err
	}
}

func lookup(p Path) func([]byte) error {
	return func(src []byte) error {
		_, _, err := Lookup(src, standaloneFile, p)
		return err
	}
}

func TestExactKeyMatching(t *testing.T) {
	src := readInput(t, "standalone")
	tests := []struct {
		key       string
		wantAdded bool
	}{
		{"cloak", true},    // a substring of keycloak is another key
		{"keycloa", true},  // so is a prefix
		{"Keycloak", true}, // keys are case-sensitive
		{"keycloak", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			out, removed, err := RemoveEntry(src, standaloneFile, adb, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if removed == tc.wantAdded {
				t.Fatalf("remove %q: removed=%v", tc.key, removed)
			}
			if !removed && !bytes.Equal(out, src) {
				t.Fatal("a remove that removed nothing changed the file")
			}
			out, err = UpsertEntry(src, standaloneFile, adb, tc.key, db(tc.key, "u"))
			if err != nil {
				t.Fatal(err)
			}
			es, err := Entries(out, standaloneFile, adb)
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			if tc.wantAdded {
				want = 3
			}
			if len(es) != want {
				t.Fatalf("%d entries after upserting %q, want %d", len(es), tc.key, want)
			}
			if tc.wantAdded {
				checkPreserved(t, src, out, adb, tc.key)
			}
		})
	}
}

func TestQuotedAndBareKeysAreTheSameKey(t *testing.T) {
	coupled := readInput(t, "coupled") // quoted keys
	standalone := readInput(t, "standalone")
	// An unchanged value, whichever way the key is written: no change.
	for _, tc := range []struct {
		src  []byte
		path Path
		key  string
		v    []Attr
	}{
		{coupled, nestedADB, "keycloak", db("keycloak", "keycloak_app")},
		{standalone, adb, "keycloak", db("keycloak", "keycloak_user")},
	} {
		out, err := UpsertEntry(tc.src, "t", tc.path, tc.key, tc.v)
		if err != nil || !bytes.Equal(out, tc.src) {
			t.Fatalf("upsert of an existing entry with its value changed the file: %v", err)
		}
	}
	out, removed, err := RemoveEntry(coupled, "t", nestedADB, "keycloak")
	if err != nil || !removed || bytes.Contains(out, []byte(`"keycloak" =`)) {
		t.Fatalf("removing bare keycloak did not remove \"keycloak\": %v %v", removed, err)
	}
}

func TestKeyStyle(t *testing.T) {
	tests := []struct {
		name, src, key, wantLine string
	}{
		{"bare map, identifier key", "m = {\n  a = {}\n}\n", "orders", "  orders = {}\n"},
		{"bare map, dashed key is an identifier", "m = {\n  a = {}\n}\n", "my-db", "  my-db = {}\n"},
		{"bare map, key needing quotes", "m = {\n  a = {}\n}\n", "1db", "  \"1db\" = {}\n"},
		{"bare map, keyword key", "m = {\n  a = {}\n}\n", "for", "  \"for\" = {}\n"},
		{"bare map, key with quotes and template", "m = {\n  a = {}\n}\n", `a"b${c}%{d}\`, "  \"a\\\"b$${c}%%{d}\\\\\" = {}\n"},
		{"quoted map", "m = {\n  \"a\" = {}\n}\n", "orders", "  \"orders\" = {}\n"},
		{"mostly quoted map", "m = {\n  \"a\" = {}\n  b = {}\n  \"c\" = {}\n}\n", "orders", "  \"orders\" = {}\n"},
		{"empty map", "m = {}\n", "orders", "  orders = {}\n"},
		{"empty map, key needing quotes", "m = {}\n", "a.b", "  \"a.b\" = {}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := UpsertEntry([]byte(tc.src), "t", Path{"m"}, tc.key, []Attr{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte(tc.wantLine)) {
				t.Fatalf("want line %q in\n%s", tc.wantLine, out)
			}
			es, err := Entries(out, "t", Path{"m"})
			if err != nil {
				t.Fatal(err)
			}
			if es[len(es)-1].Key != tc.key {
				t.Fatalf("the key reads back as %q", es[len(es)-1].Key)
			}
		})
	}
}

func TestEscapingRoundTrip(t *testing.T) {
	strs := []string{
		"", "plain", "${var.secret}", "$${already}", "%{ if true }x%{ endif }", "%%{", "100%", "cost $", "$", "%",
		"${", "}", `say "hi"`, `back\slash`, `\"`, `\n is not a newline`, "line1\nline2", "crlf\r\n", "tab\there",
		"nul\x00byte", "bell\a", "nbsp\u00a0", "elephant 🐘", "e\u0301 combining", "\u2028 line separator",
		"<<EOT\nnot a heredoc\nEOT", "# not a comment", "/* not a comment */", "a = b", "{ not = an_object }",
	}
	base := []byte("application_databases = {\n  keycloak = {\n    database_name = \"keycloak\"\n  }\n}\n")
	for _, s := range strs {
		t.Run(s, func(t *testing.T) {
			v := []Attr{{"database_name", cty.StringVal(s)}, {"username", cty.StringVal("u" + s)}}
			out, err := UpsertEntry(base, "t", adb, "orders", v)
			if err != nil {
				t.Fatal(err)
			}
			assertEntry(t, out, adb, "orders", v)
			again, err := UpsertEntry(out, "t", adb, "orders", v)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("not idempotent: %v", err)
			}
			// As a key too.
			out, err = UpsertEntry(base, "t", adb, "k"+s, db("x", "y"))
			if err != nil {
				t.Fatal(err)
			}
			assertEntry(t, out, adb, nfc("k"+s), db("x", "y"))
			// And through SetAttribute on a top-level string.
			out, err = SetAttribute([]byte("environment = \"dev\"\n"), "t", Path{"environment"}, cty.StringVal(s))
			if err != nil {
				t.Fatal(err)
			}
			if got, _, err := Lookup(out, "t", Path{"environment"}); err != nil || !got.RawEquals(cty.StringVal(s)) {
				t.Fatalf("reads back as %#v (%v)", got, err)
			}
		})
	}
}

func TestValueTypesRoundTrip(t *testing.T) {
	big, _ := cty.ParseNumberVal("123456789012345678901234567890.125")
	values := map[string]cty.Value{
		"int":         cty.NumberIntVal(20),
		"negative":    cty.NumberIntVal(-7),
		"float":       cty.NumberFloatVal(1.5),
		"small":       cty.NumberFloatVal(0.000001),
		"big":         big,
		"maxint":      cty.NumberIntVal(math.MaxInt64),
		"bool":        cty.True,
		"null":        cty.NullVal(cty.String),
		"list":        cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		"empty_list":  cty.ListValEmpty(cty.String),
		"set":         cty.SetVal([]cty.Value{cty.NumberIntVal(2), cty.NumberIntVal(1)}),
		"tuple":       cty.TupleVal([]cty.Value{cty.True, cty.StringVal("x")}),
		"map":         cty.MapVal(map[string]cty.Value{"Owner": cty.StringVal("team"), "cost-center": cty.StringVal("x"), "1st": cty.StringVal("y"), "for": cty.StringVal("z")}),
		"object":      cty.ObjectVal(map[string]cty.Value{"enabled": cty.False, "nested": cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(1)})}),
		"empty_obj":   cty.EmptyObjectVal,
		"list_of_obj": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}), cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(2)})}),
	}
	var attrs []Attr
	for _, name := range sortedKeys(values) {
		attrs = append(attrs, Attr{name, values[name]})
	}
	for _, src := range []string{"m = {}\n", "m = { a = {} }\n", "m = {\n  a = {}\n}\n"} {
		out, err := UpsertEntry([]byte(src), "t", Path{"m"}, "all", attrs)
		if err != nil {
			t.Fatal(err)
		}
		assertEntry(t, out, Path{"m"}, "all", attrs)
		again, err := UpsertEntry(out, "t", Path{"m"}, "all", attrs)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent (%v):\n%s\n%s", err, out, again)
		}
	}
}

func sortedKeys(m map[string]cty.Value) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func TestEntriesAndLookup(t *testing.T) {
	es, err := Entries(readInput(t, "standalone"), standaloneFile, adb)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Key != "keycloak" || es[0].Line != 15 || es[1].Key != "backstage" || es[1].Line != 19 {
		t.Fatalf("entries: %+v", es)
	}
	if !sameValue(es[1].Value, attrsValue(db("backstage", "backstage_user"))) {
		t.Fatalf("backstage: %#v", es[1].Value)
	}
	es, err = Entries(readInput(t, "coupled"), "envs/dev/terraform.tfvars", nestedADB)
	if err != nil || len(es) != 2 || es[0].Key != "keycloak" || es[1].Key != "backstage" || es[1].Line != 24 {
		t.Fatalf("coupled entries: %+v %v", es, err)
	}
	if got := es[1].Value.GetAttr("database_name"); !got.RawEquals(cty.StringVal("backstage_plugin_catalog")) {
		t.Fatalf("backstage database_name: %#v", got)
	}
	es, err = Entries(readInput(t, "coupled-nomap"), "t", nestedADB)
	if err != nil || len(es) != 0 {
		t.Fatalf("a missing nested map has no entries: %+v %v", es, err)
	}

	coupled := readInput(t, "coupled")
	tests := []struct {
		path  Path
		want  cty.Value
		found bool
	}{
		{Path{"rds_config", "enabled"}, cty.False, true},
		{Path{"rds_config", "allocated_storage"}, cty.NumberIntVal(20), true},
		{Path{"cluster_lifecycle"}, cty.StringVal("persistent"), true},
		{Path{"rds_config", "application_databases", "keycloak", "username"}, cty.StringVal("keycloak_app"), true},
		{Path{"rds_config", "nope"}, cty.NilVal, false},
		{Path{"nope"}, cty.NilVal, false},
		{Path{"nope", "deeper"}, cty.NilVal, false},
	}
	for _, tc := range tests {
		got, found, err := Lookup(coupled, "t", tc.path)
		if err != nil || found != tc.found || (found && !got.RawEquals(tc.want)) {
			t.Errorf("Lookup(%s) = %#v, %v, %v", tc.path, got, found, err)
		}
	}
}

func TestSetAttribute(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		path  Path
		value cty.Value
		want  string
	}{
		{"replace keeps the comment", "a = 1 # one\nb = 2\n", Path{"a"}, cty.NumberIntVal(10), "a = 10 # one\nb = 2\n"},
		{"append a top-level attribute", "environment = \"dev\"\ntags = {\n}\n", Path{"build_id"}, cty.StringVal("b1"),
			"environment = \"dev\"\ntags = {\n}\nbuild_id = \"b1\"\n"},
		{"append follows blank-line style", "environment = \"dev\"\n\ntags = {}\n", Path{"build_id"}, cty.StringVal("b1"),
			"environment = \"dev\"\n\ntags = {}\n\nbuild_id = \"b1\"\n"},
		{"append joins the alignment chain", "a = 1\nbb = 2\n", Path{"ccc"}, cty.NumberIntVal(3), "a   = 1\nbb  = 2\nccc = 3\n"},
		{"append to a file without final newline", "a = 1", Path{"b"}, cty.NumberIntVal(2), "a = 1\nb = 2\n"},
		{"append to an empty file", "", Path{"a"}, cty.True, "a = true\n"},
		{"add inside an object, aligned", "rds_config = {\n  enabled        = true\n  instance_class = \"db.t3.small\" # staging\n}\n",
			Path{"rds_config", "multi_az"}, cty.False,
			"rds_config = {\n  enabled        = true\n  instance_class = \"db.t3.small\" # staging\n  multi_az       = false\n}\n"},
		{"longer value realigns the comment chain", "x = {\n  a = 1 # one\n  b = 2 # two\n}\n", Path{"x", "a"}, cty.NumberIntVal(1000),
			"x = {\n  a = 1000 # one\n  b = 2    # two\n}\n"},
		{"object value merges and keeps comments", "x = {\n  a = 1 # keep me\n  b = 2\n}\n", Path{"x"},
			cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "c": cty.NumberIntVal(3)}),
			"x = {\n  a = 1 # keep me\n  c = 3\n}\n"},
		{"string replaces an object", "x = {\n  a = 1\n}\ny = 2\n", Path{"x"}, cty.StringVal("s"), "x = \"s\"\ny = 2\n"},
		{"object replaces a string", "x = \"s\"\n", Path{"x"}, cty.ObjectVal(map[string]cty.Value{"k": cty.StringVal("v")}),
			"x = {\n  k = \"v\"\n}\n"},
		{"inline object attribute", "x = { a = 1, b = 2 }\n", Path{"x", "b"}, cty.NumberIntVal(3), "x = { a = 1, b = 3 }\n"},
		{"add to an inline object", "x = { a = 1 }\n", Path{"x", "b"}, cty.NumberIntVal(3), "x = { a = 1, b = 3 }\n"},
		{"tab indentation", "x = {\n\ta = 1\n}\n", Path{"x", "b"}, cty.NumberIntVal(2), "x = {\n\ta = 1\n\tb = 2\n}\n"},
		{"into an empty object", "x = {}\nyy = 1\n", Path{"x", "a"}, cty.NumberIntVal(1), "x = {\n  a = 1\n}\nyy = 1\n"},
		{"into an empty object inside a one-line object", "x = { y = {} }\n", Path{"x", "y", "a"}, cty.NumberIntVal(1), "x = { y = { a = 1 } }\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := SetAttribute([]byte(tc.src), "t", tc.path, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", out, tc.want)
			}
			got, found, err := Lookup(out, "t", tc.path)
			if err != nil || !found || !sameValue(got, tc.value) {
				t.Fatalf("reads back as %#v %v %v", got, found, err)
			}
			again, err := SetAttribute(out, "t", tc.path, tc.value)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("not idempotent: %v\n%s", err, again)
			}
		})
	}
}

func TestNestedMapCreation(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"rds_config is empty", "rds_config = {}\nbuild_id = \"b\"\n",
			"rds_config = {\n  application_databases = {\n    orders = {\n      database_name = \"orders\"\n      username      = \"orders_user\"\n    }\n  }\n}\nbuild_id = \"b\"\n"},
		{"rds_config on one line", "rds_config = { enabled = true }\n",
			"rds_config = { enabled = true, application_databases = { orders = { database_name = \"orders\", username = \"orders_user\" } } }\n"},
		{"empty map inside a one-line rds_config", "rds_config = { enabled = true, application_databases = {} }\n",
			"rds_config = { enabled = true, application_databases = { orders = { database_name = \"orders\", username = \"orders_user\" } } }\n"},
		{"empty map aligned with its neighbours", "rds_config = {\n  enabled               = true\n  application_databases = {}\n}\n",
			"rds_config = {\n  enabled = true\n  application_databases = {\n    orders = {\n      database_name = \"orders\"\n      username      = \"orders_user\"\n    }\n  }\n}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src)
			out, err := UpsertEntry(src, "t", nestedADB, "orders", db("orders", "orders_user"))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", out, tc.want)
			}
			checkPreserved(t, src, out, nestedADB, "orders")
			formatStable(t, src, out)
			assertEntry(t, out, nestedADB, "orders", db("orders", "orders_user"))
		})
	}
}

func TestMapShapes(t *testing.T) {
	v := db("orders", "orders_user")
	tests := []struct {
		name, src, want string
		afterRemove     string // when removing the new entry is not the identity
	}{
		{"trailing comma after every entry (one alignment chain)",
			"m = {\n  a = { x = 1 },\n  b = { x = 2 },\n}\n",
			"m = {\n  a      = { x = 1 },\n  b      = { x = 2 },\n  orders = { database_name = \"orders\", username = \"orders_user\" },\n}\n", ""},
		{"trailing comma after every multi-line entry",
			"m = {\n  a = {\n    x = 1\n  },\n}\n",
			"m = {\n  a = {\n    x = 1\n  },\n  orders = {\n    database_name = \"orders\"\n    username      = \"orders_user\"\n  },\n}\n", ""},
		{"new entry after a trailing comment stays with the entries",
			"m = {\n  a = {\n    x = 1\n  }\n  # add new databases above this line\n}\n",
			"m = {\n  a = {\n    x = 1\n  }\n  orders = {\n    database_name = \"orders\"\n    username      = \"orders_user\"\n  }\n  # add new databases above this line\n}\n", ""},
		{"closing brace on the last entry's line",
			"m = {\n  a = { x = 1 } }\n",
			"m = {\n  a = { x = 1 }, orders = { database_name = \"orders\", username = \"orders_user\" } }\n", ""},
		{"empty multi-line map",
			"m = {\n}\n",
			"m = {\n  orders = {\n    database_name = \"orders\"\n    username      = \"orders_user\"\n  }\n}\n", "m = {}\n"},
		{"empty map with a comment",
			"m = {\n  # none yet\n}\n",
			"m = {\n  # none yet\n  orders = {\n    database_name = \"orders\"\n    username      = \"orders_user\"\n  }\n}\n", "m = {}\n"},
		{"empty map with a block comment",
			"m = { /* none yet */ }\n",
			"m = { /* none yet */\n  orders = {\n    database_name = \"orders\"\n    username      = \"orders_user\"\n  }\n}\n", "m = { /* none yet */\n}\n"},
		{"indented map",
			"x = {\n    m = {}\n}\n",
			"x = {\n    m = {\n      orders = {\n        database_name = \"orders\"\n        username      = \"orders_user\"\n      }\n    }\n}\n", ""},
		{"one-line entries, longer key realigns the chain",
			"m = {\n  a  = { x = 1 }\n  bb = { x = 2 }\n}\n",
			"m = {\n  a      = { x = 1 }\n  bb     = { x = 2 }\n  orders = { database_name = \"orders\", username = \"orders_user\" }\n}\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src)
			path := Path{"m"}
			if strings.HasPrefix(tc.src, "x = {\n    m") {
				path = Path{"x", "m"}
			}
			out, err := UpsertEntry(src, "t", path, "orders", v)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", out, tc.want)
			}
			checkPreserved(t, src, out, path, "orders")
			back, removed, err := RemoveEntry(out, "t", path, "orders")
			if err != nil || !removed {
				t.Fatal(removed, err)
			}
			if tc.afterRemove != "" {
				// A map left without entries is written {}; the comment
				// directly above the only entry went with it.
				if string(back) != tc.afterRemove {
					t.Fatalf("remove after upsert:\n%q\nwant\n%q", back, tc.afterRemove)
				}
			} else if !bytes.Equal(back, src) {
				t.Fatalf("remove after upsert:\n%q\nwant\n%q", back, src)
			}
		})
	}
}

func TestRemoveShapes(t *testing.T) {
	tests := []struct {
		name, src, key, want string
	}{
		{"lead comments go with the entry",
			"m = {\n  a = 1\n  # about b\n  # more about b\n  b = 2 # inline\n  c = 3\n}\n", "b",
			"m = {\n  a = 1\n  c = 3\n}\n"},
		{"a comment separated by a blank line stays",
			"m = {\n  # header\n\n  a = 1\n  b = 2\n}\n", "a",
			"m = {\n  # header\n\n  b = 2\n}\n"},
		{"no double blank lines",
			"m = {\n  a = {}\n\n  b = {}\n\n  c = {}\n}\n", "b",
			"m = {\n  a = {}\n\n  c = {}\n}\n"},
		{"no blank line against the closing brace",
			"m = {\n  a = {}\n\n  b = {}\n}\n", "b",
			"m = {\n  a = {}\n}\n"},
		{"no blank line against the opening brace",
			"m = {\n  a = {}\n\n  b = {}\n}\n", "a",
			"m = {\n  b = {}\n}\n"},
		{"removing the longest key realigns its chain",
			"m = {\n  a       = 1\n  longest = 2\n  bb      = 3\n}\n", "longest",
			"m = {\n  a  = 1\n  bb = 3\n}\n"},
		{"last entry drops the separating comma",
			"m = {\n  a = {\n  },\n  b = {\n  }\n}\n", "b",
			"m = {\n  a = {\n  }\n}\n"},
		{"only entry leaves {}",
			"m = {\n  # the only one\n  a = {\n    x = 1\n  }\n}\n", "a",
			"m = {}\n"},
		{"only entry with a trailing comment keeps the comment",
			"m = {\n  a = 1\n  # keep\n}\n", "a",
			"m = {\n  # keep\n}\n"},
		{"inline first", "m = { a = 1, b = 2 }\n", "a", "m = { b = 2 }\n"},
		{"inline last", "m = { a = 1, b = 2 }\n", "b", "m = { a = 1 }\n"},
		{"inline only", "m = { a = 1 }\n", "a", "m = {}\n"},
		{"inline with trailing comma", "m = { a = 1, b = 2, }\n", "b", "m = { a = 1, }\n"},
		{"first entry on the brace line", "m = { a = 1\n  b = 2\n}\n", "a", "m = { b = 2\n}\n"},
		{"CRLF", "m = {\r\n  a = 1\r\n  b = 2\r\n}\r\n", "a", "m = {\r\n  b = 2\r\n}\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src)
			out, removed, err := RemoveEntry(src, "t", Path{"m"}, tc.key)
			if err != nil || !removed {
				t.Fatal(removed, err)
			}
			if string(out) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", out, tc.want)
			}
			checkPreserved(t, src, out, Path{"m"}, tc.key)
			formatStable(t, src, out)
		})
	}
}

// Line endings are never rewritten in existing text, even when a file mixes
// them (an LF heredoc in a CRLF file keeps its value); new lines use the
// style of the place they are inserted at.
func TestMixedLineEndings(t *testing.T) {
	src := []byte("m = {\r\n  a = {\r\n    notes = <<EOT\nlf line\nEOT\r\n    x = 1\r\n  }\r\n}\r\n")
	v := []Attr{{"notes", cty.StringVal("lf line\n")}, {"x", cty.NumberIntVal(2)}, {"y", cty.NumberIntVal(3)}}
	out, err := UpsertEntry(src, "t", Path{"m"}, "a", v)
	if err != nil {
		t.Fatal(err)
	}
	// (hclwrite.Format aligns x and y with the heredoc assignment above them.)
	want := "m = {\r\n  a = {\r\n    notes = <<EOT\nlf line\nEOT\r\n    x     = 2\r\n    y     = 3\r\n  }\r\n}\r\n"
	if string(out) != want {
		t.Fatalf("got %q\nwant %q", out, want)
	}
	assertEntry(t, out, Path{"m"}, "a", v)
}
