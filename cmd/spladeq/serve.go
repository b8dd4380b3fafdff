package main

import (
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/plugin/httpapi"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "serve", Short: "serve the HTTP API (and Qdrant's inference endpoint)",
		Long: "Serves the HTTP API until SIGINT or SIGTERM, then stops accepting connections and finishes\n" +
			"in-flight requests (up to server.shutdown_timeout). With server.tls_cert_file and\n" +
			"server.tls_key_file every listener speaks TLS only, and a rotated certificate is picked up\n" +
			"by the next handshake."}
	fs := cmd.Flags()
	file, keys := configFlags(fs)
	fs.String("listen", "", "listen address host:port (server.listen)")
	keys["listen"] = "server.listen"
	fs.String("qdrant-grpc-listen", "", "also serve the embedded store's Qdrant gRPC API on host:port (server.qdrant_grpc_listen)")
	keys["qdrant-grpc-listen"] = "server.qdrant_grpc_listen"
	fs.String("tls-cert-file", "", "PEM certificate (chain) for TLS on every listener (server.tls_cert_file)")
	keys["tls-cert-file"] = "server.tls_cert_file"
	fs.String("tls-key-file", "", "PEM private key for TLS (server.tls_key_file)")
	keys["tls-key-file"] = "server.tls_key_file"
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
		svc, cfg, log, err := openService(ctx, fs, *file, keys, stderr)
		if err != nil {
			return err
		}
		defer svc.Close()
		tlsConf, err := serverTLS(cfg.Server, log)
		if err != nil {
			return err
		}
		l, err := listenTCP("tcp", cfg.Server.Listen)
		if err != nil {
			return err
		}
		exposed := []listener{{name: "HTTP API", addr: l.Addr(), missing: httpMissing(cfg.Server, tlsConf != nil)}}
		if addr := cfg.Server.QdrantGRPCListen; addr != "" {
			gl, err := listenTCP("tcp", addr)
			if err != nil {
				l.Close()
				return fmt.Errorf("server.qdrant_grpc_listen: %w", err)
			}
			var gconf *tls.Config
			if tlsConf != nil {
				gconf = tlsConf.Clone()
			}
			stop, err := svc.Store().ServeEmbedded(gl, cfg.Server.APIKeys, cfg.Server.ReadOnlyAPIKeys, gconf)
			if err != nil {
				l.Close()
				gl.Close()
				return fmt.Errorf("server.qdrant_grpc_listen: %w", err)
			}
			// The gRPC port drains alongside the HTTP listener (SIGTERM
			// stops both at once), within the same shutdown timeout.
			stopped, stopOnce := make(chan struct{}), sync.Once{}
			stopNow := func() { stopOnce.Do(func() { go func() { stop(); close(stopped) }() }) }
			go func() { <-ctx.Done(); stopNow() }()
			defer func() {
				stopNow()
				select {
				case <-stopped:
				case <-time.After(cfg.Server.ShutdownTimeout):
					log.Warn("gRPC calls still running after server.shutdown_timeout; exiting", "timeout", cfg.Server.ShutdownTimeout)
				}
			}()
			exposed = append(exposed, listener{name: "Qdrant gRPC API", addr: gl.Addr(), missing: grpcMissing(cfg.Server, tlsConf != nil)})
			log.Info("serving the embedded store's Qdrant gRPC API", "addr", gl.Addr().String(), "tls", tlsConf != nil)
		}
		warnExposed(log, exposed...)
		log.Info("serving", "addr", l.Addr().String(), "tls", tlsConf != nil, "qdrant", cfg.Qdrant.URL,
			"auth", len(cfg.Server.APIKeys)+len(cfg.Server.ReadOnlyAPIKeys) > 0, "qdrant_inference", "/v1/qdrant/inference")
		return httpapi.Serve(ctx, l, svc, log, tlsConf)
	}
	return cmd
}
