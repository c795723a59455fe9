package gitlab

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlabbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
)

// minRootPasswordLength is GitLab's own minimum; a shorter initial root
// password makes the first reconfigure fail inside the pod, where nobody
// sees it, so it is refused here.
const minRootPasswordLength = 8

// resolve checks everything the spec references before anything is
// deployed: a pod that mounts a missing Secret never starts, and Omnibus
// fails its reconfigure on a missing password file, both far from where
// the user looks. Each problem is a Stalled outcome naming the fix.
func (r *Reconciler) resolve(ctx context.Context, s *scope) error {
	gl := s.gl
	if _, err := gitlabbuild.ExternalURL(gl); err != nil {
		return outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, err.Error()+": fix spec.url")
	}
	if _, err := gitlabbuild.ParseVersion(gitlabbuild.DesiredVersion(gl)); err != nil {
		return outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, "spec.version: "+err.Error())
	}
	if ref := gl.Spec.RootPassword; ref != nil {
		sec, err := r.userSecretKey(ctx, gl.Namespace, *ref, "spec.rootPassword")
		if err != nil {
			return err
		}
		if len(sec) < minRootPasswordLength {
			return outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
				"the root password in Secret %q key %q is shorter than %d characters, which GitLab refuses: store a longer one",
				ref.Name, ref.Key, minRootPasswordLength))
		}
	}
	if db := gl.Spec.Database; db != nil {
		if _, err := r.userSecretKey(ctx, gl.Namespace, db.PasswordSecret, "spec.database.passwordSecret"); err != nil {
			return err
		}
	}
	if rd := gl.Spec.Redis; rd != nil && rd.PasswordSecret != nil {
		if _, err := r.userSecretKey(ctx, gl.Namespace, *rd.PasswordSecret, "spec.redis.passwordSecret"); err != nil {
			return err
		}
	}
	if smtp := gl.Spec.SMTP; smtp != nil && smtp.PasswordSecret != nil {
		if _, err := r.userSecretKey(ctx, gl.Namespace, *smtp.PasswordSecret, "spec.smtp.passwordSecret"); err != nil {
			return err
		}
	}
	if name := gl.Spec.ExtraConfig; name != "" {
		cm, err := r.userConfigMap(ctx, gl.Namespace, name, "spec.extraConfig")
		if err != nil {
			return err
		}
		extra, ok := cm.Data[gitlabbuild.ExtraConfigKey]
		if !ok {
			return outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
				"ConfigMap %q named in spec.extraConfig has no key %s: put the extra gitlab.rb lines under %s",
				name, gitlabbuild.ExtraConfigKey, gitlabbuild.ExtraConfigKey))
		}
		s.extraConfig = extra
	}
	return nil
}

// userSecretKey reads one key of a Secret the user references. It goes
// through the uncached reader: the cache only holds the operator's own
// children. The value is returned for validation only and never logged.
func (r *Reconciler) userSecretKey(ctx context.Context, namespace string, ref corev1.SecretKeySelector, field string) ([]byte, error) {
	sec := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonSecretNotFound, fmt.Sprintf(
				"Secret %q named in %s does not exist in namespace %s: create it", ref.Name, field, namespace))
		}
		if apierrors.IsForbidden(err) {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
				"the operator may not read Secret %q named in %s: check that the namespace is watched by the operator", ref.Name, field))
		}
		return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("reading Secret %q failed", ref.Name), err)
	}
	key := ref.Key
	if key == "" {
		key = gitlabbuild.KeyPassword
	}
	v, ok := sec.Data[key]
	if !ok || len(v) == 0 {
		return nil, outcome.Stalled(gitlabv1beta1.ReasonSecretKeyMissing, fmt.Sprintf(
			"Secret %q named in %s has no key %q (or it is empty): add it", ref.Name, field, key))
	}
	return v, nil
}

// userConfigMap reads a ConfigMap the user references, uncached.
func (r *Reconciler) userConfigMap(ctx context.Context, namespace, name, field string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonConfigMapNotFound, fmt.Sprintf(
				"ConfigMap %q named in %s does not exist in namespace %s: create it", name, field, namespace))
		}
		return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("reading ConfigMap %q failed", name), err)
	}
	return cm, nil
}
