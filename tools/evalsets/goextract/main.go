// Command goextract prints the documented declarations of the Go standard
// library as JSON lines, the input of tools/evalsets/build.py's go-stdlib set:
// one line per package, function, type and method that has a doc comment,
// with the comment's first sentence (go/doc's synopsis) and the comment text.
// Packages under internal, vendor, testdata and cmd are skipped; directories
// and declarations come out in a fixed order so the output is reproducible.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

var buildContext = func() build.Context {
	c := build.Default
	c.GOOS, c.GOARCH, c.CgoEnabled = "linux", "amd64", true
	c.BuildTags = nil // ToolTags stay: the toolchain's default experiments
	return c
}()

type record struct {
	ID       string `json:"id"`       // import path + "." + name
	Package  string `json:"package"`  // import path
	Name     string `json:"name"`     // declared name ("" for the package)
	Kind     string `json:"kind"`     // package, func, type, method
	Synopsis string `json:"synopsis"` // the first sentence, whitespace folded
	Doc      string `json:"doc"`      // the whole comment text
	Decl     string `json:"decl"`     // the declaration without its body
	File     string `json:"file"`     // relative to GOROOT/src
}

func main() {
	root := flag.String("src", "", "GOROOT/src directory")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "goextract: -src is required")
		os.Exit(2)
	}
	var dirs []string
	err := filepath.WalkDir(*root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(*root, p)
		if rel == "." {
			return nil
		}
		for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
			if part == "internal" || part == "vendor" || part == "testdata" || part == "cmd" || strings.HasPrefix(part, ".") || strings.HasPrefix(part, "_") {
				return filepath.SkipDir
			}
		}
		dirs = append(dirs, p)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "goextract:", err)
		os.Exit(1)
	}
	sort.Strings(dirs)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for _, dir := range dirs {
		if err := extract(enc, *root, dir); err != nil {
			fmt.Fprintln(os.Stderr, "goextract:", err)
			os.Exit(1)
		}
	}
}

func extract(enc *json.Encoder, root, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		// The files of one fixed platform and this toolchain's experiments: a
		// declaration defined under two build constraints would otherwise
		// be documented twice, the survivor chosen by go/doc at random.
		if ok, err := buildContext.MatchFile(dir, name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" || f.Name.Name == "documentation" {
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil
	}
	rel, _ := filepath.Rel(root, dir)
	path := filepath.ToSlash(rel)
	pkg, err := doc.NewFromFiles(fset, files, path)
	if err != nil {
		return err
	}
	fileOf := func(pos token.Pos) string {
		r, _ := filepath.Rel(root, fset.Position(pos).Filename)
		return filepath.ToSlash(r)
	}
	emit := func(name, kind, text string, decl ast.Node) error {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		r := record{ID: path, Package: path, Name: name, Kind: kind, Synopsis: pkg.Synopsis(text), Doc: text}
		if name != "" {
			r.ID = path + "." + name
		}
		if decl != nil {
			var b bytes.Buffer
			if err := printer.Fprint(&b, fset, decl); err != nil {
				return err
			}
			r.Decl = b.String()
			r.File = fileOf(decl.Pos())
		} else if len(pkg.Filenames) > 0 {
			r.File = fileOf(files[0].Package)
		}
		return enc.Encode(r)
	}
	if err := emit("", "package", pkg.Doc, nil); err != nil {
		return err
	}
	funcs := func(fs []*doc.Func, prefix, kind string) error {
		for _, f := range fs {
			if !ast.IsExported(f.Name) {
				continue
			}
			d := *f.Decl
			d.Body, d.Doc = nil, nil
			if err := emit(prefix+f.Name, kind, f.Doc, &d); err != nil {
				return err
			}
		}
		return nil
	}
	if err := funcs(pkg.Funcs, "", "func"); err != nil {
		return err
	}
	for _, t := range pkg.Types {
		d := *t.Decl
		d.Doc = nil
		if err := emit(t.Name, "type", t.Doc, &d); err != nil {
			return err
		}
		if err := funcs(t.Funcs, "", "func"); err != nil {
			return err
		}
		if err := funcs(t.Methods, t.Name+".", "method"); err != nil {
			return err
		}
	}
	return nil
}
