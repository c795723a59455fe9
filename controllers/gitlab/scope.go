package gitlab

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
)

// scope carries one reconcile's inputs and findings from phase to phase.
// Each field says which phase sets it; status is derived from it at the end.
type scope struct {
	gl  *gitlabv1beta1.GitLab
	mem *checkMemory
	now time.Time

	// finalizerRemoved (reconcileDelete): the GitLab is about to vanish.
	finalizerRemoved bool

	// extraConfig (resolve): the user's extra gitlab.rb lines.
	extraConfig string

	// rootPasswordSecret (ensureSecrets): the Secret holding the root
	// password, the user's or the generated one.
	rootPasswordSecret string
	// tokenSecret (ensureSecrets): the admin token Secret as stored.
	tokenSecret *corev1.Secret

	// version (ensureChildren): the version rolled out, which is the
	// running one when an upgrade was refused.
	version string
	// upgradeErr (ensureChildren): a refused version change (Stalled).
	upgradeErr error
	// statefulSet (ensureChildren): the StatefulSet as the cache has it.
	statefulSet *appsv1.StatefulSet
	// internalURL (ensureChildren): how the operator and Runners reach
	// the instance.
	internalURL string

	// checked (checkReadiness): the instance was asked this reconcile;
	// otherwise the readiness conditions in status are still current.
	checked bool
	// reportedVersion (checkReadiness): the version GitLab reports.
	reportedVersion string

	// requeueAfter: when the next readiness check is due.
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
