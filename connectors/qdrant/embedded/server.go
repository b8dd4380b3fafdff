package embedded

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sort"
	"time"

	pb "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/spladeq/spladeq/internal/apikey"
)

// Version is the Qdrant release whose behaviour the server implements,
// reported by HealthCheck: vectors added to and removed from existing
// collections (1.18), BM25 as 1.19.0 computes it (prefix n-grams and
// parameter checks of 1.18.2, stemmer "none"), IDF over a corpus filter
// (1.19). The clients' compatibility checks (go-client 1.18-1.20,
// qdrant-client 1.18-1.20) pass against it.
const Version = "1.19.0"

// Server serves a Store over Qdrant's gRPC API.
type Server struct {
	store *Store
	grpc  *grpc.Server
}

// The three services share the store; Collections and Points both have Get
// and Delete, so each is its own type.
type (
	collectionsService struct {
		pb.UnimplementedCollectionsServer
		store *Store
	}
	pointsService struct {
		pb.UnimplementedPointsServer
		store *Store
		opts  *serverOptions
	}
	qdrantService struct {
		pb.UnimplementedQdrantServer
	}
)

var (
	_ pb.CollectionsServer = (*collectionsService)(nil)
	_ pb.PointsServer      = (*pointsService)(nil)
	_ pb.QdrantServer      = (*qdrantService)(nil)
)

// ServerOption configures a Server.
type ServerOption func(*serverOptions)

type serverOptions struct {
	writeKeys, readKeys []string
	maxMsgSize          int
	tls                 *tls.Config
	inference           Inference
	bm25                *bm25Encoders
}

// WithTLS serves gRPC over TLS with this configuration. Default: plaintext
// (the in-process and loopback uses need none).
func WithTLS(c *tls.Config) ServerOption { return func(o *serverOptions) { o.tls = c } }

// WithAPIKey requires every call to carry this key in the "api-key"
// metadata, as Qdrant does. Default: no key.
func WithAPIKey(key string) ServerOption { return WithAPIKeys([]string{key}, nil) }

// WithAPIKeys requires every call to carry one of these keys in the
// "api-key" metadata; a read-only key may only read (queries, scroll,
// count, get, listing and describing collections), as Qdrant's
// read_only_api_key. Default: no key.
func WithAPIKeys(write, readOnly []string) ServerOption {
	return func(o *serverOptions) {
		o.writeKeys = append(o.writeKeys, write...)
		o.readKeys = append(o.readKeys, readOnly...)
	}
}

// WithMaxMessageSize sets the largest request and response in bytes.
// Default 64 MiB.
func WithMaxMessageSize(n int) ServerOption { return func(o *serverOptions) { o.maxMsgSize = n } }

// NewServer returns a server for store; call Serve to accept connections.
func NewServer(store *Store, opts ...ServerOption) *Server {
	o := serverOptions{maxMsgSize: 64 << 20, bm25: &bm25Encoders{}}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{store: store}
	gopts := []grpc.ServerOption{grpc.MaxRecvMsgSize(o.maxMsgSize), grpc.MaxSendMsgSize(o.maxMsgSize),
		// Qdrant's clients ping an idle connection every 10 s (go-client's
		// KeepAliveTime); gRPC's default policy answers pings more often
		// than every 5 minutes with GOAWAY "too_many_pings", which a
		// long-running process (ingest --watch, serve) logs and reconnects
		// after. Qdrant accepts them; so does this server.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true})}
	if len(o.writeKeys)+len(o.readKeys) > 0 {
		gopts = append(gopts, grpc.UnaryInterceptor(apiKeyInterceptor(o.writeKeys, o.readKeys)))
	}
	if o.tls != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(o.tls)))
	}
	s.grpc = grpc.NewServer(gopts...)
	pb.RegisterCollectionsServer(s.grpc, &collectionsService{store: store})
	pb.RegisterPointsServer(s.grpc, &pointsService{store: store, opts: &o})
	pb.RegisterQdrantServer(s.grpc, &qdrantService{})
	return s
}

// readMethods are the calls a read-only key may make.
var readMethods = map[string]bool{
	"/qdrant.Qdrant/HealthCheck": true, "/qdrant.Collections/List": true, "/qdrant.Collections/Get": true,
	"/qdrant.Collections/CollectionExists": true, "/qdrant.Points/Get": true, "/qdrant.Points/Scroll": true,
	"/qdrant.Points/Count": true, "/qdrant.Points/Query": true, "/qdrant.Points/QueryBatch": true,
}

func apiKeyInterceptor(write, read []string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		key := ""
		if got := md.Get("api-key"); len(got) == 1 {
			key = got[0]
		}
		readOnly := apikey.Match(key, read)
		switch {
		case apikey.Match(key, write), readOnly && readMethods[info.FullMethod]:
			return handler(ctx, req)
		case readOnly:
			return nil, status.Error(codes.PermissionDenied, "this api-key is read-only")
		}
		return nil, status.Error(codes.PermissionDenied, "Invalid api-key")
	}
}

// Serve accepts connections on l until Stop.
func (s *Server) Serve(l net.Listener) error { return s.grpc.Serve(l) }

// Stop finishes in-flight calls and stops serving; it does not close the
// store.
func (s *Server) Stop() { s.grpc.GracefulStop() }

// toStatus maps store errors to gRPC status codes as Qdrant does.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var nf errNotFound
	var nfp errNotFoundPoint
	var inv errInvalid
	switch {
	case errors.As(err, &nf), errors.As(err, &nfp):
		return status.Error(codes.NotFound, "Not found: "+err.Error())
	case errors.As(err, &inv):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }

// HealthCheck implements qdrant.QdrantServer.
func (s *qdrantService) HealthCheck(context.Context, *pb.HealthCheckRequest) (*pb.HealthCheckReply, error) {
	return &pb.HealthCheckReply{Title: "spladeq embedded qdrant-compatible server", Version: Version}, nil
}

// Create implements qdrant.CollectionsServer.
func (s *collectionsService) Create(_ context.Context, req *pb.CreateCollection) (*pb.CollectionOperationResponse, error) {
	t := time.Now()
	if err := s.store.create(req); err != nil {
		return nil, toStatus(err)
	}
	return &pb.CollectionOperationResponse{Result: true, Time: since(t)}, nil
}

// Delete implements qdrant.CollectionsServer.
func (s *collectionsService) Delete(_ context.Context, req *pb.DeleteCollection) (*pb.CollectionOperationResponse, error) {
	t := time.Now()
	ok, err := s.store.drop(req.GetCollectionName())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CollectionOperationResponse{Result: ok, Time: since(t)}, nil
}

// Update implements qdrant.CollectionsServer for metadata, merged as
// Qdrant merges it (a null value removes its key); the other settings an
// update can carry are refused as Unimplemented.
func (s *collectionsService) Update(_ context.Context, req *pb.UpdateCollection) (*pb.CollectionOperationResponse, error) {
	t := time.Now()
	if req.OptimizersConfig != nil || req.Params != nil || req.HnswConfig != nil || req.VectorsConfig != nil ||
		req.QuantizationConfig != nil || req.SparseVectorsConfig != nil || req.StrictModeConfig != nil {
		return nil, status.Error(codes.Unimplemented, "the embedded server updates a collection's metadata only")
	}
	if err := s.store.setMetadata(req.GetCollectionName(), req.GetMetadata()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.CollectionOperationResponse{Result: true, Time: since(t)}, nil
}

// List implements qdrant.CollectionsServer.
func (s *collectionsService) List(context.Context, *pb.ListCollectionsRequest) (*pb.ListCollectionsResponse, error) {
	t := time.Now()
	resp := &pb.ListCollectionsResponse{}
	for _, n := range s.store.names() {
		resp.Collections = append(resp.Collections, &pb.CollectionDescription{Name: n})
	}
	resp.Time = since(t)
	return resp, nil
}

// CollectionExists implements qdrant.CollectionsServer.
func (s *collectionsService) CollectionExists(_ context.Context, req *pb.CollectionExistsRequest) (*pb.CollectionExistsResponse, error) {
	_, err := s.store.get(req.GetCollectionName())
	return &pb.CollectionExistsResponse{Result: &pb.CollectionExists{Exists: err == nil}}, nil
}

// Get implements qdrant.CollectionsServer (collection info).
func (s *collectionsService) Get(_ context.Context, req *pb.GetCollectionInfoRequest) (*pb.GetCollectionInfoResponse, error) {
	t := time.Now()
	c, err := s.store.get(req.GetCollectionName())
	if err != nil {
		return nil, toStatus(err)
	}
	c.mu.RLock()
	n, cfg := uint64(len(c.byKey)), c.cfg // setMetadata replaces cfg, never changes it
	c.mu.RUnlock()
	info := &pb.CollectionInfo{
		Status:          pb.CollectionStatus_Green,
		OptimizerStatus: &pb.OptimizerStatus{Ok: true},
		SegmentsCount:   1,
		PointsCount:     &n,
		Config: &pb.CollectionConfig{
			// What was asked at creation, with Qdrant's defaults: the
			// embedded store is one shard on one node whatever the request
			// says, but reports the settings so EnsureCollection can compare.
			Params: &pb.CollectionParams{
				ShardNumber:            orOne(cfg.GetShardNumber()),
				ReplicationFactor:      ptr(orOne(cfg.GetReplicationFactor())),
				WriteConsistencyFactor: ptr(orOne(cfg.GetWriteConsistencyFactor())),
				OnDiskPayload:          cfg.OnDiskPayload == nil || cfg.GetOnDiskPayload(),
				VectorsConfig:          cfg.GetVectorsConfig(),
				SparseVectorsConfig:    cfg.GetSparseVectorsConfig(),
			},
			HnswConfig:      &pb.HnswConfigDiff{},
			OptimizerConfig: &pb.OptimizersConfigDiff{},
			WalConfig:       &pb.WalConfigDiff{},
			Metadata:        cfg.GetMetadata(),
		},
		PayloadSchema: map[string]*pb.PayloadSchemaInfo{},
	}
	return &pb.GetCollectionInfoResponse{Result: info, Time: since(t)}, nil
}

func completed() *pb.UpdateResult {
	return &pb.UpdateResult{Status: pb.UpdateStatus_Completed}
}

// Upsert implements qdrant.PointsServer. The points are durable when it
// returns, whatever the request's wait flag says.
func (s *pointsService) Upsert(ctx context.Context, req *pb.UpsertPoints) (*pb.PointsOperationResponse, error) {
	t := time.Now()
	if req.UpdateFilter != nil {
		return nil, status.Error(codes.Unimplemented, "update_filter is not supported by the embedded server")
	}
	if err := checkNoMedia(req.GetPoints()); err != nil {
		return nil, err
	}
	if err := s.opts.infer(ctx, pointDocs(req.GetPoints()), false); err != nil {
		return nil, err
	}
	if err := s.store.upsert(req.GetCollectionName(), req.GetPoints()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.PointsOperationResponse{Result: completed(), Time: since(t)}, nil
}

// Delete implements qdrant.PointsServer.
func (s *pointsService) Delete(_ context.Context, req *pb.DeletePoints) (*pb.PointsOperationResponse, error) {
	t := time.Now()
	if err := s.store.remove(req.GetCollectionName(), req.GetPoints()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.PointsOperationResponse{Result: completed(), Time: since(t)}, nil
}

// Count implements qdrant.PointsServer; counts are always exact.
func (s *pointsService) Count(_ context.Context, req *pb.CountPoints) (*pb.CountResponse, error) {
	t := time.Now()
	c, err := s.store.get(req.GetCollectionName())
	if err != nil {
		return nil, toStatus(err)
	}
	f, err := compileFilter(req.GetFilter())
	if err != nil {
		return nil, toStatus(err)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	var n uint64
	if f == nil {
		n = uint64(len(c.byKey))
	} else {
		n = uint64(len(c.matching(f)))
	}
	return &pb.CountResponse{Result: &pb.CountResult{Count: n}, Time: since(t)}, nil
}

// Get implements qdrant.PointsServer (points by id).
func (s *pointsService) Get(_ context.Context, req *pb.GetPoints) (*pb.GetResponse, error) {
	t := time.Now()
	c, err := s.store.get(req.GetCollectionName())
	if err != nil {
		return nil, toStatus(err)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	resp := &pb.GetResponse{}
	for _, id := range req.GetIds() {
		key, err := pointKey(id)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, "Wrong input: "+err.Error())
		}
		if slot, ok := c.byKey[key]; ok {
			resp.Result = append(resp.Result, c.retrieved(c.slots[slot], req.GetWithPayload(), req.GetWithVectors(), true))
		}
	}
	resp.Time = since(t)
	return resp, nil
}

// Scroll implements qdrant.PointsServer: points in id order from offset.
func (s *pointsService) Scroll(_ context.Context, req *pb.ScrollPoints) (*pb.ScrollResponse, error) {
	t := time.Now()
	if req.OrderBy != nil {
		return nil, status.Error(codes.Unimplemented, "order_by is not supported by the embedded server")
	}
	c, err := s.store.get(req.GetCollectionName())
	if err != nil {
		return nil, toStatus(err)
	}
	f, err := compileFilter(req.GetFilter())
	if err != nil {
		return nil, toStatus(err)
	}
	limit := defaultLimit
	if req.Limit != nil {
		limit = int(req.GetLimit())
	}
	from := ""
	if req.Offset != nil {
		if from, err = pointKey(req.Offset); err != nil {
			return nil, status.Error(codes.InvalidArgument, "Wrong input: "+err.Error())
		}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	resp := &pb.ScrollResponse{}
	// Only the matching points from the offset are sorted: a filtered
	// scroll through a large collection costs an index lookup or a scan,
	// not a sort of the collection.
	var live []*point
	if f == nil {
		live = c.sortedLive(func(p *point) bool { return p.key >= from })
	} else {
		for _, p := range c.matching(f) {
			if p.key >= from {
				live = append(live, p)
			}
		}
		sort.Slice(live, func(a, b int) bool { return live[a].key < live[b].key })
	}
	for _, p := range live {
		if len(resp.Result) == limit {
			resp.NextPageOffset = p.id
			break
		}
		resp.Result = append(resp.Result, c.retrieved(p, req.GetWithPayload(), req.GetWithVectors(), true))
	}
	resp.Time = since(t)
	return resp, nil
}

// Query implements qdrant.PointsServer.
func (s *pointsService) Query(ctx context.Context, req *pb.QueryPoints) (*pb.QueryResponse, error) {
	t := time.Now()
	if err := s.opts.infer(ctx, queryDocs(req.GetQuery(), req.GetPrefetch()), true); err != nil {
		return nil, err
	}
	pts, err := s.query(req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.QueryResponse{Result: pts, Time: since(t)}, nil
}

// QueryBatch implements qdrant.PointsServer.
func (s *pointsService) QueryBatch(ctx context.Context, req *pb.QueryBatchPoints) (*pb.QueryBatchResponse, error) {
	t := time.Now()
	var docs []docSlot
	for _, q := range req.GetQueryPoints() {
		docs = append(docs, queryDocs(q.GetQuery(), q.GetPrefetch())...)
	}
	if err := s.opts.infer(ctx, docs, true); err != nil {
		return nil, err
	}
	resp := &pb.QueryBatchResponse{}
	for _, q := range req.GetQueryPoints() {
		if q.CollectionName == "" {
			q.CollectionName = req.GetCollectionName()
		}
		pts, err := s.query(q)
		if err != nil {
			return nil, toStatus(err)
		}
		resp.Result = append(resp.Result, &pb.BatchResult{Result: pts})
	}
	resp.Time = since(t)
	return resp, nil
}

func (s *pointsService) query(req *pb.QueryPoints) ([]*pb.ScoredPoint, error) {
	if req.LookupFrom != nil {
		return nil, status.Error(codes.Unimplemented, "lookup_from is not supported by the embedded server")
	}
	c, err := s.store.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	f, err := compileFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	limit, offset := defaultLimit, 0
	if req.Limit != nil {
		limit = int(req.GetLimit())
	}
	if req.Offset != nil {
		offset = int(req.GetOffset())
	}
	idf, err := idfOf(req.GetParams())
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	res, err := c.run(node{prefetch: req.GetPrefetch(), query: req.GetQuery(), using: req.GetUsing(),
		filter: f, threshold: req.ScoreThreshold, limit: limit + offset, idf: idf})
	if err != nil {
		return nil, err
	}
	pts := res.points
	if offset >= len(pts) {
		pts = nil
	} else {
		pts = pts[offset:]
	}
	withPayload := req.GetWithPayload()
	if withPayload == nil {
		withPayload = pb.NewWithPayload(false)
	}
	out := make([]*pb.ScoredPoint, len(pts))
	for i, sp := range pts {
		r := c.retrieved(sp.p, withPayload, req.GetWithVectors(), false)
		out[i] = &pb.ScoredPoint{Id: r.Id, Payload: r.Payload, Score: sp.score, Vectors: r.Vectors}
	}
	return out, nil
}

// retrieved renders a point with the selected payload and vectors;
// payloadDefault is used when no payload selector is given.
func (c *collection) retrieved(p *point, wp *pb.WithPayloadSelector, wv *pb.WithVectorsSelector, payloadDefault bool) *pb.RetrievedPoint {
	r := &pb.RetrievedPoint{Id: p.id}
	switch sel := wp.GetSelectorOptions().(type) {
	case nil:
		if payloadDefault {
			r.Payload = p.payload
		}
	case *pb.WithPayloadSelector_Enable:
		if sel.Enable {
			r.Payload = p.payload
		}
	case *pb.WithPayloadSelector_Include:
		r.Payload = map[string]*pb.Value{}
		for _, k := range sel.Include.GetFields() {
			if v, ok := p.payload[k]; ok {
				r.Payload[k] = v
			}
		}
	case *pb.WithPayloadSelector_Exclude:
		r.Payload = map[string]*pb.Value{}
		skip := map[string]bool{}
		for _, k := range sel.Exclude.GetFields() {
			skip[k] = true
		}
		for k, v := range p.payload {
			if !skip[k] {
				r.Payload[k] = v
			}
		}
	}
	var names map[string]bool
	switch sel := wv.GetSelectorOptions().(type) {
	case nil:
		return r
	case *pb.WithVectorsSelector_Enable:
		if !sel.Enable {
			return r
		}
	case *pb.WithVectorsSelector_Include:
		names = map[string]bool{}
		for _, n := range sel.Include.GetNames() {
			names[n] = true
		}
	}
	// A point whose one vector is the unnamed one is rendered as a single
	// vector, as Qdrant does whatever else the collection configures.
	if d, ok := p.dense[""]; ok && len(p.dense) == 1 && len(p.sparse) == 0 {
		if names == nil || names[""] {
			r.Vectors = &pb.VectorsOutput{VectorsOptions: &pb.VectorsOutput_Vector{Vector: denseOutput(d)}}
		}
		return r
	}
	m := map[string]*pb.VectorOutput{}
	for n, d := range p.dense {
		if names == nil || names[n] {
			m[n] = denseOutput(d)
		}
	}
	for n, s := range p.sparse {
		if names == nil || names[n] {
			m[n] = &pb.VectorOutput{Vector: &pb.VectorOutput_Sparse{Sparse: &pb.SparseVector{Indices: s.idx, Values: s.val}}}
		}
	}
	r.Vectors = &pb.VectorsOutput{VectorsOptions: &pb.VectorsOutput_Vectors{Vectors: &pb.NamedVectorsOutput{Vectors: m}}}
	return r
}

func denseOutput(d []float32) *pb.VectorOutput {
	return &pb.VectorOutput{Vector: &pb.VectorOutput_Dense{Dense: &pb.DenseVector{Data: d}}}
}

// CreateFieldIndex implements qdrant.PointsServer. A keyword index is
// built (and rebuilt when the store opens): filters whose must clause
// matches the key exactly read their candidates from it. Other index types
// are accepted and change nothing: the store filters by scanning.
func (s *pointsService) CreateFieldIndex(_ context.Context, req *pb.CreateFieldIndexCollection) (*pb.PointsOperationResponse, error) {
	if _, err := s.store.get(req.GetCollectionName()); err != nil {
		return nil, toStatus(err)
	}
	if req.GetFieldType() == pb.FieldType_FieldTypeKeyword && req.GetFieldName() != "" {
		if err := s.store.createKeywordIndex(req.GetCollectionName(), req.GetFieldName()); err != nil {
			return nil, toStatus(err)
		}
	}
	return &pb.PointsOperationResponse{Result: completed()}, nil
}

func orOne(n uint32) uint32 {
	if n == 0 {
		return 1
	}
	return n
}

func ptr[T any](x T) *T { return &x }
