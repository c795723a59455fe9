package gitlabbuild

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
)

// AnyUIDClusterRole is the ClusterRole OpenShift ships for using the anyuid
// SCC ("use" on securitycontextconstraints/anyuid).
const AnyUIDClusterRole = "system:openshift:scc:anyuid"

// ServiceAccount is the GitLab pod's own identity, so the anyuid SCC is
// granted to this pod only and not to everything in the namespace that runs
// as "default".
func ServiceAccount(gl *gitlabv1beta1.GitLab) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta:                   objectMeta(gl, ServiceAccountName(gl)),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// SCCRoleBinding lets the GitLab ServiceAccount use the anyuid SCC. The
// Omnibus image must start as root (it switches to its own fixed users
// through runit), which no restricted SCC allows. A RoleBinding to the
// shipped ClusterRole keeps the grant inside the namespace.
func SCCRoleBinding(gl *gitlabv1beta1.GitLab) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: objectMeta(gl, SCCRoleBindingName(gl)),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: AnyUIDClusterRole},
		Subjects: []rbacv1.Subject{{
			Kind: rbacv1.ServiceAccountKind, Name: ServiceAccountName(gl), Namespace: gl.Namespace,
		}},
	}
}
