package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runHealth GETs a URL and fails unless it answers 200: the container
// healthcheck, in images without curl.
func runHealth(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: spladeq health URL")
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
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
}
