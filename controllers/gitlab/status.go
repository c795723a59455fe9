package gitlab

import (
	"k8s.io/apimachinery/pkg/runtime"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/conditions"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
)

// updateStatus derives status from the scope and the phases' outcome. It
// is the only place status fields other than the readiness conditions are
// written, and it writes nothing volatile, so an unchanged instance gives
// an unchanged status and no write.
func (r *Reconciler) updateStatus(s *scope, reterr error) {
	gl := s.gl
	st := &gl.Status
	st.ObservedGeneration = gl.Generation
	st.URL = strings.TrimRight(strings.TrimSpace(gl.Spec.URL), "/")
	if s.internalURL != "" {
		st.InternalURL = s.internalURL
	}
	if s.rootPasswordSecret != "" {
		st.RootPasswordSecret = s.rootPasswordSecret
	}
	if s.tokenSecret != nil {
		st.AdminTokenSecret = s.tokenSecret.Name
	}
	if s.reportedVersion != "" {
		st.Version = s.reportedVersion
	}

	if gl.DeletionTimestamp != nil {
		st.Phase = gitlabv1beta1.PhaseTerminating
		msg := "the GitLab is being deleted"
		if oe, ok := outcome.As(reterr); ok {
			msg = oe.Message
		}
		conditions.False(gl, gitlabv1beta1.ConditionReady, gitlabv1beta1.ReasonDeleting, msg)
		conditions.Sort(gl)
		return
	}

	// Every condition exists from the first reconcile on, so clients can
	// wait on any of them.
	if conditions.Get(gl, gitlabv1beta1.ConditionAvailable) == nil {
		conditions.Unknown(gl, gitlabv1beta1.ConditionAvailable, gitlabv1beta1.ReasonReconciling, "the instance has not been checked yet")
	}
	if conditions.Get(gl, gitlabv1beta1.ConditionAdminTokenReady) == nil {
		r.tokenPending(s)
	}
	if conditions.Get(gl, gitlabv1beta1.ConditionProgressing) == nil {
		conditions.Unknown(gl, gitlabv1beta1.ConditionProgressing, gitlabv1beta1.ReasonReconciling, "the instance has not been deployed yet")
	}

	oe, _ := outcome.As(reterr)
	stalled := oe != nil && oe.Kind == outcome.KindStalled
	if stalled {
		// The user must change something: Degraded says what.
		conditions.True(gl, gitlabv1beta1.ConditionDegraded, oe.Reason, oe.Message)
	} else {
		conditions.False(gl, gitlabv1beta1.ConditionDegraded, gitlabv1beta1.ReasonAsExpected, "nothing needs attention")
	}

	switch {
	case stalled:
		conditions.False(gl, gitlabv1beta1.ConditionReady, oe.Reason, oe.Message)
	case oe != nil:
		conditions.Unknown(gl, gitlabv1beta1.ConditionReady, oe.Reason, oe.Message)
	case reterr != nil:
		conditions.Unknown(gl, gitlabv1beta1.ConditionReady, gitlabv1beta1.ReasonReconciling,
			"an internal error occurred; it is retried (see the operator log)")
	default:
		conditions.Summarize(gl, gitlabv1beta1.ConditionReady, gitlabv1beta1.ReasonReady,
			"GitLab is available and Runners naming it can register",
			gitlabv1beta1.ConditionAvailable, gitlabv1beta1.ConditionAdminTokenReady)
	}

	switch {
	case stalled:
		st.Phase = gitlabv1beta1.PhaseFailed
	case conditions.IsTrue(gl, gitlabv1beta1.ConditionAvailable):
		st.Phase = gitlabv1beta1.PhaseRunning
	case s.statefulSet != nil || st.Phase == gitlabv1beta1.PhaseInitializing || st.Phase == gitlabv1beta1.PhaseRunning:
		st.Phase = gitlabv1beta1.PhaseInitializing
	default:
		st.Phase = gitlabv1beta1.PhasePending
	}
	conditions.Sort(gl)
}

// recordTransitions emits an event when the phase changes, and only then.
func (r *Reconciler) recordTransitions(before, after *gitlabv1beta1.GitLab) {
	if before.Status.Phase == after.Status.Phase {
		return
	}
	typ := corev1.EventTypeNormal
	if after.Status.Phase == gitlabv1beta1.PhaseFailed {
		typ = corev1.EventTypeWarning
	}
	msg := "Phase " + after.Status.Phase
	if c := conditions.Get(after, gitlabv1beta1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
		msg += ": " + c.Message
	}
	r.event(after, typ, "Phase"+after.Status.Phase, msg)
}

// event records an events.k8s.io Event about obj; the action is the reason.
func (r *Reconciler) event(obj runtime.Object, eventType, reason, message string) {
	r.Recorder.Eventf(obj, nil, eventType, reason, reason, "%s", message)
}
