package integration

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/internal/s3test"
)

// TestS3SyncSurvivesKillNine is TestSyncSurvivesKillNineAtRandomMoments
// with the source in a bucket of a real S3-compatible server (versitygw):
// the corpus as JSONL objects of 40 lines each, so an edition changes some
// objects (new ETags), leaves others as they were (skipped unread) and
// deletes the last ones. `spladeq ingest` with ingest.sync: full is killed
// with SIGKILL at random moments and as its deletions start, the bucket
// changing between some kills; a last run must leave the collection equal,
// point for point, to a clean run over the final bucket. On the embedded
// store and the newest Qdrant: the units' tokens are stamped on the points
// (and the documents of changed units marked) through each store's
// filtered payload writes.
func TestS3SyncSurvivesKillNine(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		s3SyncKillCycles(t, dir, "embedded://"+filepath.Join(dir, "store"), "embedded://"+filepath.Join(dir, "clean-store"))
	})
	v := qdranttest.Newest()
	t.Run("qdrant "+v, func(t *testing.T) {
		qdranttest.Need(t, v)
		node := qdranttest.StartVersion(t, v, qdranttest.Options{})
		s3SyncKillCycles(t, t.TempDir(), node.GRPCAddr(), node.GRPCAddr())
	})
}

// s3SyncKillCycles runs the test's kill cycles into url (collection
// docs), then compares with a clean run into cleanURL's collection clean.
func s3SyncKillCycles(t *testing.T, dir, url, cleanURL string) {
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "corpus")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	docs := max(700, 120*killCycles())
	const perObject = 40
	objects := 0
	write := func(variant int) {
		lines, _, _ := syncCorpus(docs, variant)
		parts := map[string][]byte{}
		for i := 0; i*perObject < len(lines); i++ {
			part := lines[i*perObject : min((i+1)*perObject, len(lines))]
			parts[fmt.Sprintf("parts/%03d.jsonl", i)] = []byte(strings.Join(part, "\n") + "\n")
		}
		srv.Put(t, "corpus", parts)
		for i := len(parts); i < objects; i++ {
			srv.Delete(t, "corpus", fmt.Sprintf("parts/%03d.jsonl", i))
		}
		objects = len(parts)
	}
	config := func(url, name string) string {
		p := syncJobConfig(dir, url, "unused", name)
		return replaceInFile(t, p, `source: {type: jsonl, path: "unused"}`,
			fmt.Sprintf(`source: {type: s3, bucket: corpus, prefix: parts/, endpoint: %q, include: ["**/*.jsonl"]}`, srv.Endpoint))
	}
	write(0)
	cfg := config(url, "docs")
	runIngest(t, dir, 0, "--config", cfg)

	variant, out := killSyncRuns(t, dir, cfg, seed, rng, write)
	t.Logf("final edition %d in %d objects; final run: %s", variant, objects, out)
	_, want, bad := syncCorpus(docs, variant)
	checkExact(t, url, want)
	checkDeadLetters(t, bad, filepath.Join(dir, "docs.dead.jsonl"))

	runIngest(t, dir, 0, "--config", config(cleanURL, "clean"))
	compareCollections(t, url, "docs", cleanURL, "clean")
}

// replaceInFile replaces old (which must be there) by new in the file at
// path, and returns path.
func replaceInFile(t *testing.T, path, old, new string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not hold %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
