package gitlab

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlabbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
)

// ensureFinalizer adds the retention finalizer, which lets the operator
// remove volumes and generated Secrets when retentionPolicy is Delete.
func (r *Reconciler) ensureFinalizer(ctx context.Context, s *scope) error {
	if controllerutil.ContainsFinalizer(s.gl, gitlabv1beta1.FinalizerGitLab) {
		return nil
	}
	before := s.gl.DeepCopy()
	controllerutil.AddFinalizer(s.gl, gitlabv1beta1.FinalizerGitLab)
	if err := r.Client.Patch(ctx, s.gl, client.MergeFrom(before)); err != nil {
		return outcome.Transient(gitlabv1beta1.ReasonReconciling, "adding the finalizer failed", err)
	}
	return nil
}

// reconcileDelete applies the retention policy, then lets the GitLab go.
//
// Retain: nothing is deleted here. Owned children (StatefulSet, Services,
// ConfigMap, Ingress or Route, ServiceAccount) are garbage-collected; the
// PVCs (the StatefulSet keeps them) and the generated Secrets (no owner)
// stay, and a GitLab re-created with the same name reattaches them.
//
// Delete: the PVCs (selected by label) and the generated Secrets are
// deleted explicitly, which also covers clusters without the StatefulSet
// PVC auto-deletion feature.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) error {
	gl := s.gl
	if !controllerutil.ContainsFinalizer(gl, gitlabv1beta1.FinalizerGitLab) {
		s.finalizerRemoved = true
		return nil
	}
	if !gitlabbuild.RetainData(gl) {
		if err := r.deleteData(ctx, gl); err != nil {
			return err
		}
	}
	before := gl.DeepCopy()
	controllerutil.RemoveFinalizer(gl, gitlabv1beta1.FinalizerGitLab)
	if err := r.Client.Patch(ctx, gl, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
		return outcome.Transient(gitlabv1beta1.ReasonDeleting, "removing the finalizer failed", err)
	}
	s.finalizerRemoved = true
	return nil
}

// deleteData removes the instance's PVCs and generated Secrets. PVCs are
// listed uncached: deletion is rare and must not miss one the cache has
// not seen.
func (r *Reconciler) deleteData(ctx context.Context, gl *gitlabv1beta1.GitLab) error {
	var pvcs corev1.PersistentVolumeClaimList
	if err := r.APIReader.List(ctx, &pvcs, client.InNamespace(gl.Namespace),
		client.MatchingLabels(labels.Selector(labels.ComponentGitLab, gl.Name))); err != nil {
		return outcome.Transient(gitlabv1beta1.ReasonDeleting, "listing the GitLab's volumes failed", err)
	}
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		if pvc.DeletionTimestamp != nil {
			continue
		}
		if err := r.Client.Delete(ctx, pvc); err != nil && !apierrors.IsNotFound(err) {
			return outcome.Transient(gitlabv1beta1.ReasonDeleting, fmt.Sprintf("deleting volume %q failed", pvc.Name), err)
		}
	}
	for _, name := range []string{gitlabbuild.GeneratedRootPasswordSecretName(gl), gitlabbuild.AdminTokenSecretName(gl)} {
		sec := &corev1.Secret{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: gl.Namespace, Name: name}, sec)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return outcome.Transient(gitlabv1beta1.ReasonDeleting, fmt.Sprintf("reading Secret %q failed", name), err)
		}
		// Only the operator's own Secret: a user's Secret that happens to
		// carry the name is left alone.
		if sec.Labels[labels.ManagedByKey] != labels.ManagedByValue && !metav1.IsControlledBy(sec, gl) {
			continue
		}
		if err := r.Client.Delete(ctx, sec); err != nil && !apierrors.IsNotFound(err) {
			return outcome.Transient(gitlabv1beta1.ReasonDeleting, fmt.Sprintf("deleting Secret %q failed", name), err)
		}
	}
	return nil
}
