package integration

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/spladeq/spladeq/internal/qdranttest"
)

// TestComposeConfiguresTheQdrantTheTestsStart keeps docker-compose.yml (not
// runnable here: no Docker engine) honest: its Qdrant services set exactly
// the settings the tests start the real binary with, inference points at
// spladeq's endpoint with the token spladeq accepts, and the cluster profile
// is three nodes in distributed mode bootstrapping from the first.
func TestComposeConfiguresTheQdrantTheTestsStart(t *testing.T) {
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Profiles    []string          `yaml:"profiles"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	inference := qdranttest.Options{InferenceAddress: "x", InferenceToken: "y"}
	keys := func(env map[string]string) []string {
		var ks []string
		for k := range env {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	sorted := func(ks []string) []string { sort.Strings(ks); return ks }

	q := compose.Services["qdrant"]
	if want := sorted(qdranttest.EnvKeys(inference, false)); !slices.Equal(keys(q.Environment), want) {
		t.Errorf("qdrant service sets %v, the tests set %v", keys(q.Environment), want)
	}
	if !strings.HasSuffix(q.Image, ":v1.17.1") {
		t.Errorf("qdrant image %q, the tests run 1.17.1", q.Image)
	}
	if got := q.Environment["QDRANT__INFERENCE__ADDRESS"]; got != "http://spladeq:8080/v1/qdrant/inference" {
		t.Errorf("inference address %q is not spladeq's endpoint", got)
	}
	sp := compose.Services["spladeq"]
	if q.Environment["QDRANT__INFERENCE__TOKEN"] != sp.Environment["SPLADEQ_SERVER_INFERENCE_TOKENS"] {
		t.Errorf("Qdrant's inference token %q is not the one spladeq accepts (%q)",
			q.Environment["QDRANT__INFERENCE__TOKEN"], sp.Environment["SPLADEQ_SERVER_INFERENCE_TOKENS"])
	}

	want := sorted(qdranttest.EnvKeys(inference, true))
	for i, name := range []string{"qdrant-node1", "qdrant-node2", "qdrant-node3"} {
		n, ok := compose.Services[name]
		if !ok || !slices.Contains(n.Profiles, "cluster") {
			t.Fatalf("no %s in the cluster profile", name)
		}
		if !slices.Equal(keys(n.Environment), want) {
			t.Errorf("%s sets %v, the tests' cluster nodes %v", name, keys(n.Environment), want)
		}
		cmd := strings.Join(n.Command, " ")
		if !strings.Contains(cmd, "--uri http://"+name+":6335") || (i > 0) != strings.Contains(cmd, "--bootstrap http://qdrant-node1:6335") {
			t.Errorf("%s command %q: want --uri of its own p2p address, and --bootstrap from node 1 for the others", name, cmd)
		}
	}
}
