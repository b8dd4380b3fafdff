package splade

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultThreads is the intra-op thread count an encoder uses when none is
// set (WithIntraOpThreads(0)): the physical cores the process may run on,
// capped by runtime.GOMAXPROCS(0).
//
// ONNX Runtime's own default counts every physical core of the machine: it
// ignores the CPU affinity mask (taskset, a cpuset cgroup: Kubernetes'
// static CPU manager) and the CPU quota (a pod's CPU limit), so a pod
// limited to 2 CPUs on a 64-core node started 64 threads that the quota
// then throttled. GOMAXPROCS(0) follows the affinity mask and, since Go
// 1.25, the cgroup CPU quota (cpu.max in cgroup v2, cpu.cfs_quota_us /
// cpu.cfs_period_us in v1, rounded up, never below 2), and the GOMAXPROCS
// environment variable when set. Physical cores, not logical CPUs, remain
// the cap, as in the runtime's default: on a machine with two hardware
// threads per core and no limit, the count is the same as before.
func DefaultThreads() int {
	return defaultThreads(maxProcs(), physicalCores())
}

func defaultThreads(procs, cores int) int {
	if cores < 1 {
		cores = procs
	}
	return max(1, min(procs, cores))
}

// sysCPUDir is where the kernel lists CPU topology; a variable so tests can
// point it at a made-up machine.
var sysCPUDir = "/sys/devices/system/cpu"

// physicalCores counts the distinct cores (package, core id) among the CPUs
// in the process's affinity mask, or 0 when the mask or the topology cannot
// be read.
func physicalCores() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	n, err := coresOf(sysCPUDir, cpus)
	if err != nil {
		return 0
	}
	return n
}

// coresOf counts the distinct cores that the given CPUs belong to, read from
// dir/cpuN/topology.
func coresOf(dir string, cpus []int) (int, error) {
	seen := map[string]bool{}
	for _, c := range cpus {
		top := filepath.Join(dir, fmt.Sprintf("cpu%d", c), "topology")
		pkg, err := os.ReadFile(filepath.Join(top, "physical_package_id"))
		if err != nil {
			return 0, err
		}
		core, err := os.ReadFile(filepath.Join(top, "core_id"))
		if err != nil {
			return 0, err
		}
		seen[strings.TrimSpace(string(pkg))+"/"+strings.TrimSpace(string(core))] = true
	}
	return len(seen), nil
}

// maxProcs is the process's CPU budget as Go sees it; a variable so tests
// can inject a quota.
var maxProcs = func() int { return goruntime.GOMAXPROCS(0) }
