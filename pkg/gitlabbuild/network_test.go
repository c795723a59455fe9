package gitlabbuild

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
)

func TestExposureFor(t *testing.T) {
	tests := []struct {
		name     string
		enabled  *bool
		routeAPI bool
		want     Exposure
	}{
		{"plain kubernetes", nil, false, ExposeIngress},
		{"openshift picks a route", nil, true, ExposeRoute},
		{"ingress forced on openshift", ptr.To(true), true, ExposeIngress},
		{"nothing on openshift", ptr.To(false), true, ExposeNone},
		{"nothing on kubernetes", ptr.To(false), false, ExposeNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gl := newGitLab(func(gl *gitlabv1beta1.GitLab) {
				if tt.enabled != nil {
					gl.Spec.Ingress = &gitlabv1beta1.IngressSpec{Enabled: tt.enabled}
				}
			})
			if got := ExposureFor(gl, tt.routeAPI); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestService(t *testing.T) {
	svc := Service(newGitLab())
	if svc.Name != "gl" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("service %s ports %v", svc.Name, svc.Spec.Ports)
	}
	if svc.Labels[labels.ManagedByKey] != labels.ManagedByValue {
		t.Errorf("labels %v", svc.Labels)
	}
	ssh := Service(newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.SSH = &gitlabv1beta1.SSHSpec{Enabled: true, Port: 2222} }))
	if len(ssh.Spec.Ports) != 2 || ssh.Spec.Ports[1].Port != 2222 || ssh.Spec.Ports[1].TargetPort.StrVal != "ssh" {
		t.Errorf("ssh ports %v", ssh.Spec.Ports)
	}
	h := HeadlessService(newGitLab())
	if h.Name != "gl-headless" || h.Spec.ClusterIP != "None" {
		t.Errorf("headless %s %s", h.Name, h.Spec.ClusterIP)
	}
}

func TestInternalURL(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://gitlab.example.com", "http://gl.team-a.svc:80"},
		{"https://gitlab.example.com/", "http://gl.team-a.svc:80"},
		{"https://example.com/gitlab", "http://gl.team-a.svc:80/gitlab"},
		{"http://example.com:8080/a/b/", "http://gl.team-a.svc:80/a/b"},
	}
	for _, tt := range tests {
		gl := newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = tt.url })
		if got := InternalURL(gl); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.url, got, tt.want)
		}
	}
}

func TestIngress(t *testing.T) {
	gl := newGitLab(func(gl *gitlabv1beta1.GitLab) {
		gl.Spec.URL = "https://example.com/gitlab"
		gl.Spec.Ingress = &gitlabv1beta1.IngressSpec{
			ClassName:     ptr.To("nginx"),
			TLSSecretName: "gl-tls",
			Annotations:   map[string]string{"cert-manager.io/cluster-issuer": "le", "nginx.ingress.kubernetes.io/proxy-body-size": "1g"},
		}
	})
	ing := Ingress(gl)
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("class %v", ing.Spec.IngressClassName)
	}
	rule := ing.Spec.Rules[0]
	p := rule.HTTP.Paths[0]
	if rule.Host != "example.com" || p.Path != "/gitlab" || *p.PathType != networkingv1.PathTypePrefix ||
		p.Backend.Service.Name != "gl" || p.Backend.Service.Port.Name != "http" {
		t.Errorf("rule %+v", rule)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "gl-tls" || ing.Spec.TLS[0].Hosts[0] != "example.com" {
		t.Errorf("tls %+v", ing.Spec.TLS)
	}
	if ing.Annotations["cert-manager.io/cluster-issuer"] != "le" || ing.Annotations["nginx.ingress.kubernetes.io/proxy-body-size"] != "1g" {
		t.Errorf("user annotations not applied or not winning: %v", ing.Annotations)
	}
	plain := Ingress(newGitLab())
	if plain.Spec.IngressClassName != nil || plain.Spec.TLS != nil || plain.Spec.Rules[0].HTTP.Paths[0].Path != "/" {
		t.Errorf("default ingress %+v", plain.Spec)
	}
}

func TestRoute(t *testing.T) {
	gl := newGitLab(func(gl *gitlabv1beta1.GitLab) {
		gl.Spec.URL = "https://example.com/gitlab"
		gl.Spec.Ingress = &gitlabv1beta1.IngressSpec{Annotations: map[string]string{"a": "b"}}
	})
	r := Route(gl)
	if r.GroupVersionKind() != RouteGVK || r.GetName() != "gl" || r.GetNamespace() != "team-a" {
		t.Fatalf("route %v %s/%s", r.GroupVersionKind(), r.GetNamespace(), r.GetName())
	}
	str := func(path ...string) string {
		v, _, _ := unstructured.NestedString(r.Object, path...)
		return v
	}
	if str("spec", "host") != "example.com" || str("spec", "path") != "/gitlab" || str("spec", "to", "name") != "gl" ||
		str("spec", "port", "targetPort") != "http" {
		t.Errorf("route spec %v", r.Object["spec"])
	}
	if str("spec", "tls", "termination") != "edge" || str("spec", "tls", "insecureEdgeTerminationPolicy") != "Redirect" {
		t.Errorf("route tls %v", r.Object["spec"])
	}
	if r.GetAnnotations()["a"] != "b" || r.GetLabels()[labels.ManagedByKey] != labels.ManagedByValue {
		t.Errorf("metadata %v %v", r.GetAnnotations(), r.GetLabels())
	}
	plain := Route(newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = "http://example.com" }))
	if _, found, _ := unstructured.NestedMap(plain.Object, "spec", "tls"); found {
		t.Error("http URL got a TLS route")
	}
	if _, found, _ := unstructured.NestedString(plain.Object, "spec", "path"); found {
		t.Error("root URL got a route path")
	}
}

func TestServiceAccountAndSCCBinding(t *testing.T) {
	gl := newGitLab()
	sa := ServiceAccount(gl)
	rb := SCCRoleBinding(gl)
	if sa.Name != "gl-gitlab" || *sa.AutomountServiceAccountToken {
		t.Errorf("sa %s", sa.Name)
	}
	if rb.RoleRef.Kind != "ClusterRole" || rb.RoleRef.Name != "system:openshift:scc:anyuid" ||
		rb.Subjects[0].Name != sa.Name || rb.Subjects[0].Namespace != "team-a" {
		t.Errorf("binding %+v", rb)
	}
}
