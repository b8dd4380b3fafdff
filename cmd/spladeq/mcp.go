package main

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/plugin/mcp"
)

func newMCPCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "mcp", Short: "serve search (and add_documents) over the Model Context Protocol, stdio or HTTP",
		Long: "Serves the Model Context Protocol: tools search (query, mode, fusion, filter, limit → hits with text,\n" +
			"payload, score and matching terms) and, with server.mcp_add_documents, add_documents.\n" +
			"Over stdio by default (an MCP client starts `spladeq mcp`); with --listen, over streamable HTTP\n" +
			"at /mcp, with server.api_keys / server.read_only_api_keys as for the HTTP API.",
		Args: cobra.NoArgs}
	fs := cmd.Flags()
	file, keys := configFlags(fs)
	listen := fs.String("listen", "", "serve streamable HTTP on host:port at /mcp instead of stdio")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		svc, cfg, log, err := openService(ctx, fs, *file, keys, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		defer svc.Close()
		server := mcp.New(svc, mcp.Options{Version: versionString(), AddDocuments: cfg.Server.MCPAddDocuments})
		if *listen == "" {
			return server.Run(ctx, &sdk.IOTransport{Reader: nopReadCloser{cmd.InOrStdin()}, Writer: nopWriteCloser{cmd.OutOrStdout()}})
		}
		tlsConf, err := serverTLS(cfg.Server, log)
		if err != nil {
			return err
		}
		l, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/mcp", mcp.HTTPHandler(server, cfg.Server.APIKeys, cfg.Server.ReadOnlyAPIKeys))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: cfg.Server.ReadTimeout, TLSConfig: tlsConf,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		if !cfg.Server.HTTP2 {
			hs.Protocols = new(http.Protocols)
			hs.Protocols.SetHTTP1(true)
		}
		go func() { <-ctx.Done(); hs.Close() }()
		warnExposed(log, listener{name: "MCP", addr: l.Addr(), missing: mcpMissing(cfg.Server, tlsConf != nil)})
		scheme := "http://"
		if tlsConf != nil {
			scheme = "https://"
		}
		log.Info("serving MCP over streamable HTTP", "addr", scheme+l.Addr().String()+"/mcp", "add_documents", cfg.Server.MCPAddDocuments)
		if tlsConf != nil {
			err = hs.ServeTLS(l, "", "")
		} else {
			err = hs.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return cmd
}

// The command's stdin and stdout are the MCP stdio transport; closing
// them is the process's business.
type nopReadCloser struct{ io.Reader }

func (nopReadCloser) Close() error { return nil }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
