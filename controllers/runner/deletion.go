package runner

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
)

// ensureFinalizer adds the de-registration finalizer. It is persisted
// before any runner is created in GitLab, which is what lets a later
// reconcile know an earlier one may have created one.
func (r *Reconciler) ensureFinalizer(ctx context.Context, s *scope) error {
	if controllerutil.ContainsFinalizer(s.runner, gitlabv1beta1.FinalizerDeregister) {
		s.finalizerWasPresent = true
		return nil
	}
	before := s.runner.DeepCopy()
	controllerutil.AddFinalizer(s.runner, gitlabv1beta1.FinalizerDeregister)
	if err := r.Client.Patch(ctx, s.runner, client.MergeFrom(before)); err != nil {
		return outcome.Transient(gitlabv1beta1.ReasonReconciling, "adding the finalizer failed", err)
	}
	return nil
}

// reconcileDelete de-registers the runner, then lets the Runner go.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) error {
	runner := s.runner
	if !controllerutil.ContainsFinalizer(runner, gitlabv1beta1.FinalizerDeregister) {
		s.finalizerRemoved = true
		return nil
	}
	if runner.Annotations[gitlabv1beta1.AnnotationSkipDeregistration] == "true" {
		ctrl.LoggerFrom(ctx).Info("Skipping de-registration as the annotation asks")
		r.event(runner, corev1.EventTypeWarning, "DeregistrationSkipped",
			"De-registration was skipped on request; remove the runner in GitLab if it still exists")
	} else if err := r.deregister(ctx, s); err != nil {
		return s.fail(gitlabv1beta1.ConditionRegistered, err)
	}
	if err := r.cleanupJobNamespace(ctx, runner); err != nil {
		return s.fail(gitlabv1beta1.ConditionRegistered, outcome.Transient(gitlabv1beta1.ReasonDeleting,
			"removing the runner's Role in the job namespace failed", err))
	}
	r.crashPoint(StepBeforeUnfinalize)
	before := runner.DeepCopy()
	controllerutil.RemoveFinalizer(runner, gitlabv1beta1.FinalizerDeregister)
	if err := r.Client.Patch(ctx, runner, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
		return outcome.Transient(gitlabv1beta1.ReasonDeleting, "removing the finalizer failed", err)
	}
	s.finalizerRemoved = true
	return nil
}

// deregister removes what the operator created in GitLab: the runner
// itself when the operator registered it, only its own runner managers
// when the user handed over a pre-created runner token.
func (r *Reconciler) deregister(ctx context.Context, s *scope) error {
	runner := s.runner
	stored, err := r.loadRegistration(ctx, runner)
	var foreign errForeignSecret
	if errors.As(err, &foreign) {
		// The Secret is not ours: nothing of this Runner is stored there.
		stored, err = nil, nil
	}
	if err != nil {
		return err
	}
	if name := runner.Spec.GitLab.Name; name != "" {
		gl := &gitlabv1beta1.GitLab{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: runner.Namespace, Name: name}, gl)
		if apierrors.IsNotFound(err) || (err == nil && gl.DeletionTimestamp != nil) {
			// The instance goes away with its runners: nothing to wait for.
			ctrl.LoggerFrom(ctx).Info("Managed GitLab is gone or being deleted; not de-registering", "gitlab", name)
			return nil
		}
	}
	t, resolveErr := r.resolveTarget(ctx, runner)
	if stored == nil {
		// Nothing stored. If the operator could have created a runner whose
		// response or storage was lost, find and remove it.
		if resolveErr == nil && t.kind.canFind() {
			// Best effort: a Runner that never reached GitLab (a wrong URL,
			// say) must not be stuck in deletion because of this check.
			gl, err := r.GitLab.Get(t.clientConfig(r.Options.GitLabTimeout))
			var ids []int64
			if err == nil {
				ids, err = r.findOwnRunners(ctx, runner, gl)
			}
			if err != nil {
				r.event(runner, corev1.EventTypeWarning, "OrphanCheckSkipped",
					"Could not check GitLab for a runner an interrupted registration may have created; if GitLab lists a runner with this Runner's description, remove it there")
				return nil
			}
			for _, id := range ids {
				if err := gl.DeleteByID(ctx, id); err != nil && gitlab.KindOf(err) != gitlab.KindNotFound {
					return deregistrationOutcome(err)
				}
			}
		}
		return nil
	}
	// Use the URL the runner was registered with; the CA and TLS settings
	// of the spec if they still resolve.
	cfg := gitlab.Config{URL: stored.URL, UserAgent: "gitlab-operator", InsecureSkipVerify: runner.Spec.GitLab.InsecureSkipTLSVerify, Timeout: r.Options.GitLabTimeout}
	if resolveErr == nil {
		cfg.CABundle = t.ca
	}
	gl, err := r.GitLab.Get(cfg)
	if err != nil {
		return gitlabOutcome("connecting to GitLab", err)
	}
	s.setCondition(gitlabv1beta1.ConditionRegistered, false, gitlabv1beta1.ReasonDeregistering, "removing the runner from GitLab")
	r.crashPoint(StepBeforeDeregister)
	err = r.deregisterWith(ctx, runner, gl, stored)
	if gitlab.KindOf(err) == gitlab.KindForbidden && resolveErr == nil && t.kind.canFind() && stored.ID != 0 && t.url == stored.URL {
		// The runner token is refused while the runner still exists (its
		// token was reset in GitLab): the access token removes it by id.
		admin, aerr := r.GitLab.Get(t.clientConfig(r.Options.GitLabTimeout))
		if aerr == nil {
			err = admin.DeleteByID(ctx, stored.ID)
			if gitlab.KindOf(err) == gitlab.KindNotFound {
				err = nil
			}
		}
	}
	if err != nil {
		return deregistrationOutcome(err)
	}
	r.crashPoint(StepAfterDeregister)
	r.event(runner, corev1.EventTypeNormal, "Deregistered", "The runner was removed from GitLab")
	return nil
}

// deregisterWith removes one stored registration. "Already gone" (404, or
// 403 for a token GitLab no longer knows) is success.
func (r *Reconciler) deregisterWith(ctx context.Context, runner *gitlabv1beta1.Runner, gl gitlab.Client, reg *runnerbuild.Registration) error {
	gone := func(err error) bool {
		k := gitlab.KindOf(err)
		return err == nil || k == gitlab.KindNotFound || k == gitlab.KindForbidden
	}
	if reg.Origin != runnerbuild.OriginUser {
		err := gl.DeleteByToken(ctx, reg.Token)
		if gitlab.KindOf(err) == gitlab.KindForbidden {
			// 403 means GitLab does not know the token, unless something in
			// front of GitLab refused the request: ask GitLab again before
			// forgetting a runner that may still exist.
			if _, verr := gl.Verify(ctx, reg.Token, runnerbuild.SystemID(runner)); verr == nil {
				return err
			} else if k := gitlab.KindOf(verr); k != gitlab.KindForbidden && k != gitlab.KindNotFound {
				return verr
			}
		}
		if !gone(err) {
			return err
		}
		return nil
	}
	for _, id := range r.systemIDs(ctx, runner) {
		if err := gl.DeleteManager(ctx, reg.Token, id); !gone(err) {
			return err
		}
	}
	return nil
}

// systemIDs are the runner managers this operator's pods were: the
// Runner's own id, and one per existing pod of a multi-replica Runner.
func (r *Reconciler) systemIDs(ctx context.Context, runner *gitlabv1beta1.Runner) []string {
	ids := []string{runnerbuild.SystemID(runner)}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(runner.Namespace),
		client.MatchingLabels(labels.Selector(labels.ComponentRunner, runner.Name))); err == nil {
		for _, p := range pods.Items {
			ids = append(ids, runnerbuild.PodSystemID(p.Name))
		}
	}
	return ids
}

func deregistrationOutcome(err error) error {
	oe, _ := outcome.As(gitlabOutcome("removing the runner from GitLab", err))
	msg := oe.Message + "; deletion waits and retries. To delete without de-registering, annotate the Runner with gitlab.com/skip-deregistration=true"
	if oe.Kind == outcome.KindStalled {
		// Even a "permanent" failure is retried with backoff on deletion:
		// the user wants the object gone, and GitLab may come back.
		return &outcome.Error{Kind: outcome.KindTransient, Reason: gitlabv1beta1.ReasonDeregistrationFailed, Message: msg, Err: err}
	}
	return &outcome.Error{Kind: oe.Kind, Reason: gitlabv1beta1.ReasonDeregistrationFailed, Message: msg, Err: err, RetryAfter: oe.RetryAfter}
}

// cleanupJobNamespace removes the Role and RoleBinding in a job namespace
// other than the Runner's own (owner references cannot reach them).
func (r *Reconciler) cleanupJobNamespace(ctx context.Context, runner *gitlabv1beta1.Runner) error {
	ns := runnerbuild.JobNamespace(runner)
	if ns == runner.Namespace {
		return nil
	}
	for _, obj := range []client.Object{
		&rbacv1.RoleBinding{ObjectMeta: runnerbuild.RoleBinding(runner).ObjectMeta},
		&rbacv1.Role{ObjectMeta: runnerbuild.Role(runner).ObjectMeta},
	} {
		if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", obj.GetName(), err)
		}
	}
	return nil
}
