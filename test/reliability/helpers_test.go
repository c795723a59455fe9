package reliability_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/controllers/runner"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
	"github.com/gitlab-operator/gitlab-operator/test/secrets"
)

// ---- managers ----

// manager is one operator manager a test started.
type manager struct {
	mgr    ctrl.Manager
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
	// calls records every GitLab client call the manager made, including
	// those that never reached GitLab (connection refused, TLS).
	calls *callLog
	// crashed is closed when the crash point fired (nil without one).
	crashed chan struct{}

	stopOnce sync.Once
	stopErr  error
}

type managerConfig struct {
	// namespaces the manager watches (required: managers of parallel tests
	// must not see each other's Runners).
	namespaces []string
	runner     runner.Options
	// crashAt stops the manager at this crash point (runner.Step*): the
	// manager's context is cancelled from inside the reconcile, so every
	// later write of that reconcile (Kubernetes or GitLab) fails as if the
	// process had died there.
	crashAt        string
	leaderElection bool
	leaderNS       string
	leaderID       string
	// rest defaults to the shared control plane.
	rest *rest.Config
}

// matrixTimeout is the GitLab client timeout the suites use: short, so
// "slower than the timeout" costs seconds, not the default 30s.
const clientTimeout = 2 * time.Second

func startManager(t *testing.T, mc managerConfig) *manager {
	t.Helper()
	if len(mc.namespaces) == 0 {
		t.Fatal("startManager: namespaces are required")
	}
	restCfg := mc.rest
	if restCfg == nil {
		restCfg = restConfig
	}
	m := &manager{calls: &callLog{}, done: make(chan error, 1)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	ro := mc.runner
	if ro.GitLabTimeout == 0 {
		ro.GitLabTimeout = clientTimeout
	}
	// release lets reconciles stuck at the crash point go on once the test
	// is over (by then their context is cancelled, so they fail at once).
	release := make(chan struct{})
	if mc.crashAt != "" {
		m.crashed = make(chan struct{})
		var once sync.Once
		step := mc.crashAt
		ro.CrashPoint = func(s string) {
			if s != step {
				return
			}
			once.Do(func() {
				ctrl.Log.WithName("reliability").Info("Crash point reached: stopping the manager here", "step", s)
				close(m.crashed)
				m.cancel()
			})
			// Never go past the crash point: nothing this reconcile would
			// do next may happen, as if the process had died here.
			// (Returning would not do: the manager cancels its workers'
			// contexts asynchronously, so the next call could still go out.)
			<-release
		}
	}
	calls := m.calls
	opts := operator.Options{
		MetricsBindAddress:        "0",
		HealthProbeBindAddress:    "0",
		LeaderElection:            mc.leaderElection,
		LeaderElectionNamespace:   mc.leaderNS,
		LeaderElectionID:          mc.leaderID,
		Namespaces:                mc.namespaces,
		MaxConcurrentReconciles:   2,
		Runner:                    ro,
		LogReader:                 harness.NewLogs(),
		AllowDuplicateControllers: true,
		SkipDiscovery:             true,
		GitLabClients: &gitlab.Cache{New: func(cfg gitlab.Config) (gitlab.Client, error) {
			cl, err := gitlab.NewClient(cfg)
			if err != nil {
				return nil, err
			}
			return &countingClient{Client: cl, log: calls}, nil
		}},
	}
	mgr, err := operator.New(restCfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	m.mgr = mgr
	go func() { m.done <- mgr.Start(m.ctx) }()
	t.Cleanup(func() {
		if err := m.stop(); err != nil {
			t.Errorf("stopping the manager: %v", err)
		}
	})
	// Cleanups run last-in first-out: release before stop waits.
	t.Cleanup(func() { close(release) })
	return m
}

// stop cancels the manager and waits for it to return.
func (m *manager) stop() error {
	m.stopOnce.Do(func() {
		m.cancel()
		select {
		case err := <-m.done:
			m.stopErr = err
			if m.crashed != nil && isClosed(m.crashed) {
				// A reconcile held at the crash point outlives the graceful
				// shutdown period: that error is the crash, not a failure.
				m.stopErr = nil
			}
		case <-time.After(60 * time.Second):
			m.stopErr = errors.New("the manager did not stop within 60s")
		}
	})
	return m.stopErr
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// waitCrash waits for the crash point to fire. The manager is cancelled
// there and its reconcile never goes past it; it finishes stopping when the
// test ends.
func (m *manager) waitCrash(t *testing.T) {
	t.Helper()
	select {
	case <-m.crashed:
	case <-time.After(60 * time.Second):
		t.Fatal("the crash point was never reached")
	}
	// Let the other workers and the caches wind down.
	time.Sleep(200 * time.Millisecond)
}

// ---- GitLab call accounting ----

type call struct {
	method string
	at     time.Time
}

type callLog struct {
	mu    sync.Mutex
	calls []call
}

func (l *callLog) add(method string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, call{method: method, at: time.Now()})
}

// between returns the calls in [from, to) of the given methods (all when
// none is given).
func (l *callLog) between(from, to time.Time, methods ...string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for _, c := range l.calls {
		if c.at.Before(from) || !c.at.Before(to) {
			continue
		}
		if len(methods) == 0 || slices.Contains(methods, c.method) {
			out = append(out, c.at)
		}
	}
	return out
}

func (l *callLog) count(methods ...string) int {
	return len(l.between(time.Time{}, time.Now().Add(time.Hour), methods...))
}

// countingClient counts every call a manager makes to GitLab.
type countingClient struct {
	gitlab.Client
	log *callLog
}

func (c *countingClient) RegisterWithToken(ctx context.Context, tok string, o gitlab.RunnerOptions) (*gitlab.Credentials, error) {
	c.log.add("RegisterWithToken")
	return c.Client.RegisterWithToken(ctx, tok, o)
}

func (c *countingClient) CreateRunner(ctx context.Context, o gitlab.CreateOptions) (*gitlab.Credentials, error) {
	c.log.add("CreateRunner")
	return c.Client.CreateRunner(ctx, o)
}

func (c *countingClient) Verify(ctx context.Context, tok, systemID string) (*gitlab.Credentials, error) {
	c.log.add("Verify")
	return c.Client.Verify(ctx, tok, systemID)
}

func (c *countingClient) DeleteByToken(ctx context.Context, tok string) error {
	c.log.add("DeleteByToken")
	return c.Client.DeleteByToken(ctx, tok)
}

func (c *countingClient) DeleteByID(ctx context.Context, id int64) error {
	c.log.add("DeleteByID")
	return c.Client.DeleteByID(ctx, id)
}

func (c *countingClient) DeleteManager(ctx context.Context, tok, systemID string) error {
	c.log.add("DeleteManager")
	return c.Client.DeleteManager(ctx, tok, systemID)
}

func (c *countingClient) ResetToken(ctx context.Context, tok string) (*gitlab.Credentials, error) {
	c.log.add("ResetToken")
	return c.Client.ResetToken(ctx, tok)
}

func (c *countingClient) ResetTokenByID(ctx context.Context, id int64) (*gitlab.Credentials, error) {
	c.log.add("ResetTokenByID")
	return c.Client.ResetTokenByID(ctx, id)
}

func (c *countingClient) GetRunner(ctx context.Context, id int64) (*gitlab.Runner, error) {
	c.log.add("GetRunner")
	return c.Client.GetRunner(ctx, id)
}

func (c *countingClient) UpdateRunner(ctx context.Context, id int64, o gitlab.RunnerOptions) (*gitlab.Runner, error) {
	c.log.add("UpdateRunner")
	return c.Client.UpdateRunner(ctx, id, o)
}

func (c *countingClient) FindRunners(ctx context.Context, o gitlab.FindOptions) ([]gitlab.Runner, error) {
	c.log.add("FindRunners")
	return c.Client.FindRunners(ctx, o)
}

func (c *countingClient) Version(ctx context.Context) (*gitlab.Version, error) {
	c.log.add("Version")
	return c.Client.Version(ctx)
}

func (c *countingClient) Ready(ctx context.Context) error {
	c.log.add("Ready")
	return c.Client.Ready(ctx)
}

// ---- time ----

// clock is a shifted clock shared by the operator and the fake, so that
// "20 hours later" is consistent on both sides.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// ---- fixtures ----

func randomString(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns, err := harness.Namespace(ctx, k8s, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// newFake starts a fake GitLab (TLS with a private CA when tls is set) with
// an administrator access token of its own, and returns both.
func newFake(t *testing.T, tls bool, opts ...gitlabtest.Option) (*gitlabtest.Server, string) {
	t.Helper()
	var s *gitlabtest.Server
	if tls {
		s = gitlabtest.NewTLSServer(opts...)
	} else {
		s = gitlabtest.NewServer(opts...)
	}
	t.Cleanup(s.Close)
	admin := "glpat-" + randomString(20)
	s.AddAccessToken(admin, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true})
	return s, admin
}

// otherCA is the PEM of a CA that signed nothing this test talks to.
func otherCA(t *testing.T) []byte {
	t.Helper()
	s := gitlabtest.NewTLSServer()
	defer s.Close()
	return s.CAPEM()
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
}

func setSecret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	s.Data = nil
	s.StringData = data
	if err := k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func urlRunner(ns, name, url, secretName string) *gitlabv1beta1.Runner {
	return &gitlabv1beta1.Runner{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: gitlabv1beta1.RunnerSpec{
			GitLab: gitlabv1beta1.GitLabReference{URL: url},
			Token:  secretName,
		},
	}
}

func getRunner(g gomega.Gomega, ns, name string) *gitlabv1beta1.Runner {
	r := &gitlabv1beta1.Runner{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, r)).To(gomega.Succeed())
	return r
}

func condition(r *gitlabv1beta1.Runner, t string) *metav1.Condition {
	for i := range r.Status.Conditions {
		if r.Status.Conditions[i].Type == t {
			return &r.Status.Conditions[i]
		}
	}
	return nil
}

// eventually polls f until it passes or timeout.
func eventually(t *testing.T, timeout time.Duration, f func(g gomega.Gomega)) {
	t.Helper()
	gomega.NewWithT(t).Eventually(f).WithTimeout(timeout).WithPolling(100 * time.Millisecond).Should(gomega.Succeed())
}

// waitReason waits for the Runner's condition to carry reason and returns it.
func waitReason(t *testing.T, ns, name, condType, reason string, timeout time.Duration) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	eventually(t, timeout, func(g gomega.Gomega) {
		c := condition(getRunner(g, ns, name), condType)
		g.Expect(c).NotTo(gomega.BeNil(), "no %s condition yet", condType)
		g.Expect(c.Reason).To(gomega.Equal(reason), "%s: %s", condType, c.Message)
		got = *c
	})
	return got
}

// waitRegistered waits for Registered=True and returns the Runner.
func waitRegistered(t *testing.T, ns, name string, timeout time.Duration) *gitlabv1beta1.Runner {
	t.Helper()
	var got *gitlabv1beta1.Runner
	eventually(t, timeout, func(g gomega.Gomega) {
		got = getRunner(g, ns, name)
		c := condition(got, gitlabv1beta1.ConditionRegistered)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
		g.Expect(got.Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationSucceeded))
	})
	return got
}

// touch changes an annotation: what a user does after fixing something
// the operator does not watch (a Secret, GitLab itself).
func touch(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, 10*time.Second, func(g gomega.Gomega) {
		r := getRunner(g, ns, name)
		before := r.DeepCopy()
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		r.Annotations["reliability.test/touched"] = time.Now().Format(time.RFC3339Nano)
		g.Expect(k8s.Patch(ctx, r, client.MergeFrom(before))).To(gomega.Succeed())
	})
}

func deleteRunner(t *testing.T, ns, name string) {
	t.Helper()
	r := &gitlabv1beta1.Runner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := k8s.Delete(ctx, r); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

func waitGone(t *testing.T, ns, name string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func(g gomega.Gomega) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &gitlabv1beta1.Runner{})
		g.Expect(apierrors.IsNotFound(err)).To(gomega.BeTrue(), "the Runner still exists (err %v)", err)
	})
}

func exists(ns, name string) bool {
	err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &gitlabv1beta1.Runner{})
	return err == nil
}

// stored reads the registration the operator persisted for a Runner.
func stored(ns, name string) (runnerbuild.Registration, bool) {
	s := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-runner"}, s); err != nil {
		return runnerbuild.Registration{}, false
	}
	return runnerbuild.RegistrationFromSecret(s)
}

// runnersFor returns the fake's runners with a description.
func runnersFor(fake *gitlabtest.Server, desc string) []gitlabtest.RunnerState {
	var out []gitlabtest.RunnerState
	for _, r := range fake.Runners() {
		if r.Description == desc {
			out = append(out, r)
		}
	}
	return out
}

// expectOneLiveRunner checks the end state of a registration: exactly one
// runner in GitLab for the Runner, and the operator's stored token is that
// runner's current token.
func expectOneLiveRunner(t *testing.T, fake *gitlabtest.Server, ns, name string) gitlabtest.RunnerState {
	t.Helper()
	desc := ns + "/" + name
	var one gitlabtest.RunnerState
	eventually(t, 10*time.Second, func(g gomega.Gomega) {
		got := runnersFor(fake, desc)
		g.Expect(got).To(gomega.HaveLen(1), "runners in GitLab for %s", desc)
		reg, ok := stored(ns, name)
		g.Expect(ok).To(gomega.BeTrue(), "no stored registration")
		live, ok := fake.RunnerByToken(reg.Token)
		g.Expect(ok).To(gomega.BeTrue(), "the stored token is not a live token in GitLab")
		g.Expect(live.ID).To(gomega.Equal(got[0].ID))
		g.Expect(reg.ID).To(gomega.Equal(got[0].ID))
		one = got[0]
	})
	return one
}

// expectNoRunner checks that nothing is left in GitLab for the Runner.
func expectNoRunner(t *testing.T, fake *gitlabtest.Server, ns, name string) {
	t.Helper()
	if got := runnersFor(fake, ns+"/"+name); len(got) != 0 {
		t.Errorf("%d runner(s) left in GitLab for %s/%s after deletion (orphans): ids %v", len(got), ns, name, ids(got))
	}
}

func ids(rs []gitlabtest.RunnerState) []int64 {
	out := make([]int64, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// hygiene runs the secrets scan over the whole cluster and the whole
// manager log for every token the fakes ever issued or accepted.
func hygiene(t *testing.T, fakes []*gitlabtest.Server, extra ...string) {
	t.Helper()
	tokens := slices.Clone(extra)
	for _, f := range fakes {
		tokens = append(tokens, f.IssuedTokens()...)
		for _, r := range f.Runners() {
			tokens = append(tokens, r.Token)
		}
	}
	secrets.Scan(t, ctx, k8s, logs.Bytes(), tokens)
}

// fmtCalls renders call times relative to t0, for failure messages.
func fmtCalls(t0 time.Time, at []time.Time) string {
	s := "["
	for i, a := range at {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.2fs", a.Sub(t0).Seconds())
	}
	return s + "]"
}
