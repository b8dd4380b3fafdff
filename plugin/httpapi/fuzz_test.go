package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/spladeq/spladeq/api"
)

// FuzzDecode feeds any bytes to the request decoder of every JSON route:
// it must return a value or a *bodyError, never panic, and a decoded value
// must re-encode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"documents": [{"id": "a", "text": "x", "payload": {"k": [1, {"n": null}]}, "vector": [1, 2.5e3]}]}`,
		`{"query": "q", "mode": "hybrid", "alpha": 0.5, "filter": {"must": [{"key": "k", "match": ["a", "b"]}, {"key": "y", "range": {"gte": 1}}]}}`,
		`{"texts": ["a", "b"], "terms": 3, "query": true}`,
		`{"documents": [` + string(bytes.Repeat([]byte(`{"id":"x","text":"y"},`), 50)) + `{}]}`,
		string(bytes.Repeat([]byte("["), 5000)),
		`{"alpha": NaN}`, `{"limit": 1e400}`, "{\"query\": \"\xff\"}", `{"a":1}{"b":2}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&api.UpsertRequest{}, &api.SearchRequest{}, &api.EncodeRequest{}, &api.CollectionConfig{}} {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
			err := decode(r, v, false)
			if err != nil {
				if _, ok := err.(*bodyError); !ok {
					t.Fatalf("decode error %T (%v) is not a *bodyError", err, err)
				}
				continue
			}
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("decoded %#v does not re-encode: %v", v, err)
			}
		}
	})
}
