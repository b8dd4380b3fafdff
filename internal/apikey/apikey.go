// Package apikey reads API keys from requests and checks them in constant
// time, for every listener spladeq serves (HTTP API, Qdrant inference, MCP,
// the embedded store's gRPC port).
package apikey

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// FromRequest returns the key of an HTTP request: X-API-Key, else an
// "Authorization: Bearer KEY" header; "" when there is none.
func FromRequest(r *http.Request) string {
	if key := r.Header.Get("X-API-Key"); key != "" {
		return key
	}
	if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// Match reports whether key is one of keys, comparing against every key
// in constant time so the time taken says nothing about which matched or
// how much of one did. An empty key never matches.
func Match(key string, keys []string) bool {
	ok := 0
	for _, k := range keys {
		ok |= subtle.ConstantTimeCompare([]byte(key), []byte(k))
	}
	return key != "" && ok == 1
}
