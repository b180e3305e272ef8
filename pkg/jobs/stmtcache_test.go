package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func openCached(t testing.TB) *sql.DB {
	t.Helper()
	db, err := openSQLiteDB(context.Background(), filepath.Join(t.TempDir(), "cache.db"), sqliteDSN, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// cacheOf returns the statement cache of db's single connection.
func cacheOf(t *testing.T, db *sql.DB) map[string]*cachedStmt {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stmts map[string]*cachedStmt
	if err := conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		c.mu.Lock()
		defer c.mu.Unlock()
		stmts = map[string]*cachedStmt{}
		for q, cs := range c.stmts {
			stmts[q] = cs
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return stmts
}

func TestStatementCache(t *testing.T) {
	db := openCached(t)
	const ins = `INSERT INTO t (id, v) VALUES (?, ?)`
	const sel = `SELECT v FROM t WHERE id >= ? ORDER BY id`
	for i := range 5 {
		if _, err := db.Exec(ins, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	first := cacheOf(t, db)[ins]
	if first == nil {
		t.Fatal("insert with arguments not cached")
	}
	if _, err := db.Exec(ins, 5, "v5"); err != nil {
		t.Fatal(err)
	}
	if again := cacheOf(t, db)[ins]; again != first {
		t.Error("the cached statement was not reused")
	}
	if _, ok := cacheOf(t, db)[`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`]; ok {
		t.Error("a statement without arguments was cached")
	}

	// A statement whose rows are still open is not handed out again: the
	// nested query runs uncached and both see their own results.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	outer, err := tx.Query(sel, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var v string
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		var inner string
		if err := tx.QueryRow(sel, 5).Scan(&inner); err != nil || inner != "v5" {
			t.Fatalf("nested query: %q, %v", inner, err)
		}
		got = append(got, v)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[v0 v1 v2 v3 v4 v5]" {
		t.Errorf("outer rows %v", got)
	}
	if cs := cacheOf(t, db)[sel]; cs == nil || cs.busy {
		t.Errorf("select statement %+v: want cached and released", cs)
	}

	// Errors leave the statement usable.
	if _, err := db.Exec(ins, 0, "duplicate id"); err == nil {
		t.Error("duplicate insert succeeded")
	}
	if _, err := db.Exec(ins, 6, "v6"); err != nil {
		t.Errorf("insert after a failed one: %v", err)
	}
}

func TestStatementCacheIsBounded(t *testing.T) {
	db := openCached(t)
	for i := range stmtCacheSize + 20 {
		// Distinct SQL text each time.
		if _, err := db.Exec(fmt.Sprintf(`INSERT INTO t (id, v) VALUES (?, 'x%d')`, i), i); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(cacheOf(t, db)); n > stmtCacheSize {
		t.Errorf("%d cached statements, bound %d", n, stmtCacheSize)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t WHERE id >= ?`, 0).Scan(&n); err != nil || n != stmtCacheSize+20 {
		t.Errorf("count %d, %v", n, err)
	}
}

// BenchmarkStatementCache runs a River-sized statement (its completion
// update) with and without the cache and reports the speed-up. An operation
// is 500 statements, so that even -benchtime=1x measures something.
func BenchmarkStatementCache(b *testing.B) {
	const perOp = 500
	const update = `UPDATE t SET v = CASE WHEN v = 'never' THEN coalesce(nullif(?, ''), v) ELSE ? END
		WHERE id = ? AND v IN (SELECT value FROM json_each(json_array('a', 'b', 'c', ?)))
		AND NOT EXISTS (SELECT 1 FROM t AS t2 WHERE t2.id = ? + 1000000 AND t2.v = 'x')`
	run := func(db *sql.DB, n int) time.Duration {
		start := time.Now()
		for i := range n {
			if _, err := db.Exec(update, "", "a", i%100, "d", i); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	cached := openCached(b)
	plain, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "plain.db")+sqliteDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	plain.SetMaxOpenConns(1)
	for _, db := range []*sql.DB{cached, plain} {
		if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		for i := range 100 {
			if _, err := db.Exec(`INSERT INTO t (id, v) VALUES (?, 'a')`, i); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	withCache := run(cached, b.N*perOp)
	b.StopTimer()
	without := run(plain, b.N*perOp)
	b.ReportMetric(float64(without)/float64(withCache), "x-faster-cached")
}
