package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/plugin/ingest"
)

// TestKubernetesIndexedJobManifest parses deploy/k8s: the Job is Indexed,
// its --shard count equals its completions and parallelism, every index
// maps to a distinct shard, and the mounted job config loads and keeps
// every worker's state on the shared volume.
func TestKubernetesIndexedJobManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "k8s", "ingest-indexed-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	var job struct {
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Parallelism    int    `yaml:"parallelism"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	kinds := map[string]bool{}
	for {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var head struct{ Kind string }
		node.Decode(&head)
		kinds[head.Kind] = true
		switch head.Kind {
		case "ConfigMap":
			node.Decode(&cm)
		case "Job":
			node.Decode(&job)
		}
	}
	if !kinds["ConfigMap"] || !kinds["Job"] {
		t.Fatalf("want a ConfigMap and a Job, got %v", kinds)
	}
	s := job.Spec
	if s.CompletionMode != "Indexed" || len(s.Template.Spec.Containers) != 1 {
		t.Fatalf("job spec %+v: want one container in an Indexed Job", s)
	}
	args := strings.Join(s.Template.Spec.Containers[0].Args, " ")
	_, shardArg, ok := strings.Cut(args, "--shard ")
	if !ok || !strings.HasPrefix(args, "ingest --config /etc/spladeq/job.yaml") {
		t.Fatalf("args %q: want ingest --config ... --shard", args)
	}
	seen := map[ingest.Shard]bool{}
	for i := 0; i < s.Completions; i++ {
		t.Setenv("JOB_COMPLETION_INDEX", fmt.Sprint(i))
		sh, err := ingest.ParseShard(strings.Fields(shardArg)[0])
		if err != nil || sh.Of != s.Completions || sh.Of != s.Parallelism || sh.Index != i || seen[sh] {
			t.Errorf("index %d: shard %v, %v; want %d/%d (completions %d, parallelism %d)", i, sh, err, i, s.Completions, s.Completions, s.Parallelism)
		}
		seen[sh] = true
	}
	jobFile := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(jobFile, []byte(cm.Data["job.yaml"]), 0o644)
	cfg, err := config.Load(config.LoadOptions{File: jobFile})
	if err != nil {
		t.Fatalf("the ConfigMap's job.yaml: %v", err)
	}
	for _, p := range []string{cfg.Ingest.Checkpoint, cfg.Ingest.DeadLetter, cfg.Ingest.Source.Path} {
		if !strings.HasPrefix(p, "/data/") {
			t.Errorf("%q is not on the shared volume /data", p)
		}
	}
	if cfg.Collection.ShardNumber < 1 || cfg.Collection.ReplicationFactor < 2 {
		t.Errorf("collection shards %d × replication %d: the manifest is for a cluster", cfg.Collection.ShardNumber, cfg.Collection.ReplicationFactor)
	}
}
