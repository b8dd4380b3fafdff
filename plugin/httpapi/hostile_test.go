package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/plugin"
)

func TestHostileInput(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.MaxBodyBytes = 1 << 20
	base, _ := start(t, cfg)
	call(t, "PUT", base+"/v1/collections/docs", "", "")
	docs, search, encode := base+"/v1/collections/docs/documents", base+"/v1/collections/docs/search", base+"/v1/encode"
	for _, tc := range []struct {
		name, method, url, body string
		status                  int
		want                    string
	}{
		{"a 10 MB text", "POST", encode, `{"texts": ["` + strings.Repeat("a", 10<<20) + `"]}`, 413, "too_large"},
		{"deeply nested JSON", "POST", docs, `{"documents": [{"id": "a", "text": "x", "payload": ` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat("}", 20000) + `}]}`, 400, "invalid"},
		{"a huge array", "POST", encode, `{"texts": [` + strings.Repeat(`"x",`, 100000) + `"x"]}`, 400, "over the limit of 256"},
		{"NaN is not JSON", "POST", search, `{"query": "x", "alpha": NaN}`, 400, "invalid_json"},
		{"an infinite number", "POST", search, `{"query": "x", "alpha": 1e999}`, 400, "invalid_json"},
		{"a vector with an overflowing number", "POST", docs, `{"documents": [{"id": "a", "text": "x", "vector": [1e39]}]}`, 400, "invalid_json"},
		{"negative numbers where counts belong", "POST", search, `{"query": "x", "limit": -5, "offset": -1}`, 400, "must be 1..1000"},
		{"invalid UTF-8 inside a JSON string", "POST", encode, "{\"texts\": [\"a\xffb\"]}", 400, "not valid UTF-8 at byte offset 13"},
		{"an escaped NUL byte", "POST", encode, `{"texts": ["a\u0000b"]}`, 400, "contains a NUL byte"},
		{"unknown fields", "POST", search, `{"query": "x", "collection": "other"}`, 400, "unknown field"},
		{"a filter with a non-finite range", "POST", search, `{"query": "x", "filter": {"must": [{"key": "y", "range": {"gt": "NaN"}}]}}`, 400, "invalid_json"},
		{"a match of an unsupported type", "POST", search, `{"query": "x", "filter": {"must": [{"key": "y", "match": {"a": 1}}]}}`, 400, "match has type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, tc.url, "", tc.body)
			if r.status != tc.status || !strings.Contains(r.raw, tc.want) {
				t.Errorf("status %d %.300s; want %d containing %q", r.status, r.raw, tc.status, tc.want)
			}
		})
	}
	t.Run("ids with path separators are stored and deleted by their exact id", func(t *testing.T) {
		for _, id := range []string{"a/b/c.md", "../../etc/passwd", `dir\file`, "x%2Fy"} {
			body := `{"documents": [{"id": ` + jsonString(id) + `, "text": "text of ` + strings.ReplaceAll(id, `\`, `\\`) + `"}]}`
			if r := call(t, "POST", docs, "", body); r.status != 200 {
				t.Fatalf("upsert %q: %d %s", id, r.status, r.raw)
			}
			r := call(t, "DELETE", docs+"/"+url.PathEscape(id), "", "")
			if r.status != 200 || r.body["deleted"] != id {
				t.Errorf("delete %q: %d %s", id, r.status, r.raw)
			}
		}
		if r := call(t, "GET", base+"/v1/collections/docs", "", ""); r.body["points"] != 0.0 {
			t.Errorf("points left after deleting every id: %s", r.raw)
		}
	})
}

func jsonString(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func TestAPIKeysNeverReachTheLog(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.APIKeys = []string{writeKey}
	svc, err := plugin.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var logs bytes.Buffer
	srv := httptest.NewServer(Handler(svc, slog.New(slog.NewJSONHandler(&logs, nil))))
	defer srv.Close()
	call(t, "PUT", srv.URL+"/v1/collections/docs", writeKey, "")
	call(t, "PUT", srv.URL+"/v1/collections/docs", "wrong-but-secret-key-123", "")
	call(t, "POST", srv.URL+"/v1/collections/nope/search", writeKey, `{"query": "x"}`)
	if logs.Len() == 0 {
		t.Fatal("nothing was logged")
	}
	for _, secret := range []string{writeKey, "wrong-but-secret-key-123"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains the key %q:\n%s", secret, logs.String())
		}
	}
}
