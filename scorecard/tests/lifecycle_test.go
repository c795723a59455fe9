package tests

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

const lifecycleToken = "glpat-scorecard-unit-0123456789"

// The lifecycle tests share one control plane, fake GitLab and operator;
// the operator watches only the namespace watched, so that a Runner in
// any other namespace is never reconciled.
var (
	cp      *controlplane.ControlPlane
	fake    *gitlabtest.Server
	k8s     client.Client
	watched string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	var err error
	if cp, err = controlplane.Start(controlplane.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cp.Stop()
	if k8s, err = client.New(cp.Config, client.Options{Scheme: operator.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fake = gitlabtest.NewServer()
	defer fake.Close()
	fake.AddAccessToken(lifecycleToken, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true})
	if watched, err = harness.Namespace(context.Background(), k8s, "sc-watched", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := harness.StartManager(cp.Config, operator.Options{Namespaces: []string{watched}, LogReader: harness.NewLogs()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer mgr.Stop()
	return m.Run()
}

func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return -1
	}
	return 2
}

func lifecycleConfig(ns string, timeout time.Duration) LifecycleConfig {
	return LifecycleConfig{RestConfig: cp.Config, Namespace: ns, GitLabURL: fake.URL(), Token: lifecycleToken, Timeout: timeout}
}

func TestRunnerLifecyclePasses(t *testing.T) {
	before := len(fake.Runners())
	res := RunnerLifecycle(context.Background(), lifecycleConfig(watched, 30*time.Second))
	expectState(t, res, scapiv1alpha3.PassState)
	for _, want := range []string{"registration succeeded", "de-registered from GitLab"} {
		if !strings.Contains(res.Log, want) {
			t.Errorf("log does not say %q:\n%s", want, res.Log)
		}
	}
	if n := len(fake.Runners()); n != before {
		t.Fatalf("%d runners left in GitLab", n-before)
	}
}

func TestRunnerLifecycleFailsWithoutTheOperator(t *testing.T) {
	ns, err := harness.Namespace(context.Background(), k8s, "sc-unwatched", nil)
	if err != nil {
		t.Fatal(err)
	}
	res := RunnerLifecycle(context.Background(), lifecycleConfig(ns, 2*time.Second))
	expectState(t, res, scapiv1alpha3.FailState)
	if !strings.Contains(strings.Join(res.Errors, "\n"), `did not reach registration "succeeded"`) {
		t.Fatalf("unexpected errors: %v", res.Errors)
	}
	// It cleaned up after itself.
	if secrets, runners := countObjects(t, ns); secrets+runners != 0 {
		t.Fatalf("left %d Secrets and %d Runners behind", secrets, runners)
	}
}

func TestRunnerLifecycleFailsWhenGitLabRefusesTheToken(t *testing.T) {
	ns, err := harness.Namespace(context.Background(), k8s, "sc-refused", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second operator for this namespace only, so that the shared one's
	// namespace stays clean.
	mgr, err := harness.StartManager(cp.Config, operator.Options{Namespaces: []string{ns}, LogReader: harness.NewLogs(), LeaderElectionID: "sc-refused"})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Stop()
	cfg := lifecycleConfig(ns, 3*time.Second)
	cfg.Token = "glpat-not-known-to-gitlab-000000"
	cfg.CleanupTimeout = time.Second
	res := RunnerLifecycle(context.Background(), cfg)
	expectState(t, res, scapiv1alpha3.FailState)
	if !strings.Contains(strings.Join(res.Errors, "\n"), "Registered=False") {
		t.Fatalf("the failure should carry the Runner's conditions: %v", res.Errors)
	}
	// A Runner that never got a runner in GitLab is not held back by its
	// refused token: the test's clean-up deletes it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, runners := countObjects(t, ns); runners == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused Runner was not deleted:\n%s", res.Log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func countObjects(t *testing.T, ns string) (secrets, runners int) {
	t.Helper()
	ctx := context.Background()
	sl := &corev1.SecretList{}
	if err := k8s.List(ctx, sl, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	rl := &gitlabv1beta1.RunnerList{}
	if err := k8s.List(ctx, rl, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return len(sl.Items), len(rl.Items)
}
