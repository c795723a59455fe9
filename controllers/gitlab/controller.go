// Package gitlab holds the GitLab controller: it deploys a GitLab instance
// (the Omnibus image as a one-replica StatefulSet), seeds an admin token
// for the operator, and publishes in status what Runners naming the GitLab
// need to register against it: status.internalURL, status.adminTokenSecret
// and the AdminTokenReady condition.
//
// Reconcile follows the operator's one skeleton (shared with the Runner
// controller): load, handle deletion, ensure the finalizer, run ordered
// phases that fill a scope, derive status from the scope once, write it
// once and only when it changed. Phases return typed errors from
// pkg/outcome that decide between retry, wait and stall.
package gitlab

import (
	"context"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	gitlabclient "github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlabbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
)

// Options are the GitLab controller's tunables. The API discovery flags
// are filled once at start (see pkg/operator), never per reconcile.
type Options struct {
	// Images are the default images.
	Images images.Images
	// MaxConcurrentReconciles is the number of parallel workers.
	MaxConcurrentReconciles int
	// OpenShift leaves the pod's seccomp profile to the SCC.
	OpenShift bool
	// RouteAPI: route.openshift.io/v1 exists; a GitLab without
	// spec.ingress.enabled gets a Route instead of an Ingress.
	RouteAPI bool
	// SCCAPI: security.openshift.io exists; the GitLab ServiceAccount is
	// bound to the anyuid SCC, which the Omnibus image (root) needs.
	SCCAPI bool
	// Endpoint returns the URL the operator uses to reach a GitLab, which
	// is also published as status.internalURL for Runners. Default: the
	// in-cluster Service URL. Tests point it at a fake GitLab, since pods
	// never run there.
	Endpoint func(*gitlabv1beta1.GitLab) string
	// Now returns the time; tests replace it to exercise token rotation.
	Now func() time.Time
	// ReadyInterval is how often a ready instance is re-checked (default
	// 10m); NotReadyInterval how often one that is not (default 1m).
	ReadyInterval, NotReadyInterval time.Duration
	// RotateBefore is how long before its expiry the admin token is
	// replaced (default 30 days).
	RotateBefore time.Duration
	// Timeout bounds each call to a GitLab instance (default 10s).
	Timeout time.Duration
}

func (o *Options) defaults() {
	o.Images = o.Images.WithDefaults()
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 1
	}
	if o.Endpoint == nil {
		o.Endpoint = gitlabbuild.InternalURL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadyInterval <= 0 {
		o.ReadyInterval = 10 * time.Minute
	}
	if o.NotReadyInterval <= 0 {
		o.NotReadyInterval = time.Minute
	}
	if o.RotateBefore <= 0 {
		o.RotateBefore = gitlabbuild.DefaultRotateBefore
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
}

// ClientSource hands out GitLab clients; *gitlab.Cache implements it.
type ClientSource interface {
	Get(cfg gitlabclient.Config) (gitlabclient.Client, error)
}

// Reconciler reconciles GitLab resources.
type Reconciler struct {
	// Client reads through the label-scoped cache and writes.
	Client client.Client
	// APIReader reads uncached: user Secrets and ConfigMaps the cache does
	// not hold, and generated Secrets before one is (re)generated.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	GitLab    ClientSource
	Options   Options

	// memory remembers the last readiness check per GitLab, so resyncs
	// and unrelated events do not call the instance again. Losing it (a
	// restart) costs one check per GitLab.
	memMu  sync.Mutex
	memory map[types.UID]*checkMemory
}

// checkMemory is the last readiness check of one GitLab.
type checkMemory struct {
	// fingerprint of what the check depended on; a change re-checks at once.
	fingerprint string
	// next is when the check is due again.
	next time.Time
}

func (r *Reconciler) mem(uid types.UID) *checkMemory {
	r.memMu.Lock()
	defer r.memMu.Unlock()
	if r.memory == nil {
		r.memory = map[types.UID]*checkMemory{}
	}
	m := r.memory[uid]
	if m == nil {
		m = &checkMemory{}
		r.memory[uid] = m
	}
	return m
}

func (r *Reconciler) forget(uid types.UID) {
	r.memMu.Lock()
	defer r.memMu.Unlock()
	delete(r.memory, uid)
}

// +kubebuilder:rbac:groups=gitlab.com,resources=gitlabs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=gitlab.com,resources=gitlabs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gitlab.com,resources=gitlabs/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=route.openshift.io,resources=routes,verbs=get;list;watch;create;update;delete
// Setting spec.host on a Route needs this extra permission on OpenShift.
// +kubebuilder:rbac:groups=route.openshift.io,resources=routes/custom-host,verbs=create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;update
// Binding the anyuid SCC's ClusterRole requires holding its permission
// (RBAC escalation rule).
// +kubebuilder:rbac:groups=security.openshift.io,resources=securitycontextconstraints,resourceNames=anyuid,verbs=use

// SetupWithManager registers the controller and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Options.defaults()
	b := ctrl.NewControllerManagedBy(mgr).
		Named("gitlab").
		// Status writes do not change the generation: the controller's
		// own status updates never wake it up again.
		For(&gitlabv1beta1.GitLab{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionPredicate{}))).
		// StatefulSet status changes (pod ready, rollout done) reconcile
		// at once, so availability is noticed without polling.
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&networkingv1.Ingress{}).
		// Generated Secrets have no owner with Retain, so they are mapped
		// by label: deleting the admin token Secret regenerates it at once.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretToGitLab)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles})
	if r.Options.SCCAPI {
		b = b.Owns(&rbacv1.RoleBinding{})
	}
	if r.Options.RouteAPI {
		b = b.Owns(gitlabbuild.EmptyRoute())
	}
	return b.Complete(r)
}

// secretToGitLab maps a labelled GitLab child Secret to its GitLab.
func secretToGitLab(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[labels.ComponentKey] != labels.ComponentGitLab || l[labels.ManagedByKey] != labels.ManagedByValue || l[labels.InstanceKey] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[labels.InstanceKey]}}}
}

// Reconcile brings one GitLab towards its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, reterr error) {
	log := ctrl.LoggerFrom(ctx)
	gl := &gitlabv1beta1.GitLab{}
	if err := r.Client.Get(ctx, req.NamespacedName, gl); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	before := gl.DeepCopy()
	s := &scope{gl: gl, mem: r.mem(gl.UID), now: r.Options.Now()}

	// Status is computed from the scope and written once, at the end,
	// whatever the phases returned.
	defer func() {
		if s.finalizerRemoved {
			r.forget(gl.UID)
			return
		}
		if apierrors.IsConflict(reterr) {
			// The cache was behind one of our own writes. Nothing is wrong:
			// try again shortly with fresh data, leaving status alone.
			log.V(1).Info("Conflict writing a child; retrying", "error", reterr.Error())
			result, reterr = ctrl.Result{RequeueAfter: conflictRetry}, nil
			return
		}
		r.updateStatus(s, reterr)
		if err := r.patchStatus(ctx, before, gl); err != nil {
			log.Error(err, "Writing status")
			// The conditions just computed were not stored: check the
			// instance again next time instead of trusting stored status.
			r.forget(gl.UID)
			if reterr == nil {
				reterr = err
			}
		}
		r.recordTransitions(before, gl)
		if reterr == nil {
			result = mergeRequeue(result, s.requeueAfter)
		}
		result, reterr = outcomeResult(result, reterr)
	}()

	if gl.DeletionTimestamp != nil {
		return ctrl.Result{}, r.reconcileDelete(ctx, s)
	}
	if err := r.ensureFinalizer(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	for _, phase := range []func(context.Context, *scope) error{
		r.resolve,
		r.ensureSecrets,
		r.ensureChildren,
		r.checkReadiness,
	} {
		if err := phase(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	}
	// A refused upgrade leaves the instance running its current version
	// (the phases above went on with it) and is reported last.
	if s.upgradeErr != nil {
		return ctrl.Result{}, s.upgradeErr
	}
	return ctrl.Result{}, nil
}

// conflictRetry is how soon a reconcile that hit a write conflict runs
// again.
const conflictRetry = 200 * time.Millisecond

// patchStatus writes status when, and only when, it changed.
func (r *Reconciler) patchStatus(ctx context.Context, before, after *gitlabv1beta1.GitLab) error {
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
