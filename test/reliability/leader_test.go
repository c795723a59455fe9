package reliability_test

import (
	"testing"
	"time"

	"github.com/gitlab-operator/gitlab-operator/controllers/runner"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// TestLeaderElectionHandover runs two managers with leader election. The
// leader dies in the middle of a registration, after the runner was created
// in GitLab and before its token was stored; it hangs there, as a process
// that lost its node would. The standby must not act while the leader holds
// the lease, must take over once it is released, and must adopt the runner
// the dead leader created instead of creating a second one.
func TestLeaderElectionHandover(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "leader")
	fake, admin := newFake(t, false)
	create(t, secret(ns, "cred", map[string]string{"access-token": admin}))
	lease := "reliability-" + ns
	base := managerConfig{namespaces: []string{ns}, leaderElection: true, leaderNS: ns, leaderID: lease}

	leaderCfg := base
	leaderCfg.crashAt = runner.StepAfterCreate
	leader := startManager(t, leaderCfg)
	select {
	case <-leader.mgr.Elected():
	case <-time.After(30 * time.Second):
		t.Fatal("the first manager was not elected")
	}
	standby := startManager(t, base)
	select {
	case <-standby.mgr.Elected():
		t.Fatal("two managers lead at once")
	case <-time.After(3 * time.Second):
	}

	create(t, urlRunner(ns, "r", fake.URL(), "cred"))
	leader.waitCrash(t)
	died := time.Now()
	if n := len(runnersFor(fake, ns+"/r")); n != 1 {
		t.Fatalf("the leader should have died right after creating the runner; GitLab has %d", n)
	}
	if _, ok := stored(ns, "r"); ok {
		t.Fatal("the leader stored the token before dying: the crash point is too late")
	}
	if n := standby.calls.count(); n != 0 {
		t.Errorf("the standby made %d GitLab calls while it was not the leader", n)
	}

	select {
	case <-standby.mgr.Elected():
		t.Logf("the standby took over %v after the leader died", time.Since(died).Round(100*time.Millisecond))
	case <-time.After(90 * time.Second):
		t.Fatal("the standby never took over")
	}
	waitRegistered(t, ns, "r", 30*time.Second)
	expectOneLiveRunner(t, fake, ns, "r")
	if n := standby.calls.count("CreateRunner"); n != 0 {
		t.Errorf("the new leader created %d runner(s) instead of adopting the one the old leader created", n)
	}
	if n := standby.calls.count("ResetTokenByID"); n != 1 {
		t.Errorf("the new leader should take the runner over with one token reset, made %d", n)
	}

	deleteRunner(t, ns, "r")
	waitGone(t, ns, "r", 30*time.Second)
	expectNoRunner(t, fake, ns, "r")
	hygiene(t, []*gitlabtest.Server{fake})
}
