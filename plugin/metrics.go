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
	}
	m.Registry.MustRegister(m.Requests, m.RequestDuration, m.EncodeBatch, m.EncodeDuration, m.StoreDuration, m.Errors, m.InferenceInputs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observeStore(op string, start time.Time) {
	if m != nil {
		m.StoreDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
}
