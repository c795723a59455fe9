package gitlabbuild

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
)

func TestRandomString(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		s, err := RandomString(AdminTokenLength)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != AdminTokenLength || strings.Trim(s, alphanumeric) != "" {
			t.Fatalf("%q is not %d alphanumerics", s, AdminTokenLength)
		}
		if seen[s] {
			t.Fatal("repeated value")
		}
		seen[s] = true
	}
}

func TestGeneratedSecrets(t *testing.T) {
	gl := newGitLab()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok, err := NewAdminTokenSecret(gl, now)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name != "gl-admin-token" || len(tok.Data[KeyToken]) != AdminTokenLength {
		t.Errorf("token secret %s", tok.Name)
	}
	if got := string(tok.Data[KeyExpiresAt]); got != "2027-02-28" {
		t.Errorf("expires-at %s", got)
	}
	if tok.Labels[labels.ManagedByKey] != labels.ManagedByValue {
		t.Error("admin token Secret is not labelled: the Runner controller's cache would not see it")
	}
	if rev := TokenRevision(tok); rev == "" || strings.Contains(string(tok.Data[KeyToken]), rev) {
		t.Errorf("revision %q", rev)
	}
	root, err := NewRootPasswordSecret(gl)
	if err != nil {
		t.Fatal(err)
	}
	if root.Name != "gl-root-password" || len(root.Data[KeyPassword]) != RootPasswordLength {
		t.Errorf("root secret %s", root.Name)
	}
	if len(tok.OwnerReferences) != 0 || len(root.OwnerReferences) != 0 {
		t.Error("builders must not decide ownership; the retention policy does")
	}
}

func TestNeedsRotation(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	secret := func(tok, exp string) *corev1.Secret {
		return &corev1.Secret{Data: map[string][]byte{KeyToken: []byte(tok), KeyExpiresAt: []byte(exp)}}
	}
	good := strings.Repeat("a", AdminTokenLength)
	tests := []struct {
		name string
		s    *corev1.Secret
		want bool
	}{
		{"fresh", secret(good, "2027-02-28"), false},
		{"31 days left", secret(good, "2026-04-01"), false},
		{"30 days left", secret(good, "2026-03-31"), true},
		{"expired", secret(good, "2026-01-01"), true},
		{"no expiry", secret(good, ""), true},
		{"garbage expiry", secret(good, "soon"), true},
		{"short token", secret("abc", "2027-02-28"), true},
	}
	for _, tt := range tests {
		if got := NeedsRotation(tt.s, now, DefaultRotateBefore); got != tt.want {
			t.Errorf("%s: got %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestRootPasswordRef(t *testing.T) {
	if ref := RootPasswordRef(newGitLab()); ref.Name != "gl-root-password" || ref.Key != KeyPassword {
		t.Errorf("generated ref %+v", ref)
	}
	user := newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.RootPassword = ptr.To(secretRef("mine", "pw")) })
	if ref := RootPasswordRef(user); ref.Name != "mine" || ref.Key != "pw" {
		t.Errorf("user ref %+v", ref)
	}
}

func TestNamesAreDeterministic(t *testing.T) {
	gl := newGitLab()
	got := []string{
		StatefulSetName(gl), ServiceName(gl), HeadlessServiceName(gl), ConfigMapName(gl), ServiceAccountName(gl),
		SCCRoleBindingName(gl), IngressName(gl), RouteName(gl), AdminTokenSecretName(gl),
		GeneratedRootPasswordSecretName(gl), PVCName(gl, VolumeData),
	}
	want := []string{"gl", "gl", "gl-headless", "gl-omnibus", "gl-gitlab", "gl-gitlab-anyuid", "gl", "gl", "gl-admin-token", "gl-root-password", "data-gl-0"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("names %v, want %v", got, want)
	}
	if !RetainData(gl) {
		t.Error("default retention is not Retain")
	}
	if RetainData(newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.Storage.RetentionPolicy = "Delete" })) {
		t.Error("Delete retains")
	}
}
