package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix prefixes environment variables: SPLADEQ_QDRANT_URL sets
// qdrant.url.
const EnvPrefix = "SPLADEQ"

// DefaultFile is read from the working directory when no file is named.
const DefaultFile = "spladeq.yaml"

// The default vectorizers' models: the small real models `make models`
// installs under the repository's .deps/models (a trained SPLADE and
// all-MiniLM-L6-v2). A relative model path resolves as given, then under
// models.dir, then under .deps/models of the spladeq repository around the
// working directory or the binary (plugin.ResolveModel).
const (
	DefaultSparseModel = "splade-mini"
	DefaultDenseModel  = "minilm-l6"
	// InstalledModelsDir is where `make models` puts them, relative to the
	// repository.
	InstalledModelsDir = ".deps/models"
)

// defaults is every key's default; Validate's messages and the field
// comments in config.go say the same.
var defaults = map[string]any{
	"qdrant.url":              "embedded://./data/qdrant",
	"qdrant.api_key":          "",
	"qdrant.tls":              false,
	"qdrant.ca_cert_file":     "",
	"qdrant.timeout":          30 * time.Second,
	"qdrant.max_message_size": 64 << 20,
	"qdrant.retries":          5,
	"qdrant.retry_backoff":    200 * time.Millisecond,
	"qdrant.batch_size":       64,
	"qdrant.concurrency":      2,
	"qdrant.write_ordering":   "",
	"qdrant.read_consistency": "",

	"models.dir":       "./models",
	"models.hub_url":   "https://huggingface.co",
	"models.hub_token": "",

	"collection.name":                     "docs",
	"collection.sparse":                   "sparse",
	"collection.bm25":                     DefaultBM25,
	"collection.dense":                    "dense",
	"collection.idf":                      false,
	"collection.distance":                 "cosine",
	"collection.shard_number":             0,
	"collection.replication_factor":       0,
	"collection.write_consistency_factor": 0,
	"collection.on_disk_payload":          nil,
	"collection.sparse_on_disk":           false,

	"search.mode":           "hybrid",
	"search.signals":        []string{SignalBM25, SignalSparse, SignalDense},
	"search.fusion":         "weighted_dbsf",
	"search.weights":        map[string]any{SignalBM25: 1.0, SignalSparse: 1.0, SignalDense: 2.0},
	"search.alpha":          nil,
	"search.rrf_k":          5,
	"search.limit":          10,
	"search.prefetch_limit": 50,

	"server.listen":             "127.0.0.1:8080",
	"server.api_keys":           []string{},
	"server.read_only_api_keys": []string{},
	"server.max_body_bytes":     int64(10 << 20),
	"server.max_texts":          256,
	"server.max_text_bytes":     1 << 20,
	"server.request_timeout":    30 * time.Second,
	"server.queue_size":         1024,
	"server.batch_max_delay":    time.Duration(0),
	"server.batch_max_size":     64,
	"server.read_timeout":       30 * time.Second,
	"server.write_timeout":      60 * time.Second,
	"server.idle_timeout":       120 * time.Second,
	"server.shutdown_timeout":   30 * time.Second,
	"server.inference_tokens":   []string{},
	"server.inference_models":   []string{},
	"server.long_text":          LongTextTruncate,
	"server.qdrant_grpc_listen": "",
	"server.tls_cert_file":      "",
	"server.tls_key_file":       "",
	"server.http2":              true,
	"server.mcp_add_documents":  false,

	"ingest.source.type":              "",
	"ingest.source.path":              "",
	"ingest.source.include":           []string{"**/*.txt", "**/*.md", "**/*.html", "**/*.htm"},
	"ingest.source.exclude":           []string{},
	"ingest.source.delimiter":         ",",
	"ingest.source.bucket":            "",
	"ingest.source.prefix":            "",
	"ingest.source.endpoint":          "",
	"ingest.source.region":            "",
	"ingest.source.profile":           "",
	"ingest.source.access_key_id":     "",
	"ingest.source.secret_access_key": "",
	"ingest.source.session_token":     "",
	"ingest.source.anonymous":         false,
	"ingest.fields.id":                "id",
	"ingest.fields.text":              []string{"text"},
	"ingest.fields.payload":           []string{},
	"ingest.fields.dense":             "",
	"ingest.chunk_tokens":             0,
	"ingest.chunk_overlap":            32,
	"ingest.batch_size":               64,
	"ingest.queue_size":               4,
	"ingest.max_errors":               100,
	"ingest.max_text_bytes":           10 << 20,
	"ingest.dead_letter":              "",
	"ingest.checkpoint":               "",
	"ingest.job":                      "",
	"ingest.sync":                     SyncNone,
	"ingest.max_delete":               0.5,
	"ingest.watch_interval":           time.Minute,
	"ingest.watch_debounce":           2 * time.Second,

	"log.level":  "info",
	"log.format": "text",
}

// DefaultVectorizers are used when the configuration defines none: the
// real models `make models` installs (DefaultSparseModel, a trained SPLADE;
// DefaultDenseModel, all-MiniLM-L6-v2 at its trained length of 256 tokens).
func DefaultVectorizers() map[string]Vectorizer {
	return map[string]Vectorizer{
		"sparse": {Module: ModuleSPLADE, Model: DefaultSparseModel},
		"dense":  {Module: ModuleONNXDense, Model: DefaultDenseModel, MaxLength: 256},
		// Qdrant's BM25 with its defaults (English stop words and stemmer).
		DefaultBM25: {Module: ModuleBM25},
	}
}

// LoadOptions says where configuration comes from besides the defaults and
// the environment.
type LoadOptions struct {
	// File is the YAML file; "" reads DefaultFile when it exists.
	File string
	// Flags are bound by FlagKeys (flag name → config key); only flags set
	// on the command line override.
	Flags    *pflag.FlagSet
	FlagKeys map[string]string
}

// Load reads, normalises and validates the configuration.
func Load(o LoadOptions) (*Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	if err := checkSectionEnv(os.Environ()); err != nil {
		return nil, err
	}
	v.SetConfigType("yaml")
	file := o.File
	if file == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			file = DefaultFile
		}
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		err = v.ReadConfig(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
		if err := checkKeys(v, file); err != nil {
			return nil, err
		}
	}
	for name, key := range o.FlagKeys {
		if o.Flags == nil {
			break
		}
		if f := o.Flags.Lookup(name); f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, fmt.Errorf("config: flag --%s: %w", name, err)
			}
		}
	}
	cfg := &Config{}
	err := v.Unmarshal(cfg, viper.DecodeHook(decodeHooks), func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = false })
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(cfg.Vectorizers) == 0 {
		cfg.Vectorizers = DefaultVectorizers()
	}
	if err := vectorizersFromEnv(cfg.Vectorizers, os.Environ()); err != nil {
		return nil, err
	}
	// "none" and "" both leave a signal out of new collections.
	for _, name := range []*string{&cfg.Collection.Sparse, &cfg.Collection.Dense, &cfg.Collection.BM25} {
		if *name == "none" {
			*name = ""
		}
	}
	// A configuration written before BM25 defines no bm25 vectorizer; the
	// default one runs no model, so it is added rather than refused.
	if _, ok := cfg.Vectorizers[DefaultBM25]; !ok && cfg.Collection.BM25 == DefaultBM25 {
		cfg.Vectorizers[DefaultBM25] = DefaultVectorizers()[DefaultBM25]
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: invalid:\n%w", err)
	}
	return cfg, nil
}

// decodeHooks turn the strings of environment variables and flags into
// typed values: durations ("30s") and lists ("a,b").
var decodeHooks = mapstructure.ComposeDecodeHookFunc(
	mapstructure.StringToTimeDurationHookFunc(),
	mapstructure.StringToSliceHookFunc(","),
)

// EnvVar is the environment variable that sets key: SPLADEQ_ and the key
// in upper case with "." and "-" as "_" (search.weights.bm25:
// SPLADEQ_SEARCH_WEIGHTS_BM25).
func EnvVar(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// checkSectionEnv refuses a variable that names a section rather than a
// key (SPLADEQ_SEARCH_WEIGHTS, SPLADEQ_SERVER): viper would let it hide
// every key below it, silently putting them back to zero.
func checkSectionEnv(environ []string) error {
	sections := map[string]string{EnvVar("vectorizers"): "vectorizers"}
	for k, d := range defaults {
		if _, ok := d.(map[string]any); ok {
			sections[EnvVar(k)] = k
		}
		for i := strings.LastIndex(k, "."); i > 0; i = strings.LastIndex(k[:i], ".") {
			sections[EnvVar(k[:i])] = k[:i]
		}
	}
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if section, ok := sections[name]; ok {
			errs = append(errs, fmt.Errorf("config: %s names the section %s, not a key: set its keys one variable each (%s_...)", name, section, name))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// vectorizersFromEnv applies SPLADEQ_VECTORIZERS_NAME_KEY variables to the
// vectorizers the file (or the defaults) define: SPLADEQ_VECTORIZERS_SPARSE_MODEL
// sets vectorizers.sparse.model. NAME is the vectorizer's name in upper
// case with "-" and "." as "_"; a variable that names no defined
// vectorizer and key is refused, naming it.
func vectorizersFromEnv(vs map[string]Vectorizer, environ []string) error {
	prefix := EnvVar("vectorizers") + "_"
	var names []string
	for n := range vs {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, kv := range environ {
		key, val, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		name, field := "", ""
		for _, n := range names {
			if f, ok := strings.CutPrefix(rest, strings.TrimPrefix(EnvVar(n), EnvPrefix+"_")+"_"); ok && hasField(reflect.TypeOf(Vectorizer{}), strings.ToLower(f)) && len(n) > len(name) {
				name, field = n, strings.ToLower(f)
			}
		}
		if name == "" {
			errs = append(errs, fmt.Errorf("config: %s: names no key of a defined vectorizer (have %s)", key, strings.Join(names, ", ")))
			continue
		}
		v := vs[name]
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{DecodeHook: decodeHooks, WeaklyTypedInput: true, Result: &v})
		if err == nil {
			err = dec.Decode(map[string]any{field: val})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s (vectorizers.%s.%s): %w", key, name, field, err))
			continue
		}
		vs[name] = v
	}
	return errors.Join(errs...)
}

// checkKeys refuses keys the configuration does not know, naming them, so
// a typo never silently falls back to a default.
func checkKeys(v *viper.Viper, file string) error {
	known := map[string]bool{}
	for k := range defaults {
		known[k] = true
	}
	vf := reflect.TypeOf(Vectorizer{})
	var errs []error
	for _, k := range v.AllKeys() {
		if known[k] {
			continue
		}
		if rest, ok := strings.CutPrefix(k, "search.weights."); ok && !strings.Contains(rest, ".") {
			continue // CheckWeights names a key that is not a signal
		}
		if rest, ok := strings.CutPrefix(k, "vectorizers."); ok {
			if _, field, ok := strings.Cut(rest, "."); ok && hasField(vf, field) {
				continue
			}
		}
		errs = append(errs, fmt.Errorf("%s: unknown key %q", file, k))
	}
	return errors.Join(errs...)
}

func hasField(t reflect.Type, tag string) bool {
	for i := 0; i < t.NumField(); i++ {
		if strings.Split(t.Field(i).Tag.Get("mapstructure"), ",")[0] == tag {
			return true
		}
	}
	return false
}

// mask hides a secret's value but not whether it is set.
func mask(s string) string {
	if s == "" {
		return ""
	}
	return "****"
}

// Masked returns a copy with every secret replaced by "****".
func (c *Config) Masked() *Config {
	m := *c
	m.Qdrant.APIKey = mask(c.Qdrant.APIKey)
	m.Models.HubToken = mask(c.Models.HubToken)
	m.Ingest.Source.SecretAccessKey = mask(c.Ingest.Source.SecretAccessKey)
	m.Ingest.Source.SessionToken = mask(c.Ingest.Source.SessionToken)
	m.Vectorizers = map[string]Vectorizer{}
	for n, v := range c.Vectorizers {
		v.APIKey = mask(v.APIKey)
		m.Vectorizers[n] = v
	}
	m.Server.APIKeys = make([]string, len(c.Server.APIKeys))
	for i, k := range c.Server.APIKeys {
		m.Server.APIKeys[i] = mask(k)
	}
	m.Server.ReadOnlyAPIKeys = make([]string, len(c.Server.ReadOnlyAPIKeys))
	for i, k := range c.Server.ReadOnlyAPIKeys {
		m.Server.ReadOnlyAPIKeys[i] = mask(k)
	}
	m.Server.InferenceTokens = append([]string(nil), c.Server.InferenceTokens...)
	for i, k := range m.Server.InferenceTokens {
		m.Server.InferenceTokens[i] = mask(k)
	}
	return &m
}

// YAML renders the configuration (mask it first to print it).
func (c *Config) YAML() ([]byte, error) {
	return yaml.Marshal(c)
}
