package plugin

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the service's Prometheus metrics, on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	Requests        *prometheus.CounterVec   // route, code
	RequestDuration *prometheus.HistogramVec // route
	EncodeBatch     *prometheus.HistogramVec // vectorizer, kind
	EncodeDuration  *prometheus.HistogramVec // vectorizer, kind
	StoreDuration   *prometheus.HistogramVec // op
	Errors          *prometheus.CounterVec   // kind
	InferenceInputs *prometheus.CounterVec   // model, inference (update|search)
	IngestDocuments *prometheus.CounterVec   // job, outcome (added|updated|unchanged|deleted|dead_lettered)
	IngestLast      *prometheus.GaugeVec     // job, outcome: the last pass's counts
	IngestPasses    *prometheus.CounterVec   // job, result (complete|failed)
	IngestDuration  *prometheus.HistogramVec // job
	// spladeq_tokens_total{vectorizer} is registered by the Service, one
	// counter per model, read from the encoder's own count, and
	// spladeq_encode_queue_texts{vectorizer, kind} (registerQueue), the
	// texts queued or being encoded by each batcher.
}

// registerQueue exports a batcher's pending texts as
// spladeq_encode_queue_texts: the load signal an autoscaler can use through
// a custom-metrics adapter (deploy/k8s/serve.yaml).
func (m *Metrics) registerQueue(vectorizer, kind string, pending func() int) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "spladeq_encode_queue_texts", Help: "Texts queued or being encoded, by vectorizer and kind (document|query).",
		ConstLabels: prometheus.Labels{"vectorizer": vectorizer, "kind": kind}}, func() float64 { return float64(pending()) }))
}

// NewMetrics creates the metrics on a fresh registry, with Go runtime and
// process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spladeq_http_requests_total",
			Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spladeq_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		EncodeBatch: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spladeq_encode_batch_size",
			Help: "Texts per encoder call after micro-batching.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}, []string{"vectorizer", "kind"}),
		EncodeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spladeq_encode_duration_seconds",
			Help: "Encoder call latency.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"vectorizer", "kind"}),
		StoreDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spladeq_store_duration_seconds",
			Help: "Qdrant call latency by operation.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}, []string{"op"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spladeq_errors_total",
			Help: "Errors by kind (invalid_input, not_found, overloaded, unauthorized, store, encoder, internal)."}, []string{"kind"}),
		InferenceInputs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spladeq_inference_inputs_total",
			Help: "Texts vectorized for Qdrant's server-side inference, by model name as asked and kind (update, search)."}, []string{"model", "inference"}),
		IngestDocuments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spladeq_ingest_documents_total",
			Help: "Documents of ingestion passes by job and outcome (added, updated, unchanged, deleted, dead_lettered)."}, []string{"job", "outcome"}),
		IngestLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "spladeq_ingest_last_pass_documents",
			Help: "Documents of the job's last ingestion pass by outcome (added, updated, unchanged, deleted, dead_lettered)."}, []string{"job", "outcome"}),
		IngestPasses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spladeq_ingest_passes_total",
			Help: "Ingestion passes (syncs) by job and result (complete, failed)."}, []string{"job", "result"}),
		IngestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spladeq_ingest_pass_duration_seconds",
			Help: "Ingestion pass duration by job.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 18)}, []string{"job"}),
	}
	m.Registry.MustRegister(m.Requests, m.RequestDuration, m.EncodeBatch, m.EncodeDuration, m.StoreDuration, m.Errors, m.InferenceInputs,
		m.IngestDocuments, m.IngestLast, m.IngestPasses, m.IngestDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// IngestOutcomes are the outcome labels of the ingestion metrics, in the
// order ObserveIngest takes their counts.
var IngestOutcomes = []string{"added", "updated", "unchanged", "deleted", "dead_lettered"}

// ObserveIngest records an ingestion pass of job: its document counts (in
// IngestOutcomes' order), duration and whether it completed.
func (m *Metrics) ObserveIngest(job string, counts [5]int64, d time.Duration, complete bool) {
	if m == nil {
		return
	}
	for i, outcome := range IngestOutcomes {
		m.IngestDocuments.WithLabelValues(job, outcome).Add(float64(counts[i]))
		m.IngestLast.WithLabelValues(job, outcome).Set(float64(counts[i]))
	}
	result := "complete"
	if !complete {
		result = "failed"
	}
	m.IngestPasses.WithLabelValues(job, result).Inc()
	m.IngestDuration.WithLabelValues(job).Observe(d.Seconds())
}

func (m *Metrics) observeStore(op string, start time.Time) {
	if m != nil {
		m.StoreDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
}
