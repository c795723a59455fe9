package reliability_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/controllers/runner"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// The GitLab fault matrix: every operation the operator performs against
// GitLab, under every fault, ends in the documented condition reason, retries
// with backoff (GitLab calls are counted in a fixed window), never creates a
// second runner and, once GitLab recovers, finishes: registered with exactly
// one runner in GitLab, or deleted with none left.
//
// Operations (the route the fault is injected on):
//
//	register         access-token Secret: POST /api/v4/user/runners
//	register-legacy  registration-token Secret: POST /api/v4/runners (410 only)
//	verify           runner-token Secret: POST /api/v4/runners/verify
//	rotate           token with an expiry, 20 h into a 24 h lifetime:
//	                 POST /api/v4/runners/reset_authentication_token
//	deregister       deleting the Runner: DELETE /api/v4/runners
//
// Faults: GitLab down (connection refused), 502, 429 with Retry-After,
// slower than the client timeout, TLS with a CA the operator does not trust,
// 401, 403, and 410 (which GitLab only answers to registration tokens).

type op string

const (
	opRegister       op = "register"
	opRegisterLegacy op = "register-legacy"
	opVerify         op = "verify"
	opRotate         op = "rotate"
	opDeregister     op = "deregister"
)

type fault string

const (
	faultDown fault = "down"
	fault5xx  fault = "502"
	fault429  fault = "429"
	faultSlow fault = "slow"
	faultTLS  fault = "tls-unknown-ca"
	fault401  fault = "401"
	fault403  fault = "403"
	fault410  fault = "410"
)

// class is how the operator must retry under a fault.
type class int

const (
	// transient: exponential backoff, recovers by itself.
	transient class = iota
	// rateLimited: retried no earlier than Retry-After, recovers by itself.
	rateLimited
	// slow: each attempt costs the client timeout, then backoff.
	slow
	// stalled: waits for the user (no retry within the window); recovers
	// when the user touches the Runner after fixing the cause.
	stalled
	// completes: the operation must succeed despite the fault.
	completes
)

type cell struct {
	op     op
	fault  fault
	reason string
	class  class
}

const (
	// window is the fixed span in which GitLab calls are counted.
	window = 10 * time.Second
	// retryAfter is the 429's Retry-After; longer than the client timeout,
	// so the client hands it to the controller instead of waiting it out.
	retryAfter = 4 * time.Second
	// slowLatency exceeds clientTimeout.
	slowLatency = 5 * time.Second
	// tokenLifetime and rotateAt put a token three quarters into its life,
	// past the default rotation point (a quarter of the lifetime before
	// expiry).
	tokenLifetime = 24 * time.Hour
	rotateAt      = 20 * time.Hour
)

func matrix() []cell {
	var cells []cell
	for _, o := range []op{opRegister, opVerify, opRotate} {
		cells = append(cells,
			cell{o, faultDown, gitlabv1beta1.ReasonGitLabUnreachable, transient},
			cell{o, fault5xx, gitlabv1beta1.ReasonGitLabUnreachable, transient},
			cell{o, fault429, gitlabv1beta1.ReasonRateLimited, rateLimited},
			cell{o, faultSlow, gitlabv1beta1.ReasonGitLabUnreachable, slow},
			cell{o, faultTLS, gitlabv1beta1.ReasonTLSError, stalled},
			cell{o, fault401, gitlabv1beta1.ReasonUnauthorized, stalled},
		)
		if o == opRotate {
			// 403 to a rotation means GitLab no longer takes the stored token
			// (its rotation went through but the answer was lost, or someone
			// reset it). The operator holds an access token and takes its
			// runner over again, as it does when verification is rejected.
			cells = append(cells, cell{o, fault403, "", completes})
		} else {
			cells = append(cells, cell{o, fault403, gitlabv1beta1.ReasonTokenRejected, stalled})
		}
	}
	cells = append(cells, cell{opRegisterLegacy, fault410, gitlabv1beta1.ReasonRegistrationTokensDisallowed, stalled})
	cells = append(cells,
		cell{opDeregister, faultDown, gitlabv1beta1.ReasonDeregistrationFailed, transient},
		cell{opDeregister, fault5xx, gitlabv1beta1.ReasonDeregistrationFailed, transient},
		cell{opDeregister, fault429, gitlabv1beta1.ReasonDeregistrationFailed, rateLimited},
		cell{opDeregister, faultSlow, gitlabv1beta1.ReasonDeregistrationFailed, slow},
		// A CA the operator does not trust and a 401 are "permanent" for a
		// registration, but deletion keeps retrying with backoff: GitLab or
		// the CA Secret may be fixed, and the user wants the object gone.
		cell{opDeregister, faultTLS, gitlabv1beta1.ReasonDeregistrationFailed, transient},
		cell{opDeregister, fault401, gitlabv1beta1.ReasonDeregistrationFailed, transient},
		// GitLab answers 403 to DELETE /runners for a token it does not
		// know. The runner may still exist (its token was reset in GitLab);
		// an operator holding an access token can still find and delete it
		// by id, so deletion must complete without an orphan.
		cell{opDeregister, fault403, "", completes},
	)
	return cells
}

func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	cells := matrix()
	t.Logf("fault matrix: %d cells", len(cells))
	for _, c := range cells {
		t.Run(string(c.op)+"/"+string(c.fault), func(t *testing.T) {
			t.Parallel()
			runCell(t, c)
		})
	}
}

// faultRoute is where each operation's fault is injected.
func faultRoute(o op) string {
	switch o {
	case opRegister:
		return gitlabtest.RouteCreateUserRunner
	case opRegisterLegacy:
		return gitlabtest.RouteRegister
	case opVerify:
		return gitlabtest.RouteVerify
	case opRotate:
		return gitlabtest.RouteResetToken
	default:
		return gitlabtest.RouteDeleteByToken
	}
}

// primaryMethod is the client call the operation makes.
func primaryMethod(o op) string {
	switch o {
	case opRegister:
		return "CreateRunner"
	case opRegisterLegacy:
		return "RegisterWithToken"
	case opVerify:
		return "Verify"
	case opRotate:
		return "ResetToken"
	default:
		return "DeleteByToken"
	}
}

// cellEnv is one cell's world: namespace, fake GitLab, manager.
type cellEnv struct {
	t     *testing.T
	c     cell
	ns    string
	name  string
	fake  *gitlabtest.Server
	admin string
	mgr   *manager
	clk   *clock
	// user is the runner a runner-token Secret hands over (verify only).
	user gitlabtest.RunnerState
	// clear undoes the fault.
	clear func()
}

func runCell(t *testing.T, c cell) {
	e := &cellEnv{t: t, c: c, name: "r", clk: &clock{}}
	e.ns = newNamespace(t, "fm")
	tls := c.fault == faultTLS
	e.fake, e.admin = newFake(t, tls, gitlabtest.WithClock(e.clk.Now))
	opts := runner.Options{Now: e.clk.Now}
	if c.op == opRotate {
		// Verification never falls due in the test, so the first call after
		// the clock jumps is the rotation itself.
		opts.VerifyInterval = 1000 * time.Hour
		e.fake.SetTokenLifetime(tokenLifetime)
	}
	e.mgr = startManager(t, managerConfig{namespaces: []string{e.ns}, runner: opts})

	r := urlRunner(e.ns, e.name, e.fake.URL(), "cred")
	switch c.op {
	case opVerify:
		e.user = e.fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "made in the UI for " + e.ns})
		create(t, secret(e.ns, "cred", map[string]string{"runner-token": e.user.Token}))
	case opRegisterLegacy:
		regToken := "GR1348941" + randomString(20)
		e.fake.SetRegistrationToken(regToken)
		create(t, secret(e.ns, "cred", map[string]string{"runner-registration-token": regToken}))
	default:
		create(t, secret(e.ns, "cred", map[string]string{"access-token": e.admin}))
	}
	if tls {
		create(t, secret(e.ns, "ca", map[string]string{"ca.crt": string(e.fake.CAPEM())}))
		r.Spec.CA = "ca"
	}

	switch c.op {
	case opRegister, opRegisterLegacy, opVerify:
		e.inject()
		create(t, r)
		e.expectFaultHandled()
		if c.op != opVerify {
			if n := len(runnersFor(e.fake, e.ns+"/"+e.name)); n != 0 {
				t.Errorf("a failed registration left %d runner(s) in GitLab", n)
			}
		}
		e.recover()
		got := waitRegistered(t, e.ns, e.name, 60*time.Second)
		if c.op == opVerify {
			if got.Status.RunnerID != e.user.ID {
				t.Errorf("runnerID %d, want the handed-over runner %d", got.Status.RunnerID, e.user.ID)
			}
			if n := len(e.fake.Runners()); n != 1 {
				t.Errorf("want only the user's runner in GitLab, got %d runners", n)
			}
		} else {
			expectOneLiveRunner(t, e.fake, e.ns, e.name)
		}
		e.deleteAndExpectClean()

	case opRotate:
		create(t, r)
		got := waitRegistered(t, e.ns, e.name, 30*time.Second)
		if got.Status.TokenExpiresAt == nil {
			t.Fatal("status.tokenExpiresAt is not set for a token with an expiry")
		}
		before, _ := stored(e.ns, e.name)
		e.inject()
		e.clk.advance(rotateAt)
		touch(t, e.ns, e.name)
		if c.class == completes {
			eventually(t, 30*time.Second, func(g gomega.Gomega) {
				now, _ := stored(e.ns, e.name)
				live, ok := e.fake.RunnerByToken(now.Token)
				rc := condition(getRunner(g, e.ns, e.name), gitlabv1beta1.ConditionRegistered)
				g.Expect(ok && now.Token != before.Token).To(gomega.BeTrue(), "no live new token; Registered: %s: %s", rc.Reason, rc.Message)
				g.Expect(live.ID).To(gomega.Equal(before.ID), "took over another runner")
				g.Expect(rc.Status).To(gomega.Equal(metav1.ConditionTrue))
			})
			e.clear()
			expectOneLiveRunner(t, e.fake, e.ns, e.name)
			e.deleteAndExpectClean()
			break
		}
		e.expectFaultHandled()
		if now, _ := stored(e.ns, e.name); now.Token != before.Token {
			t.Error("the stored token changed although rotation failed")
		}
		if _, ok := e.fake.RunnerByToken(before.Token); !ok {
			t.Error("the stored token no longer works in GitLab although no rotation went through")
		}
		e.recover()
		eventually(t, 60*time.Second, func(g gomega.Gomega) {
			now, _ := stored(e.ns, e.name)
			g.Expect(now.Token).NotTo(gomega.Equal(before.Token), "not rotated yet")
			live, ok := e.fake.RunnerByToken(now.Token)
			g.Expect(ok).To(gomega.BeTrue())
			g.Expect(live.ID).To(gomega.Equal(before.ID))
			rr := getRunner(g, e.ns, e.name)
			g.Expect(condition(rr, gitlabv1beta1.ConditionRegistered).Status).To(gomega.Equal(metav1.ConditionTrue))
		})
		expectOneLiveRunner(t, e.fake, e.ns, e.name)
		// One rotation, not a rotation loop.
		settle := time.Now()
		time.Sleep(3 * time.Second)
		if n := len(e.mgr.calls.between(settle, time.Now(), "ResetToken")); n != 0 {
			t.Errorf("%d more rotations after a successful one: a rotation loop", n)
		}
		e.deleteAndExpectClean()

	case opDeregister:
		create(t, r)
		waitRegistered(t, e.ns, e.name, 30*time.Second)
		expectOneLiveRunner(t, e.fake, e.ns, e.name)
		e.inject()
		deleteRunner(t, e.ns, e.name)
		if c.class == completes {
			waitGone(t, e.ns, e.name, 30*time.Second)
			e.clear()
			expectNoRunner(t, e.fake, e.ns, e.name)
			break
		}
		e.expectFaultHandled()
		if !exists(e.ns, e.name) {
			t.Fatal("the Runner was deleted although de-registration failed")
		}
		if n := len(runnersFor(e.fake, e.ns+"/"+e.name)); n != 1 {
			t.Errorf("want the runner still in GitLab while de-registration fails, got %d", n)
		}
		// No touch: a Runner being deleted must retry on its own.
		e.clear()
		waitGone(t, e.ns, e.name, 60*time.Second)
		expectNoRunner(t, e.fake, e.ns, e.name)
	}
	hygiene(t, []*gitlabtest.Server{e.fake})
}

// inject applies the cell's fault.
func (e *cellEnv) inject() {
	route := faultRoute(e.c.op)
	switch e.c.fault {
	case faultDown:
		e.fake.Stop()
		release := holdPort(e.t, e.fake.URL())
		e.clear = func() {
			release()
			if err := e.fake.Start(); err != nil {
				e.t.Fatalf("restarting the fake GitLab: %v", err)
			}
		}
	case fault5xx:
		e.clear = e.fake.Inject(route, gitlabtest.Fault{Status: http.StatusBadGateway})
	case fault429:
		e.clear = e.fake.Inject(route, gitlabtest.Fault{RateLimit: &gitlabtest.RateLimit{RetryAfter: retryAfter}})
	case faultSlow:
		e.clear = e.fake.Inject(route, gitlabtest.Fault{Latency: slowLatency})
	case fault401:
		e.clear = e.fake.Inject(route, gitlabtest.Fault{Status: http.StatusUnauthorized})
	case fault403:
		e.clear = e.fake.Inject(route, gitlabtest.Fault{Status: http.StatusForbidden})
	case fault410:
		e.fake.AllowRegistrationTokens(false)
		e.clear = func() { e.fake.AllowRegistrationTokens(true) }
	case faultTLS:
		setSecret(e.t, e.ns, "ca", map[string]string{"ca.crt": string(otherCA(e.t))})
		e.clear = func() { setSecret(e.t, e.ns, "ca", map[string]string{"ca.crt": string(e.fake.CAPEM())}) }
	}
}

// recover clears the fault; a stalled Runner also needs the user's nudge.
func (e *cellEnv) recover() {
	e.clear()
	if e.c.class == stalled {
		touch(e.t, e.ns, e.name)
	}
}

// expectFaultHandled waits for the condition reason, then counts GitLab
// calls in a fixed window and checks the retry discipline of the class.
func (e *cellEnv) expectFaultHandled() {
	t := e.t
	c := waitReason(t, e.ns, e.name, gitlabv1beta1.ConditionRegistered, e.c.reason, 30*time.Second)
	if c.Message == "" {
		t.Error("the condition has no message")
	}
	if e.c.op == opDeregister {
		rr := getRunner(gomega.NewWithT(t), e.ns, e.name)
		if ready := condition(rr, gitlabv1beta1.ConditionReady); ready == nil || ready.Reason != gitlabv1beta1.ReasonDeregistrationFailed {
			t.Errorf("Ready does not report the failed de-registration: %+v", ready)
		}
		if rr.Status.Phase != gitlabv1beta1.PhaseTerminating {
			t.Errorf("phase %q, want Terminating", rr.Status.Phase)
		}
	}
	t0 := time.Now()
	time.Sleep(window)
	all := e.mgr.calls.between(t0, t0.Add(window))
	late := e.mgr.calls.between(t0.Add(window/2), t0.Add(window))
	primary := e.mgr.calls.between(t0, t0.Add(window), primaryMethod(e.c.op))
	t.Logf("%s/%s: %q; GitLab calls in %v: %d (second half %d), %s calls at %s",
		e.c.op, e.c.fault, c.Reason, window, len(all), len(late), primaryMethod(e.c.op), fmtCalls(t0, primary))
	bound, lateBound := 0, 0
	switch e.c.class {
	case transient:
		// The Runner controller backs off exponentially from 0.5 s: about
		// five reconciles in the window, at most two GitLab calls each. A
		// requeue-every-second loop makes ten or more, 100 without any
		// backoff (controller-runtime's 10 qps bucket).
		bound, lateBound = 12, 4
		if a := attempts(all); len(a) >= 3 {
			first, last := a[1].Sub(a[0]), a[len(a)-1].Sub(a[len(a)-2])
			if last < first*3/2 {
				t.Errorf("retries do not back off: attempts at %s", fmtCalls(t0, a))
			}
		}
	case slow:
		bound, lateBound = int(window/clientTimeout)+2, 4
	case rateLimited:
		bound, lateBound = 2*(int(window/retryAfter)+1), 4
		for i := 1; i < len(primary); i++ {
			if gap := primary[i].Sub(primary[i-1]); gap < retryAfter-500*time.Millisecond {
				t.Errorf("retried %v after a 429 with Retry-After %v", gap.Round(10*time.Millisecond), retryAfter)
			}
		}
	case stalled:
		bound, lateBound = 1, 0
	}
	if len(all) > bound || len(late) > lateBound {
		t.Errorf("not backed off: %d GitLab calls in %v (bound %d), %d in its second half (bound %d)",
			len(all), window, bound, len(late), lateBound)
	}
}

// attempts groups calls less than 250 ms apart: one reconcile's calls.
func attempts(calls []time.Time) []time.Time {
	var out []time.Time
	for i, c := range calls {
		if i == 0 || c.Sub(calls[i-1]) >= 250*time.Millisecond {
			out = append(out, c)
		}
	}
	return out
}

// deleteAndExpectClean deletes the Runner and checks GitLab afterwards.
func (e *cellEnv) deleteAndExpectClean() {
	t := e.t
	deleteRunner(t, e.ns, e.name)
	waitGone(t, e.ns, e.name, 30*time.Second)
	if e.c.op == opVerify {
		// The user's runner stays; only this operator's runner manager goes.
		st, ok := e.fake.Runner(e.user.ID)
		if !ok {
			t.Fatal("deleting the Runner deleted the user's own runner from GitLab")
		}
		if len(st.Managers) != 0 {
			t.Errorf("the operator's runner manager was left in GitLab: %v", st.Managers)
		}
		return
	}
	expectNoRunner(t, e.fake, e.ns, e.name)
}
