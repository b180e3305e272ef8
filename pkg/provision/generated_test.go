package provision

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rdsbot/rdsbot/pkg/config"
)

func TestLoadGenerated(t *testing.T) {
	files := config.FilePattern{Dir: "envs/test-rds/generated", Prefix: "", Suffix: ".auto.tfvars.json"}
	gen := func(key, db, user string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`{"rds_databases": {"` + key + `": {"database_name": "` + db + `", "username": "` + user + `", "instance_class": "db.t3.micro", "metadata": {"id": "RDS-1"}}}}`)}
	}
	tests := []struct {
		name  string
		repo  fstest.MapFS
		want  string // keys and names, "key:db:user ..."
		error []string
	}{
		{name: "no directory", repo: fstest.MapFS{}, want: ""},
		{name: "two contracts", repo: fstest.MapFS{
			"envs/test-rds/generated/RDS-1.auto.tfvars.json": gen("orders", "orders", "orders_app"),
			"envs/test-rds/generated/RDS-2.auto.tfvars.json": gen("payments", "payments", "payments_app"),
			"envs/test-rds/generated/README.md":              {Data: []byte("not a generated file")},
		}, want: "orders:orders:orders_app payments:payments:payments_app"},
		{name: "the same name twice", repo: fstest.MapFS{
			"envs/test-rds/generated/RDS-1.auto.tfvars.json": gen("orders", "orders", "orders_app"),
			"envs/test-rds/generated/RDS-2.auto.tfvars.json": gen("orders2", "orders", "orders_app"),
		}, error: []string{"orders"}},
		{name: "every problem at once", repo: fstest.MapFS{
			"envs/test-rds/generated/RDS-1.auto.tfvars.json": {Data: []byte(`{"rds_databases": {"a": {"username": "a_app"}}}`)},
			"envs/test-rds/generated/RDS-2.auto.tfvars.json": {Data: []byte(`{"other": {}}`)},
			"envs/test-rds/generated/RDS-3.auto.tfvars.json": {Data: []byte(`{`)},
		}, error: []string{
			`RDS-1.auto.tfvars.json: entry "a": database_name and username are required`,
			"RDS-2.auto.tfvars.json: rds_databases is required",
			"RDS-3.auto.tfvars.json: unexpected EOF",
		}},
		{name: "a reserved role", repo: fstest.MapFS{
			"envs/test-rds/generated/RDS-1.auto.tfvars.json": gen("orders", "orders", "postgres"),
		}, error: []string{"postgres"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadGenerated(tc.repo, files)
			if len(tc.error) > 0 {
				if err == nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v, want one that wraps ErrInvalid", err)
				}
				for _, w := range tc.error {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, e := range got {
				parts = append(parts, e.Key+":"+e.Database+":"+e.Username)
				if e.Access != Owner || !e.CreateDB {
					t.Errorf("%s: access %s createdb %v, want the defaults", e.Key, e.Access, e.CreateDB)
				}
			}
			if s := strings.Join(parts, " "); s != tc.want {
				t.Errorf("entries %q, want %q", s, tc.want)
			}
		})
	}
}
