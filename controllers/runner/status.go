package runner

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/conditions"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
)

// setCondition records a True or False condition on the Runner.
func (s *scope) setCondition(condType string, ok bool, reason, message string) {
	if ok {
		conditions.True(s.runner, condType, reason, message)
	} else {
		conditions.False(s.runner, condType, reason, message)
	}
}

// fail records err on condType and returns it. Waiting and transient
// outcomes are Unknown (they may resolve by themselves), stalled ones False.
func (s *scope) fail(condType string, err error) error {
	oe, ok := outcome.As(err)
	if !ok {
		conditions.Unknown(s.runner, condType, gitlabv1beta1.ReasonReconciling, "an internal error occurred; it is retried (see the operator log)")
		return err
	}
	if oe.Kind == outcome.KindStalled {
		conditions.False(s.runner, condType, oe.Reason, oe.Message)
	} else {
		conditions.Set(s.runner, condType, metav1.ConditionFalse, oe.Reason, oe.Message)
	}
	return err
}

// updateStatus derives phase, registration and Ready from the conditions
// and the scope. It is the only place status fields other than conditions
// are written.
func (r *Reconciler) updateStatus(s *scope, reterr error) {
	runner := s.runner
	st := &runner.Status
	st.ObservedGeneration = runner.Generation
	if s.target != nil {
		st.URL = s.target.url
	}
	if s.registration != nil {
		st.RunnerID = s.registration.ID
		if s.registration.ExpiresAt != nil {
			t := metav1.NewTime(s.registration.ExpiresAt.UTC().Truncate(1e9))
			st.TokenExpiresAt = &t
		} else {
			st.TokenExpiresAt = nil
		}
	}

	healthy, known, hReason, hMsg := healthCondition(s)
	switch {
	case runner.DeletionTimestamp != nil:
	case known:
		s.setCondition(gitlabv1beta1.ConditionRunnerHealthy, healthy, hReason, hMsg)
	default:
		conditions.Unknown(runner, gitlabv1beta1.ConditionRunnerHealthy, hReason, hMsg)
	}

	registered := conditions.Get(runner, gitlabv1beta1.ConditionRegistered)
	oe, _ := outcome.As(reterr)
	switch {
	case runner.DeletionTimestamp != nil:
		st.Phase, st.Registration = gitlabv1beta1.PhaseTerminating, gitlabv1beta1.RegistrationDeregistering
		conditions.False(runner, gitlabv1beta1.ConditionReady, gitlabv1beta1.ReasonDeleting, "the Runner is being deleted")
		if registered != nil && registered.Reason == gitlabv1beta1.ReasonDeregistrationFailed {
			conditions.False(runner, gitlabv1beta1.ConditionReady, registered.Reason, registered.Message)
		}
		conditions.Sort(runner)
		return
	case registered != nil && registered.Status == metav1.ConditionTrue:
		st.Registration = gitlabv1beta1.RegistrationSucceeded
	case oe != nil && oe.Kind == outcome.KindStalled:
		st.Registration = gitlabv1beta1.RegistrationFailed
	case st.Registration == "" || s.registration == nil:
		st.Registration = gitlabv1beta1.RegistrationPending
	}
	if known && !healthy && s.health != nil && s.health.TokenRejected && st.Registration == gitlabv1beta1.RegistrationSucceeded {
		// The pod says its token is refused and the API check has not
		// cleared it yet.
		st.Registration = gitlabv1beta1.RegistrationFailed
	}

	deployed := conditions.IsTrue(runner, gitlabv1beta1.ConditionDeployed)
	switch {
	case oe != nil && oe.Kind == outcome.KindStalled:
		st.Phase = gitlabv1beta1.PhaseFailed
	case st.Registration == gitlabv1beta1.RegistrationFailed:
		st.Phase = gitlabv1beta1.PhaseFailed
	case st.Registration != gitlabv1beta1.RegistrationSucceeded:
		st.Phase = gitlabv1beta1.PhasePending
	case deployed && (!known || healthy):
		st.Phase = gitlabv1beta1.PhaseRunning
	default:
		st.Phase = gitlabv1beta1.PhaseInitializing
	}
	if st.Registration != gitlabv1beta1.RegistrationSucceeded && conditions.Get(runner, gitlabv1beta1.ConditionDeployed) == nil {
		conditions.False(runner, gitlabv1beta1.ConditionDeployed, gitlabv1beta1.ReasonWaitingForRegistration,
			"the runner is deployed once it is registered")
	}

	// Ready: registered and deployed, and the pod does not report trouble
	// (an unread log does not hold Ready back).
	from := []string{gitlabv1beta1.ConditionRegistered, gitlabv1beta1.ConditionDeployed}
	if known {
		from = append(from, gitlabv1beta1.ConditionRunnerHealthy)
	}
	conditions.Summarize(runner, gitlabv1beta1.ConditionReady, gitlabv1beta1.ReasonReady, "the runner is registered and running", from...)
	conditions.Sort(runner)
}

// recordTransitions emits events when phase or registration change, and
// only then.
func (r *Reconciler) recordTransitions(before, after *gitlabv1beta1.Runner) {
	if before.Status.Phase == after.Status.Phase && before.Status.Registration == after.Status.Registration {
		return
	}
	typ := corev1.EventTypeNormal
	if after.Status.Phase == gitlabv1beta1.PhaseFailed {
		typ = corev1.EventTypeWarning
	}
	msg := "Phase " + after.Status.Phase + ", registration " + after.Status.Registration
	if c := conditions.Get(after, gitlabv1beta1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
		msg += ": " + c.Message
	}
	reason := "Phase" + after.Status.Phase
	if after.Status.Registration == gitlabv1beta1.RegistrationSucceeded && before.Status.Registration != gitlabv1beta1.RegistrationSucceeded {
		// One event per registration: the transition says it.
		reason = "Registered"
		if c := conditions.Get(after, gitlabv1beta1.ConditionRegistered); c != nil {
			msg += ": " + c.Message
		}
	}
	r.event(after, typ, reason, msg)
}

// event records an events.k8s.io Event about obj. The action is the reason:
// each reason here names one thing the controller did or saw.
func (r *Reconciler) event(obj runtime.Object, eventType, reason, message string) {
	r.Recorder.Eventf(obj, nil, eventType, reason, reason, "%s", message)
}
