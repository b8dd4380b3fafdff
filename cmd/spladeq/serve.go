package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/plugin/httpapi"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "serve", Short: "serve the HTTP API (and Qdrant's inference endpoint)", Long: "Serves the HTTP API until SIGINT or SIGTERM, then finishes in-flight requests."}
	fs := cmd.Flags()
	file, keys := configFlags(fs)
	fs.String("listen", "", "listen address host:port (server.listen)")
	keys["listen"] = "server.listen"
	fs.String("qdrant-grpc-listen", "", "also serve the embedded store's Qdrant gRPC API on host:port (server.qdrant_grpc_listen)")
	keys["qdrant-grpc-listen"] = "server.qdrant_grpc_listen"
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
		svc, cfg, log, err := openService(ctx, fs, *file, keys, stderr)
		if err != nil {
			return err
		}
		defer svc.Close()
		l, err := net.Listen("tcp", cfg.Server.Listen)
		if err != nil {
			return err
		}
		if addr := cfg.Server.QdrantGRPCListen; addr != "" {
			gl, err := net.Listen("tcp", addr)
			if err != nil {
				l.Close()
				return fmt.Errorf("server.qdrant_grpc_listen: %w", err)
			}
			stop, err := svc.Store().ServeEmbedded(gl, cfg.Server.APIKeys, cfg.Server.ReadOnlyAPIKeys)
			if err != nil {
				l.Close()
				gl.Close()
				return fmt.Errorf("server.qdrant_grpc_listen: %w", err)
			}
			defer stop()
			log.Info("serving the embedded store's Qdrant gRPC API", "addr", gl.Addr().String())
		}
		log.Info("serving", "addr", l.Addr().String(), "qdrant", cfg.Qdrant.URL, "auth", len(cfg.Server.APIKeys)+len(cfg.Server.ReadOnlyAPIKeys) > 0,
			"qdrant_inference", "/v1/qdrant/inference")
		return httpapi.Serve(ctx, l, svc, log)
	}
	return cmd
}
