package gitlabbuild

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
)

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func TestStatefulSetKeepsSecretsOutOfEnvAndArgs(t *testing.T) {
	gl := fullGitLab()
	root, err := NewRootPasswordSecret(gl)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewAdminTokenSecret(gl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in := Inputs{ExtraConfig: "gitlab_rails['time_zone'] = 'UTC'", TokenRevision: TokenRevision(tok)}
	sts := StatefulSet(gl, in)
	cm := ConfigMap(gl, in)

	c := sts.Spec.Template.Spec.Containers[0]
	if len(c.Command) != 0 || len(c.Args) != 0 {
		t.Errorf("container overrides command/args: %v %v", c.Command, c.Args)
	}
	if len(c.EnvFrom) != 0 {
		t.Errorf("container has envFrom: %v", c.EnvFrom)
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("env %s is taken from a reference: secrets must be files", e.Name)
		}
	}
	for _, obj := range []any{sts, cm} {
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{string(root.Data[KeyPassword]), string(tok.Data[KeyToken])} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%T contains a secret value", obj)
			}
		}
	}

	// Every secret arrives as a Secret volume mounted read-only below
	// MountRoot.
	wantSecrets := map[string]string{
		"my-root": RootPasswordDir, "gl-admin-token": AdminTokenDir, "pg": DatabasePasswordDir,
		"redis": RedisPasswordDir, "smtp": SMTPPasswordDir,
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		dir, ok := wantSecrets[v.Secret.SecretName]
		if !ok {
			t.Errorf("unexpected Secret volume %s", v.Secret.SecretName)
			continue
		}
		delete(wantSecrets, v.Secret.SecretName)
		if m := mounts[v.Name]; m.MountPath != dir || !m.ReadOnly {
			t.Errorf("Secret %s mounted at %q (read-only %t), want %s", v.Secret.SecretName, m.MountPath, m.ReadOnly, dir)
		}
	}
	if len(wantSecrets) != 0 {
		t.Errorf("Secrets not mounted: %v", wantSecrets)
	}
}

func TestStatefulSetSecretFileLayout(t *testing.T) {
	sts := StatefulSet(fullGitLab(), Inputs{})
	items := map[string][]corev1.KeyToPath{}
	modes := map[string]int32{}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			items[v.Secret.SecretName] = v.Secret.Items
			modes[v.Secret.SecretName] = *v.Secret.DefaultMode
		}
	}
	if got := items["my-root"]; len(got) != 1 || got[0].Key != "pw" || got[0].Path != PasswordFile {
		t.Errorf("root password items %v: the user's key must appear as file %q", got, PasswordFile)
	}
	if got := items["gl-admin-token"]; len(got) != 2 || got[0].Path != KeyToken || got[1].Path != KeyExpiresAt {
		t.Errorf("admin token items %v", got)
	}
	if modes["gl-admin-token"] != 0o444 {
		t.Errorf("admin token mode %o: the seed script runs as git and must read it", modes["gl-admin-token"])
	}
	for _, s := range []string{"my-root", "pg", "redis", "smtp"} {
		if modes[s] != 0o400 {
			t.Errorf("%s mode %o, want 0400 (read by reconfigure as root)", s, modes[s])
		}
	}
}

func TestStatefulSet(t *testing.T) {
	tests := []struct {
		name  string
		gl    *gitlabv1beta1.GitLab
		in    Inputs
		check func(t *testing.T, sts *appsv1.StatefulSet)
	}{
		{
			name: "defaults",
			gl:   newGitLab(),
			check: func(t *testing.T, sts *appsv1.StatefulSet) {
				spec := sts.Spec
				if *spec.Replicas != 1 {
					t.Errorf("replicas %d", *spec.Replicas)
				}
				c := spec.Template.Spec.Containers[0]
				if want := "docker.io/gitlab/gitlab-ce:" + images.DefaultGitLabVersion + "-ce.0"; c.Image != want {
					t.Errorf("image %s, want %s", c.Image, want)
				}
				if sts.Annotations[AnnotationVersion] != images.DefaultGitLabVersion {
					t.Errorf("version annotation %q", sts.Annotations[AnnotationVersion])
				}
				if spec.ServiceName != "gl-headless" {
					t.Errorf("serviceName %s", spec.ServiceName)
				}
				want := map[string]string{"config": "1Gi", "data": "50Gi", "logs": "5Gi"}
				for _, pvc := range spec.VolumeClaimTemplates {
					q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
					if q.String() != want[pvc.Name] {
						t.Errorf("%s size %s, want %s", pvc.Name, q.String(), want[pvc.Name])
					}
					if pvc.Spec.StorageClassName != nil {
						t.Errorf("%s has a storage class", pvc.Name)
					}
					if pvc.Labels[labels.ManagedByKey] != labels.ManagedByValue || pvc.Labels[labels.InstanceKey] != "gl" {
						t.Errorf("%s labels %v", pvc.Name, pvc.Labels)
					}
					delete(want, pvc.Name)
				}
				if len(want) != 0 {
					t.Errorf("missing claim templates %v", want)
				}
				if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType || p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
					t.Errorf("retention %+v, want Retain/Retain", p)
				}
				if v, _ := envValue(c, "GITLAB_OMNIBUS_CONFIG"); v != "from_file('/etc/gitlab-operator/config/gitlab.rb')" {
					t.Errorf("GITLAB_OMNIBUS_CONFIG %q", v)
				}
				if v, _ := envValue(c, "GITLAB_POST_RECONFIGURE_SCRIPT"); v != PostReconfigureScript() {
					t.Errorf("GITLAB_POST_RECONFIGURE_SCRIPT %q", v)
				}
				if v, _ := envValue(c, "GITLAB_DISABLE_OPENSSH"); v != "true" {
					t.Errorf("sshd not disabled: %q", v)
				}
				if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 80 {
					t.Errorf("ports %v", c.Ports)
				}
				for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
					if p == nil || p.Exec == nil {
						t.Errorf("%s probe is not exec", name)
						continue
					}
					cmd := strings.Join(p.Exec.Command, " ")
					if !strings.HasPrefix(cmd, "/opt/gitlab/embedded/bin/curl ") || !strings.Contains(cmd, "http://127.0.0.1:80/-/") {
						t.Errorf("%s probe %q", name, cmd)
					}
				}
				if !strings.HasSuffix(strings.Join(c.ReadinessProbe.Exec.Command, " "), "/-/readiness") {
					t.Error("readiness probe does not check /-/readiness")
				}
				if got := c.StartupProbe.PeriodSeconds * c.StartupProbe.FailureThreshold; got < 15*60 {
					t.Errorf("startup budget %ds is shorter than a first boot", got)
				}
				pod := spec.Template.Spec
				if pod.ServiceAccountName != "gl-gitlab" || *pod.AutomountServiceAccountToken {
					t.Errorf("service account %s automount %v", pod.ServiceAccountName, *pod.AutomountServiceAccountToken)
				}
				if pod.SecurityContext.SeccompProfile == nil {
					t.Error("no seccomp profile off OpenShift")
				}
				if *c.SecurityContext.RunAsUser != 0 {
					t.Error("Omnibus must start as root")
				}
				if spec.Template.Annotations[AnnotationConfigHash] == "" {
					t.Error("no config hash on the pod template")
				}
				for k, v := range labels.Selector(labels.ComponentGitLab, "gl") {
					if spec.Template.Labels[k] != v || spec.Selector.MatchLabels[k] != v {
						t.Errorf("selector label %s missing", k)
					}
				}
				if r := c.Resources.Requests[corev1.ResourceMemory]; r.String() != "4Gi" {
					t.Errorf("memory request %s", r.String())
				}
			},
		},
		{
			name: "enterprise edition and version",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.Edition = "ee"
				gl.Spec.Version = "18.2.3"
			}),
			in: Inputs{Images: images.Images{GitLabEE: "mirror.local/gitlab-ee"}},
			check: func(t *testing.T, sts *appsv1.StatefulSet) {
				if img := sts.Spec.Template.Spec.Containers[0].Image; img != "mirror.local/gitlab-ee:18.2.3-ee.0" {
					t.Errorf("image %s", img)
				}
			},
		},
		{
			name: "inputs version wins (refused upgrade keeps the running one)",
			gl:   newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.Version = "18.9.0" }),
			in:   Inputs{Version: "18.6.1"},
			check: func(t *testing.T, sts *appsv1.StatefulSet) {
				if img := sts.Spec.Template.Spec.Containers[0].Image; img != "docker.io/gitlab/gitlab-ce:18.6.1-ce.0" {
					t.Errorf("image %s", img)
				}
				if sts.Annotations[AnnotationVersion] != "18.6.1" {
					t.Errorf("version annotation %s", sts.Annotations[AnnotationVersion])
				}
			},
		},
		{
			name: "image override and digest-pinned default",
			gl:   newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.Image = "registry.local/gl:custom" }),
			check: func(t *testing.T, sts *appsv1.StatefulSet) {
				if img := sts.Spec.Template.Spec.Containers[0].Image; img != "registry.local/gl:custom" {
					t.Errorf("image %s", img)
				}
				if img := Image(newGitLab(), images.Images{GitLabCE: "quay.io/x/gitlab-ce@sha256:abc"}, "18.6.1"); img != "quay.io/x/gitlab-ce@sha256:abc" {
					t.Errorf("pinned image %s", img)
				}
			},
		},
		{
			name: "storage and retention Delete",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.Storage = gitlabv1beta1.StorageSpec{
					StorageClassName: ptr.To("fast"), DataSize: ptr.To(resource.MustParse("200Gi")), RetentionPolicy: "Delete",
				}
			}),
			check: func(t *testing.T, sts *appsv1.StatefulSet) {
				for _, pvc := range sts.Spec.VolumeClaimTemplates {
					if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "fast" {
						t.Errorf("%s storage class %v", pvc.Name, pvc.Spec.StorageClassName)
					}
					if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; pvc.Name == "data" && q.String() != "200Gi" {
						t.Errorf("data size %s", q.String())
					}
				}
				if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.DeletePersistentVolumeClaimRetentionPolicyType || p.WhenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
					t.Errorf("retention %+v, want Delete/Delete", p)
				}
			},
		},
		{
			name: "ssh on and relative url root",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.URL = "https://example.com/gitlab"
				gl.Spec.SSH = &gitlabv1beta1.SSHSpec{Enabled: true, Port: 2222}
			}),
			check: func(t *testing.T, sts *appsv1.StatefulSet) {
				c := sts.Spec.Template.Spec.Containers[0]
				if _, ok := envValue(c, "GITLAB_DISABLE_OPENSSH"); ok {
					t.Error("sshd disabled although SSH is on")
				}
				if len(c.Ports) != 2 || c.Ports[1].ContainerPort != 22 {
					t.Errorf("ports %v", c.Ports)
				}
				if cmd := strings.Join(c.ReadinessProbe.Exec.Command, " "); !strings.HasSuffix(cmd, "http://127.0.0.1:80/gitlab/-/readiness") {
					t.Errorf("readiness probe ignores the relative root: %s", cmd)
				}
			},
		},
		{
			name: "openshift leaves seccomp to the SCC",
			gl:   newGitLab(),
			in:   Inputs{OpenShift: true},
			check: func(t *testing.T, sts *appsv1.StatefulSet) {
				if sts.Spec.Template.Spec.SecurityContext.SeccompProfile != nil {
					t.Error("seccomp profile set on OpenShift")
				}
			},
		},
		{
			name: "scheduling",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.NodeSelector = map[string]string{"disk": "ssd"}
				gl.Spec.Tolerations = []corev1.Toleration{{Key: "gitlab", Operator: corev1.TolerationOpExists}}
			}),
			check: func(t *testing.T, sts *appsv1.StatefulSet) {
				pod := sts.Spec.Template.Spec
				if pod.NodeSelector["disk"] != "ssd" || len(pod.Tolerations) != 1 {
					t.Errorf("scheduling not passed through: %v %v", pod.NodeSelector, pod.Tolerations)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, StatefulSet(tt.gl, tt.in))
		})
	}
}

func TestStatefulSetRollsOnConfigAndTokenChange(t *testing.T) {
	gl := newGitLab()
	hash := func(in Inputs) string {
		return StatefulSet(gl, in).Spec.Template.Annotations[AnnotationConfigHash]
	}
	base := hash(Inputs{TokenRevision: "r1"})
	if base != hash(Inputs{TokenRevision: "r1"}) {
		t.Fatal("hash not stable")
	}
	if base == hash(Inputs{TokenRevision: "r2"}) {
		t.Error("rotating the admin token does not roll the pod")
	}
	if base == hash(Inputs{TokenRevision: "r1", ExtraConfig: "a = 1"}) {
		t.Error("changing gitlab.rb does not roll the pod")
	}
}
