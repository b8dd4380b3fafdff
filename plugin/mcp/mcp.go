// Package mcp serves a plugin.Service over the Model Context Protocol with
// the official Go SDK: a "search" tool (and, when enabled, "add_documents")
// for agents and LLM clients, over stdio or streamable HTTP. It only
// translates; searching and storing are the Service's.
package mcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/apikey"
	"github.com/spladeq/spladeq/plugin"
)

// Options configure the MCP server.
type Options struct {
	// Version is reported to clients. Default "(devel)".
	Version string
	// AddDocuments offers the add_documents tool. Default false: search
	// only.
	AddDocuments bool
}

// SearchInput is the search tool's arguments.
type SearchInput struct {
	Query      string             `json:"query" jsonschema:"the question or keywords to search for"`
	Collection string             `json:"collection,omitempty" jsonschema:"collection to search; default: the configured collection.name"`
	Mode       string             `json:"mode,omitempty" jsonschema:"hybrid, or one signal alone: sparse, dense or bm25; default: the configured search.mode"`
	Signals    []string           `json:"signals,omitempty" jsonschema:"signals a hybrid search fuses, of bm25 (keywords), sparse (SPLADE) and dense (embeddings); default: the configured search.signals"`
	Fusion     string             `json:"fusion,omitempty" jsonschema:"hybrid fusion: rrf, dbsf, weighted, weighted_rrf or weighted_dbsf; default: the configured search.fusion"`
	Weights    map[string]float64 `json:"weights,omitempty" jsonschema:"weighted fusion's weight per signal, e.g. {bm25: 1, sparse: 1, dense: 2}; default: the configured search.weights"`
	Filter     *qdrant.Filter     `json:"filter,omitempty" jsonschema:"payload filter: {must, should, must_not: [{key, match} or {key, range: {gt, gte, lt, lte}}]}"`
	Limit      int                `json:"limit,omitempty" jsonschema:"hits to return, 1..100; default: the configured search.limit"`
}

// Hit is one search result.
type Hit struct {
	ID            string         `json:"id"`
	DocID         string         `json:"doc_id"`
	Chunk         int            `json:"chunk"`
	Text          string         `json:"text"`
	Score         float32        `json:"score"`
	Payload       map[string]any `json:"payload,omitempty"`
	MatchingTerms []Term         `json:"matching_terms,omitempty" jsonschema:"the query terms that contributed most to the sparse score"`
	// BM25Score, SparseScore and DenseScore are each signal's own score
	// in a hybrid search, when the hit was among its candidates.
	BM25Score   *float32 `json:"bm25_score,omitempty"`
	SparseScore *float32 `json:"sparse_score,omitempty"`
	DenseScore  *float32 `json:"dense_score,omitempty"`
}

// Term is a matching term and its contribution to the score.
type Term struct {
	Token        string  `json:"token"`
	Contribution float32 `json:"contribution"`
}

// SearchOutput is the search tool's result.
type SearchOutput struct {
	Hits []Hit `json:"hits"`
	// QueryTerms are the query's expanded SPLADE terms, heaviest first.
	QueryTerms []string `json:"query_terms,omitempty"`
	Mode       string   `json:"mode"`
	// Signals are the signals searched.
	Signals []string `json:"signals,omitempty"`
}

// Document is one document to add.
type Document struct {
	ID      string         `json:"id" jsonschema:"document id; a document with the same id is replaced"`
	Text    string         `json:"text"`
	Payload map[string]any `json:"payload,omitempty" jsonschema:"metadata stored with the document, usable in filters"`
}

// AddInput is the add_documents tool's arguments.
type AddInput struct {
	Collection string     `json:"collection,omitempty" jsonschema:"collection to add to (created when missing); default: the configured collection.name"`
	Documents  []Document `json:"documents"`
}

// AddOutput is the add_documents tool's result.
type AddOutput struct {
	Documents int `json:"documents"`
	Chunks    int `json:"chunks"`
}

// New returns an MCP server over svc.
func New(svc *plugin.Service, o Options) *sdk.Server {
	if o.Version == "" {
		o.Version = "(devel)"
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "spladeq", Version: o.Version}, &sdk.ServerOptions{
		Instructions: "Hybrid search over a Qdrant collection: BM25 keywords, SPLADE sparse and dense embeddings, fused. Use search to find passages; each hit has its text, payload, score and the terms that matched.",
	})
	cfg := svc.Config()
	collection := func(c string) string {
		if c == "" {
			return cfg.Collection.Name
		}
		return c
	}
	sdk.AddTool(s, &sdk.Tool{Name: "search", Description: "Search a collection with BM25, SPLADE sparse, dense or hybrid retrieval (fusing two or three of them); returns hits with text, payload, score, each signal's score and matching terms."},
		func(ctx context.Context, _ *sdk.CallToolRequest, in SearchInput) (*sdk.CallToolResult, SearchOutput, error) {
			if strings.TrimSpace(in.Query) == "" {
				return nil, SearchOutput{}, errors.New("query: must not be empty")
			}
			if in.Limit < 0 || in.Limit > 100 {
				return nil, SearchOutput{}, fmt.Errorf("limit: must be 1..100, got %d", in.Limit)
			}
			res, err := svc.Search(ctx, collection(in.Collection), plugin.SearchInput{Query: in.Query, Mode: in.Mode, Signals: in.Signals,
				Fusion: in.Fusion, Weights: in.Weights, Filter: in.Filter, Limit: in.Limit, Explain: true})
			if err != nil {
				return nil, SearchOutput{}, err
			}
			out := SearchOutput{Mode: res.Mode, Signals: res.Signals, Hits: []Hit{}}
			for _, t := range res.QueryTerms {
				out.QueryTerms = append(out.QueryTerms, t.Token)
			}
			for _, h := range res.Hits {
				hit := Hit{ID: h.ID, DocID: h.DocID, Chunk: h.Chunk, Text: h.Text, Score: h.Score, Payload: userPayload(h.Payload),
					BM25Score: h.BM25Score, SparseScore: h.SparseScore, DenseScore: h.DenseScore}
				for _, m := range h.MatchedTerms {
					hit.MatchingTerms = append(hit.MatchingTerms, Term{Token: m.Token, Contribution: m.Contribution})
				}
				out.Hits = append(out.Hits, hit)
			}
			return nil, out, nil
		})
	if o.AddDocuments {
		sdk.AddTool(s, &sdk.Tool{Name: "add_documents", Description: "Add or replace documents (chunked, vectorized with SPLADE and the dense model, stored)."},
			func(ctx context.Context, req *sdk.CallToolRequest, in AddInput) (*sdk.CallToolResult, AddOutput, error) {
				if readOnly(req) {
					return nil, AddOutput{}, errors.New("this API key is read-only: add_documents needs a read-write key")
				}
				name := collection(in.Collection)
				if _, err := svc.EnsureCollection(ctx, name, plugin.CollectionConfig{}); err != nil {
					return nil, AddOutput{}, err
				}
				docs := make([]plugin.DocumentInput, len(in.Documents))
				for i, d := range in.Documents {
					docs[i] = plugin.DocumentInput{ID: d.ID, Text: d.Text, Payload: d.Payload}
				}
				res, err := svc.UpsertDocuments(ctx, name, docs)
				if err != nil {
					return nil, AddOutput{}, err
				}
				return nil, AddOutput{Documents: res.Documents, Chunks: res.Chunks}, nil
			})
	}
	return s
}

// userPayload drops the keys spladeq keeps for itself (doc_id, chunk,
// text: they are fields of the hit).
func userPayload(p map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range p {
		if k != qdrant.PayloadDocID && k != qdrant.PayloadChunk && k != qdrant.PayloadText {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// readOnly reports whether the HTTP request behind a tool call came with a
// read-only key.
func readOnly(req *sdk.CallToolRequest) bool {
	if req == nil || req.Extra == nil || req.Extra.Header == nil {
		return false
	}
	return req.Extra.Header.Get(readOnlyHeader) == "1"
}

// readOnlyHeader is set by HTTPHandler on requests authenticated with a
// read-only key (any such header from the client is removed first).
const readOnlyHeader = "X-Spladeq-Read-Only"

// HTTPHandler serves s over MCP's streamable HTTP transport. With keys
// configured, every request needs one (Authorization: Bearer KEY or
// X-API-Key: KEY), compared in constant time, as the HTTP API does; a
// read-only key may call search only.
func HTTPHandler(s *sdk.Server, writeKeys, readKeys []string) http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil)
	if len(writeKeys)+len(readKeys) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(readOnlyHeader)
		key := apikey.FromRequest(r)
		switch {
		case apikey.Match(key, writeKeys):
		case apikey.Match(key, readKeys):
			r.Header.Set(readOnlyHeader, "1")
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="spladeq"`)
			http.Error(w, `{"error": "missing or invalid API key (Authorization: Bearer KEY or X-API-Key: KEY)"}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
