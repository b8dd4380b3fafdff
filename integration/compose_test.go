package integration

import (
	"errors"
	"fmt"
	"os"
	"regexp"
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
			Ports       []string          `yaml:"ports"`
			Expose      []string          `yaml:"expose"`
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
	if !strings.HasSuffix(q.Image, ":v"+qdranttest.Newest()) {
		t.Errorf("qdrant image %q, the newest Qdrant the tests run is %s", q.Image, qdranttest.Newest())
	}
	if got := q.Environment["QDRANT__INFERENCE__ADDRESS"]; got != "http://spladeq:8080/v1/qdrant/inference" {
		t.Errorf("inference address %q is not spladeq's endpoint", got)
	}
	sp := compose.Services["spladeq"]
	if q.Environment["QDRANT__INFERENCE__TOKEN"] != sp.Environment["SPLADEQ_SERVER_INFERENCE_TOKENS"] {
		t.Errorf("Qdrant's inference token %q is not the one spladeq accepts (%q)",
			q.Environment["QDRANT__INFERENCE__TOKEN"], sp.Environment["SPLADEQ_SERVER_INFERENCE_TOKENS"])
	}

	if len(sp.Ports) != 0 || !slices.Equal(sp.Expose, []string{"8080"}) {
		t.Errorf("spladeq publishes %v and exposes %v; want its port 8080 on the compose network only", sp.Ports, sp.Expose)
	}
	for name, svc := range compose.Services {
		for _, p := range svc.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %q beyond the host's loopback", name, p)
			}
		}
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

// TestComposeHasNoDefaultSecret: compose refuses to start without
// SPLADEQ_INFERENCE_TOKEN (`${VAR:?message}`) instead of falling back to a
// known token, and with it set, Qdrant sends exactly the token spladeq
// accepts. The file is interpolated as compose does (`${VAR}`, `${VAR:-x}`,
// `${VAR-x}`, `${VAR:?msg}`, `${VAR?msg}`, `$$`).
func TestComposeHasNoDefaultSecret(t *testing.T) {
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(data)), "change-me") {
		t.Error("docker-compose.yml still holds a change-me placeholder")
	}
	if _, err := interpolate(string(data), map[string]string{}); err == nil || !strings.Contains(err.Error(), "SPLADEQ_INFERENCE_TOKEN") {
		t.Fatalf("without SPLADEQ_INFERENCE_TOKEN: got %v, want compose to refuse naming it", err)
	}
	const token = "a-token-from-the-operator-0123"
	out, err := interpolate(string(data), map[string]string{"SPLADEQ_INFERENCE_TOKEN": token})
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(out), &compose); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"qdrant", "qdrant-node1", "qdrant-node2", "qdrant-node3"} {
		if got := compose.Services[svc].Environment["QDRANT__INFERENCE__TOKEN"]; got != token {
			t.Errorf("%s sends inference token %q, want %q", svc, got, token)
		}
	}
	if got := compose.Services["spladeq"].Environment["SPLADEQ_SERVER_INFERENCE_TOKENS"]; got != token {
		t.Errorf("spladeq accepts %q, want %q", got, token)
	}

	pub, err := os.ReadFile("../deploy/compose.publish.yml")
	if err != nil {
		t.Fatal(err)
	}
	var publish struct {
		Services map[string]struct {
			Ports []string `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(pub, &publish); err != nil {
		t.Fatal(err)
	}
	if got := publish.Services["spladeq"].Ports; !slices.Equal(got, []string{"127.0.0.1:8080:8080"}) {
		t.Errorf("deploy/compose.publish.yml publishes %v, want 127.0.0.1:8080:8080 only", got)
	}
}

var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate substitutes env into a compose file's lines (comments
// skipped, as compose parses YAML before interpolating).
func interpolate(s string, env map[string]string) (string, error) {
	var errs []error
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		lines[i] = composeVar.ReplaceAllStringFunc(line, func(m string) string {
			if m == "$$" {
				return "$"
			}
			g := composeVar.FindStringSubmatch(m)
			v, set := env[g[1]]
			empty := !set || v == ""
			switch g[2] {
			case "":
				return v
			case ":-", "-":
				if (g[2] == ":-" && empty) || !set {
					return g[3]
				}
			case ":?", "?":
				if (g[2] == ":?" && empty) || !set {
					errs = append(errs, fmt.Errorf("line %d: required variable %s is missing a value: %s", i+1, g[1], g[3]))
				}
			}
			return v
		})
	}
	return strings.Join(lines, "\n"), errors.Join(errs...)
}
