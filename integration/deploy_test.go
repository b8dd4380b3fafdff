package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/plugin/httpapi"
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

// k8sObject is the part of a manifest object the serve test reads.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		// Deployment
		Replicas int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds int            `yaml:"terminationGracePeriodSeconds"`
				Containers                    []k8sContainer `yaml:"containers"`
				Volumes                       []struct {
					Name      string `yaml:"name"`
					ConfigMap struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// Service (selector is a plain map there; read separately)
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		// HorizontalPodAutoscaler
		ScaleTargetRef struct{ Kind, Name string } `yaml:"scaleTargetRef"`
		MinReplicas    int                         `yaml:"minReplicas"`
		MaxReplicas    int                         `yaml:"maxReplicas"`
		Metrics        []struct {
			Type     string `yaml:"type"`
			Resource struct {
				Name   string `yaml:"name"`
				Target struct {
					AverageUtilization int `yaml:"averageUtilization"`
				} `yaml:"target"`
			} `yaml:"resource"`
		} `yaml:"metrics"`
		// PodDisruptionBudget
		MinAvailable int `yaml:"minAvailable"`
		// NetworkPolicy
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		PolicyTypes []string `yaml:"policyTypes"`
		Ingress     []struct {
			From []struct {
				PodSelector *struct {
					MatchLabels      map[string]string `yaml:"matchLabels"`
					MatchExpressions []any             `yaml:"matchExpressions"`
				} `yaml:"podSelector"`
				NamespaceSelector any `yaml:"namespaceSelector"`
				IPBlock           any `yaml:"ipBlock"`
			} `yaml:"from"`
			Ports []struct {
				Port int `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop struct {
			Exec struct {
				Command []string `yaml:"command"`
			} `yaml:"exec"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// checkNetworkPolicy wants the policy to admit only Qdrant's pods (the
// Qdrant Helm chart labels them app.kubernetes.io/name: qdrant), in the
// policy's own namespace, on the server's port: Ingress among its policy
// types, and every ingress rule naming its sources (a rule with no "from"
// admits every source) as pod selectors on that label alone — no IP
// block, no namespace selector, no match expressions widening it.
func checkNetworkPolicy(t *testing.T, np k8sObject, port int) {
	t.Helper()
	if !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
		t.Errorf("NetworkPolicy policyTypes %v: without Ingress it restricts no incoming traffic", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) == 0 {
		t.Fatal("NetworkPolicy has no ingress rule: it admits nothing, Qdrant included")
	}
	for i, rule := range np.Spec.Ingress {
		if len(rule.From) == 0 {
			t.Errorf("NetworkPolicy ingress[%d] has no from: it admits every source, not only Qdrant's pods", i)
		}
		for j, peer := range rule.From {
			switch {
			case peer.IPBlock != nil:
				t.Errorf("NetworkPolicy ingress[%d].from[%d] admits an IP block", i, j)
			case peer.NamespaceSelector != nil:
				t.Errorf("NetworkPolicy ingress[%d].from[%d] has a namespaceSelector: it admits pods of other namespaces", i, j)
			case peer.PodSelector == nil:
				t.Errorf("NetworkPolicy ingress[%d].from[%d] selects no pods", i, j)
			case len(peer.PodSelector.MatchLabels) != 1 || peer.PodSelector.MatchLabels["app.kubernetes.io/name"] != "qdrant" || len(peer.PodSelector.MatchExpressions) > 0:
				t.Errorf("NetworkPolicy ingress[%d].from[%d] selects pods %v %v; want only app.kubernetes.io/name=qdrant", i, j, peer.PodSelector.MatchLabels, peer.PodSelector.MatchExpressions)
			}
		}
		if len(rule.Ports) != 1 || rule.Ports[0].Port != port {
			t.Errorf("NetworkPolicy ingress[%d] admits ports %+v, the server listens on %d", i, rule.Ports, port)
		}
	}
}

// TestKubernetesServeManifest parses deploy/k8s/serve.yaml: selectors match
// the pods' labels everywhere, probes and Qdrant's inference.address name
// routes the server has, ports agree from the config's listen address to
// the Service, the grace period covers preStop plus the shutdown timeout,
// secrets come from a Secret, and Qdrant's address is the Service.
func TestKubernetesServeManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "k8s", "serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]k8sObject{} // kind/name
	serviceSelector := map[string]string{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var o k8sObject
		if err := node.Decode(&o); err != nil {
			t.Fatal(err)
		}
		objs[o.Kind+"/"+o.Metadata.Name] = o
		if o.Kind == "Service" {
			var svc struct {
				Spec struct {
					Selector map[string]string `yaml:"selector"`
				} `yaml:"spec"`
			}
			node.Decode(&svc)
			serviceSelector = svc.Spec.Selector
		}
	}
	need := func(key string) k8sObject {
		o, ok := objs[key]
		if !ok {
			t.Fatalf("no %s in serve.yaml (have %d objects)", key, len(objs))
		}
		return o
	}
	dep, svc := need("Deployment/spladeq"), need("Service/spladeq")
	hpa, pdb, np := need("HorizontalPodAutoscaler/spladeq"), need("PodDisruptionBudget/spladeq"), need("NetworkPolicy/spladeq")
	cm, qcm := need("ConfigMap/spladeq-serve"), need("ConfigMap/qdrant-inference")

	pods := dep.Spec.Template.Metadata.Labels
	matches := func(what string, sel map[string]string) {
		if len(sel) == 0 {
			t.Errorf("%s: empty selector", what)
		}
		for k, v := range sel {
			if pods[k] != v {
				t.Errorf("%s selects %s=%s, the pods are labelled %v", what, k, v, pods)
			}
		}
	}
	matches("Deployment", dep.Spec.Selector.MatchLabels)
	matches("Service", serviceSelector)
	matches("PodDisruptionBudget", pdb.Spec.Selector.MatchLabels)
	matches("NetworkPolicy", np.Spec.PodSelector.MatchLabels)

	spec := dep.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if args := strings.Join(c.Args, " "); args != "serve --config /etc/spladeq/spladeq.yaml" {
		t.Errorf("args %q", args)
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if vm.Name == v.Name && vm.MountPath == "/etc/spladeq" && v.ConfigMap.Name == cm.Metadata.Name {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("ConfigMap %s is not mounted at /etc/spladeq", cm.Metadata.Name)
	}
	cfgFile := filepath.Join(t.TempDir(), "spladeq.yaml")
	os.WriteFile(cfgFile, []byte(cm.Data["spladeq.yaml"]), 0o644)
	cfg, err := config.Load(config.LoadOptions{File: cfgFile})
	if err != nil {
		t.Fatalf("the ConfigMap's spladeq.yaml: %v", err)
	}

	// Ports: listen address → containerPort "http" → Service targetPort.
	_, listenPort, _ := net.SplitHostPort(cfg.Server.Listen)
	containerPorts := map[string]int{}
	for _, p := range c.Ports {
		containerPorts[p.Name] = p.ContainerPort
	}
	if fmt.Sprint(containerPorts["http"]) != listenPort {
		t.Errorf("server.listen %s, container port http %d", cfg.Server.Listen, containerPorts["http"])
	}
	if len(svc.Spec.Ports) != 1 || containerPorts[svc.Spec.Ports[0].TargetPort] == 0 {
		t.Fatalf("Service ports %+v: want one, targeting a named container port (%v)", svc.Spec.Ports, containerPorts)
	}
	checkNetworkPolicy(t, np, containerPorts["http"])

	// Probes name routes the server has, on the server's port.
	routes := map[string]bool{}
	for _, p := range httpapi.Patterns() {
		routes[p] = true
	}
	for name, p := range map[string]*k8sProbe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		if p == nil {
			t.Errorf("no %s", name)
			continue
		}
		if !routes["GET "+p.HTTPGet.Path] || containerPorts[p.HTTPGet.Port] == 0 {
			t.Errorf("%s GET %s on port %q: not a route of the server or not its port", name, p.HTTPGet.Path, p.HTTPGet.Port)
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness on %s, want /readyz", c.ReadinessProbe.HTTPGet.Path)
	}

	// Shutdown: preStop sleep + server.shutdown_timeout fit in the grace period.
	pre := c.Lifecycle.PreStop.Exec.Command
	var sleep int
	if len(pre) != 2 || pre[0] != "sleep" {
		t.Fatalf("preStop %v, want [sleep N]", pre)
	}
	fmt.Sscan(pre[1], &sleep)
	grace := time.Duration(spec.TerminationGracePeriodSeconds) * time.Second
	if total := time.Duration(sleep)*time.Second + cfg.Server.ShutdownTimeout; sleep < 1 || total >= grace {
		t.Errorf("preStop %ds + shutdown_timeout %v = %v, not within terminationGracePeriodSeconds %v", sleep, cfg.Server.ShutdownTimeout, total, grace)
	}

	// Secrets only from a Secret, and the token Qdrant sends is the one
	// spladeq accepts.
	secretOf := map[string]string{}
	for _, e := range c.Env {
		if e.Value != nil {
			t.Errorf("env %s has a literal value: secrets come from a Secret", e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretOf[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	if secretOf["SPLADEQ_SERVER_INFERENCE_TOKENS"] != "spladeq-secrets/inference-token" || secretOf["SPLADEQ_SERVER_API_KEYS"] == "" {
		t.Errorf("env from secrets %v: want the inference token and API keys", secretOf)
	}
	if !strings.Contains(string(data), "key: inference-token}}") || !strings.Contains(string(data), "QDRANT__INFERENCE__TOKEN") {
		t.Error("the header does not show Qdrant taking QDRANT__INFERENCE__TOKEN from the same Secret key")
	}

	// Qdrant's side: the settings the tests start Qdrant with, pointing at
	// the Service and the inference route.
	allowed := map[string]bool{}
	for _, k := range qdranttest.EnvKeys(qdranttest.Options{InferenceAddress: "x", InferenceToken: "y"}, false) {
		allowed[k] = true
	}
	for k := range qcm.Data {
		if !allowed[k] {
			t.Errorf("qdrant-inference sets %s, which the tests never start Qdrant with", k)
		}
	}
	u, err := url.Parse(qcm.Data["QDRANT__INFERENCE__ADDRESS"])
	if err != nil || u.Hostname() != svc.Metadata.Name || u.Port() != fmt.Sprint(svc.Spec.Ports[0].Port) || !routes["POST "+u.Path] {
		t.Errorf("Qdrant's inference.address %q: want http://%s:%d + a POST route of the server", qcm.Data["QDRANT__INFERENCE__ADDRESS"], svc.Metadata.Name, svc.Spec.Ports[0].Port)
	}

	// Scaling: CPU requests for the HPA to scale on, a PDB that lets a
	// drain proceed.
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != dep.Metadata.Name {
		t.Errorf("HPA targets %+v", hpa.Spec.ScaleTargetRef)
	}
	if len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].Resource.Name != "cpu" || hpa.Spec.Metrics[0].Resource.Target.AverageUtilization == 0 {
		t.Errorf("HPA metrics %+v: want CPU utilization", hpa.Spec.Metrics)
	}
	if hpa.Spec.MinReplicas <= pdb.Spec.MinAvailable || dep.Spec.Replicas < hpa.Spec.MinReplicas || hpa.Spec.MaxReplicas <= hpa.Spec.MinReplicas {
		t.Errorf("replicas %d, HPA %d..%d, PDB minAvailable %d: a drain must be able to evict one pod",
			dep.Spec.Replicas, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, pdb.Spec.MinAvailable)
	}
	if !strings.Contains(string(data), "spladeq_encode_queue_texts") {
		t.Error("the HPA's queue-metric alternative is not documented")
	}
}
