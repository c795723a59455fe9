package gitlabbuild

import (
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
)

// Default sizes and resources, used when the spec leaves them out.
var (
	DefaultConfigSize = resource.MustParse("1Gi")
	DefaultDataSize   = resource.MustParse("50Gi")
	DefaultLogsSize   = resource.MustParse("5Gi")
	// DefaultResources request GitLab's documented minimum (2 CPUs, 4 GiB)
	// and allow bursts to 10 GiB: the first reconfigure and migrations
	// peak well above the steady state, and a pod has no swap.
	DefaultResources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("2"),
			corev1.ResourceMemory: resource.MustParse("4Gi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("10Gi"),
		},
	}
)

// Probe budget. The first start runs reconfigure, all migrations and the
// seeds, then the token seed; upgrades run migrations again. The startup
// probe allows 30 minutes for that before liveness takes over.
const (
	startupPeriodSeconds     = 10
	startupFailureThreshold  = 180
	terminationGraceSeconds  = 180
	probeTimeoutSeconds      = 10
	shmSize                  = "256Mi"
	secretModeOwnerOnly      = int32(0o400)
	secretModeWorldReadable  = int32(0o444)
	configModeWorldReadable  = int32(0o444)
	curlPath                 = "/opt/gitlab/embedded/bin/curl"
	disableOpenSSHEnvVarName = "GITLAB_DISABLE_OPENSSH"
)

// Resources returns spec.resources or the defaults.
func Resources(gl *gitlabv1beta1.GitLab) corev1.ResourceRequirements {
	if gl.Spec.Resources != nil {
		return *gl.Spec.Resources.DeepCopy()
	}
	return *DefaultResources.DeepCopy()
}

// PVCRetentionPolicy maps retentionPolicy onto the StatefulSet's own PVC
// retention: Retain keeps the claims when the StatefulSet is deleted or
// scaled down, Delete lets Kubernetes remove them.
func PVCRetentionPolicy(gl *gitlabv1beta1.GitLab) *appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	p := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if !RetainData(gl) {
		p = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	}
	return &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: p, WhenScaled: p}
}

// StatefulSet runs the Omnibus image as a single replica: every volume is
// ReadWriteOnce and Omnibus is not built to run twice on the same data.
//
// No secret enters the pod spec: passwords and the admin token are Secret
// volumes read by gitlab.rb (File.read) and by the seed script; the
// environment only names files and scripts.
func StatefulSet(gl *gitlabv1beta1.GitLab, in Inputs) *appsv1.StatefulSet {
	version := in.Version
	if version == "" {
		version = DesiredVersion(gl)
	}
	sel := labels.Selector(labels.ComponentGitLab, gl.Name)
	podLabels := labels.For(labels.ComponentGitLab, gl.Name)
	rel := RelativePath(gl)

	env := []corev1.EnvVar{
		{Name: "GITLAB_OMNIBUS_CONFIG", Value: "from_file('" + ConfigDir + "/" + ConfigKeyGitLabRB + "')"},
		{Name: "GITLAB_POST_RECONFIGURE_SCRIPT", Value: PostReconfigureScript()},
	}
	ports := []corev1.ContainerPort{{Name: "http", ContainerPort: HTTPPort, Protocol: corev1.ProtocolTCP}}
	if sshEnabled(gl) {
		ports = append(ports, corev1.ContainerPort{Name: "ssh", ContainerPort: SSHContainerPort, Protocol: corev1.ProtocolTCP})
	} else {
		// Honoured from GitLab 18.7; older images start sshd regardless,
		// which is harmless as nothing routes to it.
		env = append(env, corev1.EnvVar{Name: disableOpenSSHEnvVarName, Value: "true"})
	}

	rootRef := RootPasswordRef(gl)
	volumes := []corev1.Volume{
		{Name: "operator-config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(gl)},
			// bootstrap.rb is read by gitlab-rails runner, which runs as
			// the git user, not root.
			DefaultMode: ptr.To(configModeWorldReadable),
		}}},
		secretVolume("root-password", rootRef.Name, rootRef.Key, secretModeOwnerOnly),
		{Name: "admin-token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: AdminTokenSecretName(gl),
			Items: []corev1.KeyToPath{
				{Key: KeyToken, Path: KeyToken},
				{Key: KeyExpiresAt, Path: KeyExpiresAt},
			},
			// Read by the seed script as the git user. Everything in this
			// container can reach the database, which is more than the
			// token grants, so world-readable inside it exposes nothing new.
			DefaultMode: ptr.To(secretModeWorldReadable),
		}}},
		{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse(shmSize)),
		}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: VolumeConfig, MountPath: "/etc/gitlab"},
		{Name: VolumeData, MountPath: "/var/opt/gitlab"},
		{Name: VolumeLogs, MountPath: "/var/log/gitlab"},
		{Name: "shm", MountPath: "/dev/shm"},
		{Name: "operator-config", MountPath: ConfigDir, ReadOnly: true},
		{Name: "root-password", MountPath: RootPasswordDir, ReadOnly: true},
		{Name: "admin-token", MountPath: AdminTokenDir, ReadOnly: true},
	}
	// Passwords of external services are read by reconfigure, as root.
	if db := gl.Spec.Database; db != nil {
		volumes = append(volumes, secretVolume("db-password", db.PasswordSecret.Name, keyOr(db.PasswordSecret.Key), secretModeOwnerOnly))
		mounts = append(mounts, corev1.VolumeMount{Name: "db-password", MountPath: DatabasePasswordDir, ReadOnly: true})
	}
	if rd := gl.Spec.Redis; rd != nil && rd.PasswordSecret != nil {
		volumes = append(volumes, secretVolume("redis-password", rd.PasswordSecret.Name, keyOr(rd.PasswordSecret.Key), secretModeOwnerOnly))
		mounts = append(mounts, corev1.VolumeMount{Name: "redis-password", MountPath: RedisPasswordDir, ReadOnly: true})
	}
	if smtp := gl.Spec.SMTP; smtp != nil && smtp.PasswordSecret != nil {
		volumes = append(volumes, secretVolume("smtp-password", smtp.PasswordSecret.Name, keyOr(smtp.PasswordSecret.Key), secretModeOwnerOnly))
		mounts = append(mounts, corev1.VolumeMount{Name: "smtp-password", MountPath: SMTPPasswordDir, ReadOnly: true})
	}

	// Omnibus runs as root and drops to its own users (git, gitlab-psql,
	// ...) through runit; on OpenShift that needs the anyuid SCC.
	sc := &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)}
	podSC := &corev1.PodSecurityContext{}
	if !in.OpenShift {
		// OpenShift's anyuid SCC allows no explicit seccomp profile.
		podSC.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}

	container := corev1.Container{
		Name:            ContainerName,
		Image:           Image(gl, in.Images, version),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Env:             env,
		Ports:           ports,
		VolumeMounts:    mounts,
		Resources:       Resources(gl),
		SecurityContext: sc,
		StartupProbe: &corev1.Probe{
			ProbeHandler:     curlProbe(rel + "/-/liveness"),
			PeriodSeconds:    startupPeriodSeconds,
			TimeoutSeconds:   probeTimeoutSeconds,
			FailureThreshold: startupFailureThreshold,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:     curlProbe(rel + "/-/liveness"),
			PeriodSeconds:    30,
			TimeoutSeconds:   probeTimeoutSeconds,
			FailureThreshold: 6,
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     curlProbe(rel + "/-/readiness"),
			PeriodSeconds:    15,
			TimeoutSeconds:   probeTimeoutSeconds,
			FailureThreshold: 3,
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}

	sts := &appsv1.StatefulSet{
		ObjectMeta: objectMeta(gl, StatefulSetName(gl)),
		Spec: appsv1.StatefulSetSpec{
			Replicas:                             ptr.To[int32](1),
			ServiceName:                          HeadlessServiceName(gl),
			Selector:                             &metav1.LabelSelector{MatchLabels: sel},
			PodManagementPolicy:                  appsv1.OrderedReadyPodManagement,
			UpdateStrategy:                       appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			PersistentVolumeClaimRetentionPolicy: PVCRetentionPolicy(gl),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{
				claimTemplate(gl, VolumeConfig, gl.Spec.Storage.ConfigSize, DefaultConfigSize),
				claimTemplate(gl, VolumeData, gl.Spec.Storage.DataSize, DefaultDataSize),
				claimTemplate(gl, VolumeLogs, gl.Spec.Storage.LogsSize, DefaultLogsSize),
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels,
					Annotations: map[string]string{AnnotationConfigHash: ConfigHash(gl, in)},
				},
				Spec: corev1.PodSpec{
					ServiceAccountName: ServiceAccountName(gl),
					// GitLab never talks to the Kubernetes API.
					AutomountServiceAccountToken: ptr.To(false),
					// Service links would add an environment variable per
					// Service in the namespace; a Service named redis or
					// postgresql would then shadow Omnibus's own settings.
					EnableServiceLinks:            ptr.To(false),
					Containers:                    []corev1.Container{container},
					Volumes:                       volumes,
					SecurityContext:               podSC,
					TerminationGracePeriodSeconds: ptr.To[int64](terminationGraceSeconds),
					NodeSelector:                  maps.Clone(gl.Spec.NodeSelector),
					Tolerations:                   slices.Clone(gl.Spec.Tolerations),
					Affinity:                      gl.Spec.Affinity.DeepCopy(),
				},
			},
		},
	}
	sts.Annotations = map[string]string{AnnotationVersion: version}
	return sts
}

// curlProbe runs curl inside the container against NGINX on localhost, so
// GitLab's monitoring allowlist can stay at localhost.
func curlProbe(path string) corev1.ProbeHandler {
	return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{
		curlPath, "--fail", "--silent", "--show-error", "--max-time", "5", "--output", "/dev/null",
		"http://127.0.0.1:80" + path,
	}}}
}

func claimTemplate(gl *gitlabv1beta1.GitLab, name string, size *resource.Quantity, def resource.Quantity) corev1.PersistentVolumeClaim {
	q := def
	if size != nil && !size.IsZero() {
		q = *size
	}
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels.For(labels.ComponentGitLab, gl.Name)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: gl.Spec.Storage.StorageClassName,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}},
		},
	}
}

func secretVolume(name, secret, key string, mode int32) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName:  secret,
		Items:       []corev1.KeyToPath{{Key: key, Path: PasswordFile}},
		DefaultMode: ptr.To(mode),
	}}}
}

// keyOr defaults an empty Secret key selector key to "password".
func keyOr(key string) string {
	if key == "" {
		return KeyPassword
	}
	return key
}
