package main

import (
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
			if k, ok := hub.Lookup(args[0]); ok && !k.Pullable() {
				fmt.Fprintf(c.ErrOrStderr(), "warning: %s does not load as it is on the hub: %s\n", k.Name, k.Note)
			}
			hc := &hub.Client{Endpoint: cfg.Models.HubURL, Token: cfg.Models.HubToken}
			dir, err := hc.Pull(c.Context(), args[0], cfg.Models.Dir, func(f string, size int64) {
				fmt.Fprintf(c.ErrOrStderr(), "pulling %s (%d bytes)\n", f, size)
			})
			if err != nil {
				return err
			}
			s, err := hub.Suggest(args[0], dir)
			if err != nil {
				return err
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
	convert := &cobra.Command{Use: "convert DIR", Short: "build the ONNX graph of a safetensors checkpoint (model.onnx)",
		Long: "Builds the ONNX graph of the HuggingFace checkpoint in DIR (config.json + model.safetensors, or a\nsharded model.safetensors.index.json) and writes it to DIR/model.onnx, or --out. A *ForMaskedLM\ncheckpoint (BERT, DistilBERT, RoBERTa, XLM-RoBERTa) gets the masked-LM logits [batch, sequence, vocab],\nas a plain export; --head-block N builds the blocked SPLADE head in instead ([batch, vocab] max logits).\nA bare *Model checkpoint gets last_hidden_state. No conversion is needed to use a checkpoint:\nspladeq builds the same graph in memory when DIR has no ONNX file.",
		Args: cobra.ExactArgs(1)}
	out := convert.Flags().String("out", "", "output file (default DIR/model.onnx)")
	force := convert.Flags().Bool("force", false, "overwrite an existing output file")
	block := convert.Flags().Int("head-block", -1, fmt.Sprintf("build the blocked SPLADE head with this many vocabulary entries per slice, as vectorizers.NAME.head_block: -1 none (the logits of a plain export), 0 the default (%d)", splade.DefaultHeadBlock))
	convert.RunE = func(c *cobra.Command, args []string) error {
		dst := *out
		if dst == "" {
			dst = filepath.Join(args[0], "model.onnx")
		}
		if _, err := os.Stat(dst); err == nil && !*force {
			return fmt.Errorf("%s exists; use --force to overwrite it", dst)
		}
		head, err := hfgraph.DefaultHead(args[0])
		if err != nil {
			return err
		}
		opts := hfgraph.Options{Head: head}
		if *block < -1 {
			return usageError{fmt.Errorf("--head-block: must be > 0, 0 for the default or -1 for none, got %d", *block)}
		}
		if *block >= 0 {
			if head != hfgraph.Logits {
				return fmt.Errorf("--head-block: %s is not a masked-LM checkpoint", args[0])
			}
			opts = hfgraph.Options{Head: hfgraph.MaxLogits, Block: plugin.HeadBlock(*block)}
		}
		g, err := hfgraph.WriteModel(args[0], dst, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.ErrOrStderr(), "%s (%s, %s): inputs %v, output %s, %d bytes\n", g.Architecture, g.Family, g.Checkpoint, g.Inputs, g.Output, len(g.Model))
		fmt.Fprintln(c.OutOrStdout(), dst)
		return nil
	}
	cmd.AddCommand(pull, ls, optimize, convert)
	return cmd
}
