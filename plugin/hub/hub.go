// Package hub downloads model directories from a HuggingFace-compatible
// hub into a local cache: only the files an encoder needs (the ONNX graph,
// or when there is none the safetensors checkpoint spladeq builds a graph
// from), each checked against the size (and, for LFS files, the sha256)
// the hub lists, Git LFS pointers refused, and the directory moved into
// place only when complete.
package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// wanted are the files pulled when present; ONNX graphs are chosen apart.
var wanted = []string{"tokenizer.json", "config.json", "tokenizer_config.json", "special_tokens_map.json", "idf.json"}

// onnxCandidates are tried in order; the first present is pulled, with its
// external-data file when it has one.
var onnxCandidates = []string{"model.onnx", "onnx/model.onnx"}

// checkpointFile and checkpointIndex are a safetensors checkpoint, one file
// or the index of shards named model-NNNNN-of-NNNNN.safetensors, pulled
// when a repository has no ONNX graph, or when Client.Checkpoint is set.
const (
	checkpointFile  = "model.safetensors"
	checkpointIndex = "model.safetensors.index.json"
)

// checkpointFiles returns the checkpoint files of a listing: the single
// file, else the index and every top-level model-*.safetensors shard.
func checkpointFiles(byPath map[string]treeEntry) []treeEntry {
	if e, ok := byPath[checkpointFile]; ok {
		return []treeEntry{e}
	}
	idx, ok := byPath[checkpointIndex]
	if !ok {
		return nil
	}
	out := []treeEntry{idx}
	var shards []string
	for p := range byPath {
		if !strings.Contains(p, "/") && strings.HasPrefix(p, "model-") && strings.HasSuffix(p, ".safetensors") {
			shards = append(shards, p)
		}
	}
	sort.Strings(shards)
	for _, p := range shards {
		out = append(out, byPath[p])
	}
	return out
}

// Client talks to a hub.
type Client struct {
	// Endpoint is the hub's base URL, e.g. https://huggingface.co.
	Endpoint string
	// Token is sent as a Bearer token when set.
	Token string
	// HTTP is the client; default has a 30-minute timeout.
	HTTP *http.Client
	// Checkpoint pulls the safetensors checkpoint, not the ONNX graph,
	// when the repository has both: what an int8 graph is built from
	// (`spladeq model pull --quantize int8`). A repository without one is
	// refused before anything is downloaded (ErrNoCheckpoint).
	Checkpoint bool
}

// ErrNoCheckpoint is returned by Pull when Client.Checkpoint is set and the
// repository has no safetensors checkpoint.
var ErrNoCheckpoint = errors.New("no safetensors checkpoint")

type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	LFS  *struct {
		Oid  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// Ref splits "org/name@revision" (revision default "main").
func Ref(ref string) (repo, rev string, err error) {
	repo, rev, _ = strings.Cut(ref, "@")
	if rev == "" {
		rev = "main"
	}
	parts := strings.Split(repo, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" || strings.ContainsAny(repo, "\\ ") || parts[0] == ".." || parts[1] == ".." || parts[0] == "." || parts[1] == "." {
		return "", "", fmt.Errorf("model reference %q: want ORG/NAME[@REVISION]", ref)
	}
	if strings.ContainsAny(rev, "/\\") && !strings.HasPrefix(rev, "refs/") {
		return "", "", fmt.Errorf("model reference %q: bad revision %q", ref, rev)
	}
	return repo, rev, nil
}

// Pull downloads ref into cacheDir/ORG/NAME and returns that directory.
// progress, when not nil, is told each file as it starts.
func (c *Client) Pull(ctx context.Context, ref, cacheDir string, progress func(file string, size int64)) (string, error) {
	repo, rev, err := Ref(ref)
	if err != nil {
		return "", err
	}
	tree, err := c.tree(ctx, repo, rev)
	if err != nil {
		return "", err
	}
	byPath := map[string]treeEntry{}
	for _, e := range tree {
		if e.Type == "file" || e.Type == "" {
			byPath[e.Path] = e
		}
	}
	var files []treeEntry
	for _, f := range wanted {
		if e, ok := byPath[f]; ok {
			files = append(files, e)
		}
	}
	if _, ok := byPath["tokenizer.json"]; !ok {
		return "", fmt.Errorf("%s@%s has no tokenizer.json; spladeq needs a HuggingFace fast tokenizer", repo, rev)
	}
	var graph string
	if c.Checkpoint && len(checkpointFiles(byPath)) == 0 {
		var graphs []string
		for _, g := range onnxCandidates {
			if _, ok := byPath[g]; ok {
				graphs = append(graphs, g)
			}
		}
		has := "no ONNX graph either"
		if len(graphs) > 0 {
			has = "only the ONNX graph " + strings.Join(graphs, ", ")
		}
		return "", fmt.Errorf("%s@%s: %w (%s, or %s and its shards); it has %s", repo, rev, ErrNoCheckpoint, checkpointFile, checkpointIndex, has)
	}
	for _, g := range onnxCandidates {
		if c.Checkpoint {
			break // the checkpoint is pulled instead
		}
		if e, ok := byPath[g]; ok {
			graph = g
			files = append(files, e)
			if d, ok := byPath[g+"_data"]; ok {
				files = append(files, d)
			}
			if d, ok := byPath[g+".data"]; ok {
				files = append(files, d)
			}
			break
		}
	}
	if graph == "" {
		// No ONNX graph: a safetensors checkpoint, which spladeq builds the
		// graph of (package hfgraph), needs its config.json.
		ck := checkpointFiles(byPath)
		if len(ck) == 0 {
			return "", fmt.Errorf("%s@%s has neither an ONNX graph (looked for %s) nor a safetensors checkpoint (%s, or %s and its shards)",
				repo, rev, strings.Join(onnxCandidates, ", "), checkpointFile, checkpointIndex)
		}
		if _, ok := byPath["config.json"]; !ok {
			return "", fmt.Errorf("%s@%s has a safetensors checkpoint but no config.json to build its graph from", repo, rev)
		}
		files = append(files, ck...)
	}
	final := filepath.Join(cacheDir, filepath.FromSlash(repo))
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), "."+filepath.Base(final)+".pull-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		size := f.Size
		if f.LFS != nil {
			size = f.LFS.Size
		}
		if progress != nil {
			progress(f.Path, size)
		}
		if err := c.download(ctx, repo, rev, f, filepath.Join(tmp, filepath.FromSlash(f.Path))); err != nil {
			return "", err
		}
	}
	meta, _ := json.MarshalIndent(map[string]any{"repo": repo, "revision": rev, "endpoint": c.Endpoint, "pulled": time.Now().UTC()}, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, ".spladeq-pull.json"), meta, 0o644); err != nil {
		return "", err
	}
	if err := os.RemoveAll(final); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return final, nil
}

func (c *Client) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		resp.Body.Close()
		hint := ""
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			hint = " (gated or private: set models.hub_token)"
		case http.StatusNotFound:
			hint = " (no such model, revision or file)"
		}
		return nil, fmt.Errorf("GET %s: HTTP %d%s: %s", u, resp.StatusCode, hint, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

func (c *Client) base() string { return strings.TrimRight(c.Endpoint, "/") }

func (c *Client) tree(ctx context.Context, repo, rev string) ([]treeEntry, error) {
	u := fmt.Sprintf("%s/api/models/%s/tree/%s?recursive=true", c.base(), repo, url.PathEscape(rev))
	resp, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var tree []treeEntry
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&tree); err != nil {
		return nil, fmt.Errorf("GET %s: not a file listing: %v", u, err)
	}
	return tree, nil
}

var lfsPointer = []byte("version https://git-lfs.github.com/spec/")

// download fetches one file and checks its size, sha256 (LFS files) and
// that it is not a Git LFS pointer.
func (c *Client) download(ctx context.Context, repo, rev string, f treeEntry, dst string) error {
	if !safeRel(f.Path) {
		return fmt.Errorf("hub listed an unsafe path %q", f.Path)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	u := fmt.Sprintf("%s/%s/resolve/%s/%s", c.base(), repo, url.PathEscape(rev), f.Path)
	resp, err := c.get(ctx, u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	want := f.Size
	if f.LFS != nil {
		want = f.LFS.Size
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(resp.Body, want+1))
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if n != want {
		return fmt.Errorf("%s: got %d bytes, the hub lists %d", f.Path, n, want)
	}
	head := make([]byte, len(lfsPointer))
	if _, err := out.ReadAt(head, 0); err == nil && string(head) == string(lfsPointer) {
		return fmt.Errorf("%s: the hub served a Git LFS pointer, not the file", f.Path)
	}
	if f.LFS != nil && f.LFS.Oid != "" {
		if got := hex.EncodeToString(h.Sum(nil)); got != f.LFS.Oid {
			return fmt.Errorf("%s: sha256 %s, the hub lists %s", f.Path, got, f.LFS.Oid)
		}
	}
	return out.Sync()
}

// safeRel reports whether a listed path stays inside the model directory.
func safeRel(p string) bool {
	clean := path.Clean(p)
	return p != "" && !path.IsAbs(p) && clean == p && clean != ".." && !strings.HasPrefix(clean, "../") && !strings.Contains(p, "\\")
}

// Cached lists pulled models under cacheDir as ORG/NAME, sorted.
func Cached(cacheDir string) ([]string, error) {
	orgs, err := os.ReadDir(cacheDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range orgs {
		if !o.IsDir() || strings.HasPrefix(o.Name(), ".") {
			continue
		}
		names, _ := os.ReadDir(filepath.Join(cacheDir, o.Name()))
		for _, n := range names {
			if n.IsDir() && !strings.HasPrefix(n.Name(), ".") {
				out = append(out, o.Name()+"/"+n.Name())
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
