package gitlab

import (
	"context"
	"fmt"
	"strconv"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/conditions"
	gitlabclient "github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlabbuild"
)

// checkReadiness asks the instance, through the GitLab API client, whether
// it is ready (GET /-/readiness) and whether the admin token works
// (GET /api/v4/version with it, which also gives the running version).
//
// The instance is asked at most once per interval (1 minute while not
// ready, 10 while ready) unless something it depends on changed: the
// spec, the StatefulSet's pod state, the admin token or the URL. Resyncs
// and unrelated events therefore cost GitLab nothing, and the conditions
// already in status stay as they are.
func (r *Reconciler) checkReadiness(ctx context.Context, s *scope) error {
	fp := r.checkFingerprint(s)
	if s.mem.fingerprint == fp && s.now.Before(s.mem.next) {
		s.requeueIn(s.mem.next.Sub(s.now))
		return nil
	}
	ready := r.askInstance(ctx, s)
	interval := r.Options.NotReadyInterval
	if ready {
		interval = r.Options.ReadyInterval
	}
	// A token close to its rotation date is looked at in time.
	if exp, ok := gitlabbuild.TokenExpiry(s.tokenSecret); ok {
		if due := exp.Add(-r.Options.RotateBefore).Sub(s.now); due > 0 && due < interval {
			interval = due
		}
	}
	s.mem.fingerprint, s.mem.next = fp, s.now.Add(interval)
	s.requeueIn(interval)
	return nil
}

// askInstance calls the instance and sets Available and AdminTokenReady.
// It reports whether both are True.
func (r *Reconciler) askInstance(ctx context.Context, s *scope) bool {
	gl := s.gl
	s.checked = true
	cl, err := r.GitLab.Get(gitlabclient.Config{
		URL:         s.internalURL,
		AccessToken: string(s.tokenSecret.Data[gitlabbuild.KeyToken]),
		Timeout:     r.Options.Timeout,
		UserAgent:   "gitlab-operator",
	})
	if err != nil {
		conditions.False(gl, gitlabv1beta1.ConditionAvailable, gitlabv1beta1.ReasonInstanceUnreachable,
			"the operator cannot build a client for the instance: "+err.Error())
		r.tokenPending(s)
		return false
	}
	if err := cl.Ready(ctx); err != nil {
		if s.statefulSet == nil || s.statefulSet.Status.ReadyReplicas < 1 {
			conditions.False(gl, gitlabv1beta1.ConditionAvailable, gitlabv1beta1.ReasonInstanceStarting,
				"waiting for the GitLab pod to become ready; a first start runs the database migrations and takes several minutes")
		} else {
			conditions.False(gl, gitlabv1beta1.ConditionAvailable, gitlabv1beta1.ReasonInstanceUnreachable,
				"the GitLab pod is ready but the operator cannot reach it at "+s.internalURL+": "+err.Error())
		}
		r.tokenPending(s)
		return false
	}
	conditions.True(gl, gitlabv1beta1.ConditionAvailable, gitlabv1beta1.ReasonInstanceReady, "GitLab answers its readiness check")

	v, err := cl.Version(ctx)
	switch k := gitlabclient.KindOf(err); {
	case err == nil:
		s.reportedVersion = gitlabbuild.NormalizeVersion(v.Version)
		conditions.True(gl, gitlabv1beta1.ConditionAdminTokenReady, gitlabv1beta1.ReasonAdminTokenValid,
			"the operator's admin token works; Runners naming this GitLab can register")
		return true
	case k == gitlabclient.KindUnauthorized || k == gitlabclient.KindForbidden:
		conditions.False(gl, gitlabv1beta1.ConditionAdminTokenReady, gitlabv1beta1.ReasonAdminTokenRejected, fmt.Sprintf(
			"GitLab refuses the operator's admin token. It is seeded when the GitLab container starts, after reconfigure: "+
				"wait for that, or look for 'gitlab-operator:' lines in the pod log. If GitLab revoked it, delete Secret %q to have a new one generated",
			gitlabbuild.AdminTokenSecretName(gl)))
	default:
		conditions.False(gl, gitlabv1beta1.ConditionAdminTokenReady, gitlabv1beta1.ReasonAdminTokenPending,
			"checking the admin token failed: "+err.Error())
	}
	return false
}

// tokenPending marks the token as not checkable while the instance is not
// available.
func (r *Reconciler) tokenPending(s *scope) {
	conditions.False(s.gl, gitlabv1beta1.ConditionAdminTokenReady, gitlabv1beta1.ReasonAdminTokenPending,
		"waiting for GitLab to become available")
}

// checkFingerprint is what a readiness result depends on; when it changes
// the instance is asked again at once.
func (r *Reconciler) checkFingerprint(s *scope) string {
	parts := []string{
		strconv.FormatInt(s.gl.Generation, 10),
		s.internalURL,
		gitlabbuild.TokenRevision(s.tokenSecret),
	}
	if sts := s.statefulSet; sts != nil {
		st := sts.Status
		parts = append(parts,
			strconv.FormatInt(sts.Generation, 10),
			strconv.FormatInt(st.ObservedGeneration, 10),
			strconv.Itoa(int(st.ReadyReplicas)),
			strconv.Itoa(int(st.AvailableReplicas)),
			st.CurrentRevision, st.UpdateRevision,
		)
	}
	return gitlabbuild.Hash(parts...)
}
