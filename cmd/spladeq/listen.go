package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/internal/tlsreload"
)

// listenTCP opens serve's listeners; a test replaces it to see the WARN
// lines of a wildcard bind without binding beyond loopback.
var listenTCP = net.Listen

// serverTLS is the listeners' TLS configuration, nil without
// server.tls_cert_file; the pair is checked now (each file readable, the
// two a certificate and its key) and re-read when the files change.
func serverTLS(s config.Server, log *slog.Logger) (*tls.Config, error) {
	if s.TLSCertFile == "" && s.TLSKeyFile == "" {
		return nil, nil
	}
	for _, kf := range [][2]string{{"server.tls_cert_file", s.TLSCertFile}, {"server.tls_key_file", s.TLSKeyFile}} {
		if kf[1] == "" {
			return nil, fmt.Errorf("%s: must be set with the other TLS file (both or neither)", kf[0])
		}
		fh, err := os.Open(kf[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kf[0], err)
		}
		fh.Close()
	}
	r, err := tlsreload.New(s.TLSCertFile, s.TLSKeyFile, tlsreload.WithErrorHandler(func(err error) {
		log.Warn("TLS certificate not reloaded", "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("server.tls_cert_file, server.tls_key_file: not a certificate and its private key: %w", err)
	}
	return r.Config(), nil
}

// beyondLoopback reports whether a bound address is reachable from other
// hosts: anything but 127.0.0.0/8 and ::1 (a wildcard bind included).
func beyondLoopback(addr net.Addr) bool {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// listener names a listener and what protects it, for warnExposed.
type listener struct {
	name string
	addr net.Addr
	// missing lists what the listener lacks, each naming its config key.
	missing []string
}

// warnExposed logs one WARN per listener bound beyond loopback that lacks
// authentication or TLS, naming what is missing.
func warnExposed(log *slog.Logger, ls ...listener) {
	for _, l := range ls {
		if l.addr == nil || len(l.missing) == 0 || !beyondLoopback(l.addr) {
			continue
		}
		log.Warn("listening beyond loopback without protection", "listener", l.name, "addr", l.addr.String(),
			"missing", strings.Join(l.missing, "; "))
	}
}

const missingTLS = "TLS (server.tls_cert_file, server.tls_key_file): keys, texts and vectors cross the network in clear"

// httpMissing is what the HTTP listener (the /v1 API, Qdrant's inference
// endpoint, metrics) lacks.
func httpMissing(s config.Server, tlsOn bool) []string {
	var m []string
	keys := len(s.APIKeys)+len(s.ReadOnlyAPIKeys) > 0
	if !keys {
		m = append(m, "API keys (server.api_keys): the /v1 API is open to anyone who can reach it")
	}
	if !keys && len(s.InferenceTokens) == 0 {
		m = append(m, "inference tokens (server.inference_tokens): /v1/qdrant/inference encodes for anyone")
	}
	if !tlsOn {
		m = append(m, missingTLS)
	}
	return m
}

// mcpMissing is what `spladeq mcp --listen` lacks: it checks
// server.api_keys / read_only_api_keys as the HTTP API does.
func mcpMissing(s config.Server, tlsOn bool) []string {
	var m []string
	if len(s.APIKeys)+len(s.ReadOnlyAPIKeys) == 0 {
		m = append(m, "API keys (server.api_keys): search (and add_documents when enabled) is open")
	}
	if !tlsOn {
		m = append(m, missingTLS)
	}
	return m
}

// grpcMissing is what the embedded store's gRPC port lacks: it checks
// server.api_keys / read_only_api_keys in the "api-key" metadata.
func grpcMissing(s config.Server, tlsOn bool) []string {
	var m []string
	if len(s.APIKeys)+len(s.ReadOnlyAPIKeys) == 0 {
		m = append(m, "API keys (server.api_keys): any Qdrant client may read, write and delete collections")
	}
	if !tlsOn {
		m = append(m, missingTLS)
	}
	return m
}
