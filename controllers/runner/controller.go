// Package runner holds the Runner controller: it registers a GitLab Runner
// with GitLab, deploys it, keeps it healthy and de-registers it on deletion.
//
// Reconcile follows the operator's one skeleton (shared with the GitLab
// controller): load, handle deletion, ensure the finalizer, run ordered
// phases that fill a scope, derive status from the scope once, write it
// once and only when it changed. Phases return typed errors from
// pkg/outcome that decide between retry, wait and stall.
package runner

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
)

// Options are the Runner controller's tunables.
type Options struct {
	// Images are the default images.
	Images images.Images
	// OpenShift makes pods leave runAsUser to the SCC.
	OpenShift bool
	// ServiceMonitors creates ServiceMonitors (the Prometheus Operator's
	// CRDs exist; discovered once at start).
	ServiceMonitors bool
	// VerifyInterval is how often a stored token is verified (default 1h,
	// jittered by up to 20%).
	VerifyInterval time.Duration
	// LogInterval is how often a running pod's log is read when nothing
	// else happens (default 5m).
	LogInterval time.Duration
	// RotateBefore is how long before expiry a token is rotated; default a
	// quarter of its lifetime, at least one hour.
	RotateBefore time.Duration
	// MaxConcurrentReconciles is the number of parallel workers.
	MaxConcurrentReconciles int
	// ProxyEnv are the cluster proxy settings handed to runner pods and jobs.
	ProxyEnv []corev1.EnvVar
	// Namespaces the operator watches (empty: all).
	Namespaces []string
	// ReferenceRecheck is how often referenced Secrets and ConfigMaps are
	// re-read (default 5m).
	ReferenceRecheck time.Duration
	// GitLabTimeout bounds each GitLab API call (default 30s).
	GitLabTimeout time.Duration
	// Now returns the time; tests replace it.
	Now func() time.Time
	// CrashPoint, when set, is called at each named step of registration
	// and de-registration; tests use it to stop the manager there.
	CrashPoint func(step string)
}

func (o *Options) defaults() {
	if o.VerifyInterval <= 0 {
		o.VerifyInterval = time.Hour
	}
	if o.LogInterval <= 0 {
		o.LogInterval = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReferenceRecheck <= 0 {
		o.ReferenceRecheck = outcome.StalledRecheck
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 8
	}
	o.Images = o.Images.WithDefaults()
}

// ClientSource hands out GitLab clients; *gitlab.Cache implements it.
type ClientSource interface {
	Get(cfg gitlab.Config) (gitlab.Client, error)
}

// Reconciler reconciles Runners.
type Reconciler struct {
	// Client reads through the label-scoped cache and writes.
	Client client.Client
	// APIReader reads uncached: user Secrets and ConfigMaps the cache does
	// not hold, and our own Secret when the cache may be stale.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	GitLab    ClientSource
	Logs      LogReader
	Options   Options

	// memory is per-Runner state that is cheap to lose (a restart costs
	// one verification and one log read per Runner).
	memMu  sync.Mutex
	memory map[types.UID]*runnerMemory
}

// runnerMemory is what the controller remembers between reconciles.
type runnerMemory struct {
	nextVerify time.Time
	logs       logCursor
	// verifyNow is set when the runner's log reports its token rejected.
	verifyNow bool
}

func (r *Reconciler) mem(uid types.UID) *runnerMemory {
	r.memMu.Lock()
	defer r.memMu.Unlock()
	if r.memory == nil {
		r.memory = map[types.UID]*runnerMemory{}
	}
	m := r.memory[uid]
	if m == nil {
		m = &runnerMemory{}
		r.memory[uid] = m
	}
	return m
}

func (r *Reconciler) forget(uid types.UID) {
	r.memMu.Lock()
	defer r.memMu.Unlock()
	delete(r.memory, uid)
}

func (r *Reconciler) jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// Field index on spec.gitlab.name, so a GitLab's change wakes only the
// Runners that name it.
const indexGitLabName = "spec.gitlab.name"

// +kubebuilder:rbac:groups=gitlab.com,resources=runners,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=gitlab.com,resources=runners/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gitlab.com,resources=runners/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;delete
// The operator grants runner managers the executor's permissions through
// per-Runner Roles, so it must hold them itself (RBAC escalation rule).
// +kubebuilder:rbac:groups="",resources=pods;pods/attach;pods/exec,verbs=get;create;delete;patch
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=list
// +kubebuilder:rbac:groups="",resources=events,verbs=list;watch
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors,verbs=get;list;watch;create;update;delete

// SetupWithManager registers the controller and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Options.defaults()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &gitlabv1beta1.Runner{}, indexGitLabName,
		func(o client.Object) []string {
			if n := o.(*gitlabv1beta1.Runner).Spec.GitLab.Name; n != "" {
				return []string{n}
			}
			return nil
		}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("runner").
		// Status writes do not change the generation: the operator's own
		// status updates never wake it up again.
		For(&gitlabv1beta1.Runner{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionPredicate{}))).
		// A child's create event is the echo of the operator's own write:
		// only updates (drift, availability) and deletions wake the Runner.
		Owns(&corev1.Secret{}, builder.WithPredicates(ignoreCreate)).
		Owns(&corev1.ServiceAccount{}, builder.WithPredicates(ignoreCreate)).
		Owns(&corev1.Service{}, builder.WithPredicates(ignoreCreate)).
		Owns(&appsv1.Deployment{}, builder.WithPredicates(ignoreCreate, deploymentAvailabilityPredicate{})).
		Owns(&rbacv1.Role{}, builder.WithPredicates(ignoreCreate)).
		Owns(&rbacv1.RoleBinding{}, builder.WithPredicates(ignoreCreate)).
		// Pods are watched (label-scoped) to read their log when one
		// becomes ready or restarts.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToRunner), builder.WithPredicates(podLifecyclePredicate{})).
		Watches(&gitlabv1beta1.GitLab{}, handler.EnqueueRequestsFromMapFunc(r.gitlabToRunners)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles,
			// Failed reconciles call GitLab; back off from half a second
			// to five minutes rather than controller-runtime's 5 ms start.
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](500*time.Millisecond, 5*time.Minute),
		})
	if r.Options.ServiceMonitors {
		b = b.Owns(serviceMonitorObject(), builder.WithPredicates(ignoreCreate))
	}
	srcs, err := r.watchReferences(mgr)
	if err != nil {
		return err
	}
	for _, src := range srcs {
		b = b.WatchesRawSource(src)
	}
	return b.Complete(r)
}

func podToRunner(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[labels.ComponentKey] != labels.ComponentRunner || l[labels.InstanceKey] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[labels.InstanceKey]}}}
}

func (r *Reconciler) gitlabToRunners(ctx context.Context, o client.Object) []reconcile.Request {
	var list gitlabv1beta1.RunnerList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexGitLabName: o.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// Reconcile brings one Runner towards its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, reterr error) {
	log := ctrl.LoggerFrom(ctx)
	runner := &gitlabv1beta1.Runner{}
	if err := r.Client.Get(ctx, req.NamespacedName, runner); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	before := runner.DeepCopy()
	s := &scope{runner: runner, mem: r.mem(runner.UID), now: r.Options.Now()}

	// Status is computed from the scope and written once, at the end,
	// whatever the phases returned.
	defer func() {
		if runner.DeletionTimestamp != nil && s.finalizerRemoved {
			r.forget(runner.UID)
			return
		}
		r.updateStatus(s, reterr)
		if err := r.patchStatus(ctx, before, runner); err != nil {
			log.Error(err, "Writing status")
			if reterr == nil {
				reterr = err
			}
		}
		r.recordTransitions(before, runner)
		if reterr == nil {
			result = mergeRequeue(result, s.requeueAfter)
		}
		result, reterr = outcomeResult(result, reterr)
	}()

	if runner.DeletionTimestamp != nil {
		return ctrl.Result{}, r.reconcileDelete(ctx, s)
	}
	if err := r.ensureFinalizer(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	// Referenced Secrets and ConfigMaps are read uncached and not watched
	// (watching them would cache every Secret in the cluster), so every
	// Runner looks at them again at least this often. Reads only: when
	// nothing changed, nothing is written.
	s.requeueIn(r.Options.ReferenceRecheck)
	for _, phase := range []func(context.Context, *scope) error{
		r.resolveGitLab,
		r.readLogs,
		r.ensureRegistration,
		r.ensureWorkload,
	} {
		if err := phase(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// patchStatus writes status when, and only when, it changed.
func (r *Reconciler) patchStatus(ctx context.Context, before, after *gitlabv1beta1.Runner) error {
	if equality.Semantic.DeepEqual(before.Status, after.Status) {
		return nil
	}
	return r.Client.Status().Patch(ctx, after, client.MergeFrom(before))
}

func mergeRequeue(res ctrl.Result, after time.Duration) ctrl.Result {
	if after > 0 && (res.RequeueAfter == 0 || after < res.RequeueAfter) {
		res.RequeueAfter = after
	}
	return res
}

func outcomeResult(res ctrl.Result, err error) (ctrl.Result, error) {
	if err == nil {
		return res, nil
	}
	return outcome.Result(err)
}
