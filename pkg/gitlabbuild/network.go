package gitlabbuild

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
)

// RouteGVK is OpenShift's Route kind, handled as unstructured so the
// operator does not depend on OpenShift's Go types.
var RouteGVK = schema.GroupVersionKind{Group: "route.openshift.io", Version: "v1", Kind: "Route"}

// Exposure says how the instance is reachable from outside the cluster.
type Exposure string

const (
	// ExposeNone creates neither an Ingress nor a Route.
	ExposeNone Exposure = "None"
	// ExposeIngress creates an Ingress.
	ExposeIngress Exposure = "Ingress"
	// ExposeRoute creates an OpenShift Route.
	ExposeRoute Exposure = "Route"
)

// ExposureFor picks the exposure: spec.ingress.enabled decides when set
// (true: an Ingress even on OpenShift, false: nothing); otherwise a Route
// when the Route API exists, else an Ingress.
func ExposureFor(gl *gitlabv1beta1.GitLab, routeAPI bool) Exposure {
	if in := gl.Spec.Ingress; in != nil && in.Enabled != nil {
		if *in.Enabled {
			return ExposeIngress
		}
		return ExposeNone
	}
	if routeAPI {
		return ExposeRoute
	}
	return ExposeIngress
}

// Service is the instance's in-cluster address: HTTP on port 80, and SSH
// when enabled. status.internalURL points at it.
func Service(gl *gitlabv1beta1.GitLab) *corev1.Service {
	ports := []corev1.ServicePort{{
		Name: "http", Port: ServicePort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
	}}
	if sshEnabled(gl) {
		ports = append(ports, corev1.ServicePort{
			Name: "ssh", Port: sshPort(gl), TargetPort: intstr.FromString("ssh"), Protocol: corev1.ProtocolTCP,
		})
	}
	return &corev1.Service{
		ObjectMeta: objectMeta(gl, ServiceName(gl)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: labels.Selector(labels.ComponentGitLab, gl.Name),
			Ports:    ports,
		},
	}
}

// HeadlessService governs the StatefulSet (its serviceName), giving the pod
// a stable DNS name.
func HeadlessService(gl *gitlabv1beta1.GitLab) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: objectMeta(gl, HeadlessServiceName(gl)),
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  labels.Selector(labels.ComponentGitLab, gl.Name),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: ServicePort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
			}},
			// The StatefulSet's DNS record should exist while the pod
			// starts, which takes minutes with Omnibus.
			PublishNotReadyAddresses: true,
		},
	}
}

// defaultIngressAnnotations let git pushes and large uploads through
// NGINX-based Ingress controllers (others ignore them); the user's
// annotations override them.
var defaultIngressAnnotations = map[string]string{
	"nginx.ingress.kubernetes.io/proxy-body-size":    "0",
	"nginx.ingress.kubernetes.io/proxy-read-timeout": "600",
}

// Ingress routes the external URL's host and path to the Service. With
// ingress.tlsSecretName it terminates TLS with that certificate.
func Ingress(gl *gitlabv1beta1.GitLab) *networkingv1.Ingress {
	u, _ := ExternalURL(gl)
	host := ""
	if u != nil {
		host = u.Hostname()
	}
	path := RelativePath(gl)
	if path == "" {
		path = "/"
	}
	ann := maps.Clone(defaultIngressAnnotations)
	ing := &networkingv1.Ingress{
		ObjectMeta: objectMeta(gl, IngressName(gl)),
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     path,
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: ServiceName(gl), Port: networkingv1.ServiceBackendPort{Name: "http"},
						}},
					}},
				}},
			}},
		},
	}
	if spec := gl.Spec.Ingress; spec != nil {
		maps.Copy(ann, spec.Annotations)
		if spec.ClassName != nil && *spec.ClassName != "" {
			ing.Spec.IngressClassName = ptr.To(*spec.ClassName)
		}
		if spec.TLSSecretName != "" {
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: spec.TLSSecretName}}
		}
	}
	ing.Annotations = ann
	return ing
}

// Route exposes the instance on OpenShift. For an https URL the router
// terminates TLS (edge) with its default certificate and redirects plain
// HTTP; the pod itself serves HTTP. A longer router timeout lets large
// pushes and API calls finish.
func Route(gl *gitlabv1beta1.GitLab) *unstructured.Unstructured {
	u, _ := ExternalURL(gl)
	host, scheme := "", "https"
	if u != nil {
		host, scheme = u.Hostname(), u.Scheme
	}
	spec := map[string]any{
		"host": host,
		"to":   map[string]any{"kind": "Service", "name": ServiceName(gl), "weight": int64(100)},
		"port": map[string]any{"targetPort": "http"},
	}
	if p := RelativePath(gl); p != "" {
		spec["path"] = p
	}
	if scheme == "https" {
		spec["tls"] = map[string]any{
			"termination":                   "edge",
			"insecureEdgeTerminationPolicy": "Redirect",
		}
	}
	ann := map[string]string{"haproxy.router.openshift.io/timeout": "600s"}
	if gl.Spec.Ingress != nil {
		maps.Copy(ann, gl.Spec.Ingress.Annotations)
	}
	r := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	r.SetGroupVersionKind(RouteGVK)
	r.SetName(RouteName(gl))
	r.SetNamespace(gl.Namespace)
	r.SetLabels(labels.For(labels.ComponentGitLab, gl.Name))
	r.SetAnnotations(ann)
	return r
}

// EmptyRoute is a Route object to read or delete into.
func EmptyRoute() *unstructured.Unstructured {
	r := &unstructured.Unstructured{}
	r.SetGroupVersionKind(RouteGVK)
	return r
}
