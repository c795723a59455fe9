package runner_test

import (
	"strings"
	"testing"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerconfig"
)

func TestCRDRejectsInvalidRunners(t *testing.T) {
	ns := newNamespace(t)
	cases := []struct {
		name string
		spec gitlabv1beta1.RunnerSpec
		want string
	}{
		{"neither name nor url", gitlabv1beta1.RunnerSpec{Token: "s"}, "exactly one of gitlab.name and gitlab.url"},
		{"both name and url", gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{Name: "g", URL: "https://gitlab.com"}, Token: "s"}, "exactly one of gitlab.name and gitlab.url"},
		{"ftp url", gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{URL: "ftp://gitlab.com"}, Token: "s"}, "must be an http:// or https:// URL"},
		{"not a url", gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{URL: "gitlab dot com"}, Token: "s"}, "must be an http:// or https:// URL"},
		{"url without token", gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{URL: "https://gitlab.com"}}, "token is required with gitlab.url"},
		{"group runner without group", gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{URL: "https://gitlab.com"}, Token: "s", RunnerType: "group_type"}, "needs groupID"},
		{"groupID on instance runner", gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{URL: "https://gitlab.com"}, Token: "s", GroupID: ptr.To[int64](3)}, "groupID is only valid"},
		{"timeout below 10 minutes", gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{URL: "https://gitlab.com"}, Token: "s", MaximumTimeout: ptr.To[int64](60)}, "maximumTimeout"},
		{"bad access level", gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{URL: "https://gitlab.com"}, Token: "s", AccessLevel: "everyone"}, "accessLevel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &gitlabv1beta1.Runner{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Spec: tc.spec}
			err := k8s.Create(ctx, r)
			if err == nil {
				t.Fatalf("the API server accepted an invalid Runner")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an Invalid error mentioning %q, got: %v", tc.want, err)
			}
		})
	}
	t.Run("valid runner is accepted with defaults", func(t *testing.T) {
		r := &gitlabv1beta1.Runner{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns},
			Spec: gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{URL: "https://gitlab.example.com/gitlab"}, Token: "missing"}}
		if err := k8s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Spec.Concurrent != 10 || r.Spec.Interval != 30 || *r.Spec.Replicas != 1 || r.Spec.RunnerType != "instance_type" {
			t.Fatalf("defaults not applied: %+v", r.Spec)
		}
	})
}

func TestRunnerTokenIsVerifiedAndDeployed(t *testing.T) {
	ns := newNamespace(t)
	pre := fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "made in the UI"})
	if err := k8s.Create(ctx, secret(ns, "tok", map[string]string{"runner-token": pre.Token})); err != nil {
		t.Fatal(err)
	}
	r := urlRunner(ns, "pre", "tok")
	r.Spec.Tags = "openshift, test"
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		got := getRunner(g, ns, "pre")
		g.Expect(got.Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationSucceeded))
		g.Expect(got.Status.RunnerID).To(gomega.Equal(pre.ID))
		g.Expect(got.Status.URL).To(gomega.Equal(fake.URL()))
		g.Expect(got.Status.Phase).To(gomega.Equal(gitlabv1beta1.PhaseInitializing))
		g.Expect(got.Status.ObservedGeneration).To(gomega.Equal(got.Generation))
		c := condition(got, gitlabv1beta1.ConditionSettingsApplied)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonSettingsNotApplicable))
		reg := condition(got, gitlabv1beta1.ConditionRegistered)
		g.Expect(reg.Status).To(gomega.Equal(metav1.ConditionTrue))
		g.Expect(reg.ObservedGeneration).To(gomega.Equal(got.Generation))
	})
	// The pre-created runner is the only one and got this Runner's manager.
	if n := runnersWithDescription("made in the UI"); n != 1 {
		t.Fatalf("want 1 runner in GitLab, got %d", n)
	}
	// Children: labelled, owned, and config.toml carries the token.
	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pre-runner"}, sec); err != nil {
		t.Fatal(err)
	}
	cfg, err := runnerconfig.Parse(sec.Data[runnerbuild.KeyConfigTOML])
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Runners) != 1 || cfg.Runners[0].Token != pre.Token || cfg.Runners[0].URL != fake.URL() || cfg.Concurrent != 10 {
		t.Fatalf("unexpected config.toml: %+v", cfg)
	}
	for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}, &corev1.Secret{}} {
		name := "pre-runner"
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			t.Fatalf("%T: %v", obj, err)
		}
		if obj.GetLabels()[labels.ManagedByKey] != labels.ManagedByValue {
			t.Errorf("%T lacks the managed-by label", obj)
		}
		if len(obj.GetOwnerReferences()) != 1 || obj.GetOwnerReferences()[0].Name != "pre" {
			t.Errorf("%T is not owned by the Runner", obj)
		}
	}
	svc := &corev1.Service{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pre-runner-metrics"}, svc); err != nil {
		t.Fatalf("metrics Service: %v", err)
	}

	// Deleting removes only this operator's runner manager; the user's
	// runner stays in GitLab.
	if err := k8s.Delete(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(r), &gitlabv1beta1.Runner{})
		g.Expect(apierrors.IsNotFound(err)).To(gomega.BeTrue(), "Runner still exists: %v", err)
	})
	st, ok := fake.Runner(pre.ID)
	if !ok {
		t.Fatal("the user's pre-created runner was deleted from GitLab")
	}
	if len(st.Managers) != 0 {
		t.Fatalf("the operator's runner manager was left behind: %v", st.Managers)
	}
}

func TestAccessTokenCreatesAndDeletesRunner(t *testing.T) {
	ns := newNamespace(t)
	if err := k8s.Create(ctx, secret(ns, "pat", map[string]string{"access-token": adminToken})); err != nil {
		t.Fatal(err)
	}
	r := urlRunner(ns, "made", "pat")
	r.Spec.Tags = `a, b "quoted", [[runners]]`
	r.Spec.Locked = ptr.To(true)
	r.Spec.MaximumTimeout = ptr.To[int64](3600)
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	desc := ns + "/made"
	var id int64
	eventually(t, func(g gomega.Gomega) {
		got := getRunner(g, ns, "made")
		g.Expect(got.Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationSucceeded))
		g.Expect(condition(got, gitlabv1beta1.ConditionSettingsApplied).Status).To(gomega.Equal(metav1.ConditionTrue))
		id = got.Status.RunnerID
	})
	st, ok := fake.Runner(id)
	if !ok || st.Description != desc {
		t.Fatalf("runner %d not in GitLab with description %q: %+v", id, desc, st)
	}
	if !st.Locked || st.MaximumTimeout != 3600 || len(st.Tags) != 3 || st.Tags[2] != "[[runners]]" {
		t.Fatalf("server-side settings not applied: %+v", st)
	}
	if n := fake.CallCount(gitlabtest.RouteCreateUserRunner); n < 1 {
		t.Fatalf("create was not called")
	}
	if err := k8s.Delete(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		_, still := fake.Runner(id)
		g.Expect(still).To(gomega.BeFalse(), "runner still registered in GitLab")
		err := k8s.Get(ctx, client.ObjectKeyFromObject(r), &gitlabv1beta1.Runner{})
		g.Expect(apierrors.IsNotFound(err)).To(gomega.BeTrue())
	})
	if n := runnersWithDescription(desc); n != 0 {
		t.Fatalf("%d runners left in GitLab", n)
	}
}

func TestRegistrationTokenDisallowedSaysSo(t *testing.T) {
	ns := newNamespace(t)
	fake.SetRegistrationToken("GR1348941suiteRegistrationTok")
	fake.AllowRegistrationTokens(false)
	defer fake.AllowRegistrationTokens(true)
	if err := k8s.Create(ctx, secret(ns, "reg", map[string]string{"runner-registration-token": "GR1348941suiteRegistrationTok"})); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, urlRunner(ns, "legacy", "reg")); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		got := getRunner(g, ns, "legacy")
		g.Expect(got.Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationFailed))
		g.Expect(got.Status.Phase).To(gomega.Equal(gitlabv1beta1.PhaseFailed))
		c := condition(got, gitlabv1beta1.ConditionRegistered)
		g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonRegistrationTokensDisallowed))
		g.Expect(c.Message).To(gomega.ContainSubstring("disallows registration tokens"))
		g.Expect(c.Message).NotTo(gomega.ContainSubstring("GR1348941"))
		g.Expect(condition(got, gitlabv1beta1.ConditionReady).Status).To(gomega.Equal(metav1.ConditionFalse))
	})
}

func TestRegistrationTokenRegistersOnce(t *testing.T) {
	ns := newNamespace(t)
	fake.SetRegistrationToken("GR1348941suiteRegistrationTok")
	if err := k8s.Create(ctx, secret(ns, "reg", map[string]string{"runner-registration-token": "GR1348941suiteRegistrationTok"})); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, urlRunner(ns, "legacy", "reg")); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		g.Expect(getRunner(g, ns, "legacy").Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationSucceeded))
	})
	// Touching the Runner reconciles it again; it must not register again.
	r := getRunner(gomega.NewWithT(t), ns, "legacy")
	r.Annotations = map[string]string{"touch": "1"}
	if err := k8s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	gomega.NewWithT(t).Consistently(func() int { return runnersWithDescription(ns + "/legacy") }).
		WithTimeout(2 * 1e9).Should(gomega.Equal(1))
}

func TestMissingSecretAndKeysAreExplained(t *testing.T) {
	ns := newNamespace(t)
	if err := k8s.Create(ctx, urlRunner(ns, "nosecret", "absent")); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, secret(ns, "empty", map[string]string{"token": "x"})); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, urlRunner(ns, "nokey", "empty")); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		c := condition(getRunner(g, ns, "nosecret"), gitlabv1beta1.ConditionRegistered)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonSecretNotFound))
		g.Expect(c.Message).To(gomega.ContainSubstring(`"absent"`))
		c = condition(getRunner(g, ns, "nokey"), gitlabv1beta1.ConditionRegistered)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonSecretKeyMissing))
	})
	// Fixing the Secret and touching the Runner registers it.
	pre := fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "fixed later"})
	if err := k8s.Create(ctx, secret(ns, "absent", map[string]string{"runner-token": pre.Token})); err != nil {
		t.Fatal(err)
	}
	r := getRunner(gomega.NewWithT(t), ns, "nosecret")
	r.Annotations = map[string]string{"fixed": "1"}
	if err := k8s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		g.Expect(getRunner(g, ns, "nosecret").Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationSucceeded))
	})
}

func TestRunnerPodIsAdmittedByRestrictedPodSecurity(t *testing.T) {
	ns, err := harnessNamespaceRestricted()
	if err != nil {
		t.Fatal(err)
	}
	pre := fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "psa"})
	if err := k8s.Create(ctx, secret(ns, "tok", map[string]string{"runner-token": pre.Token})); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, urlRunner(ns, "psa", "tok")); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{}
	eventually(t, func(g gomega.Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "psa-runner"}, dep)).To(gomega.Succeed())
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "from-template", Namespace: ns, Labels: dep.Spec.Template.Labels},
		Spec:       dep.Spec.Template.Spec,
	}
	if err := k8s.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Fatalf("the restricted Pod Security level rejected the runner pod: %v", err)
	}
	// And a privileged pod is rejected, so the check is live.
	bad := pod.DeepCopy()
	bad.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
	if err := k8s.Create(ctx, bad, client.DryRunAll); err == nil {
		t.Fatal("a privileged pod was admitted: the namespace does not enforce restricted")
	}
}

func harnessNamespaceRestricted() (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "psa-", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
	}}}
	if err := k8s.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}
