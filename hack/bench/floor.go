package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// floorResult is what the floor measured.
type floorResult struct {
	// elapsed is the median of runs.
	elapsed time.Duration
	runs    []time.Duration
	// requests and cpu are those of the median run.
	requests snapshot
	cpu      cpuTimes
	trace    traceStats
	// objects counts the children copied, by kind.
	objects map[string]int
	// watched: the floor ran with the converge phase's watchers (-floor-watch).
	watched bool
}

// floorTemplate is one Runner and the children the operator created for
// it, in the order the operator writes them.
type floorTemplate struct {
	runner   *gitlabv1beta1.Runner
	children []client.Object
}

// floor copies what the operator created (each Runner, its status, and
// its children: same kinds, same content, server-set fields stripped) and
// writes it into a fresh namespace with a bare client: no client-side
// throttling, 8 workers, one Runner per worker at a time, in the
// operator's order: create the Runner, patch the finalizer in, create the
// children, write the status. That is what any correct operator must
// write; the ratio of the operator's time to this is the converge target.
//
// The floor runs -floor-runs times, each into a fresh namespace, and the
// median counts: on a shared machine one run can be twice as slow as the
// next.
func floor(ctx context.Context, o options, bc client.Client, base *rest.Config, conv *convergeResult) (*floorResult, error) {
	step("floor: copying the operator's Runners and children")
	templates, kinds, err := floorTemplates(ctx, bc, conv)
	if err != nil {
		return nil, err
	}
	// envtest's service IP range is a /24: make room for the floor's
	// Services by deleting the operator's (the manager is stopped, and the
	// bench namespace is not used again), and each floor run's after it.
	if err := deleteServices(ctx, o, bc, conv.ns, templates); err != nil {
		return nil, err
	}
	res := &floorResult{objects: kinds, watched: o.floorWatch}
	type run struct {
		elapsed  time.Duration
		requests snapshot
		cpu      cpuTimes
		trace    traceStats
	}
	var runs []run
	for i := 0; i < max(o.floorRuns, 1); i++ {
		elapsed, reqs, cpu, tr, ns, err := floorRun(ctx, o, bc, base, conv, templates, i+1)
		if err != nil {
			return nil, err
		}
		fmt.Printf("    floor run %d: %.2f s (load average %s)\n", i+1, elapsed.Seconds(), loadAverage())
		runs = append(runs, run{elapsed, reqs, cpu, tr})
		res.runs = append(res.runs, elapsed)
		if err := deleteServices(ctx, o, bc, ns, templates); err != nil {
			return nil, err
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].elapsed < runs[j].elapsed })
	med := runs[(len(runs)-1)/2]
	if len(runs)%2 == 0 {
		// Even count: the mean of the two middle runs; requests and CPU of
		// the lower one.
		med.elapsed = (runs[len(runs)/2-1].elapsed + runs[len(runs)/2].elapsed) / 2
	}
	res.elapsed, res.requests, res.cpu, res.trace = med.elapsed, med.requests, med.cpu, med.trace
	return res, nil
}

func deleteServices(ctx context.Context, o options, bc client.Client, ns string, templates []floorTemplate) error {
	err := parallel(ctx, o.workers, len(templates), func(i int) error {
		svc := &corev1.Service{}
		svc.Namespace, svc.Name = ns, templates[i].runner.Name+"-runner-metrics"
		return client.IgnoreNotFound(bc.Delete(ctx, svc))
	})
	if err != nil {
		return fmt.Errorf("floor: deleting Services in %s: %w", ns, err)
	}
	return nil
}

// floorRun writes the templates once into a fresh namespace.
func floorRun(ctx context.Context, o options, bc client.Client, base *rest.Config, conv *convergeResult, templates []floorTemplate, n int) (
	time.Duration, snapshot, cpuTimes, traceStats, string, error) {
	// A namespace name of the same length as the bench's, so every copied
	// object keeps its size.
	ns, err := harness.Namespace(ctx, bc, "floor", nil)
	if err != nil {
		return 0, nil, cpuTimes{}, traceStats{}, "", err
	}
	fc := newCounter()
	cl, err := bareClient(base, fc)
	if err != nil {
		return 0, nil, cpuTimes{}, traceStats{}, "", err
	}
	// Open the floor client's connection outside the clock.
	if err := cl.List(ctx, &gitlabv1beta1.RunnerList{}, client.InNamespace(ns)); err != nil {
		return 0, nil, cpuTimes{}, traceStats{}, "", err
	}
	var t *tracker
	if o.floorWatch {
		t = newTracker(conv.runners)
		stop, err := startWatchers(base, ns, t)
		if err != nil {
			return 0, nil, cpuTimes{}, traceStats{}, "", err
		}
		defer stop()
	}
	step(fmt.Sprintf("floor run %d: writing %d Runners with their children into %s (%d workers, no client-side throttling)", n, len(templates), ns, o.workers))
	snap0 := fc.snapshot()
	cpu0 := readCPUTimes()
	fc.startTrace()
	start := time.Now()
	err = parallel(ctx, o.workers, len(templates), func(i int) error {
		return writeFloorRunner(ctx, cl, ns, conv.ns, templates[i])
	})
	if err == nil && t != nil {
		select {
		case <-t.done:
		case <-time.After(time.Minute):
			err = fmt.Errorf("the floor's watchers did not see every object within a minute")
		}
	}
	end := time.Now()
	elapsed := end.Sub(start)
	if err != nil {
		return 0, nil, cpuTimes{}, traceStats{}, "", fmt.Errorf("floor: %w", err)
	}
	ft := fc.stopTrace()
	if err := writeTrace(o.traceDir, fmt.Sprintf("floor-%d", n), start, ft); err != nil {
		return 0, nil, cpuTimes{}, traceStats{}, "", err
	}
	return elapsed, fc.snapshot().since(snap0), readCPUTimes().since(cpu0), summarizeTrace(ft, start, end), ns, nil
}

func writeFloorRunner(ctx context.Context, cl client.Client, ns, fromNS string, t floorTemplate) error {
	r := &gitlabv1beta1.Runner{
		ObjectMeta: metav1.ObjectMeta{Name: t.runner.Name, Namespace: ns, Labels: t.runner.Labels, Annotations: t.runner.Annotations},
		Spec:       t.runner.Spec,
	}
	if err := cl.Create(ctx, r); err != nil {
		return err
	}
	before := r.DeepCopy()
	controllerutil.AddFinalizer(r, gitlabv1beta1.FinalizerDeregister)
	if err := cl.Patch(ctx, r, client.MergeFrom(before)); err != nil {
		return err
	}
	for _, c := range t.children {
		obj := c.DeepCopyObject().(client.Object)
		obj.SetNamespace(ns)
		refs := obj.GetOwnerReferences()
		for i := range refs {
			if refs[i].Kind == "Runner" {
				refs[i].UID = r.UID
			}
		}
		obj.SetOwnerReferences(refs)
		if rb, ok := obj.(*rbacv1.RoleBinding); ok {
			for i := range rb.Subjects {
				if rb.Subjects[i].Namespace == fromNS {
					rb.Subjects[i].Namespace = ns
				}
			}
		}
		if err := cl.Create(ctx, obj); err != nil {
			return fmt.Errorf("%T %s: %w", obj, obj.GetName(), err)
		}
	}
	before = r.DeepCopy()
	r.Status = *t.runner.Status.DeepCopy()
	return cl.Status().Patch(ctx, r, client.MergeFrom(before))
}

// floorTemplates reads the operator's Runners and children back, uncached,
// and strips what the API server sets.
func floorTemplates(ctx context.Context, bc client.Client, conv *convergeResult) ([]floorTemplate, map[string]int, error) {
	in := client.InNamespace(conv.ns)
	owned := client.MatchingLabels{labels.ManagedByKey: labels.ManagedByValue}
	var (
		runners gitlabv1beta1.RunnerList
		secrets corev1.SecretList
		sas     corev1.ServiceAccountList
		roles   rbacv1.RoleList
		rbs     rbacv1.RoleBindingList
		svcs    corev1.ServiceList
		deps    appsv1.DeploymentList
	)
	for _, l := range []client.ObjectList{&runners} {
		if err := bc.List(ctx, l, in); err != nil {
			return nil, nil, err
		}
	}
	for _, l := range []client.ObjectList{&secrets, &sas, &roles, &rbs, &svcs, &deps} {
		if err := bc.List(ctx, l, in, owned); err != nil {
			return nil, nil, err
		}
	}
	byKey := map[string]client.Object{}
	kinds := map[string]int{}
	add := func(kind string, obj client.Object) {
		strip(obj)
		byKey[kind+"/"+obj.GetName()] = obj
		kinds[kind]++
	}
	for i := range secrets.Items {
		add("Secret", &secrets.Items[i])
	}
	for i := range sas.Items {
		add("ServiceAccount", &sas.Items[i])
	}
	for i := range roles.Items {
		add("Role", &roles.Items[i])
	}
	for i := range rbs.Items {
		add("RoleBinding", &rbs.Items[i])
	}
	for i := range svcs.Items {
		add("Service", &svcs.Items[i])
	}
	for i := range deps.Items {
		add("Deployment", &deps.Items[i])
	}
	sort.Slice(runners.Items, func(i, j int) bool { return runners.Items[i].Name < runners.Items[j].Name })
	var out []floorTemplate
	for i := range runners.Items {
		r := &runners.Items[i]
		delete(r.Annotations, annotationResync)
		if len(r.Annotations) == 0 {
			r.Annotations = nil
		}
		t := floorTemplate{runner: r}
		// pkg/runnerbuild's names, in the order ensureWorkload writes them.
		for _, key := range []string{
			"Secret/" + r.Name + "-runner",
			"ServiceAccount/" + r.Name + "-runner",
			"Role/" + r.Name + "-runner",
			"RoleBinding/" + r.Name + "-runner",
			"Service/" + r.Name + "-runner-metrics",
			"Deployment/" + r.Name + "-runner",
		} {
			obj, ok := byKey[key]
			if !ok {
				return nil, nil, fmt.Errorf("floor: the operator's %s is missing", key)
			}
			t.children = append(t.children, obj)
			delete(byKey, key)
		}
		out = append(out, t)
	}
	if len(byKey) > 0 {
		var extra []string
		for k := range byKey {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		return nil, nil, fmt.Errorf("floor: the operator created children the floor does not copy: %s", strings.Join(extra, ", "))
	}
	return out, kinds, nil
}

// strip removes what the API server sets or allocates, so the object can
// be created again.
func strip(obj client.Object) {
	obj.SetResourceVersion("")
	obj.SetUID("")
	obj.SetCreationTimestamp(metav1.Time{})
	obj.SetManagedFields(nil)
	obj.SetGeneration(0)
	obj.SetSelfLink("")
	switch o := obj.(type) {
	case *corev1.Service:
		o.Spec.ClusterIP = ""
		o.Spec.ClusterIPs = nil
		o.Status = corev1.ServiceStatus{}
	case *appsv1.Deployment:
		o.Status = appsv1.DeploymentStatus{}
	}
}
