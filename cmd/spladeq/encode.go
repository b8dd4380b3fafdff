package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/splade"
)

// maxLineBytes bounds one stdin line for `encode`.
const maxLineBytes = 16 << 20

// encodeChunk is how many stdin lines are encoded per call, so output streams.
const encodeChunk = 64

type encodedLine struct {
	Indices []uint32  `json:"indices"`
	Values  []float32 `json:"values"`
	Terms   [][2]any  `json:"terms,omitempty"`
}

func newEncodeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "encode [--model DIR] [TEXT ...]", Short: "encode texts into SPLADE vectors (JSON lines)", Long: "Encodes each TEXT, or each stdin line when no TEXT is given, and prints one JSON object per line."}
	fs := cmd.Flags()
	model := fs.String("model", config.DefaultSparseModel, "model directory in HuggingFace layout (tokenizer.json, and model.onnx, onnx/model.onnx or config.json + model.safetensors); relative paths also resolve under ./models and the repository's .deps/models")
	query := fs.Bool("query", false, "encode as queries (query max length and pruning)")
	maxLen := fs.Int("max-length", 0, "max tokens per text, special tokens included (0: the model's, at most 512)")
	topK := fs.Int("top-k", 0, "keep at most this many terms per vector (0: all)")
	minWeight := fs.Float32("min-weight", 0, "drop terms lighter than this (0: keep all)")
	terms := fs.Int("terms", 0, "add the N heaviest terms as [token, weight] pairs")
	threads := fs.Int("threads", 0, "ONNX Runtime intra-op threads (0: one per core the process may use)")
	quantize := quantizeFlag(fs)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdin, stdout, stderr := cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		dir, err := resolveModelFlag(*model, stderr)
		if err != nil {
			return err
		}
		*model = dir
		if *terms < 0 {
			return fmt.Errorf("--terms must be >= 0, got %d", *terms)
		}
		pruning := splade.Pruning{TopK: *topK, MinWeight: *minWeight}
		quant, err := quantizeOption(*quantize)
		if err != nil {
			return err
		}
		opts := []splade.Option{splade.WithIntraOpThreads(*threads), quant}
		if *query {
			opts = append(opts, splade.WithQueryMaxLength(*maxLen), splade.WithQueryPruning(pruning))
		} else {
			opts = append(opts, splade.WithMaxLength(*maxLen), splade.WithPruning(pruning))
		}
		enc, err := splade.New(*model, opts...)
		if err != nil {
			return err
		}
		defer enc.Close()
		fmt.Fprintf(stderr, "graph: %s\n", describeGraph(enc.Info()))
		mode := splade.Document
		if *query {
			mode = splade.Query
		}

		out := bufio.NewWriter(stdout)
		defer out.Flush()
		emit := func(texts []string, where func(i int) string) error {
			vecs, err := enc.EncodeMode(ctx, mode, texts)
			if err != nil {
				var ie *splade.InputError
				if errors.As(err, &ie) {
					return fmt.Errorf("%s: %s", where(ie.Index), ie.Reason)
				}
				return err
			}
			jw := json.NewEncoder(out)
			for _, v := range vecs {
				line := encodedLine{Indices: v.Indices, Values: v.Values}
				if line.Indices == nil {
					line.Indices, line.Values = []uint32{}, []float32{}
				}
				if *terms > 0 {
					ts, err := enc.Terms(v, *terms)
					if err != nil {
						return err
					}
					for _, t := range ts {
						line.Terms = append(line.Terms, [2]any{t.Token, t.Weight})
					}
				}
				if err := jw.Encode(line); err != nil {
					return err
				}
			}
			return out.Flush()
		}

		if fs.NArg() > 0 {
			return emit(fs.Args(), func(i int) string { return fmt.Sprintf("argument %d", i+1) })
		}
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), maxLineBytes)
		var chunk []string
		first := 1 // stdin line number of chunk[0]
		flush := func() error {
			start := first
			err := emit(chunk, func(i int) string { return fmt.Sprintf("stdin line %d", start+i) })
			first += len(chunk)
			chunk = chunk[:0]
			return err
		}
		for sc.Scan() {
			chunk = append(chunk, sc.Text())
			if len(chunk) == encodeChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return fmt.Errorf("stdin line %d: longer than %d bytes", first+len(chunk), maxLineBytes)
			}
			return fmt.Errorf("read stdin: %w", err)
		}
		if len(chunk) > 0 {
			return flush()
		}
		return nil
	}
	return cmd
}
