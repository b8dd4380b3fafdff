package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/internal/retry"
)

// openAI is the openai module: any OpenAI-compatible /v1/embeddings
// endpoint (OpenAI, Azure-style gateways, vLLM, Ollama, TEI, LiteLLM).
type openAI struct {
	baseURL   string
	model     string
	apiKey    string
	dim       int
	batchSize int
	retries   int
	client    *http.Client
}

var _ Dense = (*openAI)(nil)

// retrySleep waits between retries (not past the context's deadline);
// tests replace it.
var retrySleep = retry.Wait

func newOpenAI(vc config.Vectorizer) (Vectorizer, error) {
	base := strings.TrimRight(vc.BaseURL, "/")
	if base == "" {
		base = "https://api.openai.com/v1"
	}
	retries := vc.Retries
	if retries == 0 {
		retries = 3
	}
	timeout := vc.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return &openAI{baseURL: base, model: vc.APIModel, apiKey: vc.APIKey, dim: vc.Dimension,
		batchSize: orDefault(vc.BatchSize, 64), retries: retries, client: &http.Client{Timeout: timeout}}, nil
}

func (o *openAI) Module() string { return config.ModuleOpenAI }
func (o *openAI) Close() error   { o.client.CloseIdleConnections(); return nil }
func (o *openAI) Dimension() int { return o.dim }

func (o *openAI) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	return o.embed(ctx, texts)
}

func (o *openAI) EmbedQueries(ctx context.Context, texts []string) ([][]float32, error) {
	return o.embed(ctx, texts)
}

type embeddingsRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embeddingsResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

func (o *openAI) embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for start := 0; start < len(texts); start += o.batchSize {
		end := min(start+o.batchSize, len(texts))
		vecs, err := o.call(ctx, texts[start:end])
		if err != nil {
			return nil, fmt.Errorf("openai embeddings %s (texts %d..%d): %w", o.baseURL, start, end-1, err)
		}
		copy(out[start:], vecs)
	}
	return out, nil
}

// call sends one request, retrying 429 and 5xx answers and network errors
// with exponential backoff, or the server's Retry-After when it gives one.
func (o *openAI) call(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(embeddingsRequest{Model: o.model, Input: texts})
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt <= o.retries; attempt++ {
		if attempt > 0 {
			var after time.Duration
			var ra *retryAfter
			if errors.As(lastErr, &ra) {
				after = ra.d
			}
			if err := retrySleep(ctx, retry.Delay(250*time.Millisecond, attempt, after)); err != nil {
				return nil, fmt.Errorf("%w (last attempt: %v)", err, lastErr)
			}
		}
		vecs, err := o.once(ctx, body, len(texts))
		if err == nil {
			return vecs, nil
		}
		lastErr = err
		var perm *permanent
		if errors.As(err, &perm) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

type retryAfter struct {
	err error
	d   time.Duration
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() error { return r.err }

func (o *openAI) once(ctx context.Context, body []byte, n int) ([][]float32, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.baseURL+"/embeddings", bytes.NewReader(body))
	if err != nil {
		return nil, &permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	if o.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.apiKey)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(string(data), 300))
		switch {
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			if d, ok := retry.After(resp.Header.Get("Retry-After"), time.Now()); ok {
				return nil, &retryAfter{msg, d}
			}
			return nil, msg
		default:
			return nil, &permanent{msg}
		}
	}
	var er embeddingsResponse
	if err := json.Unmarshal(data, &er); err != nil {
		return nil, &permanent{fmt.Errorf("response is not embeddings JSON: %v", err)}
	}
	if len(er.Data) != n {
		return nil, &permanent{fmt.Errorf("got %d embeddings for %d texts", len(er.Data), n)}
	}
	out := make([][]float32, n)
	for _, d := range er.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, &permanent{fmt.Errorf("embedding index %d is out of range or repeated", d.Index)}
		}
		if o.dim > 0 && len(d.Embedding) != o.dim {
			return nil, &permanent{fmt.Errorf("embedding %d has dimension %d, configured %d", d.Index, len(d.Embedding), o.dim)}
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
