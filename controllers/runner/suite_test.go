package runner_test

import (
	"context"
	"fmt"
	"github.com/gitlab-operator/gitlab-operator/controllers/runner"
	"github.com/gitlab-operator/gitlab-operator/test/secrets"
	"io"
	appsv1 "k8s.io/api/apps/v1"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// The suite shares one control plane, one fake GitLab and one manager;
// every test works in its own namespace.
var (
	cp   *controlplane.ControlPlane
	k8s  client.Client
	fake *gitlabtest.Server
	logs *harness.Logs
	mgr  *harness.Manager
	ctx  = context.Background()
	// logBuf holds the operator's log for the secrets scan.
	logBuf = &secrets.Buffer{}
	// clockOffset moves the operator's clock (tests of token expiry).
	clockOffset atomic.Int64
)

// adminToken is the fake GitLab's administrator access token.
const adminToken = "glpat-suite-admin-0123456789"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Every log line is kept, so that each test can check no token leaked
	// into it; TEST_VERBOSE also prints them.
	var also io.Writer
	if os.Getenv("TEST_VERBOSE") != "" {
		also = os.Stderr
	}
	ctrl.SetLogger(secrets.NewLogger(logBuf, also, 1))
	var err error
	cp, err = controlplane.Start(controlplane.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cp.Stop()
	k8s, err = client.New(cp.Config, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fake = gitlabtest.NewServer()
	defer fake.Close()
	fake.AddAccessToken(adminToken, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true})
	logs = harness.NewLogs()
	opts := operator.Options{LogReader: logs, Runner: runner.Options{
		Now: func() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) },
	}}
	// Pods never run in envtest: a managed GitLab's API is the fake.
	opts.GitLab.Endpoint = func(*gitlabv1beta1.GitLab) string { return fake.URL() }
	opts.GitLab.NotReadyInterval = 2 * time.Second
	mgr, err = harness.StartManager(cp.Config, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer mgr.Stop()
	return m.Run()
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns, err := harness.Namespace(ctx, k8s, "rt", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Secrets hygiene: no token the fake issued, nor the suite's own
	// credentials, may appear in logs, events, statuses or ConfigMaps.
	t.Cleanup(func() {
		tokens := append(fake.IssuedTokens(), adminToken, "GR1348941suiteRegistrationTok")
		secrets.ScanNamespaces(t, ctx, k8s, logBuf.Bytes(), tokens, ns)
	})
	return ns
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
}

func urlRunner(ns, name, secretName string) *gitlabv1beta1.Runner {
	return &gitlabv1beta1.Runner{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: gitlabv1beta1.RunnerSpec{
			GitLab: gitlabv1beta1.GitLabReference{URL: fake.URL()},
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

// eventually polls f until it passes.
func eventually(t *testing.T, f func(g gomega.Gomega)) {
	t.Helper()
	gomega.NewWithT(t).Eventually(f).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(gomega.Succeed())
}

// runnersWithDescription counts runners in the fake with a description.
func runnersWithDescription(desc string) int {
	n := 0
	for _, r := range fake.Runners() {
		if r.Description == desc {
			n++
		}
	}
	return n
}

func getDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return d
}
