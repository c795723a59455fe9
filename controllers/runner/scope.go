package runner

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerlog"
)

// scope carries one reconcile's inputs and findings from phase to phase.
// Each field says which phase sets it; status is derived from it at the end.
type scope struct {
	runner *gitlabv1beta1.Runner
	mem    *runnerMemory
	now    time.Time

	// finalizerWasPresent (ensureFinalizer): the finalizer existed before
	// this reconcile, so an earlier reconcile may have created a runner in
	// GitLab whose response was lost.
	finalizerWasPresent bool
	// finalizerRemoved (reconcileDelete): the Runner is about to vanish.
	finalizerRemoved bool

	// target (resolveGitLab): where and how to register.
	target *target

	// health (readLogs): what the runner pod's log says, if read.
	health *runnerlog.Summary

	// registration (ensureRegistration): the stored or new registration.
	registration *runnerbuild.Registration
	// registeredReason (ensureRegistration): ReasonRegistered or
	// ReasonTokenVerified.
	registeredReason string
	// settingsNote (ensureRegistration): why server-side settings could
	// not be applied, if so.
	settingsNote string

	// persistedConfig (persistRegistration): the config.toml just written
	// with the registration, so ensureWorkload does not write it again
	// before the cache has seen it.
	persistedConfig []byte
	persisted       bool

	// deployment (ensureWorkload): the existing Deployment, for availability.
	deployment *appsv1.Deployment

	// requeueAfter: when the next verification or log read is due.
	requeueAfter time.Duration
}

// requeueIn asks for another reconcile within d.
func (s *scope) requeueIn(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	if s.requeueAfter == 0 || d < s.requeueAfter {
		s.requeueAfter = d
	}
}
