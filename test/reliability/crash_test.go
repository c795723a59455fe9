package reliability_test

import (
	"testing"
	"time"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/controllers/runner"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// Crash consistency: a manager stopped at any step of registration or
// de-registration, then replaced by a new one, leaves exactly one runner in
// GitLab per Runner, and none once the Runner is deleted. The stop happens
// inside the reconcile (the manager's context is cancelled at the crash
// point), so whatever that reconcile would have written next is lost, as
// when the process is killed there.

type credential string

const (
	credAccess       credential = "access-token"
	credRunnerToken  credential = "runner-token"
	credRegistration credential = "runner-registration-token"
)

func TestCrashConsistency(t *testing.T) {
	t.Parallel()
	registration := []string{runner.StepBeforeCreate, runner.StepAfterCreate, runner.StepAfterPersist}
	deregistration := []string{runner.StepBeforeDeregister, runner.StepAfterDeregister, runner.StepBeforeUnfinalize}
	type tc struct {
		cred credential
		step string
	}
	var cases []tc
	for _, s := range append(append([]string{}, registration...), deregistration...) {
		cases = append(cases, tc{credAccess, s})
	}
	for _, s := range deregistration {
		cases = append(cases, tc{credRunnerToken, s})
	}
	// The registration-token flow has no create-side crash point other
	// than these, and no way to find a runner whose token was never stored.
	for _, s := range append(append([]string{}, registration...), deregistration...) {
		cases = append(cases, tc{credRegistration, s})
	}
	t.Logf("crash matrix: %d cases", len(cases))
	for _, c := range cases {
		t.Run(string(c.cred)+"/"+c.step, func(t *testing.T) {
			t.Parallel()
			crashAndRecover(t, c.cred, c.step)
		})
	}
}

type crashEnv struct {
	ns, name string
	fake     *gitlabtest.Server
	user     gitlabtest.RunnerState
}

func newCrashEnv(t *testing.T, cred credential) *crashEnv {
	e := &crashEnv{name: "r"}
	e.ns = newNamespace(t, "crash")
	var admin string
	e.fake, admin = newFake(t, false)
	data := map[string]string{}
	switch cred {
	case credAccess:
		data["access-token"] = admin
	case credRunnerToken:
		e.user = e.fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "made in the UI for " + e.ns})
		data["runner-token"] = e.user.Token
	case credRegistration:
		tok := "GR1348941" + randomString(20)
		e.fake.SetRegistrationToken(tok)
		data["runner-registration-token"] = tok
	}
	create(t, secret(e.ns, "cred", data))
	return e
}

func (e *crashEnv) runner() *gitlabv1beta1.Runner {
	return urlRunner(e.ns, e.name, e.fake.URL(), "cred")
}

// live returns the runners GitLab has for this Runner: the operator's
// (by description) or, for a handed-over token, the user's.
func (e *crashEnv) live() []gitlabtest.RunnerState {
	if e.user.ID != 0 {
		st, ok := e.fake.Runner(e.user.ID)
		if !ok || len(st.Managers) == 0 {
			return nil
		}
		return []gitlabtest.RunnerState{st}
	}
	return runnersFor(e.fake, e.ns+"/"+e.name)
}

func crashAndRecover(t *testing.T, cred credential, step string) {
	e := newCrashEnv(t, cred)
	deleting := step == runner.StepBeforeDeregister || step == runner.StepAfterDeregister || step == runner.StepBeforeUnfinalize

	first := startManager(t, managerConfig{namespaces: []string{e.ns}, crashAt: step})
	create(t, e.runner())
	if deleting {
		waitRegistered(t, e.ns, e.name, 30*time.Second)
		deleteRunner(t, e.ns, e.name)
	}
	first.waitCrash(t)

	// The crash happened where it should, with the state it implies.
	_, persisted := stored(e.ns, e.name)
	n := len(e.live())
	switch step {
	case runner.StepBeforeCreate:
		if n != 0 || persisted {
			t.Fatalf("crash before create: %d runners in GitLab, token stored %v", n, persisted)
		}
	case runner.StepAfterCreate:
		if n != 1 || persisted {
			t.Fatalf("crash after create: %d runners in GitLab, token stored %v (want 1, false)", n, persisted)
		}
	case runner.StepAfterPersist:
		if n != 1 || !persisted {
			t.Fatalf("crash after persist: %d runners in GitLab, token stored %v (want 1, true)", n, persisted)
		}
	case runner.StepBeforeDeregister:
		if n != 1 || !exists(e.ns, e.name) {
			t.Fatalf("crash before de-registration: %d runners in GitLab, Runner exists %v", n, exists(e.ns, e.name))
		}
	case runner.StepAfterDeregister, runner.StepBeforeUnfinalize:
		if n != 0 || !exists(e.ns, e.name) {
			t.Fatalf("crash after de-registration: %d runners in GitLab, Runner exists %v", n, exists(e.ns, e.name))
		}
	}

	second := startManager(t, managerConfig{namespaces: []string{e.ns}})
	if !deleting {
		waitRegistered(t, e.ns, e.name, 30*time.Second)
		e.expectOne(t, cred, step)
		deleteRunner(t, e.ns, e.name)
	}
	waitGone(t, e.ns, e.name, 30*time.Second)
	if cred == credRunnerToken {
		st, ok := e.fake.Runner(e.user.ID)
		if !ok || len(st.Managers) != 0 {
			t.Errorf("after deletion the user's runner must stay without this operator's manager: present %v, managers %v", ok, st.Managers)
		}
	} else if cred == credRegistration && step == runner.StepAfterCreate {
		knownLegacyOrphan(t, e)
	} else {
		expectNoRunner(t, e.fake, e.ns, e.name)
	}
	_ = second
	hygiene(t, []*gitlabtest.Server{e.fake})
}

// expectOne checks exactly one runner for the Runner after a recovery.
func (e *crashEnv) expectOne(t *testing.T, cred credential, step string) {
	t.Helper()
	if cred == credRegistration && step == runner.StepAfterCreate {
		// See knownLegacyOrphan: the stored registration is live, and the
		// runner created before the crash is an orphan.
		reg, ok := stored(e.ns, e.name)
		if _, live := e.fake.RunnerByToken(reg.Token); !ok || !live {
			t.Fatal("the recovered registration is not live in GitLab")
		}
		return
	}
	expectOneLiveRunner(t, e.fake, e.ns, e.name)
}

// knownLegacyOrphan documents the one case the operator cannot recover
// from: a registration token registers a runner and nothing but the
// (lost) response names its token; a registration token cannot list or
// delete runners. The runner never contacts GitLab, which shows it as
// "never contacted" / stale; docs/troubleshooting.md tells the
// administrator how to find and remove it. The test pins the damage to
// exactly one orphan and fails if it ever grows.
func knownLegacyOrphan(t *testing.T, e *crashEnv) {
	t.Helper()
	left := runnersFor(e.fake, e.ns+"/"+e.name)
	switch len(left) {
	case 0:
		t.Logf("no orphan left: the registration-token limitation no longer applies")
	case 1:
		if left[0].ContactedAt != nil {
			t.Errorf("the orphan %d contacted GitLab", left[0].ID)
		}
		t.Logf("KNOWN LIMITATION (registration tokens): 1 orphaned runner (id %d) left in GitLab", left[0].ID)
	default:
		t.Errorf("%d runners left in GitLab, at most one orphan is expected", len(left))
	}
}

// Lost responses: GitLab did the work, the operator never heard back. No
// manager stops; the operator must notice and converge on its own.
func TestLostResponses(t *testing.T) {
	t.Parallel()
	t.Run("create", func(t *testing.T) {
		t.Parallel()
		e := newCrashEnv(t, credAccess)
		e.fake.LoseResponseNext(gitlabtest.RouteCreateUserRunner, 1)
		m := startManager(t, managerConfig{namespaces: []string{e.ns}})
		create(t, e.runner())
		waitRegistered(t, e.ns, e.name, 30*time.Second)
		one := expectOneLiveRunner(t, e.fake, e.ns, e.name)
		if n := e.fake.CallCount(gitlabtest.RouteCreateUserRunner); n != 1 {
			t.Errorf("create was called %d times; the runner created by the lost call must be adopted, not re-created", n)
		}
		if m.calls.count("ResetTokenByID") != 1 {
			t.Errorf("the runner created by the lost call was not taken over with a token reset")
		}
		deleteRunner(t, e.ns, e.name)
		waitGone(t, e.ns, e.name, 30*time.Second)
		if _, ok := e.fake.Runner(one.ID); ok {
			t.Error("the adopted runner was left in GitLab")
		}
		hygiene(t, []*gitlabtest.Server{e.fake})
	})

	t.Run("create-and-adoption", func(t *testing.T) {
		t.Parallel()
		e := newCrashEnv(t, credAccess)
		e.fake.LoseResponseNext(gitlabtest.RouteCreateUserRunner, 1)
		e.fake.LoseResponseNext(gitlabtest.RouteResetTokenByID, 1)
		startManager(t, managerConfig{namespaces: []string{e.ns}})
		create(t, e.runner())
		waitRegistered(t, e.ns, e.name, 30*time.Second)
		expectOneLiveRunner(t, e.fake, e.ns, e.name)
		deleteRunner(t, e.ns, e.name)
		waitGone(t, e.ns, e.name, 30*time.Second)
		expectNoRunner(t, e.fake, e.ns, e.name)
		hygiene(t, []*gitlabtest.Server{e.fake})
	})

	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		e := newCrashEnv(t, credAccess)
		startManager(t, managerConfig{namespaces: []string{e.ns}})
		create(t, e.runner())
		waitRegistered(t, e.ns, e.name, 30*time.Second)
		e.fake.LoseResponseNext(gitlabtest.RouteDeleteByToken, 1)
		deleteRunner(t, e.ns, e.name)
		waitGone(t, e.ns, e.name, 30*time.Second)
		expectNoRunner(t, e.fake, e.ns, e.name)
		hygiene(t, []*gitlabtest.Server{e.fake})
	})

	t.Run("rotate", func(t *testing.T) {
		// The rotation happened in GitLab, so the stored token is dead and
		// the new one was lost with the response. The operator holds an
		// access token: it can take its runner over again (as it does when
		// verification says the token was rejected) instead of stalling.
		t.Parallel()
		clk := &clock{}
		e := &crashEnv{name: "r", ns: newNamespace(t, "lost")}
		var admin string
		e.fake, admin = newFake(t, false, gitlabtest.WithClock(clk.Now))
		e.fake.SetTokenLifetime(tokenLifetime)
		create(t, secret(e.ns, "cred", map[string]string{"access-token": admin}))
		startManager(t, managerConfig{namespaces: []string{e.ns}, runner: runner.Options{Now: clk.Now, VerifyInterval: 1000 * time.Hour}})
		create(t, e.runner())
		waitRegistered(t, e.ns, e.name, 30*time.Second)
		before, _ := stored(e.ns, e.name)
		e.fake.LoseResponseNext(gitlabtest.RouteResetToken, 1)
		clk.advance(rotateAt)
		touch(t, e.ns, e.name)
		eventually(t, 20*time.Second, func(g gomega.Gomega) {
			g.Expect(e.fake.CallCount(gitlabtest.RouteResetToken)).To(gomega.BeNumerically(">=", 1), "no rotation yet")
		})
		if _, live := e.fake.RunnerByToken(before.Token); live {
			t.Fatal("the lost rotation did not happen in GitLab")
		}
		eventually(t, 45*time.Second, func(g gomega.Gomega) {
			now, ok := stored(e.ns, e.name)
			g.Expect(ok).To(gomega.BeTrue())
			_, live := e.fake.RunnerByToken(now.Token)
			c := condition(getRunner(g, e.ns, e.name), gitlabv1beta1.ConditionRegistered)
			g.Expect(live).To(gomega.BeTrue(), "the stored token is dead in GitLab; Registered: %s: %s", c.Reason, c.Message)
			g.Expect(c.Status).To(gomega.Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
		})
		got := expectOneLiveRunner(t, e.fake, e.ns, e.name)
		if got.ID != before.ID {
			t.Errorf("recovered with runner %d, want the original %d taken over", got.ID, before.ID)
		}
		deleteRunner(t, e.ns, e.name)
		waitGone(t, e.ns, e.name, 30*time.Second)
		expectNoRunner(t, e.fake, e.ns, e.name)
		hygiene(t, []*gitlabtest.Server{e.fake})
	})

	t.Run("legacy-register", func(t *testing.T) {
		t.Parallel()
		e := newCrashEnv(t, credRegistration)
		e.fake.LoseResponseNext(gitlabtest.RouteRegister, 1)
		startManager(t, managerConfig{namespaces: []string{e.ns}})
		create(t, e.runner())
		waitRegistered(t, e.ns, e.name, 30*time.Second)
		deleteRunner(t, e.ns, e.name)
		waitGone(t, e.ns, e.name, 30*time.Second)
		knownLegacyOrphan(t, e)
		hygiene(t, []*gitlabtest.Server{e.fake})
	})
}
