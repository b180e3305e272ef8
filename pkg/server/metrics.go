package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// metrics are the Prometheus series of one server, on their own registry.
type metrics struct {
	reg        *prometheus.Registry
	deliveries *prometheus.CounterVec
	ackLatency *prometheus.HistogramVec
	jobs       *prometheus.CounterVec
	jobTime    *prometheus.HistogramVec
	discarded  *prometheus.CounterVec
	redriven   *prometheus.CounterVec
	intake     prometheus.Histogram
}

func newMetrics(q *jobs.Queue, gh *forge.Metrics) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdsbot_webhook_deliveries_total", Help: "Webhook deliveries by event and outcome.",
		}, []string{"event", "outcome"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rdsbot_webhook_ack_seconds", Help: "Time from request to acknowledgement.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .5, 1, 5},
		}, []string{"outcome"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdsbot_jobs_total", Help: "Job attempts by kind and outcome.",
		}, []string{"kind", "outcome"}),
		jobTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rdsbot_job_duration_seconds", Help: "Job attempt duration by kind.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 9),
		}, []string{"kind"}),
		discarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdsbot_jobs_discarded_total", Help: "Jobs given up (discarded after their last attempt, including one cut short by a crash), by kind.",
		}, []string{"kind"}),
		redriven: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdsbot_deliveries_redriven_total", Help: "Deliveries never processed that were run again (outcome redriven) or given up after the most redrives allowed (outcome abandoned).",
		}, []string{"outcome"}),
		intake: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rdsbot_intake_commit_seconds", Help: "Duration of one durable intake commit.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1},
		}),
	}
	m.reg.MustRegister(m.deliveries, m.ackLatency, m.jobs, m.jobTime, m.discarded, m.redriven, m.intake,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&queueCollector{q: q}, &githubCollector{m: gh})
	return m
}

// Delivery implements webhook.Metrics.
func (m *metrics) Delivery(event string, outcome webhook.Outcome, elapsed time.Duration) {
	m.deliveries.WithLabelValues(event, string(outcome)).Inc()
	m.ackLatency.WithLabelValues(string(outcome)).Observe(elapsed.Seconds())
}

// JobDone implements jobs.Observer.
func (m *metrics) JobDone(kind string, outcome jobs.Outcome, elapsed time.Duration) {
	m.jobs.WithLabelValues(kind, string(outcome)).Inc()
	m.jobTime.WithLabelValues(kind).Observe(elapsed.Seconds())
}

// JobDiscarded implements jobs.LossObserver.
func (m *metrics) JobDiscarded(kind string) { m.discarded.WithLabelValues(kind).Inc() }

// DeliveriesRedriven implements jobs.LossObserver.
func (m *metrics) DeliveriesRedriven(redriven, abandoned int) {
	m.redriven.WithLabelValues("redriven").Add(float64(redriven))
	m.redriven.WithLabelValues("abandoned").Add(float64(abandoned))
}

// IntakeCommitted implements jobs.Observer.
func (m *metrics) IntakeCommitted(_ int, elapsed time.Duration) { m.intake.Observe(elapsed.Seconds()) }

var (
	queueDepthDesc = prometheus.NewDesc("rdsbot_queue_jobs", "Unfinished jobs by kind and state.", []string{"kind", "state"}, nil)
	queueAgeDesc   = prometheus.NewDesc("rdsbot_queue_oldest_available_seconds", "Age of the oldest runnable job by kind.", []string{"kind"}, nil)
)

// queueCollector reads the queue's depth and age at scrape time.
type queueCollector struct{ q *jobs.Queue }

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.q.Stats(ctx)
	if err != nil {
		return
	}
	if s.Kinds == nil {
		s.Kinds = map[string]jobs.KindStats{}
	}
	for _, kind := range append(c.q.Kinds(), jobs.KindDelivery) {
		if _, ok := s.Kinds[kind]; !ok {
			s.Kinds[kind] = jobs.KindStats{} // an empty queue still has its series
		}
	}
	for kind, k := range s.Kinds {
		for state, n := range map[string]int64{"available": k.Available, "running": k.Running, "retryable": k.Retryable, "scheduled": k.Scheduled} {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), kind, state)
		}
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, k.OldestAvailable.Seconds(), kind)
	}
}

var (
	ghCallsDesc     = prometheus.NewDesc("rdsbot_github_calls_total", "GitHub API calls by endpoint and outcome.", []string{"endpoint", "outcome"}, nil)
	ghRemainingDesc = prometheus.NewDesc("rdsbot_github_rate_limit_remaining", "Primary rate-limit budget left, by client.", []string{"client"}, nil)
	ghPacedDesc     = prometheus.NewDesc("rdsbot_github_paced_seconds_total", "Time writes waited for the secondary-limit pacer.", nil, nil)
)

// githubCollector exposes forge's call counters.
type githubCollector struct{ m *forge.Metrics }

func (c *githubCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ghCallsDesc
	ch <- ghRemainingDesc
	ch <- ghPacedDesc
}

func (c *githubCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Snapshot()
	for endpoint, outcomes := range s.Calls {
		for outcome, n := range outcomes {
			ch <- prometheus.MustNewConstMetric(ghCallsDesc, prometheus.CounterValue, float64(n), endpoint, outcome)
		}
	}
	for client, r := range s.RateLimit {
		ch <- prometheus.MustNewConstMetric(ghRemainingDesc, prometheus.GaugeValue, float64(r.Remaining), client)
	}
	ch <- prometheus.MustNewConstMetric(ghPacedDesc, prometheus.CounterValue, s.PacerWait.Seconds())
}
