// Command bench is what `make bench` runs: it starts the local control plane
// (kube-apiserver and etcd from bin/), the fake GitLab and the operator's
// manager in this process, and measures what the operator costs:
//
//  1. converge: N Runners with a mix of credential kinds, from the first
//     create until every one is registered and has all its children, and
//     the floor: a bare client writing the same objects on the same API
//     server with 8 workers and no client-side throttling;
//  2. idle: API-server writes and GitLab calls in a window after a forced
//     resync of every Runner;
//  3. cache: the manager's heap growth when 10,000 unrelated Secrets and
//     ConfigMaps appear in the cluster;
//  4. GitLab calls per registration and bytes per pod-log read.
//
// It prints a summary and writes bin/bench/results.json. docs/performance.md
// explains the method and the figures.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// options are the command-line flags.
type options struct {
	runners         int
	idleWindow      time.Duration
	unrelated       int
	workers         int
	logRunners      int
	settle          time.Duration
	convergeTimeout time.Duration
	floorRuns       int
	floorWatch      bool
	out             string
	cpuProfile      string
	heapProfile     string
	verbose         bool
	// Investigation switches; a reportable run uses none of them.
	quick      bool
	managerQPS float64
	mgrWorkers int
	dropEvents bool
	cacheAll   bool
	traceDir   string
}

// investigating reports whether a switch changes the operator or the
// measurement from what ships.
func (o options) investigating() bool {
	return o.managerQPS != 0 || o.mgrWorkers != 0 || o.dropEvents || o.cacheAll
}

// results is bin/bench/results.json: exactly these keys.
type results struct {
	Runners                       int     `json:"runners"`
	ConvergeSeconds               float64 `json:"converge_seconds"`
	BaselineSeconds               float64 `json:"baseline_seconds"`
	ConvergeRatio                 float64 `json:"converge_ratio"`
	IdleWindowSeconds             float64 `json:"idle_window_seconds"`
	IdleAPIServerWrites           int     `json:"idle_apiserver_writes"`
	IdleGitLabCalls               int     `json:"idle_gitlab_calls"`
	UnrelatedBytes                int64   `json:"unrelated_bytes"`
	HeapGrowthBytes               int64   `json:"heap_growth_bytes"`
	HeapGrowthRatio               float64 `json:"heap_growth_ratio"`
	GitLabCallsPerRegistrationMax int     `json:"gitlab_calls_per_registration_max"`
	LogReadBytesMax               int64   `json:"log_read_bytes_max"`
}

// Secrets of the fake GitLab the benchmark's Runners use.
const (
	benchAccessToken       = "glpat-bench-fake"
	benchRegistrationToken = "GR1348941bench-registration-token"
)

func main() {
	var o options
	flag.IntVar(&o.runners, "runners", 200, "Number of Runners to converge.")
	flag.DurationVar(&o.idleWindow, "idle-window", 60*time.Second, "Length of the idle window after the forced resync (at least 60s for a reportable run).")
	flag.IntVar(&o.unrelated, "unrelated", 10000, "Number of unrelated Secrets and ConfigMaps (half each) for the cache measurement.")
	flag.IntVar(&o.workers, "workers", 8, "Parallel workers of the bench client (Runner creation, floor, unrelated objects).")
	flag.IntVar(&o.logRunners, "log-runners", 10, "Runners that get a running pod and a log larger than one read.")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "How long the manager runs after the unrelated objects appear before the heap is sampled.")
	flag.DurationVar(&o.convergeTimeout, "converge-timeout", 10*time.Minute, "Give up when the Runners have not converged by then.")
	flag.StringVar(&o.out, "out", "", "Results file (default bin/bench/results.json under the repository root).")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "Write a CPU profile of the converge phase (operator and bench, one process) to this file.")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "Write a heap profile after the cache phase to this file.")
	flag.BoolVar(&o.verbose, "v", false, "Log the manager at info level (default: errors only).")
	flag.IntVar(&o.floorRuns, "floor-runs", 3, "Times the floor is written (each into a fresh namespace); the median counts.")
	flag.BoolVar(&o.quick, "quick", false, "Investigation: converge and floor only (no idle, log or cache phase); writes no results file.")
	flag.Float64Var(&o.managerQPS, "manager-qps", 0, "Investigation: the manager's client QPS (0: the operator's default; -1: no client-side throttling).")
	flag.BoolVar(&o.dropEvents, "x-drop-events", false, "Investigation: answer the manager's Event creates in its transport instead of sending them, to measure what Events cost.")
	flag.IntVar(&o.mgrWorkers, "manager-workers", 0, "Investigation: the manager's MaxConcurrentReconciles (0: the operator's default).")
	flag.BoolVar(&o.cacheAll, "x-cache-all", false, "Validation: run an unscoped Secret and ConfigMap cache in this process during the cache phase, to show the heap measurement sees it.")
	flag.StringVar(&o.traceDir, "trace-dir", "", "Investigation: write every request of the converge phase and the floor runs (start, end, verb, resource) as CSV files into this folder.")
	flag.BoolVar(&o.floorWatch, "floor-watch", true, "Observe the floor with the same watchers that time the converge phase, so both pay the same measurement cost (false: the bare client's own time).")
	flag.Parse()

	level := zapcore.ErrorLevel
	if o.verbose {
		level = zapcore.InfoLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))

	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.runners < 1 {
		return errors.New("-runners must be at least 1")
	}
	if o.workers < 1 {
		o.workers = 1
	}
	ctx := ctrl.SetupSignalHandler()
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	if o.out == "" {
		o.out = filepath.Join(root, "bin", "bench", "results.json")
	}
	m := describeMachine()
	fmt.Printf("gitlab-operator benchmark: %d Runners, idle window %s, %d unrelated objects\n", o.runners, o.idleWindow, o.unrelated)
	fmt.Printf("machine: %s\n\n", m)
	if o.investigating() {
		fmt.Printf("note: investigation switches are set; these figures are not the operator's own\n\n")
	}
	if o.idleWindow < time.Minute {
		fmt.Printf("note: -idle-window %s is shorter than the 60s the targets are defined for\n\n", o.idleWindow)
	}

	step("starting kube-apiserver and etcd")
	cp, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	fake := gitlabtest.NewServer()
	defer fake.Close()
	fake.AddAccessToken(benchAccessToken, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true})
	fake.SetRegistrationToken(benchRegistrationToken)

	// The bench's own client: no client-side throttling. Its counter is
	// separate from the manager's; it only times the Runner creates.
	bcnt := newCounter()
	bc, err := bareClient(cp.Config, bcnt)
	if err != nil {
		return err
	}
	step("warming the API server up (before the manager starts)")
	if err := warmUp(ctx, bc, o.workers); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	// The manager, exactly as main.go builds it, with a counting transport
	// on its REST config. Client QPS, burst and workers are the operator's
	// own defaults.
	cnt := newCounter()
	cnt.dropEvents = o.dropEvents
	mgrCfg := rest.CopyConfig(cp.Config)
	if o.managerQPS != 0 {
		mgrCfg.QPS = float32(o.managerQPS)
	}
	mgrCfg.Wrap(cnt.wrap)
	logs := harness.NewLogs()
	step("starting the manager")
	mgr, err := harness.StartManager(mgrCfg, operator.Options{GitLabClients: &gitlab.Cache{}, LogReader: logs, MaxConcurrentReconciles: o.mgrWorkers})
	if err != nil {
		return err
	}
	stopped := false
	stopManager := func() error {
		if stopped {
			return nil
		}
		stopped = true
		return mgr.Stop()
	}
	defer func() { _ = stopManager() }()
	step("probing the manager with one Runner (registered and deleted before the clock starts)")
	if err := probeManager(ctx, bc, fake.URL(), cnt); err != nil {
		return err
	}

	// 1. Converge.
	var stopProfile func()
	if o.cpuProfile != "" {
		stopProfile, err = startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
	}
	conv, err := converge(ctx, o, bc, bcnt, cp.Config, fake, cnt)
	if stopProfile != nil {
		stopProfile()
	}
	if err != nil {
		return err
	}
	calls := attributeCalls(fake, conv)
	if o.quick {
		step("stopping the manager")
		if err := stopManager(); err != nil {
			return err
		}
		fl, err := floor(ctx, o, bc, cp.Config, conv)
		if err != nil {
			return err
		}
		fmt.Println()
		printConverge(o, o.runners, conv, fl)
		fmt.Println("\n-quick: no idle, log or cache phase; no results file written")
		return nil
	}

	// 2. Idle.
	idle, err := idleWindow(ctx, o, bc, fake, cnt, conv)
	if err != nil {
		return err
	}

	// 4b. Log reads (after the idle window, which must not see them).
	lr, err := logReads(ctx, o, bc, logs, conv)
	if err != nil {
		return err
	}

	// 3. Cache.
	heap, err := cacheGrowth(ctx, o, bc, cp.Config, cnt)
	if err != nil {
		return err
	}
	if o.heapProfile != "" {
		if err := writeHeapProfile(o.heapProfile); err != nil {
			return err
		}
	}

	// 1b. The floor. The manager is stopped first: it would otherwise
	// reconcile the floor's Runners while the floor is being timed.
	step("stopping the manager")
	if err := stopManager(); err != nil {
		return err
	}
	fl, err := floor(ctx, o, bc, cp.Config, conv)
	if err != nil {
		return err
	}

	res := results{
		Runners:                       o.runners,
		ConvergeSeconds:               round3(conv.elapsed.Seconds()),
		BaselineSeconds:               round3(fl.elapsed.Seconds()),
		ConvergeRatio:                 round3(conv.elapsed.Seconds() / fl.elapsed.Seconds()),
		IdleWindowSeconds:             round3(idle.window.Seconds()),
		IdleAPIServerWrites:           idle.writes,
		IdleGitLabCalls:               idle.gitlabCalls,
		UnrelatedBytes:                heap.unrelatedBytes,
		HeapGrowthBytes:               heap.growth,
		HeapGrowthRatio:               round3(float64(heap.growth) / float64(max(heap.unrelatedBytes, 1))),
		GitLabCallsPerRegistrationMax: calls.max,
		LogReadBytesMax:               lr.max,
	}
	fmt.Println()
	printSummary(o, m, res, conv, fl, idle, heap, calls, lr)
	if err := writeResults(o.out, res); err != nil {
		return err
	}
	fmt.Printf("\nresults written to %s\n", o.out)
	if o.investigating() {
		fmt.Println("note: investigation switches were set; these figures are not the operator's own")
	}
	return nil
}

// bareClient is a controller-runtime client without client-side
// throttling (QPS -1: client-go builds no rate limiter), optionally with a
// counting transport.
func bareClient(base *rest.Config, cnt *counter) (client.Client, error) {
	cfg := rest.CopyConfig(base)
	cfg.QPS = -1
	cfg.Burst = 0
	cfg.RateLimiter = nil
	if cnt != nil {
		cfg.Wrap(cnt.wrap)
	}
	return client.New(cfg, client.Options{Scheme: operator.Scheme()})
}

func step(msg string) {
	fmt.Printf("[%s] %s\n", time.Now().Format("15:04:05"), msg)
}

func round3(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*1000) / 1000
}

func writeResults(path string, res results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// describeMachine names the CPU, the cores Go may use and the memory, for
// the summary and docs/performance.md.
func describeMachine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
				mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s%s, %s/%s, %s",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
