package gitlab

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/apply"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlabbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
)

// checkChild asserts the operator's labels and a controller reference to gl.
func checkChild(t *testing.T, gl *gitlabv1beta1.GitLab, obj client.Object) {
	t.Helper()
	for k, v := range labels.For(labels.ComponentGitLab, gl.Name) {
		if obj.GetLabels()[k] != v {
			t.Errorf("%T %s: label %s=%q, want %q", obj, obj.GetName(), k, obj.GetLabels()[k], v)
		}
	}
	if !metav1.IsControlledBy(obj, gl) {
		t.Errorf("%T %s is not controlled by the GitLab: %v", obj, obj.GetName(), obj.GetOwnerReferences())
	}
}

// TestIngressPathChildrenStatusAndHandOff follows a GitLab with only a URL
// and version from creation to Ready: children with labels and owners, no
// secret in the pod spec, the Runner hand-off in status, and a steady state
// that writes nothing and asks GitLab nothing.
func TestIngressPathChildrenStatusAndHandOff(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.fake.SetVersion("18.6.1", "abc123")
	f.create(f.newGitLab("gl"))

	// Until the seed script has run, GitLab refuses the token.
	f.waitCondition("gl", gitlabv1beta1.ConditionAdminTokenReady, metav1.ConditionFalse, gitlabv1beta1.ReasonAdminTokenRejected)
	gl := f.waitCondition("gl", gitlabv1beta1.ConditionAvailable, metav1.ConditionTrue, gitlabv1beta1.ReasonInstanceReady)
	if gl.Status.Phase != gitlabv1beta1.PhaseRunning || condition(gl, gitlabv1beta1.ConditionReady).Status == metav1.ConditionTrue {
		t.Errorf("before the token works: phase %s, Ready %v", gl.Status.Phase, condition(gl, gitlabv1beta1.ConditionReady))
	}

	token := f.seedAdminToken("gl")
	gl = f.waitCondition("gl", gitlabv1beta1.ConditionReady, metav1.ConditionTrue, gitlabv1beta1.ReasonReady)

	// The hand-off contract the Runner controller relies on.
	st := gl.Status
	if st.InternalURL != f.fake.URL() || st.AdminTokenSecret != "gl-admin-token" || st.RootPasswordSecret != "gl-root-password" ||
		st.Version != "18.6.1" || st.URL != "https://gitlab.example.com" || st.Phase != gitlabv1beta1.PhaseRunning ||
		st.ObservedGeneration != gl.Generation {
		t.Errorf("status %+v", st)
	}
	for typ, reason := range map[string]string{
		gitlabv1beta1.ConditionAvailable:       gitlabv1beta1.ReasonInstanceReady,
		gitlabv1beta1.ConditionAdminTokenReady: gitlabv1beta1.ReasonAdminTokenValid,
		gitlabv1beta1.ConditionDegraded:        gitlabv1beta1.ReasonAsExpected,
	} {
		if c := condition(gl, typ); c == nil || c.Reason != reason {
			t.Errorf("%s: %+v", typ, c)
		}
	}
	if c := condition(gl, gitlabv1beta1.ConditionProgressing); c == nil {
		t.Error("no Progressing condition")
	}

	// Children.
	sa := &corev1.ServiceAccount{}
	svc := &corev1.Service{}
	headless := &corev1.Service{}
	cm := &corev1.ConfigMap{}
	sts := &appsv1.StatefulSet{}
	ing := &networkingv1.Ingress{}
	for name, obj := range map[string]client.Object{
		"gl-gitlab": sa, "gl": svc, "gl-headless": headless, "gl-omnibus": cm,
	} {
		if err := f.get(name, obj); err != nil {
			t.Fatalf("%T %s: %v", obj, name, err)
		}
		checkChild(t, gl, obj)
	}
	for _, obj := range []client.Object{sts, ing} {
		if err := f.get("gl", obj); err != nil {
			t.Fatalf("%T: %v", obj, err)
		}
		checkChild(t, gl, obj)
	}
	if ing.Spec.Rules[0].Host != "gitlab.example.com" || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "gl" {
		t.Errorf("ingress %+v", ing.Spec)
	}
	routes := &unstructured.UnstructuredList{}
	routes.SetGroupVersionKind(gitlabbuild.RouteGVK.GroupVersion().WithKind("RouteList"))
	if err := k8s.List(f.ctx, routes, client.InNamespace(f.ns)); err != nil || len(routes.Items) != 0 {
		t.Errorf("routes without the Route API: %d %v", len(routes.Items), err)
	}
	if img := sts.Spec.Template.Spec.Containers[0].Image; img != "docker.io/gitlab/gitlab-ce:18.6.1-ce.0" {
		t.Errorf("image %s", img)
	}

	// Generated Secrets: labelled (the Runner controller's cache must see
	// the token), and without an owner with the default Retain.
	root := &corev1.Secret{}
	tok := &corev1.Secret{}
	if err := f.get("gl-root-password", root); err != nil {
		t.Fatal(err)
	}
	if err := f.get("gl-admin-token", tok); err != nil {
		t.Fatal(err)
	}
	for _, sec := range []*corev1.Secret{root, tok} {
		if sec.Labels[labels.ManagedByKey] != labels.ManagedByValue || sec.Labels[labels.InstanceKey] != "gl" {
			t.Errorf("Secret %s labels %v", sec.Name, sec.Labels)
		}
		if len(sec.OwnerReferences) != 0 {
			t.Errorf("Secret %s has owners with Retain: %v", sec.Name, sec.OwnerReferences)
		}
	}
	if string(tok.Data["token"]) != token || len(tok.Data[gitlabbuild.KeyExpiresAt]) == 0 {
		t.Errorf("admin token Secret keys %v", tok.Data)
	}

	// No secret value anywhere in the StatefulSet or the ConfigMap, and
	// no environment variable taken from a Secret.
	for _, obj := range []any{sts, cm} {
		b, _ := json.Marshal(obj)
		for _, v := range []string{string(root.Data["password"]), token} {
			if strings.Contains(string(b), v) {
				t.Errorf("%T contains a secret value", obj)
			}
		}
	}
	c := sts.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("env %s comes from a reference", e.Name)
		}
	}
	if len(c.Args) != 0 || len(c.Command) != 0 || len(c.EnvFrom) != 0 {
		t.Errorf("command %v args %v envFrom %v", c.Command, c.Args, c.EnvFrom)
	}

	// Steady state: a reconcile writes nothing and calls GitLab not at all.
	objs := []client.Object{&gitlabv1beta1.GitLab{}, &appsv1.StatefulSet{}, &corev1.Service{}, &networkingv1.Ingress{}}
	names := []string{"gl", "gl", "gl", "gl"}
	objs = append(objs, &corev1.ConfigMap{}, &corev1.Secret{}, &corev1.Secret{}, &corev1.ServiceAccount{}, &corev1.Service{})
	names = append(names, "gl-omnibus", "gl-admin-token", "gl-root-password", "gl-gitlab", "gl-headless")
	versions := func() []string {
		var out []string
		for i, o := range objs {
			if err := f.get(names[i], o); err != nil {
				t.Fatal(err)
			}
			out = append(out, o.GetResourceVersion())
		}
		return out
	}
	// Let the cache catch up with the last writes first.
	time.Sleep(300 * time.Millisecond)
	beforeRVs := versions()
	calls := len(f.fake.Calls())
	for range 3 {
		res, err := f.r.Reconcile(f.ctx, ctrl.Request{NamespacedName: f.key("gl")})
		if err != nil {
			t.Fatal(err)
		}
		if res.RequeueAfter <= time.Minute {
			t.Errorf("a ready GitLab is re-checked after %s", res.RequeueAfter)
		}
	}
	if after := versions(); strings.Join(after, ",") != strings.Join(beforeRVs, ",") {
		t.Errorf("steady-state reconcile wrote: %v -> %v", beforeRVs, after)
	}
	if n := len(f.fake.Calls()) - calls; n != 0 {
		t.Errorf("steady-state reconcile called GitLab %d times", n)
	}
}

// TestRoutePathOnOpenShift: with the Route API the GitLab gets a Route
// with edge TLS instead of an Ingress, and the anyuid binding; asking for
// an Ingress explicitly replaces the Route.
func TestRoutePathOnOpenShift(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) { o.RouteAPI, o.SCCAPI, o.OpenShift = true, true, true })
	f.create(f.newGitLab("gl", func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = "https://git.apps.example.com" }))
	gl := &gitlabv1beta1.GitLab{}
	route := gitlabbuild.EmptyRoute()
	f.eventually("the Route", func() error { return f.get("gl", route) })
	if err := f.get("gl", gl); err != nil {
		t.Fatal(err)
	}
	checkChild(t, gl, route)
	host, _, _ := unstructured.NestedString(route.Object, "spec", "host")
	term, _, _ := unstructured.NestedString(route.Object, "spec", "tls", "termination")
	svc, _, _ := unstructured.NestedString(route.Object, "spec", "to", "name")
	if host != "git.apps.example.com" || term != "edge" || svc != "gl" {
		t.Errorf("route spec %v", route.Object["spec"])
	}
	if err := f.get("gl", &networkingv1.Ingress{}); !apierrors.IsNotFound(err) {
		t.Errorf("an Ingress exists next to the Route: %v", err)
	}
	rb := &rbacv1.RoleBinding{}
	f.eventually("the anyuid RoleBinding", func() error { return f.get("gl-gitlab-anyuid", rb) })
	checkChild(t, gl, rb)
	if rb.RoleRef.Name != "system:openshift:scc:anyuid" || rb.Subjects[0].Name != "gl-gitlab" {
		t.Errorf("binding %+v", rb)
	}
	sts := &appsv1.StatefulSet{}
	f.eventually("the StatefulSet", func() error { return f.get("gl", sts) })
	if sts.Spec.Template.Spec.SecurityContext.SeccompProfile != nil {
		t.Error("seccomp profile set on OpenShift")
	}

	f.update("gl", func(gl *gitlabv1beta1.GitLab) {
		gl.Spec.Ingress = &gitlabv1beta1.IngressSpec{Enabled: ptr.To(true), ClassName: ptr.To("nginx")}
	})
	f.eventually("the Ingress", func() error { return f.get("gl", &networkingv1.Ingress{}) })
	f.eventually("the Route to go", func() error {
		if err := f.get("gl", gitlabbuild.EmptyRoute()); !apierrors.IsNotFound(err) {
			return fmt.Errorf("route still there: %v", err)
		}
		return nil
	})
}

// pvc creates the claim the StatefulSet controller would create (envtest
// has none), with the labels of the claim template.
func (f *fixture) pvc(glName, volume string) *corev1.PersistentVolumeClaim {
	f.t.Helper()
	p := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: volume + "-" + glName + "-0", Namespace: f.ns, Labels: labels.For(labels.ComponentGitLab, glName),
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	f.create(p)
	return p
}

func (f *fixture) deleteAndWait(name string) {
	f.t.Helper()
	if err := k8s.Delete(f.ctx, &gitlabv1beta1.GitLab{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns}}); err != nil {
		f.t.Fatal(err)
	}
	f.eventually("the GitLab to be gone", func() error {
		if err := f.get(name, &gitlabv1beta1.GitLab{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// TestRetainKeepsVolumesAndSecrets: deleting a GitLab with the default
// Retain leaves its PVCs and generated Secrets (no owner references, so
// garbage collection will not take them either), and re-creating it with
// the same name reuses them.
func TestRetainKeepsVolumesAndSecrets(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.create(f.newGitLab("gl"))
	sts := &appsv1.StatefulSet{}
	f.eventually("the StatefulSet", func() error { return f.get("gl", sts) })
	if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("retention %+v", p)
	}
	f.pvc("gl", "data")
	tok, root := &corev1.Secret{}, &corev1.Secret{}
	f.eventually("the generated Secrets", func() error {
		if err := f.get("gl-admin-token", tok); err != nil {
			return err
		}
		return f.get("gl-root-password", root)
	})

	f.deleteAndWait("gl")
	pvc := &corev1.PersistentVolumeClaim{}
	if err := f.get("data-gl-0", pvc); err != nil || pvc.DeletionTimestamp != nil {
		t.Fatalf("the PVC did not survive: %v %v", err, pvc.DeletionTimestamp)
	}
	for _, name := range []string{"gl-admin-token", "gl-root-password"} {
		sec := &corev1.Secret{}
		if err := f.get(name, sec); err != nil || sec.DeletionTimestamp != nil || len(sec.OwnerReferences) != 0 {
			t.Fatalf("Secret %s did not survive as unowned: %v %v", name, err, sec.OwnerReferences)
		}
	}

	// Re-created: the same Secrets (same values) are used again.
	f.create(f.newGitLab("gl"))
	gl := &gitlabv1beta1.GitLab{}
	f.eventually("status naming the Secrets", func() error {
		if err := f.get("gl", gl); err != nil {
			return err
		}
		if gl.Status.AdminTokenSecret != "gl-admin-token" || gl.Status.RootPasswordSecret != "gl-root-password" {
			return fmt.Errorf("status %+v", gl.Status)
		}
		return nil
	})
	tok2, root2 := &corev1.Secret{}, &corev1.Secret{}
	if err := f.get("gl-admin-token", tok2); err != nil {
		t.Fatal(err)
	}
	if err := f.get("gl-root-password", root2); err != nil {
		t.Fatal(err)
	}
	if string(tok2.Data["token"]) != string(tok.Data["token"]) || string(root2.Data["password"]) != string(root.Data["password"]) {
		t.Error("re-created GitLab generated new secrets instead of reusing the retained ones")
	}
}

// TestDeleteRemovesVolumesAndSecrets: with retentionPolicy Delete the
// generated Secrets are owned, and deleting the GitLab removes the PVCs
// and the Secrets (explicitly: envtest has no garbage collector).
func TestDeleteRemovesVolumesAndSecrets(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.create(f.newGitLab("gl", func(gl *gitlabv1beta1.GitLab) { gl.Spec.Storage.RetentionPolicy = "Delete" }))
	sts := &appsv1.StatefulSet{}
	f.eventually("the StatefulSet", func() error { return f.get("gl", sts) })
	if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		t.Errorf("retention %+v", p)
	}
	gl := &gitlabv1beta1.GitLab{}
	if err := f.get("gl", gl); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gl-admin-token", "gl-root-password"} {
		sec := &corev1.Secret{}
		f.eventually("Secret "+name, func() error { return f.get(name, sec) })
		if !metav1.IsControlledBy(sec, gl) {
			t.Errorf("Secret %s is not owned with Delete", name)
		}
	}
	f.pvc("gl", "data")
	f.pvc("gl", "config")

	f.deleteAndWait("gl")
	for _, name := range []string{"data-gl-0", "config-gl-0"} {
		pvc := &corev1.PersistentVolumeClaim{}
		// The pvc-protection finalizer keeps a deleted claim until the
		// controller manager (absent here) clears it: being deleted counts.
		if err := f.get(name, pvc); err == nil && pvc.DeletionTimestamp == nil {
			t.Errorf("PVC %s was not deleted", name)
		}
	}
	for _, name := range []string{"gl-admin-token", "gl-root-password"} {
		if err := f.get(name, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("Secret %s was not deleted: %v", name, err)
		}
	}
}

// TestMissingRootPasswordSecretStalls: a referenced Secret that does not
// exist (or holds a too short password) stalls with a condition naming the
// fix, deploys nothing, and recovers once fixed.
func TestMissingRootPasswordSecretStalls(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.create(f.newGitLab("gl", func(gl *gitlabv1beta1.GitLab) {
		gl.Spec.RootPassword = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "my-root"}, Key: "pw"}
	}))
	gl := f.waitCondition("gl", gitlabv1beta1.ConditionReady, metav1.ConditionFalse, gitlabv1beta1.ReasonSecretNotFound)
	deg := condition(gl, gitlabv1beta1.ConditionDegraded)
	if deg == nil || deg.Status != metav1.ConditionTrue || !strings.Contains(deg.Message, `"my-root"`) || !strings.Contains(deg.Message, "create it") {
		t.Errorf("Degraded %+v", deg)
	}
	if gl.Status.Phase != gitlabv1beta1.PhaseFailed {
		t.Errorf("phase %s", gl.Status.Phase)
	}
	if err := f.get("gl", &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
		t.Errorf("a StatefulSet was deployed with a missing Secret: %v", err)
	}

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "my-root", Namespace: f.ns}, Data: map[string][]byte{"pw": []byte("abc12")}}
	f.create(sec)
	f.poke("gl")
	gl = f.waitCondition("gl", gitlabv1beta1.ConditionDegraded, metav1.ConditionTrue, gitlabv1beta1.ReasonInvalidSpec)
	if c := condition(gl, gitlabv1beta1.ConditionDegraded); strings.Contains(c.Message, "abc12") {
		t.Errorf("the message reveals the password: %s", c.Message)
	}

	sec.Data["pw"] = []byte("a-long-enough-password")
	if err := k8s.Update(f.ctx, sec); err != nil {
		t.Fatal(err)
	}
	f.poke("gl")
	gl = f.waitCondition("gl", gitlabv1beta1.ConditionDegraded, metav1.ConditionFalse, gitlabv1beta1.ReasonAsExpected)
	if gl.Status.RootPasswordSecret != "my-root" {
		t.Errorf("rootPasswordSecret %q", gl.Status.RootPasswordSecret)
	}
	f.eventually("the StatefulSet", func() error { return f.get("gl", &appsv1.StatefulSet{}) })
	if err := f.get("gl-root-password", &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("a root password was generated although the user supplies one: %v", err)
	}
}

// TestVersionChanges: a downgrade and a jump over a required upgrade stop
// are refused with conditions naming the fix, and the instance keeps its
// version; an allowed upgrade rolls out.
func TestVersionChanges(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.fake.SetVersion("18.6.1", "abc")
	f.create(f.newGitLab("gl"))
	f.seedAdminToken("gl")
	f.eventually("status.version", func() error {
		if v := f.gitlab("gl").Status.Version; v != "18.6.1" {
			return fmt.Errorf("version %q", v)
		}
		return nil
	})
	image := func() string {
		sts := &appsv1.StatefulSet{}
		if err := f.get("gl", sts); err != nil {
			t.Fatal(err)
		}
		return sts.Spec.Template.Spec.Containers[0].Image
	}

	f.update("gl", func(gl *gitlabv1beta1.GitLab) { gl.Spec.Version = "18.5.0" })
	gl := f.waitCondition("gl", gitlabv1beta1.ConditionDegraded, metav1.ConditionTrue, gitlabv1beta1.ReasonDowngradeRefused)
	if c := condition(gl, gitlabv1beta1.ConditionReady); c.Reason != gitlabv1beta1.ReasonDowngradeRefused || !strings.Contains(c.Message, "18.6.1") {
		t.Errorf("Ready %+v", c)
	}
	if img := image(); img != "docker.io/gitlab/gitlab-ce:18.6.1-ce.0" {
		t.Errorf("image changed on a refused downgrade: %s", img)
	}
	// The running instance keeps serving Runners.
	if !isTrue(gl, gitlabv1beta1.ConditionAdminTokenReady) {
		t.Errorf("AdminTokenReady dropped on a refused downgrade: %+v", condition(gl, gitlabv1beta1.ConditionAdminTokenReady))
	}

	f.update("gl", func(gl *gitlabv1beta1.GitLab) { gl.Spec.Version = "18.9.0" })
	gl = f.waitCondition("gl", gitlabv1beta1.ConditionDegraded, metav1.ConditionTrue, gitlabv1beta1.ReasonUpgradePathBlocked)
	if c := condition(gl, gitlabv1beta1.ConditionDegraded); !strings.Contains(c.Message, "required upgrade stop 18.8") {
		t.Errorf("the stop is not named: %s", c.Message)
	}
	if img := image(); img != "docker.io/gitlab/gitlab-ce:18.6.1-ce.0" {
		t.Errorf("image changed on a blocked upgrade: %s", img)
	}

	f.update("gl", func(gl *gitlabv1beta1.GitLab) { gl.Spec.Version = "18.8.2" })
	gl = f.waitCondition("gl", gitlabv1beta1.ConditionProgressing, metav1.ConditionTrue, gitlabv1beta1.ReasonUpgrading)
	if c := condition(gl, gitlabv1beta1.ConditionDegraded); c.Status != metav1.ConditionFalse {
		t.Errorf("Degraded after an allowed upgrade: %+v", c)
	}
	if img := image(); img != "docker.io/gitlab/gitlab-ce:18.8.2-ce.0" {
		t.Errorf("image %s", img)
	}
}

func isTrue(gl *gitlabv1beta1.GitLab, t string) bool {
	c := condition(gl, t)
	return c != nil && c.Status == metav1.ConditionTrue
}

// TestAdminTokenRotation: close to its expiry the admin token gets a new
// value, and the pod template's config hash changes so the pod restarts
// and the seed script creates it in GitLab.
func TestAdminTokenRotation(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.create(f.newGitLab("gl"))
	old := &corev1.Secret{}
	sts := &appsv1.StatefulSet{}
	f.eventually("the StatefulSet", func() error {
		if err := f.get("gl-admin-token", old); err != nil {
			return err
		}
		return f.get("gl", sts)
	})
	oldHash := sts.Spec.Template.Annotations[gitlabbuild.AnnotationConfigHash]
	exp, ok := gitlabbuild.TokenExpiry(old)
	if !ok {
		t.Fatalf("no expiry in %v", old.Data)
	}

	f.clock.Set(exp.Add(-20 * 24 * time.Hour))
	f.poke("gl")
	cur := &corev1.Secret{}
	f.eventually("a new token", func() error {
		if err := f.get("gl-admin-token", cur); err != nil {
			return err
		}
		if string(cur.Data["token"]) == string(old.Data["token"]) {
			return fmt.Errorf("token unchanged")
		}
		return nil
	})
	if newExp, _ := gitlabbuild.TokenExpiry(cur); !newExp.After(exp) {
		t.Errorf("new expiry %s is not after %s", newExp, exp)
	}
	f.eventually("the pod template to change", func() error {
		if err := f.get("gl", sts); err != nil {
			return err
		}
		if sts.Spec.Template.Annotations[gitlabbuild.AnnotationConfigHash] == oldHash {
			return fmt.Errorf("config hash unchanged")
		}
		return nil
	})
}

// TestCRDRejectsBadInput: what the schema can check is refused by the API
// server, before the controller sees it.
func TestCRDRejectsBadInput(t *testing.T) {
	t.Parallel()
	f := &fixture{t: t, ns: "default", ctx: t.Context()}
	tests := []struct {
		name   string
		mutate func(*gitlabv1beta1.GitLab)
	}{
		{"no url", func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = "" }},
		{"not a url", func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = "gitlab example com" }},
		{"ftp url", func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = "ftp://gitlab.example.com" }},
		{"no host", func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = "https://" }},
		{"unknown edition", func(gl *gitlabv1beta1.GitLab) { gl.Spec.Edition = "xe" }},
		{"short version", func(gl *gitlabv1beta1.GitLab) { gl.Spec.Version = "18.6" }},
		{"unknown retention", func(gl *gitlabv1beta1.GitLab) { gl.Spec.Storage.RetentionPolicy = "Keep" }},
	}
	for i, tt := range tests {
		gl := f.newGitLab(fmt.Sprintf("bad-%d", i), tt.mutate)
		if err := k8s.Create(f.ctx, gl); !apierrors.IsInvalid(err) {
			t.Errorf("%s: got %v, want a validation error", tt.name, err)
		}
	}
}

// TestKeepImmutableLeavesUnchangedClaimsAlone: claim templates as the API
// server returns them (defaulted) must not change the desired object, or
// every GitLab would get one needless StatefulSet write after creation; a
// changed size must not reach the immutable templates.
func TestKeepImmutableLeavesUnchangedClaimsAlone(t *testing.T) {
	gl := &gitlabv1beta1.GitLab{
		ObjectMeta: metav1.ObjectMeta{Name: "gl", Namespace: "ns"},
		Spec:       gitlabv1beta1.GitLabSpec{URL: "https://gitlab.example.com"},
	}
	existing := gitlabbuild.StatefulSet(gl, gitlabbuild.Inputs{})
	for i := range existing.Spec.VolumeClaimTemplates {
		c := &existing.Spec.VolumeClaimTemplates[i]
		c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
		c.Status.Phase = corev1.ClaimPending
	}
	desired := gitlabbuild.StatefulSet(gl, gitlabbuild.Inputs{})
	want, _ := apply.Hash(gitlabbuild.StatefulSet(gl, gitlabbuild.Inputs{}))
	if got, _ := apply.Hash(keepImmutable(desired, existing)); got != want {
		t.Error("defaulted claim templates changed the desired StatefulSet")
	}

	gl.Spec.Storage.DataSize = ptr.To(resource.MustParse("500Gi"))
	out := keepImmutable(gitlabbuild.StatefulSet(gl, gitlabbuild.Inputs{}), existing)
	for _, c := range out.Spec.VolumeClaimTemplates {
		if q := c.Spec.Resources.Requests[corev1.ResourceStorage]; c.Name == "data" && q.String() != "50Gi" {
			t.Errorf("a new size reached the immutable claim templates: %s", q.String())
		}
	}
}
