package qdrant

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/spladeq/spladeq/connectors/qdrant/embedded"
	"github.com/spladeq/spladeq/internal/clock"
)

// Client is a connection to Qdrant, or to the embedded store.
type Client struct {
	cfg     Config
	qc      *qc.Client
	version serverVersion

	// Set for the embedded store, which this client owns.
	store  *embedded.Store
	server *embedded.Server
	lis    *bufconn.Listener
}

// sleep waits for d or until ctx ends; tests replace it.
var sleep = clock.Sleep

// Open connects to the Qdrant cfg names. For "embedded://DIR" it opens the
// store in DIR and serves it in-process over gRPC (bufconn), so the same
// go-client code path runs against both.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &Error{Op: "open", Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	cfg = cfg.withDefaults()
	ep, _ := parseURL(cfg.URL, cfg.TLS)
	c := &Client{cfg: cfg}
	qcfg := &qc.Config{
		APIKey:                 cfg.APIKey,
		SkipCompatibilityCheck: true,
		PoolSize:               1,
		GrpcOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(cfg.MaxMessageSize), grpc.MaxCallSendMsgSize(cfg.MaxMessageSize))},
	}
	if ep.embeddedDir != "" {
		store, err := embedded.Open(ep.embeddedDir)
		if err != nil {
			return nil, &Error{Op: "open", Err: err}
		}
		sopts := cfg.serverOptions()
		if cfg.APIKey != "" {
			sopts = append(sopts, embedded.WithAPIKey(cfg.APIKey))
		}
		c.store, c.server, c.lis = store, embedded.NewServer(store, sopts...), bufconn.Listen(1<<20)
		go c.server.Serve(c.lis)
		// passthrough: the dialer ignores the address; no DNS lookup.
		qcfg.Host, qcfg.Port = "passthrough:///embedded", 1
		qcfg.GrpcOptions = append(qcfg.GrpcOptions, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return c.lis.DialContext(ctx)
		}))
	} else {
		qcfg.Host, qcfg.Port, qcfg.UseTLS = ep.host, ep.port, ep.tls
		if ep.tls {
			tc := &tls.Config{MinVersion: tls.VersionTLS12}
			if cfg.CACertFile != "" {
				pem, err := os.ReadFile(cfg.CACertFile)
				if err != nil {
					return nil, &Error{Op: "open", Err: fmt.Errorf("%w: ca_cert_file: %v", ErrInvalid, err)}
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return nil, &Error{Op: "open", Err: fmt.Errorf("%w: ca_cert_file %s: no PEM certificate in it", ErrInvalid, cfg.CACertFile)}
				}
				tc.RootCAs = pool
			}
			qcfg.TLSConfig = tc
		}
	}
	client, err := qc.NewClient(qcfg)
	if err != nil {
		c.Close()
		return nil, &Error{Op: "open", Err: classify(err)}
	}
	c.qc = client
	return c, nil
}

// serverOptions are the embedded server's options both of its listeners
// share: the message size and the inference hook.
func (c Config) serverOptions() []embedded.ServerOption {
	opts := []embedded.ServerOption{embedded.WithMaxMessageSize(c.MaxMessageSize)}
	if c.Inference != nil {
		opts = append(opts, embedded.WithInference(c.Inference))
	}
	return opts
}

// ErrNotEmbedded is returned by ServeEmbedded when the client talks to a
// Qdrant server, whose API is its own to serve.
var ErrNotEmbedded = errors.New("not the embedded store")

// ServeEmbedded serves the embedded store's Qdrant gRPC API on l, beside
// the in-process connection, until the returned stop is called: any Qdrant
// client can then use the store. Keys are checked as Qdrant's api_key
// (writeKeys) and read_only_api_key (readKeys); none means no check.
// Documents are vectorized by the Config's Inference. With tlsConf
// non-nil the port speaks gRPC over TLS only.
func (c *Client) ServeEmbedded(l net.Listener, writeKeys, readKeys []string, tlsConf *tls.Config) (stop func(), err error) {
	if c.store == nil {
		return nil, &Error{Op: "serve", Err: ErrNotEmbedded}
	}
	opts := append(c.cfg.serverOptions(), embedded.WithAPIKeys(writeKeys, readKeys))
	if tlsConf != nil {
		opts = append(opts, embedded.WithTLS(tlsConf))
	}
	srv := embedded.NewServer(c.store, opts...)
	go srv.Serve(l)
	return srv.Stop, nil
}

// Embedded reports whether the client runs the in-process store.
func (c *Client) Embedded() bool { return c.store != nil }

// Close closes the connection, and the embedded store when it owns one.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	var errs []error
	if c.qc != nil {
		errs = append(errs, c.qc.Close())
		c.qc = nil
	}
	if c.server != nil {
		c.server.Stop()
		c.server = nil
	}
	if c.store != nil {
		errs = append(errs, c.store.Close())
		c.store = nil
	}
	return errors.Join(errs...)
}

// Ping checks that Qdrant answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, "ping", "", func(ctx context.Context) error {
		_, err := c.qc.HealthCheck(ctx)
		return err
	})
}

// do runs fn with a per-attempt timeout, retrying transient failures with
// exponential backoff and jitter (or the server's retry-after when longer),
// and wraps the final error in *Error.
func (c *Client) do(ctx context.Context, op, collection string, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		err = fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		retry, after := transient(err)
		retry = retry || (readOps[op] && status.Code(unwrapQdrant(err)) == codes.Internal)
		if !retry || attempt >= c.cfg.Retries || ctx.Err() != nil {
			break
		}
		delay := c.cfg.RetryBackoff << attempt
		if delay > 5*time.Second {
			delay = 5 * time.Second
		}
		delay = delay/2 + time.Duration(rand.Int64N(int64(delay/2)+1))
		if ra := time.Duration(after) * time.Second; ra > delay {
			delay = ra
		}
		if serr := sleep(ctx, delay); serr != nil {
			break
		}
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (after %v)", ctx.Err(), classify(err))
	}
	return &Error{Op: op, Collection: collection, Err: classify(err)}
}

// readOps are retried on Internal too: a Qdrant cluster answers a read
// with Internal ("Empty query result", "0 of 0 read operations failed")
// when a replica dies mid-read or a new collection's shards are still
// being set up, and a read can always run again.
var readOps = map[string]bool{"search": true, "scroll": true, "get": true, "count": true, "collection info": true, "list collections": true}

// Distance names accepted in DenseSpec.Distance.
var distances = map[string]qc.Distance{
	"cosine": qc.Distance_Cosine, "dot": qc.Distance_Dot, "euclid": qc.Distance_Euclid, "manhattan": qc.Distance_Manhattan,
}

// DenseSpec is a named dense vector of a collection.
type DenseSpec struct {
	// Name of the vector. Default "dense".
	Name string
	// Size is the dimension; required.
	Size int
	// Distance is cosine, dot, euclid or manhattan. Default cosine.
	Distance string
	// OnDisk stores the vectors on disk (Qdrant memmap). Default false.
	OnDisk bool
}

// SparseSpec is the named sparse vector of a collection.
type SparseSpec struct {
	// Name of the vector. Default "splade".
	Name string
	// IDF turns on Qdrant's IDF modifier: query weights are multiplied by
	// each term's inverse document frequency. Default false (SPLADE weights
	// already encode importance).
	IDF bool
	// OnDisk keeps the sparse index on disk. Default false.
	OnDisk bool
}

// BM25Spec is a collection's BM25 vector: a sparse vector the store fills
// from each point's text (Document{text, model: "qdrant/bm25"}), always
// with the IDF modifier, which BM25's weights need.
type BM25Spec struct {
	// Name of the vector. Default "bm25".
	Name string
	// OnDisk keeps its index on disk. Default false.
	OnDisk bool
}

// CollectionSpec is what a collection must look like.
type CollectionSpec struct {
	Name   string
	Dense  *DenseSpec  // nil: no dense vector
	Sparse *SparseSpec // nil: no sparse vector
	BM25   *BM25Spec   // nil: no BM25 vector
	// Metadata is stored with the collection when it is created (Qdrant
	// collection metadata) and not compared by EnsureCollection.
	Metadata map[string]string
	// ShardNumber, ReplicationFactor and WriteConsistencyFactor set how a
	// cluster spreads the collection. 0: Qdrant's default (shards: one per
	// node at creation; replication and write consistency 1). Compared with
	// an existing collection only when set.
	ShardNumber, ReplicationFactor, WriteConsistencyFactor uint32
	// OnDiskPayload keeps payloads on disk. nil: Qdrant's default.
	// Compared only when set.
	OnDiskPayload *bool
}

func (s CollectionSpec) normalised() CollectionSpec {
	if s.Dense != nil {
		d := *s.Dense
		if d.Name == "" {
			d.Name = "dense"
		}
		if d.Distance == "" {
			d.Distance = "cosine"
		}
		d.Distance = strings.ToLower(d.Distance)
		s.Dense = &d
	}
	if s.Sparse != nil {
		sp := *s.Sparse
		if sp.Name == "" {
			sp.Name = "splade"
		}
		s.Sparse = &sp
	}
	if s.BM25 != nil {
		b := *s.BM25
		if b.Name == "" {
			b.Name = DefaultBM25Name
		}
		s.BM25 = &b
	}
	return s
}

// Validate checks the spec, naming each bad field.
func (s CollectionSpec) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("collection name: must not be empty"))
	}
	if s.Dense == nil && s.Sparse == nil && s.BM25 == nil {
		errs = append(errs, errors.New("a collection needs a dense, a sparse or a BM25 vector"))
	}
	if s.Dense != nil {
		if s.Dense.Size < 1 {
			errs = append(errs, fmt.Errorf("dense size: must be >= 1, got %d", s.Dense.Size))
		}
		if _, ok := distances[strings.ToLower(s.Dense.Distance)]; !ok && s.Dense.Distance != "" {
			errs = append(errs, fmt.Errorf("dense distance: must be cosine, dot, euclid or manhattan, got %q", s.Dense.Distance))
		}
	}
	n := s.normalised()
	names := map[string]string{}
	for _, v := range []struct{ kind, name string }{{"dense", nameOf(n.Dense)}, {"sparse", nameOf(n.Sparse)}, {"bm25", nameOf(n.BM25)}} {
		if v.name == "" {
			continue
		}
		if other, ok := names[v.name]; ok {
			errs = append(errs, fmt.Errorf("%s and %s vectors share the name %q", other, v.kind, v.name))
		}
		names[v.name] = v.kind
	}
	return errors.Join(errs...)
}

// nameOf is a vector spec's name, "" for none.
func nameOf[T DenseSpec | SparseSpec | BM25Spec](spec *T) string {
	if spec == nil {
		return ""
	}
	switch v := any(spec).(type) {
	case *DenseSpec:
		return v.Name
	case *SparseSpec:
		return v.Name
	case *BM25Spec:
		return v.Name
	}
	return ""
}

func (s CollectionSpec) create() *qc.CreateCollection {
	cc := &qc.CreateCollection{CollectionName: s.Name, OnDiskPayload: s.OnDiskPayload}
	if s.ShardNumber > 0 {
		cc.ShardNumber = &s.ShardNumber
	}
	if s.ReplicationFactor > 0 {
		cc.ReplicationFactor = &s.ReplicationFactor
	}
	if s.WriteConsistencyFactor > 0 {
		cc.WriteConsistencyFactor = &s.WriteConsistencyFactor
	}
	if len(s.Metadata) > 0 {
		cc.Metadata = map[string]*qc.Value{}
		for k, v := range s.Metadata {
			cc.Metadata[k] = qc.NewValueString(v)
		}
	}
	if s.Dense != nil {
		onDisk := s.Dense.OnDisk
		cc.VectorsConfig = qc.NewVectorsConfigMap(map[string]*qc.VectorParams{
			s.Dense.Name: {Size: uint64(s.Dense.Size), Distance: distances[s.Dense.Distance], OnDisk: &onDisk},
		})
	}
	sparse := map[string]*qc.SparseVectorParams{}
	if s.Sparse != nil {
		p := &qc.SparseVectorParams{Index: &qc.SparseIndexConfig{OnDisk: &s.Sparse.OnDisk}}
		if s.Sparse.IDF {
			p.Modifier = qc.Modifier_Idf.Enum()
		}
		sparse[s.Sparse.Name] = p
	}
	if s.BM25 != nil {
		sparse[s.BM25.Name] = &qc.SparseVectorParams{Index: &qc.SparseIndexConfig{OnDisk: &s.BM25.OnDisk}, Modifier: qc.Modifier_Idf.Enum()}
	}
	if len(sparse) > 0 {
		cc.SparseVectorsConfig = qc.NewSparseVectorsConfig(sparse)
	}
	return cc
}

// EnsureCollection creates the collection when missing; when it exists, it
// checks that its vectors match spec and returns ErrSchemaMismatch listing
// every difference otherwise. It also indexes the doc_id payload key, which
// document deletes filter on.
func (c *Client) EnsureCollection(ctx context.Context, spec CollectionSpec) error {
	if err := spec.Validate(); err != nil {
		return &Error{Op: "ensure collection", Collection: spec.Name, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	spec = spec.normalised()
	info, err := c.settledInfo(ctx, spec.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		err = c.do(ctx, "create collection", spec.Name, func(ctx context.Context) error {
			return c.qc.CreateCollection(ctx, spec.create())
		})
		if err != nil {
			// A concurrent creator may have won (several ingestion workers
			// start at once); accept its collection if it matches. In a
			// cluster the winner's collection can take a moment to reach
			// this node's view (NotFound, or Internal "0 of 0 read
			// operations failed" while its shards are set up), so look
			// again for up to 5 s.
			for attempt := 0; attempt < 20; attempt++ {
				info, ierr := c.settledInfo(ctx, spec.Name)
				if ierr == nil {
					if err := compareSpec(spec, info.Spec); err != nil {
						return err
					}
					return c.indexDocID(ctx, spec.Name)
				}
				if !errors.Is(ierr, ErrNotFound) || sleep(ctx, 100*time.Millisecond) != nil {
					break
				}
			}
			return err
		}
		return c.indexDocID(ctx, spec.Name)
	case err != nil:
		return err
	}
	return compareSpec(spec, info.Spec)
}

// settledInfo is Info, looked up again for up to 5 s while a cluster is
// still setting up a new collection's shards (Qdrant then answers Internal,
// "0 of 0 read operations failed"). Not found, invalid and unauthorized
// answers return at once.
func (c *Client) settledInfo(ctx context.Context, name string) (CollectionInfo, error) {
	for attempt := 0; ; attempt++ {
		info, err := c.Info(ctx, name)
		if err == nil || attempt == 50 || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnauthorized) ||
			errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return info, err
		}
		if serr := sleep(ctx, 100*time.Millisecond); serr != nil {
			return info, err
		}
	}
}

func (c *Client) indexDocID(ctx context.Context, name string) error {
	return c.do(ctx, "create payload index", name, func(ctx context.Context) error {
		wait := true
		_, err := c.qc.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{
			CollectionName: name, FieldName: PayloadDocID, FieldType: qc.FieldType_FieldTypeKeyword.Enum(), Wait: &wait,
		})
		return err
	})
}

func compareSpec(want, got CollectionSpec) error {
	var diffs []string
	dense := func(s *DenseSpec) string {
		if s == nil {
			return "none"
		}
		return fmt.Sprintf("%q size %d %s", s.Name, s.Size, s.Distance)
	}
	if (want.Dense == nil) != (got.Dense == nil) || (want.Dense != nil &&
		(want.Dense.Name != got.Dense.Name || want.Dense.Size != got.Dense.Size || want.Dense.Distance != got.Dense.Distance)) {
		diffs = append(diffs, fmt.Sprintf("dense vector is %s in Qdrant, %s wanted", dense(got.Dense), dense(want.Dense)))
	}
	sparse := func(s *SparseSpec) string {
		if s == nil {
			return "none"
		}
		if s.IDF {
			return fmt.Sprintf("%q with modifier idf", s.Name)
		}
		return fmt.Sprintf("%q without modifier", s.Name)
	}
	if (want.Sparse == nil) != (got.Sparse == nil) || (want.Sparse != nil &&
		(want.Sparse.Name != got.Sparse.Name || want.Sparse.IDF != got.Sparse.IDF)) {
		diffs = append(diffs, fmt.Sprintf("sparse vector is %s in Qdrant, %s wanted", sparse(got.Sparse), sparse(want.Sparse)))
	}
	for _, f := range []struct {
		name      string
		want, got uint32
	}{{"shard_number", want.ShardNumber, got.ShardNumber}, {"replication_factor", want.ReplicationFactor, got.ReplicationFactor},
		{"write_consistency_factor", want.WriteConsistencyFactor, got.WriteConsistencyFactor}} {
		if f.want != 0 && f.want != f.got {
			diffs = append(diffs, fmt.Sprintf("%s is %d in Qdrant, %d wanted", f.name, f.got, f.want))
		}
	}
	if want.OnDiskPayload != nil && (got.OnDiskPayload == nil || *got.OnDiskPayload != *want.OnDiskPayload) {
		diffs = append(diffs, fmt.Sprintf("on_disk_payload is %v in Qdrant, %v wanted", fmtBool(got.OnDiskPayload), *want.OnDiskPayload))
	}
	bm25 := func(s *BM25Spec) string {
		if s == nil {
			return "none"
		}
		return fmt.Sprintf("%q", s.Name)
	}
	if (want.BM25 == nil) != (got.BM25 == nil) || (want.BM25 != nil && want.BM25.Name != got.BM25.Name) {
		msg := fmt.Sprintf("BM25 vector is %s in Qdrant, %s wanted", bm25(got.BM25), bm25(want.BM25))
		diffs = append(diffs, msg)
	}
	if want.Sparse != nil && got.Sparse != nil && want.Sparse.OnDisk && !got.Sparse.OnDisk {
		diffs = append(diffs, "sparse index is in memory in Qdrant, on disk wanted")
	}
	if len(diffs) == 0 {
		return nil
	}
	return &Error{Op: "ensure collection", Collection: want.Name, Err: fmt.Errorf("%w: %s", ErrSchemaMismatch, strings.Join(diffs, "; "))}
}

// CollectionInfo describes an existing collection.
type CollectionInfo struct {
	Spec   CollectionSpec
	Points uint64
	// Extra names vectors the collection has beyond one dense, one sparse
	// and the BM25 vector (a sparse vector named DefaultBM25Name with the
	// IDF modifier), which spladeq leaves alone.
	Extra []string
}

// Info returns a collection's vectors and point count.
func (c *Client) Info(ctx context.Context, name string) (CollectionInfo, error) {
	var info *qc.CollectionInfo
	err := c.do(ctx, "collection info", name, func(ctx context.Context) error {
		var err error
		info, err = c.qc.GetCollectionInfo(ctx, name)
		return err
	})
	if err != nil {
		return CollectionInfo{}, err
	}
	out := CollectionInfo{Spec: CollectionSpec{Name: name}, Points: info.GetPointsCount()}
	for k, v := range info.GetConfig().GetMetadata() {
		if out.Spec.Metadata == nil {
			out.Spec.Metadata = map[string]string{}
		}
		out.Spec.Metadata[k] = v.GetStringValue()
	}
	params := info.GetConfig().GetParams()
	out.Spec.ShardNumber, out.Spec.ReplicationFactor, out.Spec.WriteConsistencyFactor =
		params.GetShardNumber(), params.GetReplicationFactor(), params.GetWriteConsistencyFactor()
	onDisk := params.GetOnDiskPayload()
	out.Spec.OnDiskPayload = &onDisk
	var dense []string
	denseParams := map[string]*qc.VectorParams{}
	switch vc := params.GetVectorsConfig().GetConfig().(type) {
	case *qc.VectorsConfig_Params:
		denseParams[""] = vc.Params
	case *qc.VectorsConfig_ParamsMap:
		denseParams = vc.ParamsMap.GetMap()
	}
	for n := range denseParams {
		dense = append(dense, n)
	}
	sort.Strings(dense)
	for i, n := range dense {
		p := denseParams[n]
		if i > 0 {
			out.Extra = append(out.Extra, n)
			continue
		}
		out.Spec.Dense = &DenseSpec{Name: n, Size: int(p.GetSize()), Distance: strings.ToLower(p.GetDistance().String()), OnDisk: p.GetOnDisk()}
	}
	var sparse []string
	for n := range params.GetSparseVectorsConfig().GetMap() {
		sparse = append(sparse, n)
	}
	sort.Strings(sparse)
	for _, n := range sparse {
		p := params.GetSparseVectorsConfig().GetMap()[n]
		switch {
		case n == DefaultBM25Name && p.GetModifier() == qc.Modifier_Idf:
			out.Spec.BM25 = &BM25Spec{Name: n, OnDisk: p.GetIndex().GetOnDisk()}
		case out.Spec.Sparse == nil:
			out.Spec.Sparse = &SparseSpec{Name: n, IDF: p.GetModifier() == qc.Modifier_Idf, OnDisk: p.GetIndex().GetOnDisk()}
		default:
			out.Extra = append(out.Extra, n)
		}
	}
	return out, nil
}

// DeleteCollection drops a collection; a missing one is not an error.
func (c *Client) DeleteCollection(ctx context.Context, name string) error {
	return c.do(ctx, "delete collection", name, func(ctx context.Context) error {
		return c.qc.DeleteCollection(ctx, name)
	})
}

// ListCollections returns the collection names, sorted.
func (c *Client) ListCollections(ctx context.Context) ([]string, error) {
	var names []string
	err := c.do(ctx, "list collections", "", func(ctx context.Context) error {
		var err error
		names, err = c.qc.ListCollections(ctx)
		return err
	})
	sort.Strings(names)
	return names, err
}

func fmtBool(b *bool) string {
	if b == nil {
		return "unset"
	}
	return strconv.FormatBool(*b)
}
