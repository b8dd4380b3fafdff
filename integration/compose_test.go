package integration

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/spladeq/spladeq/internal/qdranttest"
)

// composeToken stands for the operator's SPLADEQ_INFERENCE_TOKEN.
const composeToken = "a-token-from-the-operator-0123"

// loadCompose loads compose files from the repository root with the
// compose specification's own loader (github.com/compose-spec/compose-go,
// what `docker compose` runs): parsed, interpolated from env, validated
// against the compose schema, merged in order, the cluster profile on.
func loadCompose(env map[string]string, files ...string) (*types.Project, error) {
	details := types.ConfigDetails{WorkingDir: repoRoot, Environment: env}
	for _, f := range files {
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: filepath.Join(repoRoot, f)})
	}
	return loader.LoadWithContext(context.Background(), details, loader.WithProfiles([]string{"cluster"}),
		func(o *loader.Options) { o.SetProjectName("spladeq", true) })
}

// environment is a service's environment with every value set.
func environment(t *testing.T, svc types.ServiceConfig) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range svc.Environment {
		if v == nil {
			t.Errorf("%s: %s has no value", svc.Name, k)
			continue
		}
		out[k] = *v
	}
	return out
}

// TestComposeConfiguresTheQdrantTheTestsStart keeps docker-compose.yml (not
// runnable here: no Docker engine) honest: its Qdrant services set exactly
// the settings the tests start the real binary with, inference points at
// spladeq's endpoint with the token spladeq accepts, and the cluster profile
// is three nodes in distributed mode bootstrapping from the first.
func TestComposeConfiguresTheQdrantTheTestsStart(t *testing.T) {
	project, err := loadCompose(map[string]string{"SPLADEQ_INFERENCE_TOKEN": composeToken}, "docker-compose.yml")
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	service := func(name string) types.ServiceConfig {
		svc, err := project.GetService(name)
		if err != nil {
			t.Fatalf("docker-compose.yml: %v", err)
		}
		return svc
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

	q := service("qdrant")
	qenv := environment(t, q)
	if want := sorted(qdranttest.EnvKeys(inference, false)); !slices.Equal(keys(qenv), want) {
		t.Errorf("qdrant service sets %v, the tests set %v", keys(qenv), want)
	}
	if !strings.HasSuffix(q.Image, ":v"+qdranttest.Newest()) {
		t.Errorf("qdrant image %q, the newest Qdrant the tests run is %s", q.Image, qdranttest.Newest())
	}
	if got := qenv["QDRANT__INFERENCE__ADDRESS"]; got != "http://spladeq:8080/v1/qdrant/inference" {
		t.Errorf("inference address %q is not spladeq's endpoint", got)
	}
	sp := service("spladeq")
	if got, accepted := qenv["QDRANT__INFERENCE__TOKEN"], environment(t, sp)["SPLADEQ_SERVER_INFERENCE_TOKENS"]; got != composeToken || accepted != composeToken {
		t.Errorf("Qdrant sends inference token %q, spladeq accepts %q; want both %q", got, accepted, composeToken)
	}

	if len(sp.Ports) != 0 || !slices.Equal([]string(sp.Expose), []string{"8080"}) {
		t.Errorf("spladeq publishes %v and exposes %v; want its port 8080 on the compose network only", sp.Ports, sp.Expose)
	}
	for name, svc := range project.Services {
		for _, p := range svc.Ports {
			if p.Published != "" && p.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s:%s->%d beyond the host's loopback", name, p.HostIP, p.Published, p.Target)
			}
		}
	}

	want := sorted(qdranttest.EnvKeys(inference, true))
	for i, name := range []string{"qdrant-node1", "qdrant-node2", "qdrant-node3"} {
		n := service(name)
		if !slices.Contains(n.Profiles, "cluster") {
			t.Fatalf("%s is not in the cluster profile", name)
		}
		if env := environment(t, n); !slices.Equal(keys(env), want) {
			t.Errorf("%s sets %v, the tests' cluster nodes %v", name, keys(env), want)
		}
		cmd := strings.Join(n.Command, " ")
		if !strings.Contains(cmd, "--uri http://"+name+":6335") || (i > 0) != strings.Contains(cmd, "--bootstrap http://qdrant-node1:6335") {
			t.Errorf("%s command %q: want --uri of its own p2p address, and --bootstrap from node 1 for the others", name, cmd)
		}
	}
}

// TestComposeHasNoDefaultSecret: compose refuses to start without
// SPLADEQ_INFERENCE_TOKEN (`${VAR:?message}`) instead of falling back to a
// known token, and with it set, Qdrant sends exactly the token spladeq
// accepts; deploy/compose.publish.yml, merged over the file as `docker
// compose -f docker-compose.yml -f deploy/compose.publish.yml` does,
// publishes spladeq on the host's loopback only.
func TestComposeHasNoDefaultSecret(t *testing.T) {
	for _, env := range []map[string]string{{}, {"SPLADEQ_INFERENCE_TOKEN": ""}} {
		if _, err := loadCompose(env, "docker-compose.yml"); err == nil || !strings.Contains(err.Error(), "SPLADEQ_INFERENCE_TOKEN") {
			t.Errorf("environment %v: got %v, want compose to refuse naming SPLADEQ_INFERENCE_TOKEN", env, err)
		}
	}
	project, err := loadCompose(map[string]string{"SPLADEQ_INFERENCE_TOKEN": composeToken}, "docker-compose.yml", "deploy/compose.publish.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"qdrant", "qdrant-node1", "qdrant-node2", "qdrant-node3"} {
		svc, err := project.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := environment(t, svc)["QDRANT__INFERENCE__TOKEN"]; got != composeToken {
			t.Errorf("%s sends inference token %q, want %q", name, got, composeToken)
		}
	}
	sp, err := project.GetService("spladeq")
	if err != nil {
		t.Fatal(err)
	}
	if got := environment(t, sp)["SPLADEQ_SERVER_INFERENCE_TOKENS"]; got != composeToken {
		t.Errorf("spladeq accepts %q, want %q", got, composeToken)
	}
	if len(sp.Ports) != 1 || sp.Ports[0].HostIP != "127.0.0.1" || sp.Ports[0].Published != "8080" || sp.Ports[0].Target != 8080 {
		t.Errorf("with deploy/compose.publish.yml spladeq publishes %+v, want 127.0.0.1:8080->8080 only", sp.Ports)
	}
}
