package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/hub"
	"github.com/spladeq/spladeq/splade"
	"github.com/spladeq/spladeq/splade/hfgraph"
)

// printCatalogue writes the catalogue of known sparse models as a table.
func printCatalogue(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tARCHITECTURE\tOUTPUT\tQUERIES\tMODULE\tQUERY LEN\tQDRANT IDF\tPULL\tLICENCE")
	for _, k := range hub.Catalogue {
		pull := k.Weights
		for _, f := range k.Files {
			if f == "idf.json" || strings.HasSuffix(f, ".onnx") || strings.HasPrefix(f, "model.safetensors") {
				pull += " " + f
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\t%s\t%s\n", k.Name, k.Architecture, k.Output, k.Mode, k.Module(), k.QueryMaxLength, k.QdrantIDF, pull, k.License)
	}
	return tw.Flush()
}

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "pull a model from a hub, list pulled models, convert a checkpoint, fold pooling into a graph"}
	pull := &cobra.Command{Use: "pull ORG/NAME[@REVISION]", Short: "fetch a model directory from models.hub_url into models.dir",
		Long: "Fetches a model directory (tokenizer.json, config files, idf.json, the ONNX graph or else the\nsafetensors checkpoint) from models.hub_url into models.dir, checking sizes and checksums, then\nprints a spladeq.yaml fragment that configures it: from spladeq's catalogue of known sparse\nmodels (`spladeq model ls --known`) when it is there, else from the files pulled.",
		Args: cobra.ExactArgs(1)}
	vectorizer := pull.Flags().String("vectorizer", "sparse", "vectorizer name in the printed configuration")
	pullQuant := pull.Flags().String("quantize", "", "int8: pull the safetensors checkpoint (not an ONNX graph) and write its int8 graph, model.int8.onnx, beside it; the printed configuration sets quantize: int8")
	ls := &cobra.Command{Use: "ls", Short: "list pulled models, or with --known spladeq's catalogue of sparse models", Args: cobra.NoArgs}
	known := ls.Flags().Bool("known", false, "list the catalogue of known sparse models (architecture, query mode, licence, files)")
	for _, c := range []*cobra.Command{pull, ls} {
		fs := c.Flags()
		file, keys := configFlags(fs)
		fs.String("hub-url", "", "hub endpoint (models.hub_url)")
		fs.String("models-dir", "", "model cache (models.dir)")
		keys["hub-url"], keys["models-dir"] = "models.hub_url", "models.dir"
		c.RunE = func(c *cobra.Command, args []string) error {
			cfg, err := loadConfig(c.Flags(), *file, keys)
			if err != nil {
				return err
			}
			stdout := c.OutOrStdout()
			if c == ls && *known {
				return printCatalogue(stdout)
			}
			if c == ls {
				names, err := hub.Cached(cfg.Models.Dir)
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Fprintln(stdout, n)
				}
				return nil
			}
			q, err := hfgraph.ParseQuantization(*pullQuant)
			if err != nil {
				return fmt.Errorf("--quantize: %w", err)
			}
			if k, ok := hub.Lookup(args[0]); ok && !k.Pullable() {
				fmt.Fprintf(c.ErrOrStderr(), "warning: %s does not load as it is on the hub: %s\n", k.Name, k.Note)
			}
			hc := &hub.Client{Endpoint: cfg.Models.HubURL, Token: cfg.Models.HubToken, Checkpoint: q != hfgraph.Float32}
			dir, err := hc.Pull(c.Context(), args[0], cfg.Models.Dir, func(f string, size int64) {
				fmt.Fprintf(c.ErrOrStderr(), "pulling %s (%d bytes)\n", f, size)
			})
			if errors.Is(err, hub.ErrNoCheckpoint) {
				return fmt.Errorf("--quantize %s: %w; an %s graph is built from the checkpoint (pull without --quantize for the graph as published)", q, err, q)
			}
			if err != nil {
				return err
			}
			if q != hfgraph.Float32 {
				head, err := hfgraph.DefaultHead(dir)
				if err == nil {
					_, err = writeGraph(dir, filepath.Join(dir, hfgraph.Int8File), hfgraph.Options{Head: head, Quantize: q}, c.ErrOrStderr())
				}
				if err != nil {
					return fmt.Errorf("pulled %s to %s, but its %s graph cannot be built (the checkpoint loads at fp32 as pulled): %w", args[0], dir, q, err)
				}
			}
			s, err := hub.Suggest(args[0], dir)
			if err != nil {
				return err
			}
			if q != hfgraph.Float32 {
				s.Vectorizer.Quantize = q.String()
				s.Notes = append(s.Notes, fmt.Sprintf("quantize: %s runs %s, built from the checkpoint by this pull; drop it for the fp32 graph (built at load time).", q, hfgraph.Int8File))
			}
			fmt.Fprintf(stdout, "# pulled %s to %s; a configuration for it:\n%s", args[0], dir, s.YAML(*vectorizer))
			return nil
		}
	}
	optimize := &cobra.Command{Use: "optimize DIR", Short: "fold SPLADE pooling into the graph (model.pooled.onnx)",
		Long: "Folds SPLADE pooling into the graph, writing model.pooled.onnx beside model.onnx; use it with\nvectorizers.NAME.onnx_file: model.pooled.onnx (worth it on GPU; on CPU pooling in Go measured faster).",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			m, err := splade.OpenModelDir(args[0], "")
			if err != nil {
				return err
			}
			if strings.HasSuffix(m.ONNX, splade.PooledSuffix) {
				return fmt.Errorf("%s is already folded; delete it to fold again", m.ONNX)
			}
			dst := splade.PooledPath(m.ONNX)
			if err := splade.FoldPooling(m.ONNX, dst); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), dst)
			return nil
		}}
	convert := &cobra.Command{Use: "convert DIR", Short: "build the ONNX graph of a safetensors checkpoint (model.onnx, or model.int8.onnx with --quantize int8)",
		Long: "Builds the ONNX graph of the HuggingFace checkpoint in DIR (config.json + model.safetensors, or a\nsharded model.safetensors.index.json) and writes it to DIR/model.onnx, or --out. A *ForMaskedLM\ncheckpoint (BERT, DistilBERT, RoBERTa, XLM-RoBERTa) gets the masked-LM logits [batch, sequence, vocab],\nas a plain export; --head-block N builds the blocked SPLADE head in instead ([batch, vocab] max logits).\nA bare *Model checkpoint gets last_hidden_state. --quantize int8 builds the int8 graph (weights\nquantized here, one scale per output column; activations per token at run time) into\nDIR/model.int8.onnx, which `encode --model DIR --quantize int8` and vectorizers.NAME.quantize: int8\nrun. An --out in another directory gets DIR's tokenizer and config files beside it, so that\ndirectory is a model directory too. No conversion is needed to use a checkpoint: spladeq builds the\nsame graph in memory when DIR has no ONNX file.",
		Args: cobra.ExactArgs(1)}
	out := convert.Flags().String("out", "", "output file (default DIR/model.onnx; DIR/model.int8.onnx with --quantize int8)")
	force := convert.Flags().Bool("force", false, "overwrite an existing output file")
	block := convert.Flags().Int("head-block", -1, fmt.Sprintf("build the blocked SPLADE head with this many vocabulary entries per slice, as vectorizers.NAME.head_block: -1 none (the logits of a plain export), 0 the default (%d)", splade.DefaultHeadBlock))
	quant := convert.Flags().String("quantize", "", "fp32 (default) or int8")
	convert.RunE = func(c *cobra.Command, args []string) error {
		q, err := hfgraph.ParseQuantization(*quant)
		if err != nil {
			return fmt.Errorf("--quantize: %w", err)
		}
		dir := args[0]
		dst := *out
		if dst == "" {
			dst = filepath.Join(dir, "model.onnx")
			if q == hfgraph.Int8 {
				dst = filepath.Join(dir, hfgraph.Int8File)
			}
		}
		if _, err := os.Stat(dst); err == nil && !*force {
			return fmt.Errorf("%s exists; use --force to overwrite it", dst)
		}
		if err := checkCheckpoint(dir, q); err != nil {
			return err
		}
		head, err := hfgraph.DefaultHead(dir)
		if err != nil {
			return err
		}
		opts := hfgraph.Options{Head: head, Quantize: q}
		if *block < -1 {
			return usageError{fmt.Errorf("--head-block: must be > 0, 0 for the default or -1 for none, got %d", *block)}
		}
		if *block >= 0 {
			if head != hfgraph.Logits {
				return fmt.Errorf("--head-block: %s is not a masked-LM checkpoint", dir)
			}
			opts.Head, opts.Block = hfgraph.MaxLogits, plugin.HeadBlock(*block)
		}
		if _, err := writeGraph(dir, dst, opts, c.ErrOrStderr()); err != nil {
			return err
		}
		if err := copyModelFiles(dir, filepath.Dir(dst), c.ErrOrStderr()); err != nil {
			return err
		}
		fmt.Fprintln(c.OutOrStdout(), dst)
		return nil
	}
	cmd.AddCommand(pull, ls, optimize, convert)
	return cmd
}

// writeGraph builds the checkpoint in dir with opts and writes it to dst,
// saying what it wrote on w.
func writeGraph(dir, dst string, opts hfgraph.Options, w io.Writer) (*hfgraph.Graph, error) {
	g, err := hfgraph.WriteModel(dir, dst, opts)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "%s (%s, %s, %s): inputs %v, output %s, %d bytes -> %s\n", g.Architecture, g.Family, g.Quantization, g.Checkpoint, g.Inputs, g.Output, len(g.Model), dst)
	return g, nil
}

// checkCheckpoint refuses, naming the files, a directory convert cannot
// build from: no safetensors checkpoint, only an ONNX graph (which is not
// quantized here), or one already quantized.
func checkCheckpoint(dir string, q hfgraph.Quantization) error {
	if hfgraph.FindCheckpoint(dir) != "" {
		return nil
	}
	for _, name := range splade.ONNXCandidates {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if op := splade.QuantizedOp(p); op != "" {
			return fmt.Errorf("%s is already quantized (it has %s nodes) and %s has no safetensors checkpoint (%s) to build from: run the graph as it is", p, op, dir, hfgraph.SafetensorsFile)
		}
		return fmt.Errorf("%s has no safetensors checkpoint (%s or %s) to build from; %s is an ONNX graph, which convert does not read (an %s graph is built from the checkpoint it was exported from)",
			dir, hfgraph.SafetensorsFile, hfgraph.SafetensorsIndex, p, q)
	}
	return nil // hfgraph names what is missing
}

// modelFiles are the files besides the graph that make a model directory.
var modelFiles = []string{"tokenizer.json", "tokenizer_config.json", "config.json", "special_tokens_map.json", "idf.json"}

// copyModelFiles copies the model files src has into dst when dst is
// another directory and lacks them, so a graph written there runs as a
// model directory.
func copyModelFiles(src, dst string, w io.Writer) error {
	a, errA := filepath.Abs(src)
	b, errB := filepath.Abs(dst)
	if errA != nil || errB != nil || a == b {
		return nil
	}
	for _, name := range modelFiles {
		from, to := filepath.Join(src, name), filepath.Join(dst, name)
		data, err := os.ReadFile(from)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := os.Stat(to); err == nil {
			continue
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "copied %s to %s\n", from, to)
	}
	return nil
}
