package runner_test

import (
	"github.com/gitlab-operator/gitlab-operator/controllers/runner"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerconfig"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// configOf reads and parses the Runner's rendered config.toml.
func configOf(g gomega.Gomega, ns, name string) *runnerconfig.Config {
	sec := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-runner"}, sec)).To(gomega.Succeed())
	cfg, err := runnerconfig.Parse(sec.Data[runnerbuild.KeyConfigTOML])
	g.Expect(err).NotTo(gomega.HaveOccurred())
	return cfg
}

func registered(t *testing.T, ns, name string) *gitlabv1beta1.Runner {
	t.Helper()
	var got *gitlabv1beta1.Runner
	eventually(t, func(g gomega.Gomega) {
		got = getRunner(g, ns, name)
		g.Expect(got.Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationSucceeded))
	})
	return got
}

func TestRestartedOperatorDoesNotRegisterAgain(t *testing.T) {
	ns := newNamespace(t)
	fake.SetRegistrationToken("GR1348941suiteRegistrationTok")
	if err := k8s.Create(ctx, secret(ns, "reg", map[string]string{"runner-registration-token": "GR1348941suiteRegistrationTok"})); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, secret(ns, "pat", map[string]string{"access-token": adminToken})); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*gitlabv1beta1.Runner{urlRunner(ns, "legacy", "reg"), urlRunner(ns, "created", "pat")} {
		if err := k8s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string]int64{"legacy": registered(t, ns, "legacy").Status.RunnerID, "created": registered(t, ns, "created").Status.RunnerID}

	// A second, independent operator (as after a restart, with empty
	// memory) reconciles the same Runners.
	other, err := harness.StartManager(cp.Config, operator.Options{LogReader: harness.NewLogs(), LeaderElection: false})
	if err != nil {
		t.Fatal(err)
	}
	for name := range before {
		r := getRunner(gomega.NewWithT(t), ns, name)
		r.Annotations = map[string]string{"resync": "1"}
		if err := k8s.Update(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	gomega.NewWithT(t).Consistently(func(g gomega.Gomega) {
		for name, id := range before {
			g.Expect(runnersWithDescription(ns+"/"+name)).To(gomega.Equal(1), name)
			g.Expect(getRunner(g, ns, name).Status.RunnerID).To(gomega.Equal(id))
		}
	}).WithTimeout(3 * time.Second).Should(gomega.Succeed())
	if err := other.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestSpecChangesReachConfigAndGitLab(t *testing.T) {
	ns := newNamespace(t)
	if err := k8s.Create(ctx, secret(ns, "pat", map[string]string{"access-token": adminToken})); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ca", Namespace: ns},
		Data: map[string][]byte{"ca.crt": testCA()}}); err != nil {
		t.Fatal(err)
	}
	tpl := `
concurrent = 99
log_level = "debug"
[[runners]]
  token = "template-must-not-win"
  [runners.kubernetes]
    namespace = "template-must-not-win"
    [[runners.kubernetes.volumes.empty_dir]]
      name = "docker-certs"
      mount_path = "/certs/client"
`
	if err := k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "tpl", Namespace: ns},
		Data: map[string]string{"config.toml": tpl}}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, secret(ns, "s3-creds", map[string]string{"accesskey": "AKIA", "secretkey": "s3cr3t"})); err != nil {
		t.Fatal(err)
	}
	r := urlRunner(ns, "cfg", "pat")
	r.Spec.Tags = "one"
	r.Spec.Config = "tpl"
	r.Spec.Cache = &gitlabv1beta1.CacheSpec{Type: "s3", Path: "runners", Shared: true,
		S3: &gitlabv1beta1.S3Cache{Server: "minio.ci.svc:9000", Bucket: "cache", Credentials: "s3-creds"}}
	r.Spec.BuildImage = "alpine:3.20"
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	id := registered(t, ns, "cfg").Status.RunnerID
	eventually(t, func(g gomega.Gomega) {
		cfg := configOf(g, ns, "cfg")
		g.Expect(cfg.LogLevel).To(gomega.Equal("debug"), "template global settings are honoured")
		g.Expect(cfg.Concurrent).To(gomega.Equal(10), "the spec wins over the template")
		g.Expect(cfg.Runners).To(gomega.HaveLen(1))
		run := cfg.Runners[0]
		g.Expect(run.Token).NotTo(gomega.Equal("template-must-not-win"))
		g.Expect(run.Kubernetes.Namespace).To(gomega.Equal(ns))
		g.Expect(run.Kubernetes.Image).To(gomega.Equal("alpine:3.20"))
		g.Expect(run.Cache.Type).To(gomega.Equal("s3"))
		g.Expect(run.Cache.S3.BucketName).To(gomega.Equal("cache"))
	})
	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cfg-runner"}, sec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sec.Data["config.toml"]), "docker-certs") {
		t.Fatal("the template's volumes were dropped")
	}
	if strings.Contains(string(sec.Data["config.toml"]), "secretkey") {
		t.Fatal("cache credentials must not be rendered into config.toml")
	}

	// Change settings, concurrency and the CA: config and GitLab follow.
	g := gomega.NewWithT(t)
	cur := getRunner(g, ns, "cfg")
	cur.Spec.Tags = "one, two"
	cur.Spec.Concurrent = 4
	cur.Spec.CA = "ca"
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		cfg := configOf(g, ns, "cfg")
		g.Expect(cfg.Concurrent).To(gomega.Equal(4))
		g.Expect(cfg.Runners[0].TLSCAFile).To(gomega.Equal(runnerbuild.CAMountDir + "/" + runnerbuild.CAFileName))
		st, ok := fake.Runner(id)
		g.Expect(ok).To(gomega.BeTrue())
		g.Expect(st.Tags).To(gomega.ConsistOf("one", "two"))
		got := getRunner(g, ns, "cfg")
		g.Expect(got.Status.ObservedGeneration).To(gomega.Equal(got.Generation))
	})
	if n := runnersWithDescription(ns + "/cfg"); n != 1 {
		t.Fatalf("a settings change must not re-register: %d runners", n)
	}
	// The Deployment mounts the CA and passes the cache credentials as env.
	dep := getDeployment(t, ns, "cfg-runner")
	var hasCA bool
	for _, v := range dep.Spec.Template.Spec.Volumes {
		hasCA = hasCA || (v.Secret != nil && v.Secret.SecretName == "ca")
	}
	if !hasCA {
		t.Fatal("the CA Secret is not mounted into the runner pod")
	}
	var hasCacheEnv bool
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		hasCacheEnv = hasCacheEnv || (e.Name == "CACHE_S3_SECRET_KEY" && e.ValueFrom.SecretKeyRef.Name == "s3-creds")
	}
	if !hasCacheEnv {
		t.Fatal("the cache credentials are not passed from their Secret")
	}
}

func TestRunnerLogDrivesHealthAndVerification(t *testing.T) {
	ns := newNamespace(t)
	pre := fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "logged"})
	if err := k8s.Create(ctx, secret(ns, "tok", map[string]string{"runner-token": pre.Token})); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, urlRunner(ns, "logged", "tok")); err != nil {
		t.Fatal(err)
	}
	registered(t, ns, "logged")
	verifies := fake.CallCount(gitlabtest.RouteVerify)

	// envtest has no kubelet: create the pod the Deployment would have
	// started, mark it running and ready, and feed its log.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "logged-runner-abc", Namespace: ns,
			Labels: labels.For(labels.ComponentRunner, "logged")},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: runnerbuild.ContainerName, Image: "runner"}}},
	}
	logs.Append(ns, pod.Name,
		`Runtime platform                                    arch=amd64 os=linux pid=7 revision=abc version=18.6.0`,
		`Verifying runner... is valid                        correlation_id=01J9 runner=abcdefgh1`,
		`Configuration loaded                                builds=0 max_builds=10`)
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: runnerbuild.ContainerName, Ready: true}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		c := condition(getRunner(g, ns, "logged"), gitlabv1beta1.ConditionRunnerHealthy)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(gomega.Equal("ConfigLoaded"))
	})

	// GitLab forgets the runner; the pod logs the rejection after a
	// restart. The operator verifies through the API at once and reports it.
	fake.DeleteRunnerDirect(pre.ID)
	logs.Append(ns, pod.Name,
		`ERROR: Checking for jobs... forbidden               runner=abcdefgh1 status=POST https://gitlab.example.com/api/v4/jobs/request: 403 Forbidden`)
	pod.Status.ContainerStatuses[0].RestartCount = 1
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		got := getRunner(g, ns, "logged")
		h := condition(got, gitlabv1beta1.ConditionRunnerHealthy)
		g.Expect(h.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(h.Reason).To(gomega.Equal("TokenRejected"))
		reg := condition(got, gitlabv1beta1.ConditionRegistered)
		g.Expect(reg.Reason).To(gomega.Equal(gitlabv1beta1.ReasonTokenRejected))
		g.Expect(got.Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationFailed))
		g.Expect(h.Message).NotTo(gomega.ContainSubstring("abcdefgh1"))
	})
	if fake.CallCount(gitlabtest.RouteVerify) <= verifies {
		t.Fatal("the rejected token was not verified through the API")
	}
	for _, n := range logs.Reads() {
		if n > 64<<10 {
			t.Fatalf("a log read returned %d bytes, more than 64 KiB", n)
		}
	}
}

func TestTokenIsRotatedBeforeExpiry(t *testing.T) {
	// Tokens live four days; moving the operator's clock three days ahead
	// makes them due for rotation.
	fake2 := gitlabtest.NewServer()
	defer fake2.Close()
	fake2.SetTokenLifetime(4 * 24 * time.Hour)
	pre := fake2.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "expiring"})
	ns := newNamespace(t)
	if err := k8s.Create(ctx, secret(ns, "pat", map[string]string{"access-token": "glpat-rotation-admin-0123456"})); err != nil {
		t.Fatal(err)
	}
	fake2.AddAccessToken("glpat-rotation-admin-0123456", gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true})
	_ = pre
	defer clockOffset.Store(0)
	r := urlRunner(ns, "rot", "pat")
	r.Spec.GitLab.URL = fake2.URL()
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	var first string
	eventually(t, func(g gomega.Gomega) {
		got := getRunner(g, ns, "rot")
		g.Expect(got.Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationSucceeded))
		g.Expect(got.Status.TokenExpiresAt).NotTo(gomega.BeNil())
		first = configOf(g, ns, "rot").Runners[0].Token
	})
	clockOffset.Store(int64(3*24*time.Hour + time.Hour))
	cur := getRunner(gomega.NewWithT(t), ns, "rot")
	cur.Annotations = map[string]string{"tick": "1"}
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		tok := configOf(g, ns, "rot").Runners[0].Token
		g.Expect(tok).NotTo(gomega.Equal(first))
		st, ok := fake2.RunnerByToken(tok)
		g.Expect(ok).To(gomega.BeTrue(), "the stored token is the one GitLab knows")
		g.Expect(st.Description).To(gomega.Equal(ns + "/rot"))
	})
	if _, ok := fake2.RunnerByToken(first); ok {
		t.Fatal("the old token still works after rotation")
	}
	if fake2.CallCount(gitlabtest.RouteCreateUserRunner) != 1 {
		t.Fatal("rotation must not create a new runner")
	}
	_ = ptr.To(1)
}

func TestSkipDeregistrationAnnotation(t *testing.T) {
	ns := newNamespace(t)
	if err := k8s.Create(ctx, secret(ns, "pat", map[string]string{"access-token": adminToken})); err != nil {
		t.Fatal(err)
	}
	r := urlRunner(ns, "keep", "pat")
	r.Annotations = map[string]string{gitlabv1beta1.AnnotationSkipDeregistration: "true"}
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	id := registered(t, ns, "keep").Status.RunnerID
	if err := k8s.Delete(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(r), &gitlabv1beta1.Runner{})
		g.Expect(client.IgnoreNotFound(err)).To(gomega.Succeed())
		g.Expect(err).To(gomega.HaveOccurred())
	})
	if _, ok := fake.Runner(id); !ok {
		t.Fatal("the runner was de-registered despite the annotation")
	}
	fake.DeleteRunnerDirect(id)
}

func TestUnreachableGitLabBlocksDeletionWithCondition(t *testing.T) {
	fake2 := gitlabtest.NewServer()
	defer fake2.Close()
	fake2.AddAccessToken("glpat-unreach-admin-0123456", gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true})
	ns := newNamespace(t)
	if err := k8s.Create(ctx, secret(ns, "pat", map[string]string{"access-token": "glpat-unreach-admin-0123456"})); err != nil {
		t.Fatal(err)
	}
	r := urlRunner(ns, "far", "pat")
	r.Spec.GitLab.URL = fake2.URL()
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	registered(t, ns, "far")
	fake2.Stop()
	if err := k8s.Delete(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		got := getRunner(g, ns, "far")
		g.Expect(got.Status.Phase).To(gomega.Equal(gitlabv1beta1.PhaseTerminating))
		c := condition(got, gitlabv1beta1.ConditionRegistered)
		g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonDeregistrationFailed))
		g.Expect(c.Message).To(gomega.ContainSubstring("skip-deregistration"))
	})
	if err := fake2.Start(); err != nil {
		t.Fatal(err)
	}
	gomega.NewWithT(t).Eventually(func(g gomega.Gomega) {
		g.Expect(fake2.Runners()).To(gomega.BeEmpty())
		err := k8s.Get(ctx, client.ObjectKeyFromObject(r), &gitlabv1beta1.Runner{})
		g.Expect(err).To(gomega.HaveOccurred())
	}).WithTimeout(90 * time.Second).WithPolling(250 * time.Millisecond).Should(gomega.Succeed())
}

// testCA returns a real PEM CA bundle (the TLS fake's).
func testCA() []byte {
	s := gitlabtest.NewTLSServer()
	defer s.Close()
	return s.CAPEM()
}

func TestLabelledTemplateChangeReachesConfigAtOnce(t *testing.T) {
	ns := newNamespace(t)
	pre := fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "watched"})
	if err := k8s.Create(ctx, secret(ns, "tok", map[string]string{"runner-token": pre.Token})); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "tpl", Namespace: ns, Labels: map[string]string{runner.LabelWatch: "true"}},
		Data: map[string]string{"config.toml": "log_level = \"warn\"\n"}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	r := urlRunner(ns, "watched", "tok")
	r.Spec.Config = "tpl"
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) { g.Expect(configOf(g, ns, "watched").LogLevel).To(gomega.Equal("warn")) })
	cm.Data["config.toml"] = "log_level = \"error\"\n"
	if err := k8s.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) { g.Expect(configOf(g, ns, "watched").LogLevel).To(gomega.Equal("error")) })
}
