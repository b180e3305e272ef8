package catalog

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 2, 3, 10, 4, 5, 0, time.UTC)

func hours(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }

// spec returns a valid request for name in env.
func spec(name, env, requestID string) Spec {
	return Spec{
		Name:        name,
		RequestID:   requestID,
		Owner:       "app-team",
		RequestedBy: "jdoe",
		Domain:      "delivery",
		Risk:        "low",
		Environment: env,
		Configuration: Configuration{
			Username:      name + "_user",
			SizeTier:      "small",
			InstanceClass: "db.t3.micro",
			SecretPath:    "goldenpath/" + env + "/" + name + "/postgres",
		},
	}
}

func input(t *testing.T, name string) []byte {
	t.Helper()
	if name == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join("testdata", "in", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/golden/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

type op func(f *File) error

func upsert(s Spec, now time.Time) op {
	return func(f *File) error {
		_, err := f.Upsert(s, now)
		return err
	}
}

func setStatus(name, env string, to Status, at time.Time, note string) op {
	return func(f *File) error { return f.SetStatus(name, env, to, at, note) }
}

func TestGolden(t *testing.T) {
	perEnv := func(env string) Options {
		return Options{Layout: LayoutPerEnv, Environment: env, Filename: "rds-catalog/" + env + ".yaml"}
	}
	single := Options{Layout: LayoutSingleFile, Filename: "docs/20-contracts/resource-catalogs/rds-catalog.yaml"}
	withInstance := perEnv("dev")
	withInstance.RDSInstance = "goldenpath-dev-platform-dev"

	bigger := spec("payments", "dev", "RDS-0031")
	bigger.RequestedBy, bigger.Configuration.SizeTier, bigger.Configuration.InstanceClass = "bjones", "medium", "db.t3.small"
	withPR := spec("orders", "dev", "RDS-0042")
	withPR.PRNumber, withPR.PRURL = 17, "https://github.com/acme/infra/pull/17"
	activeChange := spec("billing", "dev", "RDS-0012")
	activeChange.Risk, activeChange.Configuration.SizeTier = "medium", "large"
	quoting := spec("quoting", "dev", "RDS-0100")
	quoting.Owner, quoting.RequestedBy, quoting.Domain, quoting.Risk = "null", "yes", "1.0", "#high: risk"

	tests := []struct {
		name  string // golden file: <name>.yaml, or <name>.err when the last op fails
		input string // file under testdata/in; "" is a missing file
		opts  Options
		ops   []op
	}{
		{"seed-missing-per-env", "", withInstance, []op{upsert(spec("orders", "dev", "RDS-0042"), t0)}},
		{"seed-comment-only", "", perEnv("staging"), nil}, // input set below
		{"seed-missing-single-file", "", single, []op{upsert(spec("orders", "prod", "RDS-0042"), t0)}},
		{"original-single-file-upsert", "original-single-file.yaml", single, []op{upsert(spec("orders", "dev", "RDS-0042"), t0)}},
		{"original-single-file-two-envs", "original-single-file.yaml", single, []op{
			upsert(spec("orders", "dev", "RDS-0042"), t0),
			upsert(spec("reports", "prod", "RDS-0043"), hours(1)),
		}},
		{"commented-upsert-new", "commented-per-env.yaml", perEnv("dev"), []op{upsert(spec("orders", "dev", "RDS-0042"), t0)}},
		{"commented-update-pending", "commented-per-env.yaml", perEnv("dev"), []op{upsert(bigger, t0)}},
		{"commented-set-status", "commented-per-env.yaml", withInstance, []op{
			setStatus("payments", "dev", StatusApproved, t0, "approved by @acme/platform-team at merge of #31"),
			setStatus("payments", "dev", StatusProvisioning, hours(1), "apply started"),
		}},
		{"commented-decommission", "commented-per-env.yaml", perEnv("dev"), []op{
			func(f *File) error {
				return f.MarkDecommissioning("billing", "dev", t0, "decommission request RDS-0090")
			},
		}},
		{"lifecycle", "", perEnv("prod"), []op{
			upsert(spec("ledger", "prod", "RDS-0050"), t0),
			setStatus("ledger", "prod", StatusApproved, hours(1), "approved by @acme/database-team"),
			setStatus("ledger", "prod", StatusProvisioning, hours(2), ""),
			setStatus("ledger", "prod", StatusFailed, hours(3), "terraform apply failed:\n  timeout"),
			setStatus("ledger", "prod", StatusProvisioning, hours(4), "retry"),
			setStatus("ledger", "prod", StatusActive, hours(5), ""),
			setStatus("ledger", "prod", StatusDecommissioning, hours(48), "RDS-0077"),
			setStatus("ledger", "prod", StatusDecommissioned, hours(72), "secrets scheduled for deletion"),
		}},
		{"pr-recorded", "", perEnv("dev"), []op{
			upsert(spec("orders", "dev", "RDS-0042"), t0),
			upsert(withPR, hours(1)),
			upsert(spec("orders", "dev", "RDS-0042"), hours(2)), // PR unknown to the caller: kept
		}},
		{"sorted-insert", "", perEnv("dev"), []op{
			upsert(spec("orders", "dev", "RDS-0042"), t0),
			upsert(spec("billing", "dev", "RDS-0043"), t0),
			upsert(spec("payments", "dev", "RDS-0044"), t0),
		}},
		{"unsorted-append", "legacy-per-env.yaml", perEnv("dev"), []op{upsert(spec("analytics", "dev", "RDS-0045"), t0)}},
		{"null-databases", "null-databases.yaml", perEnv("test"), []op{upsert(spec("orders", "test", "RDS-0042"), t0)}},
		{"quoting", "", perEnv("dev"), []op{upsert(quoting, t0)}},
		{"flow-empty", "flow-empty.yaml", perEnv("dev"), []op{upsert(spec("orders", "dev", "RDS-0042"), t0)}},
		{"flow-entries", "flow-entries.yaml", perEnv("dev"), []op{
			upsert(spec("orders", "dev", "RDS-0042"), t0),
			setStatus("billing", "dev", StatusApproved, t0, "merged"),
		}},

		{"error-single-file-collision", "single-file-multi.yaml", single, []op{upsert(spec("orders", "prod", "RDS-0042"), t0)}},
		{"error-takeover-active", "commented-per-env.yaml", perEnv("dev"), []op{upsert(spec("billing", "dev", "RDS-0099"), t0)}},
		{"error-change-active", "commented-per-env.yaml", perEnv("dev"), []op{upsert(activeChange, t0)}},
		{"error-takeover-legacy", "legacy-per-env.yaml", perEnv("dev"), []op{upsert(spec("keycloak", "dev", "RDS-0042"), t0)}},
		{"error-illegal-transition", "commented-per-env.yaml", perEnv("dev"), []op{setStatus("billing", "dev", StatusProvisioning, t0, "")}},
		{"error-skip-approval", "commented-per-env.yaml", perEnv("dev"), []op{setStatus("payments", "dev", StatusProvisioning, t0, "")}},
		{"error-final", "", perEnv("dev"), []op{
			upsert(spec("orders", "dev", "RDS-0042"), t0),
			setStatus("orders", "dev", StatusApproved, t0, ""),
			setStatus("orders", "dev", StatusProvisioning, t0, ""),
			setStatus("orders", "dev", StatusActive, t0, ""),
			setStatus("orders", "dev", StatusDecommissioning, t0, ""),
			setStatus("orders", "dev", StatusDecommissioned, t0, ""),
			setStatus("orders", "dev", StatusActive, t0, ""),
		}},
		{"error-not-found", "commented-per-env.yaml", perEnv("dev"), []op{setStatus("nosuch", "dev", StatusApproved, t0, "")}},
		{"error-bad-spec", "", perEnv("dev"), []op{upsert(Spec{Name: "Orders DB", RequestID: "42", Environment: "prod", PRNumber: -1,
			Configuration: Configuration{Username: "a\nb", SizeTier: " small"}}, t0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := input(t, tc.input)
			if tc.name == "seed-comment-only" {
				src = []byte("# RDS catalog for staging.\n#   kept when the file is seeded\n")
				tc.ops = []op{upsert(spec("orders", "staging", "RDS-0042"), t0)}
			}
			f, err := Parse(src, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var opErr error
			for i, o := range tc.ops {
				before, err := f.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				if opErr = o(f); opErr != nil {
					if i != len(tc.ops)-1 {
						t.Fatalf("op %d: %v", i, opErr)
					}
					after, err := f.Bytes()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(before, after) {
						t.Errorf("a failed op changed the document")
					}
				}
			}
			if strings.HasPrefix(tc.name, "error-") {
				if opErr == nil {
					t.Fatal("the last op succeeded, want an error")
				}
				golden(t, tc.name+".err", []byte(opErr.Error()+"\n"))
				return
			}
			if opErr != nil {
				t.Fatal(opErr)
			}
			out, err := f.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".yaml", out)
			again, err := Parse(out, tc.opts)
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if err := again.Validate(); err != nil {
				t.Errorf("output does not validate:\n%v", err)
			}
		})
	}
}
