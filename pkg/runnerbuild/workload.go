package runnerbuild

import (
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
)

// AnnotationConfigHash on the pod template rolls the pods when settings that
// the runner cannot reload change. Everything else in config.toml reaches
// the running process through the Secret volume and gitlab-runner's own
// reload, without killing running jobs.
const AnnotationConfigHash = "gitlab.com/restart-hash"

func meta(r *gitlabv1beta1.Runner, name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: namespace,
		Labels:    labels.For(labels.ComponentRunner, r.Name),
	}
}

// ServiceAccount is the identity of the runner manager pod.
func ServiceAccount(r *gitlabv1beta1.Runner) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta:                   meta(r, ServiceAccountName(r), r.Namespace),
		AutomountServiceAccountToken: ptr.To(true),
	}
}

// Role grants the runner manager exactly what the Kubernetes executor uses
// in the job namespace: creating job pods and their secrets, config maps
// and services, attaching to and exec'ing into them, and reading their logs
// and events.
func Role(r *gitlabv1beta1.Runner) *rbacv1.Role {
	return &rbacv1.Role{
		ObjectMeta: meta(r, RoleName(r), JobNamespace(r)),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "delete", "get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"pods/attach", "pods/exec"}, Verbs: []string{"create", "get", "patch", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps"}, Verbs: []string{"create", "delete", "get", "update"}},
			{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"create", "delete", "get"}},
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list", "watch"}},
		},
	}
}

// RoleBinding binds Role to the runner's ServiceAccount.
func RoleBinding(r *gitlabv1beta1.Runner) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: meta(r, RoleName(r), JobNamespace(r)),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: RoleName(r)},
		Subjects: []rbacv1.Subject{{
			Kind: rbacv1.ServiceAccountKind, Name: ServiceAccountName(r), Namespace: r.Namespace,
		}},
	}
}

// MetricsEnabled reports whether runner metrics are exposed (default on).
func MetricsEnabled(r *gitlabv1beta1.Runner) bool {
	return r.Spec.Metrics == nil || r.Spec.Metrics.Enabled == nil || *r.Spec.Metrics.Enabled
}

// MetricsService exposes the runner's Prometheus endpoint.
func MetricsService(r *gitlabv1beta1.Runner) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: meta(r, MetricsServiceName(r), r.Namespace),
		Spec: corev1.ServiceSpec{
			Selector: labels.Selector(labels.ComponentRunner, r.Name),
			Ports: []corev1.ServicePort{{
				Name: MetricsPortName, Port: MetricsPort, TargetPort: intstr.FromString(MetricsPortName), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

// ServiceMonitor returns a Prometheus Operator ServiceMonitor for the
// metrics Service, as unstructured so the operator does not depend on the
// Prometheus Operator's Go types.
func ServiceMonitor(r *gitlabv1beta1.Runner) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("monitoring.coreos.com/v1")
	u.SetKind("ServiceMonitor")
	u.SetName(MetricsServiceName(r))
	u.SetNamespace(r.Namespace)
	u.SetLabels(labels.For(labels.ComponentRunner, r.Name))
	sel := map[string]any{}
	for k, v := range labels.For(labels.ComponentRunner, r.Name) {
		sel[k] = v
	}
	u.Object["spec"] = map[string]any{
		"selector":  map[string]any{"matchLabels": sel},
		"endpoints": []any{map[string]any{"port": MetricsPortName, "interval": "30s"}},
	}
	return u
}

// runScript starts gitlab-runner with config.toml from the Secret volume
// (a symlink, so the runner's 3-second reload sees Secret updates) and a
// stable system id: the runner writes .runner_system_id next to its config
// and would otherwise invent a new runner manager on every start.
const runScript = `set -eu
ln -sf ` + SecretMountDir + `/config.toml ` + ConfigDir + `/config.toml
if [ ! -s ` + ConfigDir + `/.runner_system_id ]; then
  if [ -n "${RUNNER_SYSTEM_ID:-}" ]; then id="$RUNNER_SYSTEM_ID"
  else id="s_$(printf %s "$POD_NAME" | sha256sum | cut -c1-12)"; fi
  printf %s "$id" > ` + ConfigDir + `/.runner_system_id
fi
exec gitlab-runner run --working-directory ` + HomeDir + ` --config ` + ConfigDir + `/config.toml
`

// Deployment runs the runner manager pods.
func Deployment(r *gitlabv1beta1.Runner, in Inputs) *appsv1.Deployment {
	sel := labels.Selector(labels.ComponentRunner, r.Name)
	podLabels := maps.Clone(r.Spec.PodLabels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, labels.For(labels.ComponentRunner, r.Name))
	podAnnotations := maps.Clone(r.Spec.PodAnnotations)
	if podAnnotations == nil {
		podAnnotations = map[string]string{}
	}
	if in.ConfigHash != "" {
		podAnnotations[AnnotationConfigHash] = in.ConfigHash
	}

	image := r.Spec.RunnerImage
	if image == "" {
		image = in.Images.Runner
	}
	// Later entries win over earlier ones with the same name: the user's
	// env may override the cluster proxy, and nothing may override the
	// variables the runner's identity depends on, which come last.
	var env []corev1.EnvVar
	env = append(env, in.ProxyEnv...)
	env = append(env, r.Spec.Env...)
	env = append(env, cacheEnv(r)...)
	env = append(env,
		corev1.EnvVar{Name: "HOME", Value: HomeDir},
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	)
	if Replicas(r) <= 1 {
		env = append(env, corev1.EnvVar{Name: "RUNNER_SYSTEM_ID", Value: SystemID(r)})
	} else {
		// An empty value makes the script derive the id from the pod name.
		env = append(env, corev1.EnvVar{Name: "RUNNER_SYSTEM_ID", Value: ""})
	}
	var envFrom []corev1.EnvFromSource
	if r.Spec.EnvConfigMap != "" {
		envFrom = append(envFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: r.Spec.EnvConfigMap},
		}})
	}

	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: ConfigSecretName(r), DefaultMode: ptr.To[int32](0o400),
			Items: []corev1.KeyToPath{{Key: KeyConfigTOML, Path: "config.toml"}},
		}}},
		{Name: "runtime", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: SecretMountDir, ReadOnly: true},
		{Name: "runtime", MountPath: ConfigDir},
		{Name: "home", MountPath: HomeDir},
		{Name: "tmp", MountPath: "/tmp"},
	}
	if r.Spec.CA != "" && in.CAKey != "" {
		volumes = append(volumes, corev1.Volume{Name: "ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: r.Spec.CA, Items: []corev1.KeyToPath{{Key: in.CAKey, Path: CAFileName}},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "ca", MountPath: CAMountDir, ReadOnly: true})
	}
	if gcsKeyFile(r) {
		volumes = append(volumes, corev1.Volume{Name: "gcs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: r.Spec.Cache.GCS.Credentials, Items: []corev1.KeyToPath{{Key: "keys.json", Path: "keys.json"}},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "gcs", MountPath: gcsMountDir, ReadOnly: true})
	}

	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	podSC := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if !in.OpenShift {
		// The gitlab-runner image's own user; on OpenShift the SCC assigns
		// a UID from the namespace's range instead.
		sc.RunAsUser = ptr.To[int64](999)
		podSC.RunAsUser = ptr.To[int64](999)
		podSC.FSGroup = ptr.To[int64](999)
	}

	probe := &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/metrics", Port: intstr.FromString(MetricsPortName)}},
		PeriodSeconds:    20,
		TimeoutSeconds:   5,
		FailureThreshold: 3,
	}
	resources := corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
	}}
	if r.Spec.Resources != nil {
		resources = *r.Spec.Resources.DeepCopy()
	}
	grace := int64(3600)
	if r.Spec.TerminationGracePeriodSeconds != nil {
		grace = *r.Spec.TerminationGracePeriodSeconds
	}
	pullPolicy := r.Spec.ImagePullPolicy
	if pullPolicy == "" {
		pullPolicy = corev1.PullIfNotPresent
	}

	container := corev1.Container{
		Name:            ContainerName,
		Image:           image,
		ImagePullPolicy: pullPolicy,
		Command:         []string{"/bin/sh", "-c", runScript},
		Env:             env,
		EnvFrom:         envFrom,
		Ports:           []corev1.ContainerPort{{Name: MetricsPortName, ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP}},
		VolumeMounts:    mounts,
		Resources:       resources,
		SecurityContext: sc,
		LivenessProbe:   probe,
		ReadinessProbe:  probe.DeepCopy(),
		StartupProbe: &corev1.Probe{
			ProbeHandler:     probe.ProbeHandler,
			PeriodSeconds:    5,
			FailureThreshold: 60,
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		// gitlab-runner aborts running jobs on SIGTERM and lets them finish
		// on SIGQUIT. The hook asks for the graceful stop and waits, within
		// the termination grace period, until the runner has exited.
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
			Command: []string{"/bin/sh", "-c", "kill -QUIT 1; while kill -0 1 2>/dev/null; do sleep 1; done"},
		}}},
	}

	return &appsv1.Deployment{
		ObjectMeta: meta(r, DeploymentName(r), r.Namespace),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(Replicas(r)),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			// A new pod must not start before the old one stopped: both
			// would be the same runner manager and pick jobs concurrently.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec: corev1.PodSpec{
					ServiceAccountName:            ServiceAccountName(r),
					Containers:                    []corev1.Container{container},
					Volumes:                       volumes,
					SecurityContext:               podSC,
					TerminationGracePeriodSeconds: ptr.To(grace),
					ImagePullSecrets:              slices.Clone(r.Spec.ImagePullSecrets),
					NodeSelector:                  maps.Clone(r.Spec.NodeSelector),
					Tolerations:                   slices.Clone(r.Spec.Tolerations),
					Affinity:                      r.Spec.Affinity.DeepCopy(),
					PriorityClassName:             r.Spec.PriorityClassName,
				},
			},
		},
	}
}

const gcsMountDir = "/var/run/gitlab-runner/gcs"

func gcsKeyFile(r *gitlabv1beta1.Runner) bool {
	c := r.Spec.Cache
	return c != nil && c.Type == "gcs" && c.GCS != nil && c.GCS.Credentials != "" && c.GCS.CredentialsFile
}

// cacheEnv passes cache credentials as environment variables read from the
// user's Secret, so they never enter config.toml.
func cacheEnv(r *gitlabv1beta1.Runner) []corev1.EnvVar {
	c := r.Spec.Cache
	if c == nil {
		return nil
	}
	ref := func(name, secret, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
		}}}
	}
	switch {
	case c.Type == "s3" && c.S3 != nil && c.S3.Credentials != "":
		return []corev1.EnvVar{
			ref("CACHE_S3_ACCESS_KEY", c.S3.Credentials, "accesskey"),
			ref("CACHE_S3_SECRET_KEY", c.S3.Credentials, "secretkey"),
		}
	case c.Type == "gcs" && c.GCS != nil && c.GCS.Credentials != "":
		if c.GCS.CredentialsFile {
			return []corev1.EnvVar{{Name: "GOOGLE_APPLICATION_CREDENTIALS", Value: gcsMountDir + "/keys.json"}}
		}
		return []corev1.EnvVar{
			ref("CACHE_GCS_ACCESS_ID", c.GCS.Credentials, "access-id"),
			ref("CACHE_GCS_PRIVATE_KEY", c.GCS.Credentials, "private-key"),
		}
	case c.Type == "azure" && c.Azure != nil && c.Azure.Credentials != "":
		return []corev1.EnvVar{
			ref("CACHE_AZURE_ACCOUNT_NAME", c.Azure.Credentials, "accountName"),
			ref("CACHE_AZURE_ACCOUNT_KEY", c.Azure.Credentials, "privateKey"),
		}
	}
	return nil
}
