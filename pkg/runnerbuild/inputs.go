// Package runnerbuild turns a Runner and what the controller resolved for it
// into the desired child objects. Every function here is pure: the same
// inputs always give the same objects, so the controller can compare
// against what exists and write only when something changed.
package runnerbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	corev1 "k8s.io/api/core/v1"
	"strings"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
)

// Ports and paths inside the runner pod.
const (
	MetricsPort     = 9252
	MetricsPortName = "metrics"
	ConfigDir       = "/etc/gitlab-runner"
	SecretMountDir  = "/var/run/gitlab-runner/config"
	CAMountDir      = "/var/run/gitlab-runner/ca"
	HomeDir         = "/home/gitlab-runner"
	CAFileName      = "ca.crt"
	ContainerName   = "runner"
)

// Inputs is everything besides the Runner that the builders need.
type Inputs struct {
	// Images are the default images.
	Images images.Images
	// OpenShift omits runAsUser so the restricted-v2 SCC can assign one.
	OpenShift bool
	// CAKey is the key of the CA Secret that holds the bundle ("" = no CA).
	CAKey string
	// ProxyEnv are the cluster's proxy settings (HTTP_PROXY, HTTPS_PROXY,
	// NO_PROXY and lower-case forms) that OLM hands the operator; runner
	// pods get them too.
	ProxyEnv []corev1.EnvVar
	// ConfigHash is the hash of the rendered config.toml; only settings
	// that need a restart (listen address) are in it, see PodRestartHash.
	ConfigHash string
}

// Names of the children of a Runner. They are derived from the Runner's
// name only, so a restarted operator finds what it created.
func ConfigSecretName(r *gitlabv1beta1.Runner) string   { return r.Name + "-runner" }
func ServiceAccountName(r *gitlabv1beta1.Runner) string { return r.Name + "-runner" }
func RoleName(r *gitlabv1beta1.Runner) string           { return r.Name + "-runner" }
func DeploymentName(r *gitlabv1beta1.Runner) string     { return r.Name + "-runner" }
func MetricsServiceName(r *gitlabv1beta1.Runner) string { return r.Name + "-runner-metrics" }

// JobNamespace is where job pods run.
func JobNamespace(r *gitlabv1beta1.Runner) string {
	if r.Spec.JobNamespace != "" {
		return r.Spec.JobNamespace
	}
	return r.Namespace
}

// Description is the runner's description in GitLab.
func Description(r *gitlabv1beta1.Runner) string {
	if r.Spec.Description != "" {
		return r.Spec.Description
	}
	return r.Namespace + "/" + r.Name
}

// Tags splits spec.tags on commas, trimming blanks and dropping empties.
func Tags(r *gitlabv1beta1.Runner) []string {
	var out []string
	for _, t := range strings.Split(r.Spec.Tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// Replicas returns the manager replica count (default 1).
func Replicas(r *gitlabv1beta1.Runner) int32 {
	if r.Spec.Replicas != nil {
		return *r.Spec.Replicas
	}
	return 1
}

// SystemID is the runner manager identity of a single-replica Runner. It is
// derived from the Runner's UID, so every pod of it, across restarts and
// rollouts, is the same runner manager in GitLab. Replicas beyond one derive
// theirs from the pod name (see the container script).
func SystemID(r *gitlabv1beta1.Runner) string {
	sum := sha256.Sum256([]byte("gitlab-operator/" + string(r.UID)))
	return "s_" + hex.EncodeToString(sum[:])[:12]
}

// PodSystemID is the system id of one pod of a multi-replica Runner; the
// container script computes the same value from its own pod name.
func PodSystemID(podName string) string {
	sum := sha256.Sum256([]byte(podName))
	return "s_" + hex.EncodeToString(sum[:])[:12]
}

// Hash returns a short stable hash of the given parts.
func Hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		_, _ = fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
