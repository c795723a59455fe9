package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GitLabReference says which GitLab a Runner registers with: an external
// instance by URL, or an instance this operator manages by name.
//
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.url)",message="exactly one of gitlab.name and gitlab.url must be set"
type GitLabReference struct {
	// Name of a GitLab resource in the Runner's namespace. The operator reads
	// the instance's internal URL and admin token from its status; no token
	// is needed from the user.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Managed GitLab name"
	Name string `json:"name,omitempty"`

	// URL of an external GitLab, for example https://gitlab.com. Must be
	// http or https; a path is allowed (https://example.com/gitlab).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && size(url(self).getHostname()) > 0",message="gitlab.url must be an http:// or https:// URL with a host"
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="GitLab URL"
	URL string `json:"url,omitempty"`

	// InsecureSkipTLSVerify disables certificate verification for the
	// operator's and the runner's calls to GitLab. Never use it in
	// production: prefer spec.ca. The operator logs a warning each time it
	// builds a client with it.
	// +optional
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
}

// RunnerSpec is the desired state of a Runner.
//
// +kubebuilder:validation:XValidation:rule="!has(self.gitlab.url) || (has(self.token) && size(self.token) > 0)",message="token is required with gitlab.url: name a Secret holding runner-token, runner-registration-token or access-token"
// +kubebuilder:validation:XValidation:rule="!has(self.groupID) || (has(self.runnerType) && self.runnerType == 'group_type')",message="groupID is only valid with runnerType group_type"
// +kubebuilder:validation:XValidation:rule="!has(self.projectID) || (has(self.runnerType) && self.runnerType == 'project_type')",message="projectID is only valid with runnerType project_type"
// +kubebuilder:validation:XValidation:rule="!has(self.runnerType) || self.runnerType != 'group_type' || has(self.groupID)",message="runnerType group_type needs groupID"
// +kubebuilder:validation:XValidation:rule="!has(self.runnerType) || self.runnerType != 'project_type' || has(self.projectID)",message="runnerType project_type needs projectID"
type RunnerSpec struct {
	// GitLab names the instance to register with.
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="GitLab"
	GitLab GitLabReference `json:"gitlab"`

	// Token is the name of a Secret in the Runner's namespace holding one of
	// the keys runner-token (a glrt- runner authentication token created in
	// GitLab), runner-registration-token (the deprecated registration flow)
	// or access-token (a personal, group or project access token with the
	// create_runner scope). Required with gitlab.url.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Token Secret",xDescriptors={"urn:alm:descriptor:io.kubernetes:Secret"}
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Token string `json:"token,omitempty"`

	// Tags is a comma-separated list of job tags, for example "openshift, test".
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Tags"
	Tags string `json:"tags,omitempty"`

	// Description of the runner as GitLab shows it. Defaults to
	// "<namespace>/<name>".
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// RunUntagged lets the runner pick jobs without tags. Defaults to true
	// when no tags are given, false otherwise (GitLab's own rule).
	// +optional
	RunUntagged *bool `json:"runUntagged,omitempty"`

	// Locked locks a project runner to its current projects.
	// +optional
	Locked *bool `json:"locked,omitempty"`

	// AccessLevel is not_protected (any ref) or ref_protected (protected
	// branches and tags only).
	// +kubebuilder:validation:Enum=not_protected;ref_protected
	// +optional
	AccessLevel string `json:"accessLevel,omitempty"`

	// Paused registers the runner paused: it receives no jobs.
	// +optional
	Paused *bool `json:"paused,omitempty"`

	// MaximumTimeout caps job timeouts on this runner, in seconds (at least 600).
	// +kubebuilder:validation:Minimum=600
	// +optional
	MaximumTimeout *int64 `json:"maximumTimeout,omitempty"`

	// RunnerType is used with an access-token Secret or a managed GitLab:
	// instance_type, group_type (needs groupID) or project_type (needs projectID).
	// +kubebuilder:validation:Enum=instance_type;group_type;project_type
	// +kubebuilder:default=instance_type
	// +optional
	RunnerType string `json:"runnerType,omitempty"`

	// GroupID is the GitLab group of a group_type runner.
	// +kubebuilder:validation:Minimum=1
	// +optional
	GroupID *int64 `json:"groupID,omitempty"`

	// ProjectID is the GitLab project of a project_type runner.
	// +kubebuilder:validation:Minimum=1
	// +optional
	ProjectID *int64 `json:"projectID,omitempty"`

	// Concurrent is the global limit of jobs run at once by each runner manager.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +kubebuilder:default=10
	// +optional
	Concurrent int32 `json:"concurrent,omitempty"`

	// Interval is the check interval for new jobs, in seconds.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	// +kubebuilder:default=30
	// +optional
	Interval int32 `json:"interval,omitempty"`

	// RequestConcurrency is the number of concurrent requests for new jobs.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	RequestConcurrency *int32 `json:"requestConcurrency,omitempty"`

	// OutputLimit is the maximum job log size, in kilobytes.
	// +kubebuilder:validation:Minimum=1
	// +optional
	OutputLimit *int32 `json:"outputLimit,omitempty"`

	// LogLevel of the runner process.
	// +kubebuilder:validation:Enum=debug;info;warn;error;fatal;panic
	// +optional
	LogLevel string `json:"logLevel,omitempty"`

	// LogFormat of the runner process. The operator parses all of them.
	// +kubebuilder:validation:Enum=runner;text;json
	// +optional
	LogFormat string `json:"logFormat,omitempty"`

	// ShutdownTimeout is how long the runner waits for jobs on shutdown, in seconds.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ShutdownTimeout *int32 `json:"shutdownTimeout,omitempty"`

	// ConnectionMaxAge is the maximum age of a TLS keep-alive connection to
	// GitLab, as a duration such as 15m.
	// +optional
	ConnectionMaxAge *metav1.Duration `json:"connectionMaxAge,omitempty"`

	// JobNamespace is where job pods run. Defaults to the Runner's namespace.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	JobNamespace string `json:"jobNamespace,omitempty"`

	// BuildImage is the default image of jobs that name none.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	BuildImage string `json:"buildImage,omitempty"`

	// HelperImage overrides the runner helper image used in job pods.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	HelperImage string `json:"helperImage,omitempty"`

	// JobPullPolicy is the image pull policy of job pods.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	JobPullPolicy corev1.PullPolicy `json:"jobPullPolicy,omitempty"`

	// Privileged runs job containers privileged. Off by default; most
	// OpenShift SCCs refuse it.
	// +optional
	Privileged bool `json:"privileged,omitempty"`

	// JobServiceAccount is the service account of job pods.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	JobServiceAccount string `json:"jobServiceAccount,omitempty"`

	// JobResources sets requests and limits of the build, helper and
	// service containers of job pods.
	// +optional
	JobResources *JobResources `json:"jobResources,omitempty"`

	// JobNodeSelector constrains job pods to matching nodes.
	// +optional
	JobNodeSelector map[string]string `json:"jobNodeSelector,omitempty"`

	// JobTolerations lets job pods schedule on tainted nodes.
	// +optional
	JobTolerations []corev1.Toleration `json:"jobTolerations,omitempty"`

	// PollTimeout is how long the runner waits for a job pod to start, in seconds.
	// +kubebuilder:validation:Minimum=1
	// +optional
	PollTimeout *int32 `json:"pollTimeout,omitempty"`

	// CloneURL overrides the URL jobs clone from.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	CloneURL string `json:"cloneURL,omitempty"`

	// Cache configures the distributed job cache.
	// +optional
	Cache *CacheSpec `json:"cache,omitempty"`

	// CA is the name of a Secret holding a PEM CA bundle (key ca.crt or
	// tls.crt) for GitLab's certificate. The operator uses it for its own
	// calls and mounts it for the runner and the helper.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="CA bundle Secret",xDescriptors={"urn:alm:descriptor:io.kubernetes:Secret"}
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	CA string `json:"ca,omitempty"`

	// Env adds environment variables to the runner container.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// EnvConfigMap names a ConfigMap whose keys become environment variables
	// of the runner container (for example HTTP_PROXY, NO_PROXY).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Environment ConfigMap",xDescriptors={"urn:alm:descriptor:io.kubernetes:ConfigMap"}
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	EnvConfigMap string `json:"envConfigMap,omitempty"`

	// Config names a ConfigMap with a config.toml template (key config.toml)
	// merged into the generated configuration the way gitlab-runner's
	// --template-config merges; its global settings are honoured too. The
	// operator's values for url, token, id and executor always win.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="config.toml template ConfigMap",xDescriptors={"urn:alm:descriptor:io.kubernetes:ConfigMap"}
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Config string `json:"config,omitempty"`

	// RunnerImage overrides the gitlab-runner image of the manager pod.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	RunnerImage string `json:"runnerImage,omitempty"`

	// ImagePullPolicy of the manager pod.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// ImagePullSecrets of the manager pod.
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Replicas is the number of runner manager pods. Each replica is its own
	// runner manager in GitLab, sharing the runner's token.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=50
	// +kubebuilder:default=1
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Resources of the manager container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// NodeSelector of the manager pod.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the manager pod.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity of the manager pod.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// PriorityClassName of the manager pod.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// PodLabels are added to the manager pod.
	// +optional
	PodLabels map[string]string `json:"podLabels,omitempty"`

	// PodAnnotations are added to the manager pod.
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`

	// TerminationGracePeriodSeconds of the manager pod: how long running
	// jobs get to finish when the pod stops. Defaults to one hour.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=3600
	// +optional
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`

	// Metrics configures the runner's Prometheus endpoint.
	// +optional
	Metrics *MetricsSpec `json:"metrics,omitempty"`
}

// JobResources holds requests and limits for the containers of a job pod.
type JobResources struct {
	// Build container.
	// +optional
	Build *corev1.ResourceRequirements `json:"build,omitempty"`
	// Helper container.
	// +optional
	Helper *corev1.ResourceRequirements `json:"helper,omitempty"`
	// Service containers.
	// +optional
	Service *corev1.ResourceRequirements `json:"service,omitempty"`
}

// CacheSpec configures the distributed cache of jobs.
//
// +kubebuilder:validation:XValidation:rule="self.type != 's3' || has(self.s3)",message="cache.type s3 needs cache.s3"
// +kubebuilder:validation:XValidation:rule="self.type != 'gcs' || has(self.gcs)",message="cache.type gcs needs cache.gcs"
// +kubebuilder:validation:XValidation:rule="self.type != 'azure' || has(self.azure)",message="cache.type azure needs cache.azure"
type CacheSpec struct {
	// Type of the cache: s3, gcs or azure.
	// +kubebuilder:validation:Enum=s3;gcs;azure
	Type string `json:"type"`
	// Path prefix in the bucket.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Path string `json:"path,omitempty"`
	// Shared makes the cache shared between runners.
	// +optional
	Shared bool `json:"shared,omitempty"`
	// S3 settings.
	// +optional
	S3 *S3Cache `json:"s3,omitempty"`
	// GCS settings.
	// +optional
	GCS *GCSCache `json:"gcs,omitempty"`
	// Azure settings.
	// +optional
	Azure *AzureCache `json:"azure,omitempty"`
}

// S3Cache configures an S3 or S3-compatible cache.
type S3Cache struct {
	// Server address, for example s3.amazonaws.com or minio.ci.svc:9000.
	// +kubebuilder:validation:MinLength=1
	Server string `json:"server"`
	// Bucket name.
	// +kubebuilder:validation:MinLength=1
	Bucket string `json:"bucket"`
	// Location (region) of the bucket.
	// +optional
	Location string `json:"location,omitempty"`
	// Insecure uses plain HTTP to the server.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// Credentials names a Secret with keys accesskey and secretkey. Without
	// it the runner uses IAM credentials.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="S3 credentials Secret",xDescriptors={"urn:alm:descriptor:io.kubernetes:Secret"}
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Credentials string `json:"credentials,omitempty"`
}

// GCSCache configures a Google Cloud Storage cache.
type GCSCache struct {
	// Bucket name.
	// +kubebuilder:validation:MinLength=1
	Bucket string `json:"bucket"`
	// Credentials names a Secret with keys access-id and private-key, or,
	// with credentialsFile, keys.json (a service account key file).
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="GCS credentials Secret",xDescriptors={"urn:alm:descriptor:io.kubernetes:Secret"}
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Credentials string `json:"credentials,omitempty"`
	// CredentialsFile reads the credentials Secret's keys.json as a service
	// account key file instead of access-id and private-key.
	// +optional
	CredentialsFile bool `json:"credentialsFile,omitempty"`
}

// AzureCache configures an Azure Blob Storage cache.
type AzureCache struct {
	// Container name.
	// +kubebuilder:validation:MinLength=1
	Container string `json:"container"`
	// StorageDomain, default blob.core.windows.net.
	// +optional
	StorageDomain string `json:"storageDomain,omitempty"`
	// Credentials names a Secret with keys accountName and privateKey.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Azure credentials Secret",xDescriptors={"urn:alm:descriptor:io.kubernetes:Secret"}
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Credentials string `json:"credentials,omitempty"`
}

// MetricsSpec configures runner metrics.
type MetricsSpec struct {
	// Enabled exposes the runner's metrics on port 9252 through a Service,
	// and a ServiceMonitor when the Prometheus Operator is installed.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// RunnerStatus is the observed state of a Runner.
type RunnerStatus struct {
	// Phase is Pending, Initializing, Running, Failed or Terminating.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Phase",xDescriptors={"urn:alm:descriptor:io.kubernetes.phase"}
	Phase string `json:"phase,omitempty"`

	// Registration is pending, succeeded, failed or deregistering.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Registration",xDescriptors={"urn:alm:descriptor:text"}
	Registration string `json:"registration,omitempty"`

	// RunnerID is the runner's id in GitLab.
	// +optional
	RunnerID int64 `json:"runnerID,omitempty"`

	// TokenExpiresAt is when the runner's authentication token expires, if
	// it does. The operator rotates it before then.
	// +optional
	TokenExpiresAt *metav1.Time `json:"tokenExpiresAt,omitempty"`

	// URL is the GitLab URL the runner is registered with.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="GitLab URL",xDescriptors={"urn:alm:descriptor:org.w3:link"}
	URL string `json:"url,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Registered, Deployed, RunnerHealthy, SettingsApplied.
	// +listType=map
	// +listMapKey=type
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Conditions",xDescriptors={"urn:alm:descriptor:io.kubernetes.conditions"}
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Runner deploys a GitLab Runner with the Kubernetes executor and keeps it
// registered with a GitLab instance. Deleting it de-registers the runner.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=gitlab-operator
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 47 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a lower-case DNS label (letters, digits, '-') of at most 47 characters: the operator derives child names such as <name>-runner-metrics from it"
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Registration",type=string,JSONPath=`.status.registration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +operator-sdk:csv:customresourcedefinitions:displayName="GitLab Runner",resources={{Deployment,v1},{Secret,v1},{ServiceAccount,v1},{Role,v1},{RoleBinding,v1},{Service,v1}}
type Runner struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec RunnerSpec `json:"spec"`
	// +optional
	Status RunnerStatus `json:"status,omitempty"`
}

// RunnerList is a list of Runners.
//
// +kubebuilder:object:root=true
type RunnerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Runner `json:"items"`
}

// GetConditions returns the Runner's conditions.
func (r *Runner) GetConditions() []metav1.Condition { return r.Status.Conditions }

// SetConditions replaces the Runner's conditions.
func (r *Runner) SetConditions(c []metav1.Condition) { r.Status.Conditions = c }
