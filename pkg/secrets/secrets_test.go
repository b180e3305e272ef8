package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/secrets"
	"github.com/rdsbot/rdsbot/pkg/secrets/smfake"
)

const (
	testKeyID  = "AKIDRDSBOTTEST"
	testSecret = "s3cr3t-signing-key"
)

// awsStore starts smfake over HTTP and a store configured the standard way:
// environment variables only, including AWS_ENDPOINT_URL_SECRETS_MANAGER.
func awsStore(t *testing.T, signingSecret string) (*secrets.AWS, *smfake.Server) {
	t.Helper()
	fake := smfake.New(smfake.Options{Credentials: map[string]string{testKeyID: testSecret}})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                testKeyID,
		"AWS_SECRET_ACCESS_KEY":            signingSecret,
		"AWS_SESSION_TOKEN":                "",
		"AWS_REGION":                       "eu-west-2",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": ts.URL,
		"AWS_CONFIG_FILE":                  filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE":      filepath.Join(t.TempDir(), "none"),
		"AWS_PROFILE":                      "",
		"AWS_EC2_METADATA_DISABLED":        "true",
	} {
		t.Setenv(k, v)
	}
	store, err := secrets.NewAWS(context.Background(), secrets.AWSOptions{MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return store, fake
}

func stores(t *testing.T) map[string]secrets.Store {
	file, err := secrets.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	aws, _ := awsStore(t, testSecret)
	return map[string]secrets.Store{"memory": secrets.NewMemory(), "file": file, "aws": aws}
}

// TestStoreContract runs the same behaviour against every store.
func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			const path = "goldenpath/dev/orders/postgres"
			_, err := s.Describe(ctx, path)
			if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Describe missing: %v, want ErrNotFound naming %s", err, path)
			}
			if _, err := s.Get(ctx, path); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("Get missing: %v", err)
			}
			if _, err := s.Put(ctx, path, "x"); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("Put missing: %v", err)
			}
			m, err := s.Create(ctx, path, `{"password":"one"}`, secrets.CreateOptions{Tags: map[string]string{"Application": "orders"}})
			if err != nil || m.VersionID == "" {
				t.Fatalf("Create: %+v %v", m, err)
			}
			d, err := s.Describe(ctx, path)
			if err != nil || d.VersionID != m.VersionID {
				t.Fatalf("Describe after create: %+v %v, want version %s", d, err, m.VersionID)
			}
			g, err := s.Get(ctx, path)
			if err != nil || g.Value != `{"password":"one"}` || g.VersionID != m.VersionID {
				t.Fatalf("Get: %+v %v", g, err)
			}
			if strings.Contains(fmt.Sprint(g), "one") {
				t.Errorf("Secret prints its value: %s", g)
			}
			if _, err := s.Create(ctx, path, `{"password":"two"}`, secrets.CreateOptions{}); !errors.Is(err, secrets.ErrExists) {
				t.Fatalf("second Create: %v, want ErrExists", err)
			}
			p, err := s.Put(ctx, path, `{"password":"two"}`)
			if err != nil || p.VersionID == m.VersionID {
				t.Fatalf("Put: %+v %v", p, err)
			}
			if g, _ := s.Get(ctx, path); g.Value != `{"password":"two"}` || g.VersionID != p.VersionID {
				t.Fatalf("Get after Put: %+v", g)
			}
			if d, _ := s.Describe(ctx, path); d.VersionID != p.VersionID {
				t.Fatalf("Describe after Put: %+v", d)
			}
			for _, bad := range []string{"", "has space", "semi;colon", strings.Repeat("a", 513)} {
				if _, err := s.Describe(ctx, bad); !errors.Is(err, secrets.ErrInvalidName) {
					t.Errorf("Describe(%q): %v, want ErrInvalidName", bad, err)
				}
			}
			if _, err := s.Create(ctx, "big", strings.Repeat("x", secrets.MaxValueSize+1), secrets.CreateOptions{}); err == nil {
				t.Error("Create accepted a value over the size limit")
			}
		})
	}
}

// TestConcurrentCreate: of several creators of one name exactly one wins.
func TestConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			won, lost := 0, 0
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.Create(ctx, "race/secret", fmt.Sprintf(`{"n":%d}`, i), secrets.CreateOptions{})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
					case errors.Is(err, secrets.ErrExists):
						lost++
					default:
						t.Errorf("Create: %v", err)
					}
				}()
			}
			wg.Wait()
			if won != 1 || lost != 7 {
				t.Errorf("won %d lost %d, want 1 and 7", won, lost)
			}
		})
	}
}

func TestAWSRetriesTransientFailures(t *testing.T) {
	ctx := context.Background()
	store, fake := awsStore(t, testSecret)
	fake.Seed("goldenpath/dev/rds/master", `{"username":"admin","password":"pw"}`)

	cases := []struct {
		name   string
		inject func()
		calls  int
	}{
		{"500 twice", func() { fake.Fail("GetSecretValue", 2, "InternalServiceError", 500) }, 3},
		{"throttled", func() { fake.Fail("GetSecretValue", 1, "ThrottlingException", 400) }, 2},
		{"connection dropped", func() { fake.Drop("GetSecretValue", 2) }, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := fake.Calls("GetSecretValue")
			c.inject()
			s, err := store.Get(ctx, "goldenpath/dev/rds/master")
			if err != nil || s.Value == "" {
				t.Fatalf("Get: %v", err)
			}
			if got := fake.Calls("GetSecretValue") - before; got != c.calls {
				t.Errorf("calls = %d, want %d", got, c.calls)
			}
		})
	}

	t.Run("gives up after 5 attempts", func(t *testing.T) {
		before := fake.Calls("GetSecretValue")
		fake.Fail("GetSecretValue", 10, "InternalServiceError", 500)
		if _, err := store.Get(ctx, "goldenpath/dev/rds/master"); err == nil {
			t.Fatal("Get succeeded through 10 failures")
		}
		if got := fake.Calls("GetSecretValue") - before; got != 5 {
			t.Errorf("calls = %d, want 5", got)
		}
		// Drain the five injected failures left.
		for fake.Calls("GetSecretValue")-before < 10 {
			_, _ = store.Get(ctx, "goldenpath/dev/rds/master")
		}
	})

	t.Run("not found is not retried", func(t *testing.T) {
		before := fake.Calls("DescribeSecret")
		_, err := store.Describe(ctx, "goldenpath/dev/missing/postgres")
		var nf *secrets.NotFoundError
		if !errors.As(err, &nf) || nf.Name != "goldenpath/dev/missing/postgres" {
			t.Fatalf("err = %v", err)
		}
		if got := fake.Calls("DescribeSecret") - before; got != 1 {
			t.Errorf("calls = %d, want 1", got)
		}
	})
}

// TestAWSLostResponseIsIdempotent: a create whose answer is lost is retried
// with the same token and makes one version, not a ResourceExists error.
func TestAWSLostResponseIsIdempotent(t *testing.T) {
	ctx := context.Background()
	store, fake := awsStore(t, testSecret)
	fake.DropAfter("CreateSecret", 1)
	m, err := store.Create(ctx, "goldenpath/dev/orders/postgres", `{"password":"p"}`, secrets.CreateOptions{})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if fake.Calls("CreateSecret") != 2 {
		t.Errorf("CreateSecret calls = %d, want 2 (one lost answer, one retry)", fake.Calls("CreateSecret"))
	}
	if d, err := store.Describe(ctx, "goldenpath/dev/orders/postgres"); err != nil || d.VersionID != m.VersionID {
		t.Errorf("Describe: %+v %v, want version %s", d, err, m.VersionID)
	}
	fake.DropAfter("PutSecretValue", 1)
	p, err := store.Put(ctx, "goldenpath/dev/orders/postgres", `{"password":"q"}`)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if d, _ := store.Describe(ctx, "goldenpath/dev/orders/postgres"); d.VersionID != p.VersionID {
		t.Errorf("current version %s, want %s", d.VersionID, p.VersionID)
	}
}

func TestAWSSignatureChecked(t *testing.T) {
	store, _ := awsStore(t, "not-the-right-key")
	_, err := store.Describe(context.Background(), "goldenpath/dev/rds/master")
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("a request signed with the wrong key: %v", err)
	}
}

func TestAWSDeletedSecret(t *testing.T) {
	ctx := context.Background()
	store, fake := awsStore(t, testSecret)
	fake.Seed("goldenpath/dev/orders/postgres", `{"password":"p"}`)
	fake.MarkDeleted("goldenpath/dev/orders/postgres")
	if _, err := store.Describe(ctx, "goldenpath/dev/orders/postgres"); !errors.Is(err, secrets.ErrDeleted) {
		t.Errorf("Describe: %v, want ErrDeleted", err)
	}
	if _, err := store.Get(ctx, "goldenpath/dev/orders/postgres"); !errors.Is(err, secrets.ErrDeleted) {
		t.Errorf("Get: %v, want ErrDeleted", err)
	}
}

func TestAWSNeedsRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	if _, err := secrets.NewAWS(context.Background(), secrets.AWSOptions{}); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("NewAWS without a region: %v", err)
	}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := secrets.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Create(ctx, "goldenpath/dev/orders/postgres", `{"password":"p"}`, secrets.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "goldenpath", "dev", "orders", "postgres.json")
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file %s: %v mode %v, want 0600", p, err, fi.Mode().Perm())
	}
	// A hand edit is a new version.
	if err := os.WriteFile(p, []byte(`{"password":"edited"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Describe(ctx, "goldenpath/dev/orders/postgres"); d.VersionID == m.VersionID {
		t.Error("editing the file kept the version id")
	}
	// Readable by others: refused.
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "goldenpath/dev/orders/postgres"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Get of a 0644 file: %v", err)
	}
	for _, bad := range []string{"../escape", "a/../../b", "a//b", "/abs", "a/./b"} {
		if _, err := s.Create(ctx, bad, "x", secrets.CreateOptions{}); !errors.Is(err, secrets.ErrInvalidName) {
			t.Errorf("Create(%q): %v, want ErrInvalidName", bad, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("something was written beside the store: %v", entries)
	}
}

func TestCredentials(t *testing.T) {
	for _, in := range []string{
		`{"username":"u","password":"hunter2","host":"db","port":"5432","dbname":"d","engine":"postgres"}`,
		`{"username":"u","password":"hunter2","host":"db","port":5432,"dbname":"d","engine":"postgres"}`,
	} {
		c, err := secrets.ParseCredentials(in)
		if err != nil || c.Port != 5432 || c.Password != "hunter2" || c.DBName != "d" {
			t.Fatalf("ParseCredentials(%s) = %v, %v", in, c, err)
		}
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "creds", c)
		for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c), c.String(), logs.String()} {
			if strings.Contains(s, "hunter2") {
				t.Errorf("password printed: %s", s)
			}
		}
		back, _ := secrets.ParseCredentials(c.JSON())
		if back != c {
			t.Errorf("JSON round trip: %v != %v", back, c)
		}
	}
	rds, _ := secrets.ParseCredentials(`{"username":"master","password":"pw"}`)
	if got := rds.Missing("username", "password", "host", "port", "dbname"); strings.Join(got, ",") != "host,port,dbname" {
		t.Errorf("Missing = %v", got)
	}
	for _, bad := range []string{`not json`, `{"port":"abc"}`, `{"port":70000}`, `["x"]`} {
		_, err := secrets.ParseCredentials(bad)
		if err == nil {
			t.Errorf("ParseCredentials(%s) accepted", bad)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the value")
		}
	}
}
