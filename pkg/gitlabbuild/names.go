// Package gitlabbuild turns a GitLab resource, and what the controller
// resolved for it, into the desired child objects of an Omnibus GitLab
// instance: the rendered gitlab.rb, the StatefulSet, Services, Ingress or
// Route, ServiceAccount and the generated Secrets. It also holds the version
// upgrade-path check.
//
// Every function here is pure: the same inputs always give the same
// objects, so the controller can compare against what exists and write
// only when something changed. Secret values never pass through this
// package except into the generated Secrets themselves: the rendered
// configuration and the pod spec only ever name files.
package gitlabbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
)

// Paths inside the GitLab container. The operator's inputs live under their
// own directory, away from the three Omnibus volumes (/etc/gitlab,
// /var/opt/gitlab, /var/log/gitlab), so nothing the operator mounts can be
// mistaken for state.
const (
	// MountRoot is where every operator input is mounted.
	MountRoot = "/etc/gitlab-operator"
	// ConfigDir holds gitlab.rb and bootstrap.rb from the ConfigMap.
	ConfigDir = MountRoot + "/config"
	// RootPasswordDir holds the file "password".
	RootPasswordDir = MountRoot + "/root"
	// AdminTokenDir holds the files "token" and "expires-at".
	AdminTokenDir = MountRoot + "/token"
	// DatabasePasswordDir holds the external PostgreSQL password file.
	DatabasePasswordDir = MountRoot + "/db"
	// RedisPasswordDir holds the external Redis password file.
	RedisPasswordDir = MountRoot + "/redis"
	// SMTPPasswordDir holds the SMTP password file.
	SMTPPasswordDir = MountRoot + "/smtp"
	// PasswordFile is the file name of every mounted password.
	PasswordFile = "password"

	// ConfigKeyGitLabRB is the ConfigMap key (and file) of the rendered
	// gitlab.rb.
	ConfigKeyGitLabRB = "gitlab.rb"
	// ConfigKeyBootstrap is the ConfigMap key (and file) of the admin
	// token seed script.
	ConfigKeyBootstrap = "bootstrap.rb"
	// ExtraConfigKey is the key of the user's extra gitlab.rb lines in the
	// ConfigMap named by spec.extraConfig.
	ExtraConfigKey = "gitlab.rb"

	// ContainerName is the GitLab container's name.
	ContainerName = "gitlab"
	// HTTPPort is where Omnibus's NGINX listens inside the pod. TLS ends at
	// the Ingress or Route, so the pod serves plain HTTP.
	HTTPPort = 80
	// SSHContainerPort is where the image's sshd listens.
	SSHContainerPort = 22
	// ServicePort is the HTTP port of the Service.
	ServicePort = 80
)

// Keys of the generated Secrets.
const (
	// KeyPassword is the root password key of the generated root Secret.
	KeyPassword = "password"
	// KeyToken is the admin token key. The Runner controller reads it from
	// the Secret named in status.adminTokenSecret.
	KeyToken = "token"
	// KeyExpiresAt is the admin token's expiry date (YYYY-MM-DD), read by
	// the seed script so GitLab and the operator agree on it.
	KeyExpiresAt = "expires-at"
)

// Annotations the builders set.
const (
	// AnnotationConfigHash on the pod template rolls the pod when the
	// rendered configuration or the admin token changes: Omnibus applies
	// configuration, and seeds the token, only when the container starts.
	AnnotationConfigHash = "gitlab.com/config-hash"
	// AnnotationVersion on the StatefulSet records the GitLab version the
	// operator rolled out, the "from" side of the next upgrade check.
	AnnotationVersion = "gitlab.com/version"
)

// Volume claim template names; the PVCs are <name>-<gitlab>-0.
const (
	VolumeConfig = "config"
	VolumeData   = "data"
	VolumeLogs   = "logs"
)

// Inputs is everything besides the GitLab resource that the builders need.
type Inputs struct {
	// Images are the default images.
	Images images.Images
	// Version is the GitLab version to run. Empty means spec.version or
	// the operator's default; the controller sets it to the running
	// version when an upgrade is refused, so the instance stays as it is.
	Version string
	// OpenShift leaves the seccomp profile to the SCC (anyuid allows none
	// to be set explicitly).
	OpenShift bool
	// ExtraConfig is the content of the user's extra gitlab.rb, appended
	// after the operator's own lines.
	ExtraConfig string
	// TokenRevision identifies the current admin token without revealing
	// it (its expiry); a change rolls the pod so the new token is seeded.
	TokenRevision string
}

// Names of the children of a GitLab. They are derived from the GitLab's
// name only, so a re-created GitLab finds (and with Retain, reattaches)
// what an earlier one left behind.

// StatefulSetName names the StatefulSet; its pod is <name>-0.
func StatefulSetName(gl *gitlabv1beta1.GitLab) string { return gl.Name }

// ServiceName names the ClusterIP Service behind status.internalURL.
func ServiceName(gl *gitlabv1beta1.GitLab) string { return gl.Name }

// HeadlessServiceName names the StatefulSet's governing Service.
func HeadlessServiceName(gl *gitlabv1beta1.GitLab) string { return gl.Name + "-headless" }

// ConfigMapName names the ConfigMap with gitlab.rb and the seed script.
func ConfigMapName(gl *gitlabv1beta1.GitLab) string { return gl.Name + "-omnibus" }

// ServiceAccountName names the GitLab pod's ServiceAccount.
func ServiceAccountName(gl *gitlabv1beta1.GitLab) string { return gl.Name + "-gitlab" }

// SCCRoleBindingName names the RoleBinding to the anyuid SCC (OpenShift).
func SCCRoleBindingName(gl *gitlabv1beta1.GitLab) string { return gl.Name + "-gitlab-anyuid" }

// IngressName names the Ingress.
func IngressName(gl *gitlabv1beta1.GitLab) string { return gl.Name }

// RouteName names the OpenShift Route.
func RouteName(gl *gitlabv1beta1.GitLab) string { return gl.Name }

// AdminTokenSecretName names the Secret with the operator's admin token
// (published in status.adminTokenSecret).
func AdminTokenSecretName(gl *gitlabv1beta1.GitLab) string { return gl.Name + "-admin-token" }

// GeneratedRootPasswordSecretName is the Secret the operator generates when
// spec.rootPassword is not set.
func GeneratedRootPasswordSecretName(gl *gitlabv1beta1.GitLab) string {
	return gl.Name + "-root-password"
}

// RootPasswordRef is the Secret key that holds the root password: the
// user's, or the generated one.
func RootPasswordRef(gl *gitlabv1beta1.GitLab) corev1.SecretKeySelector {
	if gl.Spec.RootPassword != nil && gl.Spec.RootPassword.Name != "" {
		ref := *gl.Spec.RootPassword.DeepCopy()
		if ref.Key == "" {
			ref.Key = KeyPassword
		}
		return ref
	}
	return corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: GeneratedRootPasswordSecretName(gl)},
		Key:                  KeyPassword,
	}
}

// PVCName is the name of the PersistentVolumeClaim the StatefulSet creates
// from the named claim template.
func PVCName(gl *gitlabv1beta1.GitLab, volume string) string {
	return volume + "-" + StatefulSetName(gl) + "-0"
}

// RetainData reports whether volumes and generated Secrets outlive the
// GitLab (retentionPolicy Retain, the default).
func RetainData(gl *gitlabv1beta1.GitLab) bool {
	return gl.Spec.Storage.RetentionPolicy != "Delete"
}

// Edition returns ce or ee (default ce).
func Edition(gl *gitlabv1beta1.GitLab) string {
	if gl.Spec.Edition == "ee" {
		return "ee"
	}
	return "ce"
}

// DesiredVersion is spec.version, or the operator's default.
func DesiredVersion(gl *gitlabv1beta1.GitLab) string {
	if gl.Spec.Version != "" {
		return gl.Spec.Version
	}
	return images.DefaultGitLabVersion
}

// Image returns the Omnibus image for version: spec.image when set, else
// <repository>:<version>-<edition>.0 (the Omnibus tag scheme). A default
// repository pinned by digest (RELATED_IMAGE_GITLAB_* with @sha256:) is
// used as is.
func Image(gl *gitlabv1beta1.GitLab, imgs images.Images, version string) string {
	if gl.Spec.Image != "" {
		return gl.Spec.Image
	}
	imgs = imgs.WithDefaults()
	repo := imgs.GitLabCE
	if Edition(gl) == "ee" {
		repo = imgs.GitLabEE
	}
	// The RELATED_IMAGE_* reference (tag or digest) is the image of the
	// default version: that is what a disconnected cluster mirrors. Other
	// versions use the same repository with GitLab's tag scheme.
	if version == images.DefaultGitLabVersion && repo != images.Repository(repo) {
		return repo
	}
	return fmt.Sprintf("%s:%s-%s.0", images.Repository(repo), version, Edition(gl))
}

// ExternalURL parses spec.url. The CRD validates it; a parse error here
// means validation was bypassed.
func ExternalURL(gl *gitlabv1beta1.GitLab) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(gl.Spec.URL), "/"))
	if err != nil {
		return nil, fmt.Errorf("spec.url %q is not a URL: %w", gl.Spec.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("spec.url %q must be an http:// or https:// URL with a host", gl.Spec.URL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("spec.url %q must not have a query, fragment or user info", gl.Spec.URL)
	}
	return u, nil
}

// RelativePath is the path part of spec.url ("" or "/gitlab"): GitLab
// serves everything, health checks and the API included, below it.
func RelativePath(gl *gitlabv1beta1.GitLab) string {
	u, err := ExternalURL(gl)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}

// InternalURL is how workloads in the cluster reach the instance: the
// Service, plain HTTP, under the same relative path as the external URL.
func InternalURL(gl *gitlabv1beta1.GitLab) string {
	return fmt.Sprintf("http://%s.%s.svc:%d%s", ServiceName(gl), gl.Namespace, ServicePort, RelativePath(gl))
}

// objectMeta is the metadata of every child: name, namespace and the
// operator's labels (the manager's cache sees only labelled objects).
func objectMeta(gl *gitlabv1beta1.GitLab, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: gl.Namespace,
		Labels:    labels.For(labels.ComponentGitLab, gl.Name),
	}
}

// Hash returns a short, stable hash of the given parts.
func Hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		_, _ = fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
