package gitlab

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/apply"
	"github.com/gitlab-operator/gitlab-operator/pkg/conditions"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlabbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
)

// ensureChildren writes the instance's objects, all owned by the GitLab:
// ServiceAccount (and its anyuid binding on OpenShift), the ConfigMap with
// gitlab.rb and the seed script, the Services, the StatefulSet, and an
// Ingress or a Route. Each is written only when its desired state changed.
func (r *Reconciler) ensureChildren(ctx context.Context, s *scope) error {
	gl := s.gl
	existing := &appsv1.StatefulSet{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: gl.Namespace, Name: gitlabbuild.StatefulSetName(gl)}, existing); {
	case apierrors.IsNotFound(err):
		existing = nil
	case err != nil:
		return outcome.Transient(gitlabv1beta1.ReasonReconciling, "reading the StatefulSet failed", err)
	}
	r.decideVersion(s, existing)

	in := gitlabbuild.Inputs{
		Images:        r.Options.Images,
		Version:       s.version,
		OpenShift:     r.Options.OpenShift,
		ExtraConfig:   s.extraConfig,
		TokenRevision: gitlabbuild.TokenRevision(s.tokenSecret),
	}
	children := []client.Object{gitlabbuild.ServiceAccount(gl)}
	if r.Options.SCCAPI {
		children = append(children, gitlabbuild.SCCRoleBinding(gl))
	}
	// The ConfigMap goes before the StatefulSet: a pod rolled for a new
	// config hash must mount the new configuration.
	children = append(children,
		gitlabbuild.ConfigMap(gl, in),
		gitlabbuild.HeadlessService(gl),
		gitlabbuild.Service(gl),
		keepImmutable(gitlabbuild.StatefulSet(gl, in), existing),
	)
	exposure := gitlabbuild.ExposureFor(gl, r.Options.RouteAPI)
	switch exposure {
	case gitlabbuild.ExposeIngress:
		children = append(children, gitlabbuild.Ingress(gl))
	case gitlabbuild.ExposeRoute:
		children = append(children, gitlabbuild.Route(gl))
	}
	for _, c := range children {
		if _, err := apply.Ensure(ctx, r.Client, r.APIReader, r.Scheme, gl, c); err != nil {
			return outcome.Transient(gitlabv1beta1.ReasonReconciling,
				fmt.Sprintf("writing %s %q failed", kindOf(c), c.GetName()), err)
		}
	}
	if err := r.removeStaleExposure(ctx, gl, exposure); err != nil {
		return err
	}

	sts := &appsv1.StatefulSet{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: gl.Namespace, Name: gitlabbuild.StatefulSetName(gl)}, sts); err == nil {
		s.statefulSet = sts
	} else if existing != nil {
		s.statefulSet = existing
	}
	s.internalURL = r.Options.Endpoint(gl)
	r.setProgressing(s)
	return nil
}

// decideVersion checks the requested version against what runs. A
// refused change keeps the running version (the instance stays up) and is
// recorded for the status.
func (r *Reconciler) decideVersion(s *scope, existing *appsv1.StatefulSet) {
	desired := gitlabbuild.DesiredVersion(s.gl)
	deployed := ""
	if existing != nil {
		deployed = existing.Annotations[gitlabbuild.AnnotationVersion]
	}
	// The version the instance reported is what its database is migrated
	// to; the rolled-out one counts when it never reported (first start
	// still running).
	from := gitlabbuild.NormalizeVersion(s.gl.Status.Version)
	if from == "" {
		from = deployed
	}
	err := gitlabbuild.CheckUpgrade(from, desired)
	if err == nil && deployed != "" {
		// Going back below what was rolled out is a downgrade too, even if
		// the instance never reported that version.
		if d, perr := gitlabbuild.ParseVersion(deployed); perr == nil {
			if v, perr := gitlabbuild.ParseVersion(desired); perr == nil && v.Compare(d) < 0 {
				err = gitlabbuild.CheckUpgrade(deployed, desired)
			}
		}
	}
	s.version = desired
	var ue *gitlabbuild.UpgradeError
	if !errors.As(err, &ue) {
		return
	}
	reason := gitlabv1beta1.ReasonUpgradePathBlocked
	if ue.Kind == gitlabbuild.UpgradeDowngrade {
		reason = gitlabv1beta1.ReasonDowngradeRefused
	}
	s.upgradeErr = outcome.Stalled(reason, ue.Error())
	switch {
	case deployed != "":
		s.version = deployed
	case from != "":
		s.version = from
	}
}

// keepImmutable carries over the StatefulSet fields Kubernetes does not let
// change (claim templates, service name, selector, pod management), so an
// update never fails on them. Storage sizes and class therefore apply when
// the instance is created; resize the PVCs themselves later. Unchanged
// claim templates are left as built, so the desired object (and its hash)
// stays the same as when it was created and costs no write.
func keepImmutable(desired, existing *appsv1.StatefulSet) *appsv1.StatefulSet {
	if existing == nil {
		return desired
	}
	if !sameClaims(desired.Spec.VolumeClaimTemplates, existing.Spec.VolumeClaimTemplates) {
		desired.Spec.VolumeClaimTemplates = existing.Spec.VolumeClaimTemplates
	}
	if desired.Spec.ServiceName != existing.Spec.ServiceName {
		desired.Spec.ServiceName = existing.Spec.ServiceName
	}
	if !equality.Semantic.DeepEqual(desired.Spec.Selector, existing.Spec.Selector) {
		desired.Spec.Selector = existing.Spec.Selector
	}
	if existing.Spec.PodManagementPolicy != "" && desired.Spec.PodManagementPolicy != existing.Spec.PodManagementPolicy {
		desired.Spec.PodManagementPolicy = existing.Spec.PodManagementPolicy
	}
	return desired
}

// sameClaims compares what the operator sets in claim templates, ignoring
// what the API server defaults.
func sameClaims(a, b []corev1.PersistentVolumeClaim) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		xs, ys := x.Spec.Resources.Requests[corev1.ResourceStorage], y.Spec.Resources.Requests[corev1.ResourceStorage]
		if x.Name != y.Name || !maps.Equal(x.Labels, y.Labels) || xs.Cmp(ys) != 0 ||
			ptr.Deref(x.Spec.StorageClassName, "") != ptr.Deref(y.Spec.StorageClassName, "") ||
			!slices.Equal(x.Spec.AccessModes, y.Spec.AccessModes) {
			return false
		}
	}
	return true
}

// removeStaleExposure deletes the Ingress or Route this GitLab no longer
// wants (spec.ingress changed, or the cluster gained the Route API).
func (r *Reconciler) removeStaleExposure(ctx context.Context, gl *gitlabv1beta1.GitLab, want gitlabbuild.Exposure) error {
	var stale []client.Object
	if want != gitlabbuild.ExposeIngress {
		stale = append(stale, &networkingv1.Ingress{})
	}
	if want != gitlabbuild.ExposeRoute && r.Options.RouteAPI {
		stale = append(stale, gitlabbuild.EmptyRoute())
	}
	for _, obj := range stale {
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: gl.Namespace, Name: gl.Name}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("reading the old %s failed", kindOf(obj)), err)
		}
		if !metav1.IsControlledBy(obj, gl) {
			continue
		}
		if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("removing the old %s failed", kindOf(obj)), err)
		}
	}
	return nil
}

// setProgressing derives Progressing from the StatefulSet's rollout and
// the versions involved.
func (r *Reconciler) setProgressing(s *scope) {
	gl, sts := s.gl, s.statefulSet
	running := gitlabbuild.NormalizeVersion(gl.Status.Version)
	switch {
	case sts == nil:
		conditions.True(gl, gitlabv1beta1.ConditionProgressing, gitlabv1beta1.ReasonRollingOut, "creating the GitLab StatefulSet")
	case running != "" && running != s.version:
		conditions.True(gl, gitlabv1beta1.ConditionProgressing, gitlabv1beta1.ReasonUpgrading, fmt.Sprintf(
			"upgrading GitLab from %s to %s: the new pod runs reconfigure and the database migrations", running, s.version))
	case rollingOut(sts):
		conditions.True(gl, gitlabv1beta1.ConditionProgressing, gitlabv1beta1.ReasonRollingOut, "rolling out the GitLab pod")
	case sts.Status.ReadyReplicas < 1:
		conditions.True(gl, gitlabv1beta1.ConditionProgressing, gitlabv1beta1.ReasonInstanceStarting,
			"the GitLab pod is starting; a first start runs the database migrations and takes several minutes")
	default:
		conditions.False(gl, gitlabv1beta1.ConditionProgressing, gitlabv1beta1.ReasonUpToDate, "the GitLab pod runs the current configuration")
	}
}

// rollingOut reports whether the StatefulSet controller has not yet caught
// up with the latest spec or is replacing the pod.
func rollingOut(sts *appsv1.StatefulSet) bool {
	st := sts.Status
	return st.ObservedGeneration < sts.Generation ||
		st.UpdatedReplicas < 1 ||
		(st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision)
}

func kindOf(o client.Object) string {
	if k := o.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return fmt.Sprintf("%T", o)
}
