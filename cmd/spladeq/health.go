package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// newHealthCmd GETs a URL and fails unless it answers 200: the container
// healthcheck, in images without curl.
func newHealthCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "health URL", Short: "GET a URL, fail unless 200 (container healthcheck)", Args: cobra.ExactArgs(1)}
	caFile := cmd.Flags().String("ca-file", "", "PEM certificates to trust for an https:// URL (default: the system's roots)")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		client := http.DefaultClient
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return fmt.Errorf("--ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--ca-file %s: no PEM certificate in it", *caFile)
			}
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		}
		ctx, cancel := context.WithTimeout(c.Context(), 3*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d", args[0], resp.StatusCode)
		}
		return nil
	}
	return cmd
}
