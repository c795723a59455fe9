package runner_test

import (
	"testing"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// TestRunnerRegistersWithManagedGitLabByName drives the whole hand-off:
// the GitLab controller publishes its internal URL and admin token, the
// Runner waits while the instance is not ready, then creates its runner
// through the API with that token, and removes it on deletion.
func TestRunnerRegistersWithManagedGitLabByName(t *testing.T) {
	ns := newNamespace(t)
	r := &gitlabv1beta1.Runner{ObjectMeta: metav1.ObjectMeta{Name: "byname", Namespace: ns},
		Spec: gitlabv1beta1.RunnerSpec{GitLab: gitlabv1beta1.GitLabReference{Name: "gl"}, Tags: "managed"}}
	if err := k8s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		c := condition(getRunner(g, ns, "byname"), gitlabv1beta1.ConditionRegistered)
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonGitLabNotFound))
	})

	gl := &gitlabv1beta1.GitLab{ObjectMeta: metav1.ObjectMeta{Name: "gl", Namespace: ns},
		Spec: gitlabv1beta1.GitLabSpec{URL: "https://gitlab.example.com"}}
	if err := k8s.Create(ctx, gl); err != nil {
		t.Fatal(err)
	}
	// Until the admin token works, the Runner waits and says why.
	var tokenSecret string
	eventually(t, func(g gomega.Gomega) {
		cur := &gitlabv1beta1.GitLab{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(gl), cur)).To(gomega.Succeed())
		g.Expect(cur.Status.AdminTokenSecret).NotTo(gomega.BeEmpty())
		tokenSecret = cur.Status.AdminTokenSecret
		c := condition(getRunner(g, ns, "byname"), gitlabv1beta1.ConditionRegistered)
		g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonWaitingForGitLab))
	})
	// What the post-reconfigure script does in a real instance: make the
	// operator's token an admin token of the instance.
	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tokenSecret}, sec); err != nil {
		t.Fatal(err)
	}
	fake.AddAccessToken(string(sec.Data["token"]), gitlabtest.TokenOptions{
		Scopes: []string{gitlabtest.ScopeCreateRunner, gitlabtest.ScopeManageRunner, gitlabtest.ScopeReadAPI}, Admin: true})
	// The GitLab controller re-checks a not-ready instance every 2 s in
	// this suite and then publishes AdminTokenReady.
	var id int64
	eventually(t, func(g gomega.Gomega) {
		got := getRunner(g, ns, "byname")
		g.Expect(got.Status.Registration).To(gomega.Equal(gitlabv1beta1.RegistrationSucceeded))
		g.Expect(got.Status.URL).To(gomega.Equal(fake.URL()))
		id = got.Status.RunnerID
	})
	st, ok := fake.Runner(id)
	if !ok || st.Type != "instance_type" || len(st.Tags) != 1 || st.Tags[0] != "managed" {
		t.Fatalf("runner in GitLab: %+v", st)
	}
	if err := k8s.Delete(ctx, r); err != nil {
		t.Fatal(err)
	}
	eventually(t, func(g gomega.Gomega) {
		_, still := fake.Runner(id)
		g.Expect(still).To(gomega.BeFalse())
		g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(r), &gitlabv1beta1.Runner{}))).To(gomega.BeTrue())
	})
}
