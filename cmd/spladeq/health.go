package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newHealthCmd GETs a URL and fails unless it answers 200: the container
// healthcheck, in images without curl.
func newHealthCmd() *cobra.Command {
	return &cobra.Command{Use: "health URL", Short: "GET a URL, fail unless 200 (container healthcheck)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(c.Context(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: HTTP %d", args[0], resp.StatusCode)
			}
			return nil
		}}
}
