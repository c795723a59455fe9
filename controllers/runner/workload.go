package runner

import (
	"bytes"
	"context"
	"fmt"
	corev1 "k8s.io/api/core/v1"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/apply"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
)

// renderConfig renders config.toml for the current registration, merged
// with the user's template.
func (r *Reconciler) renderConfig(ctx context.Context, s *scope) ([]byte, error) {
	var template []byte
	if name := s.runner.Spec.Config; name != "" {
		cm, err := r.userConfigMap(ctx, s.runner.Namespace, name, "spec.config")
		if err != nil {
			return nil, err
		}
		tpl, ok := cm.Data[gitlabv1beta1.ConfigMapKeyConfigTemplate]
		if !ok {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
				"ConfigMap %q named in spec.config has no key config.toml: put the template under config.toml", name))
		}
		template = []byte(tpl)
	}
	out, err := runnerbuild.ConfigTOML(s.runner, *s.registration, runnerbuild.ConfigInputs{
		URL:      s.target.url,
		HasCA:    s.target.caKey != "",
		Images:   r.Options.Images,
		Template: template,
		ProxyEnv: r.Options.ProxyEnv,
	})
	if err != nil {
		return nil, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, err.Error())
	}
	return out, nil
}

// persistRegistration writes the Runner's Secret with the registration and,
// when it renders, config.toml. A template that does not render must not
// lose a fresh token, so the token is stored either way.
func (r *Reconciler) persistRegistration(ctx context.Context, s *scope) error {
	cfg, renderErr := r.renderConfig(ctx, s)
	sec := runnerbuild.ConfigSecret(s.runner, *s.registration, cfg)
	if _, err := apply.Ensure(ctx, r.Client, r.APIReader, r.Scheme, s.runner, sec); err != nil {
		return err
	}
	s.persisted, s.persistedConfig = true, cfg
	_ = renderErr // reported by ensureWorkload, which renders again
	return nil
}

// ensureWorkload creates or updates the runner's children: config Secret,
// ServiceAccount, Role and RoleBinding in the job namespace, Deployment,
// metrics Service and ServiceMonitor.
func (r *Reconciler) ensureWorkload(ctx context.Context, s *scope) error {
	runner := s.runner
	if err := r.checkPodReferences(ctx, runner); err != nil {
		return s.fail(gitlabv1beta1.ConditionDeployed, err)
	}
	cfg, err := r.renderConfig(ctx, s)
	if err != nil {
		return s.fail(gitlabv1beta1.ConditionDeployed, err)
	}
	sameNS := runnerbuild.JobNamespace(runner) == runner.Namespace
	var jobOwner client.Object
	if sameNS {
		jobOwner = runner
	}
	children := []struct {
		obj   client.Object
		owner client.Object
	}{
		{runnerbuild.ConfigSecret(runner, *s.registration, cfg), runner},
		{runnerbuild.ServiceAccount(runner), runner},
		// Owner references cannot cross namespaces; a Role in another job
		// namespace is removed by the finalizer instead.
		{runnerbuild.Role(runner), jobOwner},
		{runnerbuild.RoleBinding(runner), jobOwner},
	}
	if runnerbuild.MetricsEnabled(runner) {
		children = append(children, struct {
			obj   client.Object
			owner client.Object
		}{runnerbuild.MetricsService(runner), runner})
		if r.Options.ServiceMonitors {
			children = append(children, struct {
				obj   client.Object
				owner client.Object
			}{runnerbuild.ServiceMonitor(runner), runner})
		}
	}
	children = append(children, struct {
		obj   client.Object
		owner client.Object
	}{runnerbuild.Deployment(runner, runnerbuild.Inputs{
		Images: r.Options.Images, OpenShift: r.Options.OpenShift, CAKey: s.target.caKey, ProxyEnv: r.Options.ProxyEnv,
	}), runner})

	for _, c := range children {
		if _, isSecret := c.obj.(*corev1.Secret); isSecret && s.persisted && bytes.Equal(s.persistedConfig, cfg) {
			// Written moments ago with the registration.
			continue
		}
		if _, err := apply.Ensure(ctx, r.Client, r.APIReader, r.Scheme, c.owner, c.obj); err != nil {
			if apierrors.IsForbidden(err) {
				return s.fail(gitlabv1beta1.ConditionDeployed, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
					"the operator may not write %s %q in namespace %s (is the namespace watched by the operator, and does its role hold what it grants?): %s",
					kindOf(c.obj), c.obj.GetName(), c.obj.GetNamespace(), apiStatusMessage(err))))
			}
			return s.fail(gitlabv1beta1.ConditionDeployed, outcome.Transient(gitlabv1beta1.ReasonReconciling,
				fmt.Sprintf("writing %s %q failed", kindOf(c.obj), c.obj.GetName()), err))
		}
	}
	dep := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: runner.Namespace, Name: runnerbuild.DeploymentName(runner)}, dep); err == nil {
		s.deployment = dep
	}
	want := runnerbuild.Replicas(runner)
	switch {
	case want == 0:
		s.setCondition(gitlabv1beta1.ConditionDeployed, true, gitlabv1beta1.ReasonDeploymentAvailable, "the runner is scaled to zero replicas")
	case s.deployment != nil && s.deployment.Status.AvailableReplicas >= want:
		s.setCondition(gitlabv1beta1.ConditionDeployed, true, gitlabv1beta1.ReasonDeploymentAvailable, "the runner pods are available")
	default:
		s.setCondition(gitlabv1beta1.ConditionDeployed, false, gitlabv1beta1.ReasonDeploymentProgressing, "waiting for the runner pods to become available")
	}
	return nil
}

func kindOf(o client.Object) string {
	if k := o.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return fmt.Sprintf("%T", o)
}

// apiStatusMessage is the API server's message of an error, which names
// what was refused (never a secret).
func apiStatusMessage(err error) string {
	if st, ok := err.(apierrors.APIStatus); ok {
		return st.Status().Message
	}
	return err.Error()
}

// checkPodReferences makes sure what the pod reads from the user's objects
// exists, so a typo shows as a condition instead of a pod stuck in
// CreateContainerConfigError.
func (r *Reconciler) checkPodReferences(ctx context.Context, runner *gitlabv1beta1.Runner) error {
	if name := runner.Spec.EnvConfigMap; name != "" {
		if _, err := r.userConfigMap(ctx, runner.Namespace, name, "spec.envConfigMap"); err != nil {
			return err
		}
	}
	if c := runner.Spec.Cache; c != nil {
		var name string
		switch {
		case c.S3 != nil:
			name = c.S3.Credentials
		case c.GCS != nil:
			name = c.GCS.Credentials
		case c.Azure != nil:
			name = c.Azure.Credentials
		}
		if name != "" {
			if _, err := r.userSecret(ctx, runner.Namespace, name, "spec.cache credentials"); err != nil {
				return err
			}
		}
	}
	return nil
}
