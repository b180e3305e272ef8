package jobs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors of Lock and TryLock, and causes of a lease's context ending.
var (
	ErrLocked       = errors.New("jobs: lock held elsewhere")
	ErrLockLost     = errors.New("jobs: lock lost")
	ErrLockReleased = errors.New("jobs: lock released")
)

// Lease is a held lock. Its Context is cancelled, with ErrLockLost as its
// cause, if the lock is lost (Postgres: its connection broke or stopped
// answering), and with ErrLockReleased on Release. Work done under a lock
// should use a context derived from the lease's, so that it stops when the
// lock is no longer held.
type Lease struct {
	key     string
	ctx     context.Context
	cancel  context.CancelCauseFunc
	release func()
	once    sync.Once
}

func newLease(key string, release func()) *Lease {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Lease{key: key, ctx: ctx, cancel: cancel, release: release}
}

// Key is the lock's name.
func (l *Lease) Key() string { return l.key }

// Context is cancelled when the lock is lost or released.
func (l *Lease) Context() context.Context { return l.ctx }

// Release gives the lock back. It may be called more than once.
func (l *Lease) Release() {
	l.once.Do(func() {
		l.cancel(ErrLockReleased)
		l.release()
	})
}

// lost ends the lease's context because the lock is gone.
func (l *Lease) lost() { l.cancel(ErrLockLost) }

// Lock takes the lock named key, waiting until it is free or ctx ends. One
// holder at a time across every process sharing the store: Postgres advisory
// locks held on a connection of their own (so even a replica cut off from
// the others cannot hold it twice: it loses its lease before the server lets
// the lock go), an in-process lock with SQLite (whose lock file keeps other
// processes out).
func (q *Queue) Lock(ctx context.Context, key string) (*Lease, error) {
	return q.lock(ctx, key, true)
}

// TryLock takes the lock named key if it is free, and returns ErrLocked if
// not.
func (q *Queue) TryLock(ctx context.Context, key string) (*Lease, error) {
	return q.lock(ctx, key, false)
}

func (q *Queue) lock(ctx context.Context, key string, wait bool) (*Lease, error) {
	if key == "" {
		return nil, errors.New("jobs: lock: key required")
	}
	if q.state.Load() == queueClosed {
		return nil, ErrClosed
	}
	l, err := q.be.lock(ctx, key, wait)
	if err != nil && !errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("jobs: lock %s: %w", key, err)
	}
	return l, err
}

// advisoryKey maps a name into Postgres' 64-bit advisory lock space.
func advisoryKey(namespace, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rdsbot:" + namespace + ":"))
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// memLocks are the locks of a single process.
type memLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed on release
}

func (m *memLocks) lock(ctx context.Context, key string, wait bool) (*Lease, error) {
	for {
		m.mu.Lock()
		if m.held == nil {
			m.held = map[string]chan struct{}{}
		}
		ch, busy := m.held[key]
		if !busy {
			ch = make(chan struct{})
			m.held[key] = ch
			m.mu.Unlock()
			return newLease(key, func() {
				m.mu.Lock()
				delete(m.held, key)
				m.mu.Unlock()
				close(ch)
			}), nil
		}
		m.mu.Unlock()
		if !wait {
			return nil, ErrLocked
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Postgres locks: heartbeat and keepalive settings. The holder pings its
// lock's connection every lockHeartbeat and gives the lease up when a ping
// fails or takes longer than lockHeartbeat. The server, told by the TCP
// keepalive settings below, drops a silent connection (and with it the lock)
// only after about 5 + 3×2 = 11 s of silence: by then the holder has long
// cancelled its work.
const (
	lockHeartbeat   = 2 * time.Second
	lockSessionInit = `SELECT set_config('tcp_keepalives_idle', '5', false),
		set_config('tcp_keepalives_interval', '2', false),
		set_config('tcp_keepalives_count', '3', false)`
)

// pgLock takes a session advisory lock on a connection of its own from pool,
// held until the lease is released or lost.
func pgLock(ctx context.Context, pool *pgxpool.Pool, key string, wait bool) (*Lease, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	k := advisoryKey("lock", key)
	if _, err := conn.Exec(ctx, lockSessionInit); err != nil {
		conn.Release()
		return nil, err
	}
	ok := true
	if wait {
		_, err = conn.Exec(ctx, "SELECT pg_advisory_lock($1)", k)
	} else {
		err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", k).Scan(&ok)
	}
	if err != nil || !ok {
		// A lock taken while the call was cancelled ends with the session.
		if err != nil {
			_ = conn.Conn().Close(context.Background())
		}
		conn.Release()
		if err != nil {
			return nil, err
		}
		return nil, ErrLocked
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	l := newLease(key, func() {
		close(stop)
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if conn.Conn().IsClosed() {
			conn.Release()
			return
		}
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", k); err != nil {
			// A session that may still hold the lock must not go back to
			// the pool: closing it ends the session and the lock.
			_ = conn.Conn().Close(context.Background())
		}
		conn.Release()
	})
	go func() {
		defer close(done)
		t := time.NewTicker(lockHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(context.Background(), lockHeartbeat)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				l.lost()
				_ = conn.Conn().Close(context.Background())
				<-stop
				return
			}
		}
	}()
	return l, nil
}
