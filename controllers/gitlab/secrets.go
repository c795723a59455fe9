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

// ensureSecrets makes the generated Secrets exist: the root password
// (unless the user supplies one) and the operator's admin token, replaced
// before it expires.
//
// Generated Secrets are stateful: the root password was seeded into the
// database and the token into GitLab. So they are generated only when
// absent (checked uncached, never from a possibly stale cache), their
// values are never rewritten except by rotation, and with retentionPolicy
// Retain they carry no owner reference, so a re-created GitLab of the same
// name finds them next to its retained volumes.
func (r *Reconciler) ensureSecrets(ctx context.Context, s *scope) error {
	gl := s.gl
	s.rootPasswordSecret = gitlabbuild.RootPasswordRef(gl).Name
	if gl.Spec.RootPassword == nil {
		if _, err := r.ensureGenerated(ctx, s, gitlabbuild.GeneratedRootPasswordSecretName(gl), func() (*corev1.Secret, error) {
			return gitlabbuild.NewRootPasswordSecret(gl)
		}); err != nil {
			return err
		}
	}
	tok, err := r.ensureGenerated(ctx, s, gitlabbuild.AdminTokenSecretName(gl), func() (*corev1.Secret, error) {
		return gitlabbuild.NewAdminTokenSecret(gl, s.now)
	})
	if err != nil {
		return err
	}
	if gitlabbuild.NeedsRotation(tok, s.now, r.Options.RotateBefore) {
		if err := r.rotateAdminToken(ctx, s, tok); err != nil {
			return err
		}
	}
	s.tokenSecret = tok
	return nil
}

// rotateAdminToken stores a new token value and expiry in the Secret. The
// pod's config hash includes the token revision, so the StatefulSet rolls
// and the seed script creates the new token in GitLab (revoking the old
// one) when the new pod starts. GitLab's own token rotation API is not
// used: it revokes the old token at once, and a lost response would leave
// the operator without any working token.
func (r *Reconciler) rotateAdminToken(ctx context.Context, s *scope, sec *corev1.Secret) error {
	fresh, err := gitlabbuild.NewAdminTokenSecret(s.gl, s.now)
	if err != nil {
		return outcome.Transient(gitlabv1beta1.ReasonReconciling, "generating a new admin token failed", err)
	}
	sec.Data = fresh.Data
	if sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	sec.Annotations[gitlabbuild.AnnotationTokenRevision] = fresh.Annotations[gitlabbuild.AnnotationTokenRevision]
	if err := r.Client.Update(ctx, sec); err != nil {
		return outcome.Transient(gitlabv1beta1.ReasonReconciling, "storing the new admin token failed", err)
	}
	r.event(s.gl, corev1.EventTypeNormal, gitlabv1beta1.ReasonAdminTokenRotated,
		"The operator's admin token was replaced before its expiry; the GitLab pod restarts to seed it")
	return nil
}

// ensureGenerated returns the named generated Secret, creating it with
// generate when it does not exist, and keeps its labels and ownership in
// line with the retention policy.
func (r *Reconciler) ensureGenerated(ctx context.Context, s *scope, name string, generate func() (*corev1.Secret, error)) (*corev1.Secret, error) {
	gl := s.gl
	key := client.ObjectKey{Namespace: gl.Namespace, Name: name}
	sec := &corev1.Secret{}
	err := r.Client.Get(ctx, key, sec)
	if apierrors.IsNotFound(err) {
		// The cache may lag behind a create, or not see a Secret that lost
		// its labels: only the API server can say it is really absent.
		err = r.APIReader.Get(ctx, key, sec)
	}
	switch {
	case apierrors.IsNotFound(err):
		fresh, genErr := generate()
		if genErr != nil {
			return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("generating Secret %q failed", name), genErr)
		}
		if !gitlabbuild.RetainData(gl) {
			if err := controllerutil.SetControllerReference(gl, fresh, r.Scheme); err != nil {
				return nil, err
			}
		}
		if err := r.Client.Create(ctx, fresh); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// Created concurrently: use what is stored, never overwrite.
				if err := r.APIReader.Get(ctx, key, sec); err != nil {
					return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("reading Secret %q failed", name), err)
				}
				return sec, nil
			}
			return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("creating Secret %q failed", name), err)
		}
		return fresh, nil
	case err != nil:
		return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("reading Secret %q failed", name), err)
	}
	if changed, err := r.alignSecretMeta(gl, sec); err != nil {
		return nil, err
	} else if changed {
		if err := r.Client.Update(ctx, sec); err != nil {
			return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("updating Secret %q failed", name), err)
		}
	}
	return sec, nil
}

// alignSecretMeta sets the operator's labels (the Runner controller reads
// the admin token through the label-scoped cache) and adds or removes the
// controller reference to follow the retention policy. It reports whether
// anything changed.
func (r *Reconciler) alignSecretMeta(gl *gitlabv1beta1.GitLab, sec *corev1.Secret) (bool, error) {
	changed := false
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	for k, v := range labels.For(labels.ComponentGitLab, gl.Name) {
		if sec.Labels[k] != v {
			sec.Labels[k] = v
			changed = true
		}
	}
	owned := metav1.IsControlledBy(sec, gl)
	switch retain := gitlabbuild.RetainData(gl); {
	case !retain && !owned:
		if err := controllerutil.SetControllerReference(gl, sec, r.Scheme); err != nil {
			return false, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
				"Secret %q belongs to another object and cannot follow retentionPolicy Delete: delete it or set retentionPolicy Retain", sec.Name))
		}
		changed = true
	case retain && owned:
		if err := controllerutil.RemoveControllerReference(gl, sec, r.Scheme); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}
