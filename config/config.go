// Package config holds spladeq's one typed configuration, for the service
// and for ingestion jobs. It is loaded with viper from, in increasing
// precedence: the defaults below, a YAML file (--config, or spladeq.yaml in
// the working directory), SPLADEQ_* environment variables
// (SPLADEQ_QDRANT_API_KEY sets qdrant.api_key) and command-line flags.
// Viper stays inside this package.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is the whole configuration. Every field documents its default;
// zero means that default unless said otherwise.
type Config struct {
	Qdrant      Qdrant                `mapstructure:"qdrant" yaml:"qdrant"`
	Models      Models                `mapstructure:"models" yaml:"models"`
	Vectorizers map[string]Vectorizer `mapstructure:"vectorizers" yaml:"vectorizers"`
	Collection  Collection            `mapstructure:"collection" yaml:"collection"`
	Search      Search                `mapstructure:"search" yaml:"search"`
	Server      Server                `mapstructure:"server" yaml:"server"`
	Ingest      Ingest                `mapstructure:"ingest" yaml:"ingest"`
	Log         Log                   `mapstructure:"log" yaml:"log"`
}

// Qdrant is where vectors are stored.
type Qdrant struct {
	// URL: "embedded://DIR" (the in-process store) or a Qdrant gRPC address
	// ("host:6334", "https://host:6334"). Default "embedded://./data/qdrant".
	URL string `mapstructure:"url" yaml:"url"`
	// APIKey for Qdrant. Default none. Secret.
	APIKey string `mapstructure:"api_key" yaml:"api_key"`
	// TLS to Qdrant. Default false (true for https:// URLs).
	TLS bool `mapstructure:"tls" yaml:"tls"`
	// CACertFile is a PEM bundle to trust for TLS. Default: system roots.
	CACertFile string `mapstructure:"ca_cert_file" yaml:"ca_cert_file"`
	// Timeout per call attempt. Default 30s.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout"`
	// MaxMessageSize of gRPC messages in bytes. Default 67108864 (64 MiB).
	MaxMessageSize int `mapstructure:"max_message_size" yaml:"max_message_size"`
	// Retries of a transiently failing call. Default 5.
	Retries int `mapstructure:"retries" yaml:"retries"`
	// RetryBackoff is the first retry's delay, doubled per retry up to 5s,
	// with jitter; a server's retry-after wins when longer. Default 200ms.
	RetryBackoff time.Duration `mapstructure:"retry_backoff" yaml:"retry_backoff"`
	// BatchSize is points per upsert request. Default 64.
	BatchSize int `mapstructure:"batch_size" yaml:"batch_size"`
	// Concurrency is upsert requests in flight. Default 2.
	Concurrency int `mapstructure:"concurrency" yaml:"concurrency"`
	// WriteOrdering of upserts and deletes across a cluster's replicas:
	// weak, medium or strong. Default "": Qdrant's default (weak).
	WriteOrdering string `mapstructure:"write_ordering" yaml:"write_ordering"`
	// ReadConsistency of searches, scrolls and counts: all, majority,
	// quorum or a number of replicas. Default "": Qdrant's default (1).
	ReadConsistency string `mapstructure:"read_consistency" yaml:"read_consistency"`
}

// Models is the local model cache and the hub it pulls from.
type Models struct {
	// Dir caches pulled models; relative model paths resolve against it
	// when they do not exist as given. Default "./models".
	Dir string `mapstructure:"dir" yaml:"dir"`
	// HubURL is the HuggingFace-compatible hub endpoint.
	// Default "https://huggingface.co".
	HubURL string `mapstructure:"hub_url" yaml:"hub_url"`
	// HubToken is sent as a Bearer token to the hub. Default none. Secret.
	HubToken string `mapstructure:"hub_token" yaml:"hub_token"`
}

// Module names of vectorizers.
// Server.LongText values: how a text longer than a model's window is
// vectorized through Qdrant's inference.
const (
	LongTextTruncate = "truncate"
	LongTextMax      = "max"
)

const (
	ModuleSPLADE      = "splade"
	ModuleSPLADEIDF   = "splade-idf"
	ModuleONNXDense   = "onnx-dense"
	ModuleOpenAI      = "openai"
	ModulePrecomputed = "precomputed"
	// ModuleBM25 runs no model: the store computes BM25 from the text
	// (Qdrant's Document{text, model: "qdrant/bm25", options}).
	ModuleBM25 = "bm25"
)

// Modules lists the known vectorizer modules, sparse ones first.
var Modules = []string{ModuleSPLADE, ModuleSPLADEIDF, ModuleONNXDense, ModuleOpenAI, ModulePrecomputed, ModuleBM25}

// Signals a collection can carry and a search can fuse: Qdrant's BM25
// (collection.bm25), the SPLADE vector (collection.sparse) and the dense
// vector (collection.dense).
const (
	SignalBM25   = "bm25"
	SignalSparse = "sparse"
	SignalDense  = "dense"
)

// Signals lists the signals in their canonical order.
var Signals = []string{SignalBM25, SignalSparse, SignalDense}

// Fusions are the values of search.fusion: Qdrant's rrf and dbsf,
// client-side weighted, and the server-side weighted ones (weighted_rrf:
// Qdrant's RRF with weights; weighted_dbsf: a formula query over each
// signal's DBSF-normalised scores).
var Fusions = []string{"rrf", "dbsf", "weighted", "weighted_rrf", "weighted_dbsf"}

// WeightedFusion reports whether a fusion takes search.weights.
func WeightedFusion(fusion string) bool {
	return fusion == "weighted" || fusion == "weighted_rrf" || fusion == "weighted_dbsf"
}

// Quantizations are the values of vectorizers.NAME.quantize ("" is fp32).
var Quantizations = []string{QuantizeFP32, QuantizeInt8}

// The values of vectorizers.NAME.quantize.
const (
	QuantizeFP32 = "fp32"
	QuantizeInt8 = "int8"
)

// OutputKinds are the values of vectorizers.NAME.output.
var OutputKinds = []string{"auto", "logits", "pooled", "token_weights"}

// Vectorizer configures one named vectorizer.
//
// Every field is part of the vectorizer's identity in ingestion
// fingerprints — changing it re-encodes a collection's documents on the
// next sync — except those tagged fingerprint:"-", which do not change the
// vectors (query-side settings, batching, threads, exact graph rewrites,
// secrets, retries; the model path, replaced by its files' hash). A new
// field that changes vectors needs no tag.
type Vectorizer struct {
	// Module is splade, splade-idf, onnx-dense, openai, precomputed or
	// bm25. Required.
	Module string `mapstructure:"module" yaml:"module"`
	// Model is a model directory (HuggingFace layout) for splade,
	// splade-idf and onnx-dense. Required for those.
	Model string `mapstructure:"model" yaml:"model" fingerprint:"-"`
	// ONNXFile names the graph inside the model directory, e.g.
	// model.pooled.onnx from `spladeq model optimize`. Default: model.onnx,
	// else onnx/model.onnx, else the graph built from model.safetensors.
	ONNXFile string `mapstructure:"onnx_file" yaml:"onnx_file"`
	// Quantize is the arithmetic of a local model's graph (splade,
	// splade-idf, onnx-dense): fp32 or int8. int8 runs the model
	// directory's model.int8.onnx (written by `spladeq model convert
	// --quantize int8`, `spladeq model pull --quantize int8` and `make
	// models`), else the int8 graph built from its safetensors checkpoint
	// at load time. Default "": fp32. onnx_file names a graph instead; set
	// one of the two.
	Quantize string `mapstructure:"quantize" yaml:"quantize"`
	// Output says what the graph's output holds (splade, splade-idf):
	// logits [batch, seq, vocab], pooled [batch, vocab] or token_weights
	// (one weight per token, [batch, seq] or [batch, seq, 1], as BGE-M3's
	// sparse head). Default "" or auto: read from the output shapes.
	Output string `mapstructure:"output" yaml:"output"`
	// MaxLength is the document max length in tokens. Default 0: the
	// model's (at most 512).
	MaxLength int `mapstructure:"max_length" yaml:"max_length"`
	// QueryMaxLength is the query max length. Default 0: MaxLength.
	QueryMaxLength int `mapstructure:"query_max_length" yaml:"query_max_length" fingerprint:"-"`
	// TopK keeps the heaviest document terms. Default 0: all.
	TopK int `mapstructure:"top_k" yaml:"top_k"`
	// MinWeight drops lighter document terms. Default 0: none.
	MinWeight float64 `mapstructure:"min_weight" yaml:"min_weight"`
	// QueryTopK and QueryMinWeight prune query vectors. Default 0: none.
	QueryTopK      int     `mapstructure:"query_top_k" yaml:"query_top_k" fingerprint:"-"`
	QueryMinWeight float64 `mapstructure:"query_min_weight" yaml:"query_min_weight" fingerprint:"-"`
	// BatchSize caps texts per forward pass. Default 32.
	BatchSize int `mapstructure:"batch_size" yaml:"batch_size" fingerprint:"-"`
	// TokenBudget caps padded tokens per forward pass, bounding the logits
	// buffer (4 bytes × tokens × vocabulary). Default 1024.
	TokenBudget int `mapstructure:"token_budget" yaml:"token_budget" fingerprint:"-"`
	// MaxPadding caps the share of a forward pass's tokens that are
	// padding; a text that would exceed it starts a new batch. In (0, 1];
	// default 0: 0.1.
	MaxPadding float64 `mapstructure:"max_padding" yaml:"max_padding" fingerprint:"-"`
	// Threads is the runtime's intra-op threads per forward pass. Default
	// 0: automatic — half the CPUs each when a splade and an onnx-dense
	// vectorizer are both configured (a hybrid query runs both encodes at
	// once), else one per physical core with passes one at a time per call.
	// The CPUs counted are those the process may use: its affinity mask and
	// its container's CPU quota (Go's GOMAXPROCS, which the GOMAXPROCS
	// environment variable overrides), not the node's. A number below the
	// cores runs cores/threads passes of a call at once; 1 measured fastest
	// with many concurrent callers (docs/benchmarks-history.md).
	Threads int `mapstructure:"threads" yaml:"threads" fingerprint:"-"`
	// GatherTokens rewrites a plain SPLADE export at load time so the
	// vocabulary projection runs on the real tokens only, not on padding
	// (splade, splade-idf). Default true; graphs it does not recognise run
	// unmodified.
	GatherTokens *bool `mapstructure:"gather_tokens" yaml:"gather_tokens" fingerprint:"-"`
	// HeadBlock is how many vocabulary entries the blocked head projects
	// and max-pools at a time: a plain SPLADE export is rewritten at load
	// time so the [batch, seq, vocab] logits are never written out
	// (splade, splade-idf; exact). Default 0: 4096; -1 turns it off (the
	// head is then gathered, gather_tokens).
	HeadBlock int `mapstructure:"head_block" yaml:"head_block" fingerprint:"-"`
	// Pooling is mean or cls (onnx-dense). Default mean.
	Pooling string `mapstructure:"pooling" yaml:"pooling"`
	// Normalize L2-normalises dense vectors (onnx-dense). Default true.
	Normalize *bool `mapstructure:"normalize" yaml:"normalize"`
	// Dimension of dense vectors: required for openai and precomputed,
	// checked against the model for onnx-dense. Default 0.
	Dimension int `mapstructure:"dimension" yaml:"dimension"`
	// BaseURL of an OpenAI-compatible API, up to /v1 (openai).
	// Default "https://api.openai.com/v1".
	BaseURL string `mapstructure:"base_url" yaml:"base_url"`
	// APIModel is the embeddings model name (openai). Required for openai.
	APIModel string `mapstructure:"api_model" yaml:"api_model"`
	// APIKey for the embeddings API (openai). Secret.
	APIKey string `mapstructure:"api_key" yaml:"api_key" fingerprint:"-"`
	// Retries of a failed embeddings call (openai). Default 3.
	Retries int `mapstructure:"retries" yaml:"retries" fingerprint:"-"`
	// Timeout of one embeddings call (openai). Default 30s.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout" fingerprint:"-"`

	// The bm25 module's options are Qdrant's BM25 options (Bm25Config),
	// sent with every text; the store tokenizes and weighs.

	// Language picks the stop words and the Snowball stemmer (bm25):
	// a name or code Qdrant knows (english, en, german, ...); "none" turns
	// both off. Default "": english.
	Language string `mapstructure:"language" yaml:"language,omitempty"`
	// Stopwords are words dropped besides the language's (bm25). Default
	// none.
	Stopwords []string `mapstructure:"stopwords" yaml:"stopwords,omitempty"`
	// Stemmer (bm25): "" the language's Snowball stemmer, "none" no
	// stemming, or a Snowball language. Default "".
	Stemmer string `mapstructure:"stemmer" yaml:"stemmer,omitempty"`
	// K is BM25's term-frequency saturation (bm25). Default 0: 1.2.
	K float64 `mapstructure:"k" yaml:"k,omitempty"`
	// B is BM25's document-length normalisation, in [0, 1] (bm25).
	// Default unset: 0.75.
	B *float64 `mapstructure:"b" yaml:"b,omitempty"`
	// AvgLen is the expected average document length in tokens (bm25).
	// Default 0: 256.
	AvgLen float64 `mapstructure:"avg_len" yaml:"avg_len,omitempty"`
	// Lowercase tokens (bm25). Default true.
	Lowercase *bool `mapstructure:"lowercase" yaml:"lowercase,omitempty"`
	// ASCIIFolding folds accented letters to ASCII (bm25). Default false.
	ASCIIFolding bool `mapstructure:"ascii_folding" yaml:"ascii_folding,omitempty"`
	// Tokenizer (bm25): word, whitespace, prefix or multilingual.
	// Default "": word.
	Tokenizer string `mapstructure:"tokenizer" yaml:"tokenizer,omitempty"`
	// MinTokenLen and MaxTokenLen drop shorter and longer tokens (bm25).
	// Default 0: no bound.
	MinTokenLen int `mapstructure:"min_token_len" yaml:"min_token_len,omitempty"`
	MaxTokenLen int `mapstructure:"max_token_len" yaml:"max_token_len,omitempty"`
}

// IsSparse reports whether the module produces sparse vectors.
func (v Vectorizer) IsSparse() bool {
	return v.Module == ModuleSPLADE || v.Module == ModuleSPLADEIDF
}

// IsLocalModel says whether the module runs a model directory here
// (splade, splade-idf, onnx-dense).
func (v Vectorizer) IsLocalModel() bool {
	return v.IsSparse() || v.Module == ModuleONNXDense
}

// Collection holds the defaults of collections the service creates.
type Collection struct {
	// Name of the default collection (ingest, demo). Default "docs".
	Name string `mapstructure:"name" yaml:"name"`
	// Sparse names the sparse vectorizer. Default "sparse".
	Sparse string `mapstructure:"sparse" yaml:"sparse"`
	// Dense names the dense vectorizer; "" for a sparse-only collection.
	// Default "dense".
	Dense string `mapstructure:"dense" yaml:"dense"`
	// BM25 names the bm25 vectorizer: the collection then also carries
	// Qdrant's BM25 as a sparse vector "bm25" with the IDF modifier;
	// "" or "none" for none. Default "bm25" (a configuration that defines
	// no vectorizer of that name gets the default bm25 vectorizer: it runs
	// no model).
	BM25 string `mapstructure:"bm25" yaml:"bm25"`
	// IDF turns on Qdrant's IDF modifier for the sparse vector. Default
	// false, right for SPLADE bi-encoders (their weights carry term
	// importance) and for splade-idf models with idf.json (the query
	// weights are the IDF; Qdrant's would count it twice); true is for
	// sparse vectors whose query weights carry no IDF.
	IDF bool `mapstructure:"idf" yaml:"idf"`
	// Distance of the dense vector: cosine, dot, euclid, manhattan.
	// Default cosine.
	Distance string `mapstructure:"distance" yaml:"distance"`
	// ShardNumber splits a new collection into this many shards over a
	// Qdrant cluster. Default 0: Qdrant's default (one per node).
	ShardNumber int `mapstructure:"shard_number" yaml:"shard_number"`
	// ReplicationFactor keeps this many copies of each shard. Default 0:
	// Qdrant's default, 1.
	ReplicationFactor int `mapstructure:"replication_factor" yaml:"replication_factor"`
	// WriteConsistencyFactor is how many replicas must apply a write before
	// it is acknowledged. Default 0: Qdrant's default, 1.
	WriteConsistencyFactor int `mapstructure:"write_consistency_factor" yaml:"write_consistency_factor"`
	// OnDiskPayload keeps payloads on disk. Default unset: Qdrant's
	// default (true).
	OnDiskPayload *bool `mapstructure:"on_disk_payload" yaml:"on_disk_payload"`
	// SparseOnDisk keeps the sparse index on disk (memory-mapped). Default
	// false.
	SparseOnDisk bool `mapstructure:"sparse_on_disk" yaml:"sparse_on_disk"`
}

// Search holds search defaults, each overridable per request.
type Search struct {
	// Mode: hybrid (fuse Signals), or one signal alone: sparse, dense or
	// bm25. Default hybrid.
	Mode string `mapstructure:"mode" yaml:"mode"`
	// Signals a hybrid search fuses, of bm25, sparse and dense; a signal
	// the searched collection lacks is left out (a collection made before
	// BM25 fuses sparse and dense). Default [bm25, sparse, dense].
	Signals []string `mapstructure:"signals" yaml:"signals"`
	// Fusion: rrf, dbsf, weighted, weighted_rrf or weighted_dbsf.
	// Default weighted_dbsf: with the default weights, the best mean
	// nDCG@10 over the three real-text evaluation sets of every setting
	// `spladeq eval --sweep` tried (docs/evaluation.md), and one Qdrant
	// query any Qdrant client can send (docs/inference.md).
	Fusion string `mapstructure:"fusion" yaml:"fusion"`
	// Weights of the weighted fusions per signal. weighted and
	// weighted_dbsf scale them to sum to 1 over the signals searched (each
	// fused list min-max or DBSF normalised); weighted_rrf passes them to
	// Qdrant as they are (a list's ranks are divided by its weight, so
	// their scale matters: all 1 is plain RRF). A signal not listed weighs
	// 1. Default {bm25: 1, sparse: 1, dense: 2} (the sweep's best).
	Weights map[string]float64 `mapstructure:"weights" yaml:"weights"`
	// Alpha, when set, is shorthand for weights sparse 1−alpha and dense
	// alpha (bm25 keeps its weight): with signals sparse and dense the
	// score is alpha·dense + (1−alpha)·sparse. Default unset.
	Alpha *float64 `mapstructure:"alpha" yaml:"alpha"`
	// RRFK is RRF's k. Default 5: the sweep's best k for RRF over the
	// three signals (Qdrant's own default, for queries sent to it
	// directly, is 2).
	RRFK int `mapstructure:"rrf_k" yaml:"rrf_k"`
	// Limit of hits. Default 10.
	Limit int `mapstructure:"limit" yaml:"limit"`
	// PrefetchLimit is candidates per signal of a hybrid search. Default 50.
	PrefetchLimit int `mapstructure:"prefetch_limit" yaml:"prefetch_limit"`
}

// Weight returns signal's weight: Weights[signal], 1 when unlisted, with
// Alpha setting sparse and dense when it is set.
func (s Search) Weight(signal string) float64 {
	if s.Alpha != nil {
		switch signal {
		case SignalSparse:
			return 1 - *s.Alpha
		case SignalDense:
			return *s.Alpha
		}
	}
	if w, ok := s.Weights[signal]; ok {
		return w
	}
	return 1
}

// Server configures `spladeq serve`.
type Server struct {
	// Listen address. Default "127.0.0.1:8080".
	Listen string `mapstructure:"listen" yaml:"listen"`
	// APIKeys may read and write; empty with ReadOnlyAPIKeys empty means no
	// authentication. Default none. Secret.
	APIKeys []string `mapstructure:"api_keys" yaml:"api_keys"`
	// ReadOnlyAPIKeys may search and encode only. Default none. Secret.
	ReadOnlyAPIKeys []string `mapstructure:"read_only_api_keys" yaml:"read_only_api_keys"`
	// MaxBodyBytes bounds a request body. Default 10485760 (10 MiB).
	MaxBodyBytes int64 `mapstructure:"max_body_bytes" yaml:"max_body_bytes"`
	// MaxTexts bounds the texts (documents) in one request. Default 256.
	MaxTexts int `mapstructure:"max_texts" yaml:"max_texts"`
	// MaxTextBytes bounds one text. Default 1048576 (1 MiB).
	MaxTextBytes int `mapstructure:"max_text_bytes" yaml:"max_text_bytes"`
	// RequestTimeout bounds a request's handling. Default 30s.
	RequestTimeout time.Duration `mapstructure:"request_timeout" yaml:"request_timeout"`
	// QueueSize bounds texts waiting to be encoded; beyond it requests get
	// 429 with Retry-After. Default 1024.
	QueueSize int `mapstructure:"queue_size" yaml:"queue_size"`
	// BatchMaxDelay is how long the micro-batcher also waits for more
	// requests. Default 0: each forward pass takes the requests that queued
	// during the previous one, adding no latency (measured best; see
	// BENCHMARKS.md).
	BatchMaxDelay time.Duration `mapstructure:"batch_max_delay" yaml:"batch_max_delay"`
	// BatchMaxSize caps texts coalesced into one encoder call (which cuts
	// them into forward passes by the vectorizer's batch_size and
	// token_budget). Default 64: with 8 and 64 concurrent clients it gave
	// the best p99 and, at 64, 1.24x the documents/s of 32 (BENCHMARKS.md).
	BatchMaxSize int `mapstructure:"batch_max_size" yaml:"batch_max_size"`
	// ReadTimeout, WriteTimeout and IdleTimeout protect against slow
	// clients. Defaults 30s, 60s, 120s.
	ReadTimeout  time.Duration `mapstructure:"read_timeout" yaml:"read_timeout"`
	WriteTimeout time.Duration `mapstructure:"write_timeout" yaml:"write_timeout"`
	IdleTimeout  time.Duration `mapstructure:"idle_timeout" yaml:"idle_timeout"`
	// ShutdownTimeout bounds the wait for in-flight requests on SIGTERM.
	// Default 30s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout" yaml:"shutdown_timeout"`
	// InferenceTokens are accepted as the "token" of Qdrant's inference
	// calls to POST /v1/qdrant/inference (Qdrant's inference.token), as are
	// APIKeys and ReadOnlyAPIKeys. With all three empty the endpoint is
	// open. Default none. Secret.
	InferenceTokens []string `mapstructure:"inference_tokens" yaml:"inference_tokens"`
	// InferenceModels adds model names for Qdrant's inference, each
	// "NAME=VECTORIZER" (e.g. "prithivida/Splade_PP_en_v1=sparse"); names
	// match case-insensitively. Every vectorizer is always reachable as
	// "spladeq/<vectorizer>". Default none.
	InferenceModels []string `mapstructure:"inference_models" yaml:"inference_models"`
	// LongText is how Qdrant's inference (and the embedded gRPC port)
	// vectorizes a Document longer than the model's window, when its
	// options carry no "long_text": "truncate" keeps the first window;
	// "max" encodes every token window (ingest.chunk_overlap tokens
	// shared) and combines them: the element-wise max of the sparse
	// vectors (then pruning), the mean of the dense vectors (re-normalised
	// when the vectorizer normalises). Default "truncate".
	LongText string `mapstructure:"long_text" yaml:"long_text"`
	// QdrantGRPCListen, when set, serves the embedded store's Qdrant gRPC
	// API on this host:port, so any Qdrant client talks to spladeq alone
	// (Documents in upserts and queries are vectorized in-process). Keys
	// are APIKeys (read-write) and ReadOnlyAPIKeys, sent as "api-key"
	// metadata as Qdrant's clients do. Only with an embedded qdrant.url.
	// Default "": off.
	QdrantGRPCListen string `mapstructure:"qdrant_grpc_listen" yaml:"qdrant_grpc_listen"`
	// TLSCertFile and TLSKeyFile, both set, serve every listener of `serve`
	// (the HTTP API with Qdrant's inference endpoint and metrics, the
	// embedded store's gRPC port) and of `mcp --listen` over TLS with this
	// PEM certificate (chain) and private key. The files are re-read when
	// they change, so a rotated certificate needs no restart. Plain HTTP to
	// a TLS port is refused. Default "": no TLS.
	TLSCertFile string `mapstructure:"tls_cert_file" yaml:"tls_cert_file"`
	TLSKeyFile  string `mapstructure:"tls_key_file" yaml:"tls_key_file"`
	// HTTP2 offers HTTP/2 on the TLS listeners of the HTTP API and MCP.
	// Qdrant's inference client takes it and multiplexes every call over
	// one connection per Qdrant node, which a Kubernetes Service (it
	// balances connections) pins to one replica; false offers HTTP/1.1
	// only, which carries one call at a time per connection, so concurrent
	// calls use several connections for the Service to spread. Plain HTTP
	// listeners speak HTTP/1.1 either way. Default true.
	HTTP2 bool `mapstructure:"http2" yaml:"http2"`
	// MCPAddDocuments offers the add_documents tool in `spladeq mcp`
	// (read-write API keys only over HTTP). Default false: search only.
	MCPAddDocuments bool `mapstructure:"mcp_add_documents" yaml:"mcp_add_documents"`
}

// Ingest configures an ingestion job.
type Ingest struct {
	// Source is where documents come from.
	Source Source `mapstructure:"source" yaml:"source"`
	// Fields maps source fields to documents.
	Fields Fields `mapstructure:"fields" yaml:"fields"`
	// ChunkTokens is the chunk size in tokens (special tokens excluded).
	// Default 0: the sparse encoder's max length minus 2.
	ChunkTokens int `mapstructure:"chunk_tokens" yaml:"chunk_tokens"`
	// ChunkOverlap is tokens shared by consecutive chunks. Default 32.
	ChunkOverlap int `mapstructure:"chunk_overlap" yaml:"chunk_overlap"`
	// BatchSize is chunks per encode-and-upsert batch. Default 64.
	BatchSize int `mapstructure:"batch_size" yaml:"batch_size"`
	// QueueSize bounds batches buffered between stages. Default 4.
	QueueSize int `mapstructure:"queue_size" yaml:"queue_size"`
	// MaxErrors is bad records tolerated before the job stops. Default 100;
	// negative means no limit.
	MaxErrors int `mapstructure:"max_errors" yaml:"max_errors"`
	// MaxTextBytes rejects longer texts. Default 10485760 (10 MiB).
	MaxTextBytes int `mapstructure:"max_text_bytes" yaml:"max_text_bytes"`
	// DeadLetter is the JSONL file of rejected records.
	// Default "./data/<collection>.deadletter.jsonl".
	DeadLetter string `mapstructure:"dead_letter" yaml:"dead_letter"`
	// Checkpoint is the job's progress file.
	// Default "./data/<collection>.checkpoint.json".
	Checkpoint string `mapstructure:"checkpoint" yaml:"checkpoint"`
	// Job names the job on every point it writes (payload key
	// spladeq_job): sync deletes only its own job's points, never those of
	// other jobs or written by hand. Runs with the same name are the same
	// job. Default "": the source's scope — the absolute path of the file
	// or directory.
	Job string `mapstructure:"job" yaml:"job"`
	// Sync removes the points of documents no longer in the source, once
	// the whole source was read without a fatal error: none keeps them;
	// full removes every point of this job that the run did not see;
	// scoped, only those within the part of the source the run read (its
	// file, directory or prefix). Default none.
	Sync string `mapstructure:"sync" yaml:"sync"`
	// MaxDelete refuses a sync that would delete more than this fraction
	// of the job's points (in scope); 1 allows any. In [0, 1]. Default 0.5.
	MaxDelete float64 `mapstructure:"max_delete" yaml:"max_delete"`
	// WatchInterval is how often `ingest --watch` syncs a source it cannot
	// watch (jsonl, csv), and at least how often it syncs a directory.
	// Default 1m.
	WatchInterval time.Duration `mapstructure:"watch_interval" yaml:"watch_interval"`
	// WatchDebounce is how long `ingest --watch` waits after a directory's
	// last change before it syncs. Default 2s.
	WatchDebounce time.Duration `mapstructure:"watch_debounce" yaml:"watch_debounce"`
}

// Sync modes of ingest.sync.
const (
	SyncNone   = "none"
	SyncFull   = "full"
	SyncScoped = "scoped"
)

// Source describes an ingestion source.
type Source struct {
	// Type is jsonl, csv, dir, parquet or s3. Required.
	Type string `mapstructure:"type" yaml:"type"`
	// Path is the file (jsonl, csv, parquet; .gz read transparently for
	// jsonl and csv) or directory (dir). Required, except for s3.
	Path string `mapstructure:"path" yaml:"path"`
	// Include globs for dir and s3 sources, matched against the path
	// relative to the directory, or the key after prefix ("**" spans
	// directories). Default ["**/*.txt", "**/*.md", "**/*.html", "**/*.htm"].
	Include []string `mapstructure:"include" yaml:"include"`
	// Exclude globs for dir and s3 sources. Default none.
	Exclude []string `mapstructure:"exclude" yaml:"exclude"`
	// Delimiter of csv sources and .csv objects. Default ",".
	Delimiter string `mapstructure:"delimiter" yaml:"delimiter"`
	// Bucket of an s3 source. Required for s3. Objects are parsed by their
	// names: .jsonl/.ndjson as JSON Lines, .csv as CSV, .parquet as
	// Parquet, anything else as one text, Markdown or HTML document (.gz
	// read transparently, except Parquet).
	Bucket string `mapstructure:"bucket" yaml:"bucket"`
	// Prefix of the keys an s3 source reads ("docs/"). Default "": the
	// whole bucket.
	Prefix string `mapstructure:"prefix" yaml:"prefix"`
	// Endpoint of an S3-compatible store ("http://minio:9000"); set, it
	// also means path-style addressing, as MinIO, SeaweedFS and Ceph
	// expect. Default "": AWS S3 in the region.
	Endpoint string `mapstructure:"endpoint" yaml:"endpoint"`
	// Region of an s3 source. Default "": AWS_REGION or the shared
	// config's region; us-east-1 when endpoint is set and neither is.
	Region string `mapstructure:"region" yaml:"region"`
	// Profile of the AWS shared config and credentials files for an s3
	// source. Default "": AWS_PROFILE, else "default". Credentials come
	// from the AWS SDK's standard chain: the AWS_* environment variables,
	// the shared files, SSO, web identity, container and instance roles.
	Profile string `mapstructure:"profile" yaml:"profile"`
	// AccessKeyID and SecretAccessKey, with SessionToken if any, replace
	// the standard chain when both are set. Default "": keep keys out of
	// job files; SPLADEQ_INGEST_SOURCE_SECRET_ACCESS_KEY sets it from the
	// environment.
	AccessKeyID     string `mapstructure:"access_key_id" yaml:"access_key_id"`
	SecretAccessKey string `mapstructure:"secret_access_key" yaml:"secret_access_key"`
	SessionToken    string `mapstructure:"session_token" yaml:"session_token"`
	// Anonymous reads a public bucket with unsigned requests. Default
	// false.
	Anonymous bool `mapstructure:"anonymous" yaml:"anonymous"`
}

// Fields maps a record's fields to a document.
type Fields struct {
	// ID is the field holding the document id. Default "id".
	ID string `mapstructure:"id" yaml:"id"`
	// Text is the field holding the text; several are joined by a blank
	// line. Default ["text"].
	Text []string `mapstructure:"text" yaml:"text"`
	// Payload lists fields copied into the payload. Default none.
	Payload []string `mapstructure:"payload" yaml:"payload"`
	// Dense is a field holding a precomputed dense vector. Default none.
	Dense string `mapstructure:"dense" yaml:"dense"`
}

// Log configures logging.
type Log struct {
	// Level: debug, info, warn, error. Default info.
	Level string `mapstructure:"level" yaml:"level"`
	// Format: text or json. Default text.
	Format string `mapstructure:"format" yaml:"format"`
}

// Validate reports every problem at once, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Qdrant.URL == "" {
		bad("qdrant.url", "must not be empty")
	}
	if c.Qdrant.Timeout < 0 {
		bad("qdrant.timeout", "must be >= 0, got %v", c.Qdrant.Timeout)
	}
	for key, n := range map[string]int{"qdrant.batch_size": c.Qdrant.BatchSize, "qdrant.concurrency": c.Qdrant.Concurrency,
		"search.limit": c.Search.Limit, "search.rrf_k": c.Search.RRFK, "search.prefetch_limit": c.Search.PrefetchLimit,
		"server.max_texts": c.Server.MaxTexts, "server.max_text_bytes": c.Server.MaxTextBytes, "server.queue_size": c.Server.QueueSize,
		"server.batch_max_size": c.Server.BatchMaxSize, "ingest.batch_size": c.Ingest.BatchSize, "ingest.queue_size": c.Ingest.QueueSize} {
		if n < 1 {
			bad(key, "must be >= 1, got %d", n)
		}
	}
	if c.Qdrant.RetryBackoff <= 0 {
		bad("qdrant.retry_backoff", "must be > 0, got %v", c.Qdrant.RetryBackoff)
	}
	if c.Qdrant.Retries < 0 {
		bad("qdrant.retries", "must be >= 0, got %d", c.Qdrant.Retries)
	}
	if c.Server.MaxBodyBytes < 1 {
		bad("server.max_body_bytes", "must be >= 1, got %d", c.Server.MaxBodyBytes)
	}
	names := make([]string, 0, len(c.Vectorizers))
	for n := range c.Vectorizers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		errs = append(errs, c.Vectorizers[name].validate("vectorizers."+name)...)
	}
	if c.Collection.Sparse == "" && c.Collection.Dense == "" {
		bad("collection", "needs a sparse or a dense vectorizer")
	}
	if v, ok := c.Vectorizers[c.Collection.Sparse]; c.Collection.Sparse != "" && (!ok || !v.IsSparse()) {
		if !ok {
			bad("collection.sparse", "no vectorizer named %q (have %s)", c.Collection.Sparse, strings.Join(names, ", "))
		} else {
			bad("collection.sparse", "vectorizer %q is %s, not a sparse module", c.Collection.Sparse, v.Module)
		}
	}
	// The default bm25 vectorizer is implied when not defined (it runs no
	// model; Load and plugin.New add it).
	if v, ok := c.Vectorizers[c.Collection.BM25]; c.Collection.BM25 != "" && c.Collection.BM25 != "none" && (!ok && c.Collection.BM25 != DefaultBM25 || ok && v.Module != ModuleBM25) {
		if !ok {
			bad("collection.bm25", "no vectorizer named %q (have %s)", c.Collection.BM25, strings.Join(names, ", "))
		} else {
			bad("collection.bm25", "vectorizer %q is %s, not the bm25 module", c.Collection.BM25, v.Module)
		}
	}
	if v, ok := c.Vectorizers[c.Collection.Dense]; c.Collection.Dense != "" && (!ok || v.IsSparse() || v.Module == ModuleBM25) {
		if !ok {
			bad("collection.dense", "no vectorizer named %q (have %s)", c.Collection.Dense, strings.Join(names, ", "))
		} else {
			bad("collection.dense", "vectorizer %q is %s, not a dense module", c.Collection.Dense, v.Module)
		}
	}
	switch strings.ToLower(c.Collection.Distance) {
	case "cosine", "dot", "euclid", "manhattan":
	default:
		bad("collection.distance", "must be cosine, dot, euclid or manhattan, got %q", c.Collection.Distance)
	}
	if !oneOf(c.Search.Mode, "sparse", "dense", "bm25", "hybrid") {
		bad("search.mode", "must be hybrid, sparse, dense or bm25, got %q", c.Search.Mode)
	}
	errs = append(errs, CheckSignals("search.signals", c.Search.Signals)...)
	if !slices.Contains(Fusions, c.Search.Fusion) {
		bad("search.fusion", "must be one of %s, got %q", strings.Join(Fusions, ", "), c.Search.Fusion)
	}
	errs = append(errs, CheckWeights("search.weights", c.Search.Weights)...)
	if a := c.Search.Alpha; a != nil && (math.IsNaN(*a) || *a < 0 || *a > 1) {
		bad("search.alpha", "must be in [0, 1], got %v", *a)
	}
	if WeightedFusion(c.Search.Fusion) && len(c.Search.Signals) > 0 {
		var sum float64
		for _, sig := range c.Search.Signals {
			sum += c.Search.Weight(sig)
		}
		if sum <= 0 {
			bad("search.weights", "the weights of search.signals %v sum to 0; weighted fusion needs one above 0", c.Search.Signals)
		}
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		bad("server.listen", "must be host:port, got %q", c.Server.Listen)
	}
	for key, d := range map[string]time.Duration{"server.request_timeout": c.Server.RequestTimeout, "server.read_timeout": c.Server.ReadTimeout,
		"server.write_timeout": c.Server.WriteTimeout, "server.idle_timeout": c.Server.IdleTimeout, "server.shutdown_timeout": c.Server.ShutdownTimeout} {
		if d <= 0 {
			bad(key, "must be > 0, got %v", d)
		}
	}
	if c.Server.BatchMaxDelay < 0 {
		bad("server.batch_max_delay", "must be >= 0, got %v", c.Server.BatchMaxDelay)
	}
	seen := map[string]string{}
	for _, k := range c.Server.APIKeys {
		seen[k] = "server.api_keys"
	}
	for _, k := range c.Server.ReadOnlyAPIKeys {
		if seen[k] != "" {
			bad("server.read_only_api_keys", "a key is also in server.api_keys")
		}
	}
	for _, k := range append(append([]string{}, c.Server.APIKeys...), c.Server.ReadOnlyAPIKeys...) {
		if len(k) < 16 {
			bad("server.api_keys", "every key must be at least 16 characters")
			break
		}
	}
	for _, k := range c.Server.InferenceTokens {
		if len(k) < 16 {
			bad("server.inference_tokens", "every token must be at least 16 characters")
			break
		}
	}
	if c.Server.LongText != LongTextTruncate && c.Server.LongText != LongTextMax {
		bad("server.long_text", "must be %s or %s, got %q", LongTextTruncate, LongTextMax, c.Server.LongText)
	}
	for i, m := range c.Server.InferenceModels {
		name, vec, ok := strings.Cut(m, "=")
		if _, known := c.Vectorizers[strings.TrimSpace(vec)]; !ok || strings.TrimSpace(name) == "" || !known {
			bad(fmt.Sprintf("server.inference_models[%d]", i), "must be NAME=VECTORIZER with a configured vectorizer, got %q", m)
		}
	}
	if a := c.Server.QdrantGRPCListen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("server.qdrant_grpc_listen", "must be host:port, got %q", a)
		}
		if !strings.HasPrefix(c.Qdrant.URL, "embedded://") {
			bad("server.qdrant_grpc_listen", "serves the embedded store; qdrant.url is %q", c.Qdrant.URL)
		}
	}
	if (c.Server.TLSCertFile == "") != (c.Server.TLSKeyFile == "") {
		if c.Server.TLSCertFile == "" {
			bad("server.tls_cert_file", "must be set with server.tls_key_file (both or neither)")
		} else {
			bad("server.tls_key_file", "must be set with server.tls_cert_file (both or neither)")
		}
	}
	for key, n := range map[string]int{"collection.shard_number": c.Collection.ShardNumber, "collection.replication_factor": c.Collection.ReplicationFactor,
		"collection.write_consistency_factor": c.Collection.WriteConsistencyFactor} {
		if n < 0 || n > 1000 {
			bad(key, "must be 0 (Qdrant's default) .. 1000, got %d", n)
		}
	}
	if w, r := c.Collection.WriteConsistencyFactor, c.Collection.ReplicationFactor; w > 0 && w > max(r, 1) {
		bad("collection.write_consistency_factor", "%d is more than the replicas (replication_factor %d)", w, max(r, 1))
	}
	if c.Ingest.ChunkTokens < 0 {
		bad("ingest.chunk_tokens", "must be >= 0, got %d", c.Ingest.ChunkTokens)
	}
	if c.Ingest.ChunkOverlap < 0 || (c.Ingest.ChunkTokens > 0 && c.Ingest.ChunkOverlap >= c.Ingest.ChunkTokens) {
		bad("ingest.chunk_overlap", "must be >= 0 and below chunk_tokens, got %d", c.Ingest.ChunkOverlap)
	} else if v, ok := c.Vectorizers[c.Collection.Sparse]; ok && c.Ingest.ChunkTokens == 0 && v.MaxLength > 0 && c.Ingest.ChunkOverlap >= v.MaxLength-2 {
		// Without chunk_tokens the chunks are the sparse model's window
		// less its two special tokens; the chunker would refuse the first
		// document.
		bad("ingest.chunk_overlap", "must be below the chunks' %d tokens (ingest.chunk_tokens is 0: vectorizers.%s.max_length %d less 2), got %d",
			v.MaxLength-2, c.Collection.Sparse, v.MaxLength, c.Ingest.ChunkOverlap)
	}
	src := c.Ingest.Source
	if src.Type != "" && !oneOf(src.Type, "jsonl", "csv", "dir", "parquet", "s3") {
		bad("ingest.source.type", "must be jsonl, csv, dir, parquet or s3, got %q", src.Type)
	}
	if src.Type != "" && src.Type != "s3" && src.Path == "" {
		bad("ingest.source.path", "must not be empty")
	}
	errs = append(errs, src.validateS3()...)
	if len([]rune(c.Ingest.Source.Delimiter)) != 1 {
		bad("ingest.source.delimiter", "must be one character, got %q", c.Ingest.Source.Delimiter)
	}
	if !oneOf(c.Ingest.Sync, SyncNone, SyncFull, SyncScoped) {
		bad("ingest.sync", "must be none, full or scoped, got %q", c.Ingest.Sync)
	}
	if m := c.Ingest.MaxDelete; math.IsNaN(m) || m < 0 || m > 1 {
		bad("ingest.max_delete", "must be a fraction in [0, 1], got %v", m)
	}
	if c.Ingest.WatchInterval <= 0 {
		bad("ingest.watch_interval", "must be > 0, got %v", c.Ingest.WatchInterval)
	}
	if c.Ingest.WatchDebounce < 0 {
		bad("ingest.watch_debounce", "must be >= 0, got %v", c.Ingest.WatchDebounce)
	}
	if c.Ingest.Fields.ID == "" {
		bad("ingest.fields.id", "must not be empty")
	}
	if len(c.Ingest.Fields.Text) == 0 {
		bad("ingest.fields.text", "must name at least one field")
	}
	if !oneOf(c.Log.Level, "debug", "info", "warn", "error") {
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "text", "json") {
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

// validateS3 checks the keys of an s3 source, and that no other source
// sets them.
func (s Source) validateS3() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ingest.source.%s: "+format, append([]any{key}, args...)...))
	}
	if s.Type != "s3" {
		for key, v := range map[string]bool{"bucket": s.Bucket != "", "prefix": s.Prefix != "", "endpoint": s.Endpoint != "", "region": s.Region != "",
			"profile": s.Profile != "", "access_key_id": s.AccessKeyID != "", "secret_access_key": s.SecretAccessKey != "",
			"session_token": s.SessionToken != "", "anonymous": s.Anonymous} {
			if v && s.Type != "" {
				errs = append(errs, fmt.Errorf("ingest.source.%s: only for an s3 source, and the type is %q", key, s.Type))
			}
		}
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return errs
	}
	if s.Path != "" {
		bad("path", "an s3 source reads bucket and prefix, not a path (got %q)", s.Path)
	}
	// Bucket names: 3-63 lowercase letters, digits, dots and hyphens
	// (AWS's rule; other stores allow as much or less).
	if s.Bucket == "" {
		bad("bucket", "must be set for an s3 source")
	} else if !bucketName.MatchString(s.Bucket) {
		bad("bucket", "%q is not a bucket name (3-63 lowercase letters, digits, dots, hyphens; no s3:// or slash)", s.Bucket)
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("endpoint", "must be an http:// or https:// URL, got %q", s.Endpoint)
		}
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		bad("access_key_id", "and secret_access_key go together (both or neither)")
	}
	if s.SessionToken != "" && s.AccessKeyID == "" {
		bad("session_token", "needs access_key_id and secret_access_key")
	}
	if s.Anonymous && s.AccessKeyID != "" {
		bad("anonymous", "sends unsigned requests: it cannot go with access_key_id")
	}
	return errs
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// CheckSignals checks a list of signals (1..3 of bm25, sparse, dense, no
// repeats), naming key in each error.
func CheckSignals(key string, signals []string) []error {
	var errs []error
	if len(signals) == 0 {
		return []error{fmt.Errorf("%s: must name at least one of %s", key, strings.Join(Signals, ", "))}
	}
	seen := map[string]bool{}
	for i, s := range signals {
		switch {
		case !oneOf(s, Signals...):
			errs = append(errs, fmt.Errorf("%s[%d]: must be one of %s, got %q", key, i, strings.Join(Signals, ", "), s))
		case seen[s]:
			errs = append(errs, fmt.Errorf("%s[%d]: %q is listed twice", key, i, s))
		}
		seen[s] = true
	}
	return errs
}

// CheckWeights checks weighted fusion's weights: keys are signals, values
// finite and >= 0.
func CheckWeights(key string, weights map[string]float64) []error {
	var errs []error
	keys := make([]string, 0, len(weights))
	for k := range weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w := weights[k]
		if !oneOf(k, Signals...) {
			errs = append(errs, fmt.Errorf("%s.%s: not a signal (want %s)", key, k, strings.Join(Signals, ", ")))
		} else if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			errs = append(errs, fmt.Errorf("%s.%s: must be a finite number >= 0, got %v", key, k, w))
		}
	}
	return errs
}

func (v Vectorizer) validate(key string) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, field, fmt.Sprintf(format, args...)))
	}
	switch v.Module {
	case ModuleSPLADE, ModuleSPLADEIDF, ModuleONNXDense:
		if v.Model == "" {
			bad("model", "is required for module %s", v.Module)
		}
	case ModuleOpenAI:
		if v.APIModel == "" {
			bad("api_model", "is required for module openai")
		}
		if v.Dimension < 1 {
			bad("dimension", "is required for module openai")
		}
	case ModulePrecomputed:
		if v.Dimension < 1 {
			bad("dimension", "is required for module precomputed")
		}
	case ModuleBM25:
		errs = append(errs, v.validateBM25(key)...)
	case "":
		bad("module", "is required (one of %s)", strings.Join(Modules, ", "))
	default:
		bad("module", "unknown vectorizer module %q (want one of %s)", v.Module, strings.Join(Modules, ", "))
	}
	if v.Module != ModuleBM25 && v.Module != "" && v.hasBM25Options() {
		bad("language", "language, stopwords, stemmer, k, b, avg_len, lowercase, ascii_folding, tokenizer and min/max_token_len are options of module bm25, not %s", v.Module)
	}
	for field, n := range map[string]int{"max_length": v.MaxLength, "query_max_length": v.QueryMaxLength, "top_k": v.TopK,
		"query_top_k": v.QueryTopK, "threads": v.Threads, "dimension": v.Dimension} {
		if n < 0 {
			bad(field, "must be >= 0, got %d", n)
		}
	}
	if v.MinWeight < 0 || v.QueryMinWeight < 0 {
		bad("min_weight", "must be >= 0")
	}
	if v.HeadBlock < -1 {
		bad("head_block", "must be > 0, 0 for the default or -1 for off, got %d", v.HeadBlock)
	}
	if v.MaxPadding < 0 || v.MaxPadding > 1 {
		bad("max_padding", "must be in (0, 1] (0: the default), got %v", v.MaxPadding)
	}
	if v.Output != "" {
		if !oneOf(v.Output, OutputKinds...) {
			bad("output", "must be %s, got %q", strings.Join(OutputKinds, ", "), v.Output)
		} else if !v.IsSparse() {
			bad("output", "applies to modules %s and %s only, not %s", ModuleSPLADE, ModuleSPLADEIDF, v.Module)
		}
	}
	if v.Quantize != "" {
		switch {
		case !oneOf(v.Quantize, Quantizations...):
			bad("quantize", "must be %s, got %q", strings.Join(Quantizations, " or "), v.Quantize)
		case !v.IsLocalModel():
			bad("quantize", "applies to modules %s, %s and %s only, not %s", ModuleSPLADE, ModuleSPLADEIDF, ModuleONNXDense, v.Module)
		case v.ONNXFile != "" && v.Quantize != QuantizeFP32:
			bad("quantize", "%s and onnx_file %q both name the graph: set one of the two", v.Quantize, v.ONNXFile)
		}
	}
	if v.Pooling != "" && !oneOf(v.Pooling, "mean", "cls") {
		bad("pooling", "must be mean or cls, got %q", v.Pooling)
	}
	return errs
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}
