package jobs

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync"
)

// stmtCacheSize bounds the prepared statements kept per connection. River and
// this package use a few dozen distinct statements.
const stmtCacheSize = 256

// stmtCacheConnector wraps a database/sql connector so that each connection
// keeps the statements it has prepared and reuses them when the same SQL text
// comes again. The SQLite driver prepares (parses and plans) every statement
// run through database/sql afresh, and River's SQLite driver runs its larger
// statements once per job (its completer goes row by row): parsing was a third
// of the queue's CPU time. It is the reuse *sql.Stmt offers, applied to SQL the
// package does not control.
//
// Only statements with arguments are cached: they are the repeated ones, and
// this keeps migration scripts (several statements, no arguments) out.
type stmtCacheConnector struct {
	inner driver.Connector
}

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	for _, ok := range []bool{implements[driver.ExecerContext](conn), implements[driver.QueryerContext](conn),
		implements[driver.ConnPrepareContext](conn), implements[driver.ConnBeginTx](conn)} {
		if !ok {
			_ = conn.Close()
			return nil, errors.New("jobs: statement cache: driver connection lacks a context method")
		}
	}
	return &cachingConn{inner: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c stmtCacheConnector) Driver() driver.Driver { return c.inner.Driver() }

func implements[T any](v any) bool { _, ok := v.(T); return ok }

type cachingConn struct {
	inner driver.Conn
	mu    sync.Mutex
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool // its rows are open: a nested use of the same SQL prepares afresh
}

var (
	_ driver.Conn               = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

// acquire returns the cached statement for query, preparing it if needed, or
// nil when it is in use (the caller then runs query uncached).
func (c *cachingConn) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil
		}
		cs.busy = true
		return cs, nil
	}
	st, err := c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= stmtCacheSize {
		for q, old := range c.stmts { // evict any idle statement
			if !old.busy {
				_ = old.stmt.Close()
				delete(c.stmts, q)
				break
			}
		}
	}
	cs := &cachedStmt{stmt: st, busy: true}
	c.stmts[query] = cs
	return cs, nil
}

func (c *cachingConn) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.mu.Unlock()
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		cs, err := c.acquire(ctx, query)
		if err != nil {
			return nil, err
		}
		if cs != nil {
			defer c.release(cs)
			return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
		}
	}
	return c.inner.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		cs, err := c.acquire(ctx, query)
		if err != nil {
			return nil, err
		}
		if cs != nil {
			rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
			if err != nil {
				c.release(cs)
				return nil, err
			}
			return &cachedRows{Rows: rows, release: func() { c.release(cs) }}, nil
		}
	}
	return c.inner.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.inner.Prepare(query) }

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.inner.(driver.ConnBeginTx).BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Close() error {
	c.mu.Lock()
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return errors.Join(append(errs, c.inner.Close())...)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// cachedRows gives the statement back when the rows are closed, and passes
// column type questions through.
type cachedRows struct {
	driver.Rows
	release func()
	once    sync.Once
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
