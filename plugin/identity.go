package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/splade/hfgraph"
)

// Identifier is a vectorizer that names what determines its vectors; a
// custom vectorizer (WithVectorizer) implements it so ingestion re-encodes
// when it changes.
type Identifier interface {
	Identity() string
}

// VectorizerIdentity names what determines the vectors of the vectorizer
// name: its configuration — every field of config.Vectorizer not tagged
// fingerprint:"-" — and a hash of its model files. Ingestion records it in
// each document's fingerprint, so a changed model file or setting
// re-encodes on the next sync, and a changed thread count does not. A
// vectorizer given by WithVectorizer is named by its Identity method when
// it has one, else by its module.
func (s *Service) VectorizerIdentity(name string) (string, error) {
	v, ok := s.vecs[name]
	if !ok {
		return "", fmt.Errorf("no vectorizer named %q", name)
	}
	if id, ok := v.(Identifier); ok {
		return "custom " + id.Identity(), nil
	}
	vc, ok := s.cfg.Vectorizers[name]
	if !ok {
		if name == config.DefaultBM25 && v.Module() == config.ModuleBM25 {
			vc = config.DefaultVectorizers()[name]
		} else {
			return "module " + v.Module(), nil
		}
	}
	fields := vectorSettings(vc)
	if vc.Model != "" {
		sum, err := modelFilesHash(ResolveModel(vc.Model, s.cfg.Models.Dir), unusedGraph(vc))
		if err != nil {
			return "", fmt.Errorf("vectorizer %s: hash model files: %w", name, err)
		}
		fields["ModelFiles"] = sum
	}
	data, err := json.Marshal(fields) // map keys sorted: a stable text
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// vectorSettings are the fields of a vectorizer's configuration that
// change its vectors: all but those tagged fingerprint:"-".
func vectorSettings(vc config.Vectorizer) map[string]any {
	fields := map[string]any{}
	rv, rt := reflect.ValueOf(vc), reflect.TypeOf(vc)
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if f.Tag.Get("fingerprint") == "-" || !f.IsExported() {
			continue
		}
		fields[f.Name] = rv.Field(i).Interface()
	}
	return fields
}

// fileHashes caches model files' hashes by path, size and modification
// time, so a long-running job (watch mode) reads each file once.
var fileHashes struct {
	sync.Mutex
	m map[string]fileHash
}

type fileHash struct {
	size  int64
	mtime time.Time
	sum   string
}

// unusedGraph is the file of a model directory that the vectorizer vc
// never loads and so leaves out of its identity: the int8 graph
// (hfgraph.Int8File) of an fp32 vectorizer, so that writing one beside
// model.onnx (make models, model convert --quantize int8) does not
// re-encode every collection built with the fp32 graph.
func unusedGraph(vc config.Vectorizer) string {
	if vc.Quantize == config.QuantizeInt8 || vc.ONNXFile == hfgraph.Int8File {
		return ""
	}
	return hfgraph.Int8File
}

// modelFilesHash is a SHA-256 over a model directory's files (names and
// contents; hidden files and directories skipped, and the file named skip
// at the directory's top level), or over the one file path names.
func modelFilesHash(path, skip string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	var rels []string
	if st.IsDir() {
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != path {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				rel, _ := filepath.Rel(path, p)
				if skip != "" && rel == skip {
					return nil
				}
				rels = append(rels, rel)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	} else {
		path, rels = filepath.Dir(path), []string{filepath.Base(path)}
	}
	sort.Strings(rels)
	h := sha256.New()
	for _, rel := range rels {
		sum, err := hashFile(filepath.Join(path, rel))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%s\x00", filepath.ToSlash(rel), sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	fileHashes.Lock()
	c, ok := fileHashes.m[p]
	fileHashes.Unlock()
	if ok && c.size == st.Size() && c.mtime.Equal(st.ModTime()) {
		return c.sum, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	fileHashes.Lock()
	if fileHashes.m == nil {
		fileHashes.m = map[string]fileHash{}
	}
	fileHashes.m[p] = fileHash{st.Size(), st.ModTime(), sum}
	fileHashes.Unlock()
	return sum, nil
}
