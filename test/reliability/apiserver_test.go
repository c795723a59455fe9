package reliability_test

import (
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// TestAPIServerRestart stops the kube-apiserver while the operator is in the
// middle of a registration (the runner is being created in GitLab, so the
// token comes back while the API server is gone) and starts it again. The
// manager must reconnect on its own and converge every Runner: one created
// before, the one in flight, one created after. Nothing is registered twice
// and nothing is lost.
//
// It restarts the package's shared API server (etcd keeps running), so it
// must never run in parallel with other tests.
func TestAPIServerRestart(t *testing.T) {
	ns := newNamespace(t, "restart")
	fake, admin := newFake(t, false)
	create(t, secret(ns, "cred", map[string]string{"access-token": admin}))
	startManager(t, managerConfig{namespaces: []string{ns}})

	create(t, urlRunner(ns, "before", fake.URL(), "cred"))
	before := waitRegistered(t, ns, "before", 30*time.Second)

	// "inflight" reaches GitLab, which answers only after the API server
	// has gone away: the operator cannot store the token it gets.
	removeLatency := fake.SetLatency(gitlabtest.RouteCreateUserRunner, 2*time.Second)
	create(t, urlRunner(ns, "inflight", fake.URL(), "cred"))
	eventually(t, 30*time.Second, func(g gomega.Gomega) {
		g.Expect(fake.CallCount(gitlabtest.RouteCreateUserRunner)).To(gomega.Equal(2))
	})

	apiserver := env.ControlPlane.APIServer
	if err := apiserver.Stop(); err != nil {
		// envtest killed it after apiServerStopTimeout: a crash instead of
		// a graceful stop, which the operator must survive just as well.
		t.Logf("kube-apiserver did not stop within %v and was killed: %v", apiServerStopTimeout, err)
	}
	stopped := time.Now()
	release := holdPort(t, apiserver.HostPort())
	if err := k8s.List(ctx, &corev1.NamespaceList{}); err == nil {
		t.Fatal("the API server still answers after Stop")
	}
	// GitLab answers while the API server is down; the operator retries
	// against a dead API server for a while.
	time.Sleep(5 * time.Second)
	removeLatency()
	if n := len(runnersFor(fake, ns+"/inflight")); n != 1 {
		t.Fatalf("the in-flight create should have completed in GitLab, found %d runners", n)
	}
	startedAt := time.Now()
	release()
	if err := apiserver.Start(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}
	t.Logf("kube-apiserver down for %v, restart took %v", time.Since(stopped).Round(100*time.Millisecond), time.Since(startedAt).Round(100*time.Millisecond))

	eventually(t, 30*time.Second, func(g gomega.Gomega) {
		g.Expect(k8s.Create(ctx, urlRunner(ns, "after", fake.URL(), "cred"))).To(gomega.Succeed())
	})
	for _, name := range []string{"before", "inflight", "after"} {
		waitRegistered(t, ns, name, 90*time.Second)
		expectOneLiveRunner(t, fake, ns, name)
	}
	if got := getRunner(gomega.NewWithT(t), ns, "before"); got.Status.RunnerID != before.Status.RunnerID {
		t.Errorf("the Runner registered before the restart changed runner: %d, was %d", got.Status.RunnerID, before.Status.RunnerID)
	}
	if n := fake.CallCount(gitlabtest.RouteCreateUserRunner); n != 3 {
		t.Errorf("%d runner creations for 3 Runners: something registered twice", n)
	}

	for _, name := range []string{"before", "inflight", "after"} {
		deleteRunner(t, ns, name)
	}
	for _, name := range []string{"before", "inflight", "after"} {
		waitGone(t, ns, name, 30*time.Second)
		expectNoRunner(t, fake, ns, name)
	}
	if n := len(fake.Runners()); n != 0 {
		t.Errorf("%d runners left in GitLab", n)
	}
	hygiene(t, []*gitlabtest.Server{fake})
}
