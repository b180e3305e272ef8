package jobs_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// BenchmarkIntake measures durable webhook intake through real HTTP on
// loopback: a webhook.Handler in front of a running Queue (its workers
// processing the deliveries with a no-op handler, as in production), against
// the floor, a bare handler that only reads the body and checks its HMAC.
//
// Reported, from one run:
//
//	acks/s, p50-ms, p99-ms      32 clients as fast as they can go, durable
//	floor-acks/s                the same load against the bare HMAC handler
//	of-floor                    acks/s ÷ floor-acks/s
//	p50-ms@1k/s, p99-ms@1k/s    an open-loop load of 1,000 deliveries a second;
//	                            latency counted from each delivery's due time
//	floor-p99-ms@1k/s           the same load against the floor: what the
//	                            machine and the load generator add by themselves.
//	                            The two alternate in slices of 100 deliveries
//	                            (the durable side's backlog processed before the
//	                            floor's slice), so that both meet the same
//	                            neighbours on a shared machine
//	deliveries/commit           mean group-commit batch size in the fast run
//	cpu-µs/delivery             CPU time per delivery, acknowledged and
//	                            processed, in the fast run: this process, plus
//	                            the benchmark's own Postgres server
//	floor-cpu-µs/delivery       the same for the floor (this process only)
//
// Postgres runs on a cluster of its own with fsync on (DATABASE_URL, when
// set, is used instead), so an acknowledgement means a flushed WAL record.
// SQLite runs in WAL mode with synchronous=NORMAL: durable against a process
// crash, not against power loss.
func BenchmarkIntake(b *testing.B) {
	body := issuesPayload()
	var pgPID int // the benchmark's own Postgres, whose CPU time counts too
	for _, be := range []struct {
		name string
		cfg  func(b *testing.B) jobs.Config
	}{
		{"sqlite", func(b *testing.B) jobs.Config {
			return jobs.Config{SQLitePath: filepath.Join(b.TempDir(), "jobs.db")}
		}},
		{"postgres", func(b *testing.B) jobs.Config {
			url, pid := durablePostgres(b)
			pgPID = pid
			return jobs.Config{DatabaseURL: url}
		}},
	} {
		b.Run(be.name, func(b *testing.B) {
			cfg := be.cfg(b)
			obs := &observer{}
			cfg.Observer = obs
			cfg.Logger = testLogger(b)
			q := open(b, cfg)
			noop := func(context.Context, webhook.Delivery) error { return nil }
			start(b, q, newRecorder().registry(noop, nil))
			h, err := webhook.NewHandler(webhook.Config{Secrets: []string{benchSecret}, Store: q, Logger: testLogger(b)})
			if err != nil {
				b.Fatal(err)
			}
			durable := httptest.NewServer(h)
			defer durable.Close()
			floor := httptest.NewServer(floorHandler())
			defer floor.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}}

			var fast, bare, paced, barePaced loadResult
			for i := range b.N {
				obs.mu.Lock()
				obs.commits, obs.stored = 0, 0
				obs.mu.Unlock()
				cpu0 := cpuTime(pgPID)
				fast = closedLoop(b, client, durable.URL, body, fmt.Sprintf("fast-%d", i), 32, 5000)
				obs.mu.Lock()
				perCommit := float64(obs.stored) / float64(max(obs.commits, 1))
				obs.mu.Unlock()
				// Wait for the workers to catch up, so that the CPU time
				// covers acknowledging and processing every delivery.
				for {
					st, err := q.Stats(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					if st.Kinds[jobs.KindDelivery] == (jobs.KindStats{}) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				cpuPerAck := float64(cpuTime(pgPID)-cpu0) / float64(time.Microsecond) / 5000
				cpu0 = cpuTime(0)
				bare = closedLoop(b, client, floor.URL, body, fmt.Sprintf("floor-%d", i), 32, 5000)
				floorCPU := float64(cpuTime(0)-cpu0) / float64(time.Microsecond) / 5000
				paced, barePaced = interleaved(b, client, durable.URL, floor.URL, body, fmt.Sprintf("paced-%d", i), func() {
					for {
						st, err := q.Stats(context.Background())
						if err != nil {
							b.Fatal(err)
						}
						if st.Kinds[jobs.KindDelivery] == (jobs.KindStats{}) {
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
				})
				b.ReportMetric(perCommit, "deliveries/commit")
				b.ReportMetric(cpuPerAck, "cpu-µs/delivery")
				b.ReportMetric(floorCPU, "floor-cpu-µs/delivery")
			}
			b.ReportMetric(fast.rate, "acks/s")
			b.ReportMetric(fast.p50, "p50-ms")
			b.ReportMetric(fast.p99, "p99-ms")
			b.ReportMetric(bare.rate, "floor-acks/s")
			b.ReportMetric(fast.rate/bare.rate, "of-floor")
			b.ReportMetric(paced.p50, "p50-ms@1k/s")
			b.ReportMetric(paced.p99, "p99-ms@1k/s")
			b.ReportMetric(barePaced.p99, "floor-p99-ms@1k/s")
		})
	}
}

const benchSecret = "bench-secret"

// durablePostgres is a database on a server that syncs its WAL: DATABASE_URL
// when set, else a cluster started for the benchmark with fsync on, whose
// postmaster's pid is returned too.
func durablePostgres(b *testing.B) (string, int) {
	if env := os.Getenv("DATABASE_URL"); env != "" {
		return pgtest.NewDatabase(b, env), 0
	}
	c, err := pgtest.Start(context.Background(), pgtest.Options{Fsync: true})
	if errors.Is(err, pgtest.ErrNoPostgres) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Stop() })
	return pgtest.NewDatabase(b, c.URL("postgres")), c.PID()
}

// cpuTime is the CPU time used so far by this process and, when pgPID is not
// zero, by that postmaster and its children (read from /proc).
func cpuTime(pgPID int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if pgPID == 0 {
		return total
	}
	const ticks = 100 // USER_HZ on Linux
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command, which is in parentheses: state ppid
		// ... utime (14th field overall) stime (15th).
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(d.Name())
		ppid, _ := strconv.Atoi(f[1])
		if pid != pgPID && ppid != pgPID {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * time.Second / ticks
	}
	return total
}

// floorHandler does the least a webhook endpoint must: read the body and
// check its HMAC, then answer.
func floorHandler() http.Handler {
	key := []byte(benchSecret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhook.MaxBodyBytesDefault))
		if err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		m := hmac.New(sha256.New, key)
		m.Write(body)
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(r.Header.Get(webhook.HeaderSignature256))) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
}

type loadResult struct {
	rate     float64 // acknowledgements per second
	p50, p99 float64 // milliseconds
}

func post(b *testing.B, client *http.Client, url string, body []byte, sig, id string) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderEvent, "issues")
	req.Header.Set(webhook.HeaderDelivery, id)
	req.Header.Set(webhook.HeaderSignature256, sig)
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Errorf("delivery %s: status %d", id, resp.StatusCode)
	}
}

// closedLoop sends n deliveries from c clients, each sending its next as soon
// as the last is acknowledged.
func closedLoop(b *testing.B, client *http.Client, url string, body []byte, prefix string, c, n int) loadResult {
	sig := webhook.Sign([]byte(benchSecret), body)
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				post(b, client, url, body, sig, fmt.Sprintf("%s-%d", prefix, i))
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	return summarize(lat, time.Since(begin))
}

// interleaved sends an open-loop load of 1,000 deliveries a second to the
// durable and the floor URL in alternating slices of 100, thirty each, waiting
// for drain after each durable slice, and summarizes each side's latencies.
func interleaved(b *testing.B, client *http.Client, durableURL, floorURL string, body []byte, prefix string, drain func()) (durable, floor loadResult) {
	const slices, per, rate = 30, 100, 1000
	var dl, fl []time.Duration
	var dt, ft time.Duration
	for i := range slices {
		begin := time.Now()
		dl = append(dl, openLoopLat(b, client, durableURL, body, fmt.Sprintf("%s-d%d", prefix, i), rate, per)...)
		dt += time.Since(begin)
		drain()
		begin = time.Now()
		fl = append(fl, openLoopLat(b, client, floorURL, body, fmt.Sprintf("%s-f%d", prefix, i), rate, per)...)
		ft += time.Since(begin)
	}
	return summarize(dl, dt), summarize(fl, ft)
}

// openLoopLat sends n deliveries at rate per second regardless of how fast
// they are acknowledged; a delivery's latency counts from when it was due, so
// a stalled server is not hidden by clients waiting for it.
func openLoopLat(b *testing.B, client *http.Client, url string, body []byte, prefix string, rate, n int) []time.Duration {
	sig := webhook.Sign([]byte(benchSecret), body)
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range n {
		due := begin.Add(time.Duration(i) * time.Second / time.Duration(rate))
		time.Sleep(time.Until(due))
		wg.Go(func() {
			post(b, client, url, body, sig, fmt.Sprintf("%s-%d", prefix, i))
			lat[i] = time.Since(due)
		})
	}
	wg.Wait()
	return lat
}

func summarize(lat []time.Duration, elapsed time.Duration) loadResult {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	return loadResult{rate: float64(len(lat)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99)}
}

// issuesPayload is an issues.opened payload of realistic size (about 12 KB:
// issue, repository, sender and installation objects).
func issuesPayload() []byte {
	user := `{"login":"octocat","id":1,"node_id":"MDQ6VXNlcjE=","avatar_url":"https://github.com/images/error/octocat_happy.gif","gravatar_id":"","url":"https://api.github.com/users/octocat","html_url":"https://github.com/octocat","followers_url":"https://api.github.com/users/octocat/followers","following_url":"https://api.github.com/users/octocat/following{/other_user}","gists_url":"https://api.github.com/users/octocat/gists{/gist_id}","starred_url":"https://api.github.com/users/octocat/starred{/owner}{/repo}","subscriptions_url":"https://api.github.com/users/octocat/subscriptions","organizations_url":"https://api.github.com/users/octocat/orgs","repos_url":"https://api.github.com/users/octocat/repos","events_url":"https://api.github.com/users/octocat/events{/privacy}","received_events_url":"https://api.github.com/users/octocat/received_events","type":"User","site_admin":false}`
	var repo strings.Builder
	repo.WriteString(`{"id":1296269,"node_id":"MDEwOlJlcG9zaXRvcnkxMjk2MjY5","name":"infra","full_name":"acme/infra","private":true,"owner":` + user)
	for _, k := range []string{"hooks", "issue_events", "events", "assignees", "branches", "tags", "blobs", "git_tags", "git_refs", "trees", "statuses", "languages", "stargazers", "contributors", "subscribers", "subscription", "commits", "git_commits", "comments", "issue_comment", "contents", "compare", "merges", "archive", "downloads", "issues", "pulls", "milestones", "notifications", "labels", "releases", "deployments"} {
		fmt.Fprintf(&repo, `,%q:"https://api.github.com/repos/acme/infra/%s"`, k+"_url", k)
	}
	repo.WriteString(`,"default_branch":"main","visibility":"private","forks":0,"open_issues":12,"watchers":3}`)
	issueBody := strings.Repeat("### Database request\\n\\nenvironment: prod\\ndatabase: orders\\nowner team: payments\\nsize: medium\\n\\n", 25)
	return fmt.Appendf(nil, `{"action":"opened","issue":{"url":"https://api.github.com/repos/acme/infra/issues/1347","number":1347,"title":"RDS request: orders (prod)","user":%s,"labels":[{"id":208045946,"name":"rds-request","color":"f29513"}],"state":"open","locked":false,"comments":0,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","author_association":"MEMBER","body":"%s"},"repository":%s,"sender":%s,"installation":{"id":424242,"node_id":"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}}`,
		user, issueBody, repo.String(), user)
}
