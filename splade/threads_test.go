package splade

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDefaultThreadsIsTheSmallerOfQuotaAndCores(t *testing.T) {
	for _, c := range []struct{ procs, cores, want int }{
		{2, 64, 2},   // a pod limited to 2 CPUs on a 64-core node
		{3, 64, 3},   // a quota of 2.5 CPUs, rounded up by Go
		{16, 8, 8},   // two hardware threads per core, no limit: the cores
		{8, 8, 8},    // no limit, one thread per core
		{1, 8, 1},    // GOMAXPROCS=1
		{4, 0, 4},    // topology unreadable: the budget alone
		{0, 0, 1},    // never below one
		{64, 2, 2},   // GOMAXPROCS set above the cores: the cores
		{2, 1, 1},    // affinity mask of one core
		{12, 16, 12}, // a quota below the cores
	} {
		if got := defaultThreads(c.procs, c.cores); got != c.want {
			t.Errorf("GOMAXPROCS %d, %d physical cores: got %d threads, want %d", c.procs, c.cores, got, c.want)
		}
	}
}

// fakeTopology writes dir/cpuN/topology for each CPU's (package, core).
func fakeTopology(t *testing.T, cpus [][2]int) string {
	t.Helper()
	dir := t.TempDir()
	for i, c := range cpus {
		top := filepath.Join(dir, fmt.Sprintf("cpu%d", i), "topology")
		if err := os.MkdirAll(top, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]int{"physical_package_id": c[0], "core_id": c[1]} {
			if err := os.WriteFile(filepath.Join(top, name), []byte(strconv.Itoa(v)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestCoresOfCountsPhysicalCoresOfTheAllowedCPUs(t *testing.T) {
	// Two packages of two cores with two hardware threads each: CPUs 0-3 on
	// package 0 (cores 0,1 twice), 4-7 on package 1 (core ids 0,1 again).
	dir := fakeTopology(t, [][2]int{{0, 0}, {0, 1}, {0, 0}, {0, 1}, {1, 0}, {1, 1}, {1, 0}, {1, 1}})
	for _, c := range []struct {
		cpus []int
		want int
	}{
		{[]int{0, 1, 2, 3, 4, 5, 6, 7}, 4},
		{[]int{0, 2}, 1}, // both threads of one core
		{[]int{0, 1}, 2},
		{[]int{0, 4}, 2}, // the same core id on two packages
		{nil, 0},
	} {
		got, err := coresOf(dir, c.cpus)
		if err != nil {
			t.Fatalf("CPUs %v: %v", c.cpus, err)
		}
		if got != c.want {
			t.Errorf("CPUs %v: got %d cores, want %d", c.cpus, got, c.want)
		}
	}
	if _, err := coresOf(dir, []int{8}); err == nil {
		t.Error("a CPU without topology files: got no error")
	}
}

// TestPhysicalCoresReadsThisMachine: the count from sysfs and the affinity
// mask agrees with lscpu's, an independent reader of the same topology.
func TestPhysicalCoresReadsThisMachine(t *testing.T) {
	out, err := exec.Command("lscpu", "-p=CORE,SOCKET,ONLINE").Output()
	if err != nil {
		t.Skipf("lscpu not available (%v): install util-linux to compare the core count", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || !strings.HasSuffix(line, ",Y") {
			continue
		}
		seen[strings.TrimSuffix(line, ",Y")] = true
	}
	// lscpu counts every online CPU; compare only when the mask holds all.
	var all []int
	for i := range 4096 {
		if _, err := os.Stat(filepath.Join(sysCPUDir, fmt.Sprintf("cpu%d", i), "topology")); err == nil {
			all = append(all, i)
		}
	}
	if got := physicalCores(); len(all) == maxProcs() && got != len(seen) {
		t.Errorf("got %d physical cores, lscpu lists %d", got, len(seen))
	}
}

// TestEncoderThreadsFollowTheCPUBudget: with no thread count set, the
// session gets the injected budget; a set count wins.
func TestEncoderThreadsFollowTheCPUBudget(t *testing.T) {
	saved := maxProcs
	t.Cleanup(func() { maxProcs = saved })
	maxProcs = func() int { return 1 }
	if got := newTestEncoder(t, "bert-tiny").Threads(); got != 1 {
		t.Errorf("budget 1: got %d threads, want 1", got)
	}
	if got := newTestEncoder(t, "bert-tiny", WithIntraOpThreads(3)).Threads(); got != 3 {
		t.Errorf("WithIntraOpThreads(3): got %d threads, want 3", got)
	}
	maxProcs = func() int { return 1 << 10 }
	if got, want := newTestEncoder(t, "bert-tiny").Threads(), physicalCores(); want > 0 && got != want {
		t.Errorf("budget above the cores: got %d threads, want the %d physical cores", got, want)
	}
}

const threadsChildEnv = "SPLADEQ_TEST_THREADS_CHILD"

// TestRuntimeStartsNoThreadsBeyondTheBudget counts the operating system's
// threads of a child process limited to one CPU (GOMAXPROCS=1, then an
// affinity mask of one CPU through taskset): a session with the default
// thread count starts no more threads than one set to 1 explicitly.
// ONNX Runtime's own default would start one worker per physical core of
// the machine, whatever the limit.
func TestRuntimeStartsNoThreadsBeyondTheBudget(t *testing.T) {
	if os.Getenv(threadsChildEnv) != "" {
		threadsChild(t)
		return
	}
	if n := physicalCores(); n < 2 {
		t.Skipf("this machine has %d physical core(s): a one-CPU limit changes nothing; run on 2 or more cores", n)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^TestRuntimeStartsNoThreadsBeyondTheBudget$", "-test.count=1", "-test.v"}
	for _, name := range []string{"GOMAXPROCS=1", "taskset -c 0"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(exe, args...)
			cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
			if name != "GOMAXPROCS=1" {
				taskset, err := exec.LookPath("taskset")
				if err != nil {
					t.Skip("taskset not found (util-linux): the one-CPU affinity case is not run")
				}
				cmd = exec.Command(taskset, append([]string{"-c", "0", exe}, args...)...)
				cmd.Env = os.Environ()
			}
			cmd.Env = append(cmd.Env, threadsChildEnv+"=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", name, err, out)
			}
		})
	}
}

func threadsChild(t *testing.T) {
	if b := maxProcs(); b != 1 {
		t.Fatalf("the child's GOMAXPROCS is %d, want 1", b)
	}
	tasks := func() int {
		d, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatalf("count threads: %v", err)
		}
		return len(d)
	}
	// The fewest threads a new session added over a few tries: the Go
	// runtime may start a thread of its own at any time, never fewer.
	// A plain session, no load-time rewrites: only the threads matter.
	added := func(tries int, opts ...Option) int {
		least := 1 << 20
		for range tries {
			before := tasks()
			e := newTestEncoder(t, "bert-tiny", append(opts, WithTokenGather(false), WithHeadBlock(0))...)
			least = min(least, tasks()-before)
			_ = e
		}
		return least
	}
	added(1, WithIntraOpThreads(1)) // warm up: the runtime's environment and Go's threads
	one, auto := added(2, WithIntraOpThreads(1)), added(2)
	t.Logf("threads added by a session: %d with 1 intra-op thread, %d by default", one, auto)
	if auto > one {
		t.Errorf("a default session added %d threads, one with 1 intra-op thread %d: the default ignores the CPU limit", auto, one)
	}
}
