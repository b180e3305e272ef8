package jobs

import (
	"context"
	"hash/fnv"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// lockKey identifies a request key for locking.
func lockKey(repo, key string) string { return repo + "\x00" + key }

// advisoryKey maps a name into Postgres' 64-bit advisory lock space.
func advisoryKey(namespace, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rdsbot:" + namespace + ":"))
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// memLocks is the per-key lock of a single process (SQLite: one process owns
// the store).
type memLocks struct {
	mu   sync.Mutex
	held map[string]bool
}

func (m *memLocks) tryLock(key string) (release func(), ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held[key] {
		return nil, false
	}
	if m.held == nil {
		m.held = make(map[string]bool)
	}
	m.held[key] = true
	return func() {
		m.mu.Lock()
		delete(m.held, key)
		m.mu.Unlock()
	}, true
}

// pgTryLock takes a session advisory lock on a connection of its own, held
// until release. The lock is shared by every replica on the database.
func pgTryLock(ctx context.Context, pool *pgxpool.Pool, namespace, name string) (release func(), ok bool, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	k := advisoryKey(namespace, name)
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", k).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		// The job's context may be over; unlocking must still happen.
		if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", k); err != nil {
			// A session we cannot unlock must not go back to the pool
			// holding the lock: closing it ends the session and the lock.
			_ = conn.Conn().Close(context.Background())
		}
		conn.Release()
	}, true, nil
}
