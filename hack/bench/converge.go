package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// Credential kinds of the benchmark's Runners, in rotation.
const (
	kindRunnerToken       = "runner-token"
	kindAccessToken       = "access-token"
	kindRegistrationToken = "registration-token"
)

var kinds = []string{kindRunnerToken, kindAccessToken, kindRegistrationToken}

// benchRunner is one Runner of the benchmark and its user input.
type benchRunner struct {
	name   string
	kind   string
	secret string
	// token is the pre-created glrt- token (runner-token kind only).
	token string
}

// Children the operator creates for every Runner (pkg/runnerbuild), by
// the bit the tracker uses and the suffix of their names.
type childKind struct {
	bit    uint8
	gvr    schema.GroupVersionResource
	suffix string
}

var childKinds = []childKind{
	{1 << 1, schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "-runner"},
	{1 << 2, schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "-runner"},
	{1 << 3, schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, "-runner"},
	{1 << 4, schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, "-runner"},
	{1 << 5, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "-runner"},
	{1 << 6, schema.GroupVersionResource{Version: "v1", Resource: "services"}, "-runner-metrics"},
}

const (
	bitRegistered uint8 = 1 << 0
	allBits       uint8 = 1<<7 - 1
)

var runnersGVR = gitlabv1beta1.GroupVersion.WithResource("runners")

// tracker records, from watch events, when each Runner is registered and
// has all its children.
type tracker struct {
	mu        sync.Mutex
	index     map[string]int
	have      []uint8
	doneAt    []time.Time
	remaining int
	done      chan struct{}
}

func newTracker(runners []benchRunner) *tracker {
	t := &tracker{index: map[string]int{}, have: make([]uint8, len(runners)), doneAt: make([]time.Time, len(runners)),
		remaining: len(runners), done: make(chan struct{})}
	for i, r := range runners {
		t.index[r.name] = i
	}
	return t
}

func (t *tracker) mark(runner string, bit uint8) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.index[runner]
	if !ok || t.have[i]&bit != 0 {
		return
	}
	t.have[i] |= bit
	if t.have[i] == allBits {
		t.doneAt[i] = now
		t.remaining--
		if t.remaining == 0 {
			close(t.done)
		}
	}
}

// missing describes what the first few unconverged Runners lack.
func (t *tracker) missing(limit int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.index))
	for n := range t.index {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		h := t.have[t.index[n]]
		if h == allBits {
			continue
		}
		var lack []string
		if h&bitRegistered == 0 {
			lack = append(lack, "registration")
		}
		for _, c := range childKinds {
			if h&c.bit == 0 {
				lack = append(lack, c.gvr.Resource)
			}
		}
		out = append(out, n+": "+strings.Join(lack, ", "))
		if len(out) == limit {
			break
		}
	}
	return out
}

// watchers follows the bench namespace with informers of the bench's own
// (uncounted) client: the Runners' status and the children's metadata.
// Watches cost the API server one event per change instead of a list per
// poll.
func startWatchers(cfg *rest.Config, ns string, t *tracker) (stop func(), err error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	stopCh := make(chan struct{})
	var synced []toolscache.InformerSynced

	runnerEvent := func(obj any) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		if reg, _, _ := unstructured.NestedString(u.Object, "status", "registration"); reg == gitlabv1beta1.RegistrationSucceeded {
			t.mark(u.GetName(), bitRegistered)
		}
	}
	ri := dynamicinformer.NewFilteredDynamicInformer(dyn, runnersGVR, ns, 0, toolscache.Indexers{}, nil)
	if _, err := ri.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    runnerEvent,
		UpdateFunc: func(_, n any) { runnerEvent(n) },
	}); err != nil {
		return nil, err
	}
	go ri.Informer().Run(stopCh)
	synced = append(synced, ri.Informer().HasSynced)

	for _, ck := range childKinds {
		ev := func(obj any) {
			m, ok := obj.(*metav1.PartialObjectMetadata)
			if !ok {
				return
			}
			if name, ok := strings.CutSuffix(m.Name, ck.suffix); ok {
				t.mark(name, ck.bit)
			}
		}
		inf := metadatainformer.NewFilteredMetadataInformer(meta, ck.gvr, ns, 0, toolscache.Indexers{}, nil)
		if _, err := inf.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    ev,
			UpdateFunc: func(_, n any) { ev(n) },
		}); err != nil {
			close(stopCh)
			return nil, err
		}
		go inf.Informer().Run(stopCh)
		synced = append(synced, inf.Informer().HasSynced)
	}
	if !toolscache.WaitForCacheSync(stopCh, synced...) {
		close(stopCh)
		return nil, fmt.Errorf("the bench's watchers did not sync")
	}
	return func() { close(stopCh) }, nil
}

// convergeResult is what the converge phase measured.
type convergeResult struct {
	ns      string
	runners []benchRunner
	elapsed time.Duration
	// perRunner is when each Runner converged, from the start.
	perRunner []time.Duration
	// requests are the manager's requests from the first create to the
	// last convergence; trailing are those until the manager went quiet.
	requests, trailing snapshot
	reconciles         reconcileStats
	quietAfter         time.Duration
	// lastBusy is when, from the start, the manager last sent a request
	// or had work queued (to 100 ms): where its own follow-up work ended.
	lastBusy time.Duration
	// trace: the manager's requests in flight and their latency.
	trace traceStats
	// benchTrace: the bench's Runner creates.
	benchTrace traceStats
	// cpu is what the API server, etcd and this process spent until
	// convergence.
	cpu                cpuTimes
	loadStart, loadEnd string
}

// converge creates the user Secrets (before the clock), then the Runners,
// and waits until every Runner is registered and has all its children.
func converge(ctx context.Context, o options, bc client.Client, bcnt *counter, cfg *rest.Config, fake *gitlabtest.Server, cnt *counter) (*convergeResult, error) {
	ns, err := harness.Namespace(ctx, bc, "bench", nil)
	if err != nil {
		return nil, err
	}
	runners := make([]benchRunner, o.runners)
	secrets := make([]client.Object, o.runners)
	for i := range runners {
		r := benchRunner{name: fmt.Sprintf("r%04d", i), kind: kinds[i%len(kinds)]}
		r.secret = r.name + "-token"
		data := map[string]string{}
		switch r.kind {
		case kindRunnerToken:
			st := fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "created in GitLab for " + ns + "/" + r.name})
			r.token = st.Token
			data[gitlabv1beta1.SecretKeyRunnerToken] = st.Token
		case kindAccessToken:
			data[gitlabv1beta1.SecretKeyAccessToken] = benchAccessToken
		default:
			data[gitlabv1beta1.SecretKeyRegistrationToken] = benchRegistrationToken
		}
		runners[i] = r
		secrets[i] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: r.secret, Namespace: ns}, StringData: data}
	}
	step(fmt.Sprintf("converge: creating %d user Secrets in %s (before the clock: user input, not operator writes)", o.runners, ns))
	if err := parallel(ctx, o.workers, len(secrets), func(i int) error { return bc.Create(ctx, secrets[i]) }); err != nil {
		return nil, fmt.Errorf("creating user Secrets: %w", err)
	}

	t := newTracker(runners)
	stopWatch, err := startWatchers(cfg, ns, t)
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	objs := make([]*gitlabv1beta1.Runner, len(runners))
	for i, r := range runners {
		rn := &gitlabv1beta1.Runner{
			ObjectMeta: metav1.ObjectMeta{Name: r.name, Namespace: ns},
			Spec: gitlabv1beta1.RunnerSpec{
				GitLab: gitlabv1beta1.GitLabReference{URL: fake.URL()},
				Token:  r.secret,
			},
		}
		if r.kind != kindRunnerToken {
			// Server-side settings only apply where the operator creates
			// the runner; a glrt- token carries its own.
			rn.Spec.Tags = "bench, linux"
		}
		objs[i] = rn
	}

	step(fmt.Sprintf("converge: creating %d Runners (%d workers) and waiting until all are registered with all children", o.runners, o.workers))
	fake.ResetCalls()
	snap0 := cnt.snapshot()
	rs0 := readReconcileStats()
	cpu0 := readCPUTimes()
	loadStart := loadAverage()
	cnt.startTrace()
	bcnt.startTrace()
	start := time.Now()
	createErr := make(chan error, 1)
	go func() {
		createErr <- parallel(ctx, o.workers, len(objs), func(i int) error { return bc.Create(ctx, objs[i]) })
	}()
	timeout := time.NewTimer(o.convergeTimeout)
	defer timeout.Stop()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
wait:
	for {
		select {
		case <-t.done:
			break wait
		case err := <-createErr:
			if err != nil {
				return nil, fmt.Errorf("creating Runners: %w", err)
			}
			createErr = nil
		case <-progress.C:
			t.mu.Lock()
			left := t.remaining
			t.mu.Unlock()
			fmt.Printf("    %d of %d converged after %s\n", o.runners-left, o.runners, time.Since(start).Round(time.Second))
		case <-timeout.C:
			return nil, fmt.Errorf("converge: not every Runner converged within %s; first ones missing:\n  %s\n%s",
				o.convergeTimeout, strings.Join(t.missing(10), "\n  "), describeStuck(ctx, bc, ns, t.missing(3)))
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if createErr != nil {
		if err := <-createErr; err != nil {
			return nil, fmt.Errorf("creating Runners: %w", err)
		}
	}
	res := &convergeResult{ns: ns, runners: runners}
	var last time.Time
	for _, at := range t.doneAt {
		res.perRunner = append(res.perRunner, at.Sub(start))
		if at.After(last) {
			last = at
		}
	}
	sort.Slice(res.perRunner, func(i, j int) bool { return res.perRunner[i] < res.perRunner[j] })
	res.elapsed = last.Sub(start)
	res.cpu = readCPUTimes().since(cpu0)
	mt, bt := cnt.stopTrace(), bcnt.stopTrace()
	res.trace = summarizeTrace(mt, start, last)
	res.benchTrace = summarizeTrace(bt, start, last)
	if err := writeTrace(o.traceDir, "converge-manager", start, mt); err != nil {
		return nil, err
	}
	if err := writeTrace(o.traceDir, "converge-bench", start, bt); err != nil {
		return nil, err
	}
	res.loadStart, res.loadEnd = loadStart, loadAverage()
	snap1 := cnt.snapshot()
	res.requests = snap1.since(snap0)
	step(fmt.Sprintf("converge: done in %.2fs; waiting for the manager to go quiet", res.elapsed.Seconds()))

	// Reconciles triggered by the operator's own last writes may still be
	// running; they belong to convergence, not to the idle window.
	qs := time.Now()
	quiet, lastBusy := waitQuiet(ctx, cnt, 3*time.Second, 2*time.Minute)
	if !quiet {
		fmt.Println("    warning: the manager kept sending requests for 2 minutes after convergence")
	}
	res.quietAfter = time.Since(qs)
	res.lastBusy = max(lastBusy.Sub(start), res.elapsed)
	res.trailing = cnt.snapshot().since(snap1)
	res.reconciles = readReconcileStats().since(rs0)
	return res, nil
}

// describeStuck prints the conditions of Runners that did not converge.
func describeStuck(ctx context.Context, bc client.Client, ns string, lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		r := &gitlabv1beta1.Runner{}
		if err := bc.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			continue
		}
		fmt.Fprintf(&b, "Runner %s: phase %q registration %q\n", name, r.Status.Phase, r.Status.Registration)
		for _, c := range r.Status.Conditions {
			fmt.Fprintf(&b, "  %s=%s %s: %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	return b.String()
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first
// error.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := fn(i); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	func() {
		defer close(jobs)
		for i := 0; i < n; i++ {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}
