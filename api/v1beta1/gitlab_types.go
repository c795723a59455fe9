package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GitLabSpec is the desired state of a GitLab instance. Only url is
// required; everything else has a working default.
type GitLabSpec struct {
	// URL is the instance's external URL (GitLab's external_url), for
	// example https://gitlab.example.com.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && size(url(self).getHostname()) > 0",message="url must be an http:// or https:// URL with a host"
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="External URL"
	URL string `json:"url"`

	// Edition is ce (Community Edition) or ee (Enterprise Edition).
	// +kubebuilder:validation:Enum=ce;ee
	// +kubebuilder:default=ce
	// +optional
	Edition string `json:"edition,omitempty"`

	// Version of GitLab, for example 18.5.2. Defaults to the version this
	// operator release was tested with. Upgrades must follow GitLab's
	// required upgrade stops; downgrades are refused.
	// +kubebuilder:validation:Pattern=`^[0-9]+\.[0-9]+\.[0-9]+$`
	// +optional
	Version string `json:"version,omitempty"`

	// Image overrides the Omnibus image entirely (for a mirror in a
	// disconnected cluster). Version must still name the version it holds.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Image string `json:"image,omitempty"`

	// Storage configures the persistent volumes.
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// Resources of the GitLab container. Defaults request 4 GiB of memory
	// and 2 CPUs, GitLab's documented minimum.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Ingress exposes the instance on plain Kubernetes. On OpenShift a Route
	// is created instead, unless ingress.enabled is set explicitly.
	// +optional
	Ingress *IngressSpec `json:"ingress,omitempty"`

	// SSH enables Git over SSH. Off by default: GitLab's sshd needs
	// capabilities the usual OpenShift SCCs do not grant.
	// +optional
	SSH *SSHSpec `json:"ssh,omitempty"`

	// Database points at an external PostgreSQL instead of the bundled one.
	// +optional
	Database *ExternalDatabaseSpec `json:"database,omitempty"`

	// Redis points at an external Redis instead of the bundled one.
	// +optional
	Redis *ExternalRedisSpec `json:"redis,omitempty"`

	// SMTP configures outgoing mail.
	// +optional
	SMTP *SMTPSpec `json:"smtp,omitempty"`

	// RootPassword names a Secret key holding the initial root password.
	// Without it the operator generates one and names its Secret in status.
	// +optional
	RootPassword *corev1.SecretKeySelector `json:"rootPassword,omitempty"`

	// ExtraConfig names a ConfigMap whose key gitlab.rb holds extra Omnibus
	// settings appended after the operator's own.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Extra gitlab.rb ConfigMap",xDescriptors={"urn:alm:descriptor:io.kubernetes:ConfigMap"}
	ExtraConfig string `json:"extraConfig,omitempty"`

	// NodeSelector of the GitLab pod.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the GitLab pod.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity of the GitLab pod.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
}

// StorageSpec configures GitLab's persistent volumes.
type StorageSpec struct {
	// StorageClassName of the volumes; the cluster default when empty.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
	// ConfigSize is the size of /etc/gitlab.
	// +kubebuilder:default="1Gi"
	// +optional
	ConfigSize *resource.Quantity `json:"configSize,omitempty"`
	// DataSize is the size of /var/opt/gitlab (repositories, database, uploads).
	// +kubebuilder:default="50Gi"
	// +optional
	DataSize *resource.Quantity `json:"dataSize,omitempty"`
	// LogsSize is the size of /var/log/gitlab.
	// +kubebuilder:default="5Gi"
	// +optional
	LogsSize *resource.Quantity `json:"logsSize,omitempty"`
	// RetentionPolicy decides what happens to volumes and generated Secrets
	// when the GitLab is deleted: Retain keeps them (re-creating the
	// resource reattaches them), Delete removes them.
	// +kubebuilder:validation:Enum=Retain;Delete
	// +kubebuilder:default=Retain
	// +optional
	RetentionPolicy string `json:"retentionPolicy,omitempty"`
}

// IngressSpec configures the Ingress of a GitLab.
type IngressSpec struct {
	// Enabled forces an Ingress (true) or no Ingress and no Route (false).
	// Unset means: a Route on OpenShift, an Ingress elsewhere.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// ClassName of the Ingress.
	// +optional
	ClassName *string `json:"className,omitempty"`
	// Annotations added to the Ingress or Route.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// TLSSecretName names a kubernetes.io/tls Secret for the host.
	// +optional
	TLSSecretName string `json:"tlsSecretName,omitempty"`
}

// SSHSpec configures Git over SSH.
type SSHSpec struct {
	// Enabled turns on GitLab's sshd.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// Port of the SSH Service.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=22
	// +optional
	Port int32 `json:"port,omitempty"`
}

// ExternalDatabaseSpec points GitLab at an external PostgreSQL.
type ExternalDatabaseSpec struct {
	// Host of the database.
	// +kubebuilder:validation:MinLength=1
	Host string `json:"host"`
	// Port of the database.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=5432
	// +optional
	Port int32 `json:"port,omitempty"`
	// Database name.
	// +kubebuilder:default=gitlabhq_production
	// +optional
	Database string `json:"database,omitempty"`
	// Username to connect as.
	// +kubebuilder:default=gitlab
	// +optional
	Username string `json:"username,omitempty"`
	// PasswordSecret holds the password.
	PasswordSecret corev1.SecretKeySelector `json:"passwordSecret"`
	// SSLMode is PostgreSQL's sslmode.
	// +kubebuilder:validation:Enum=disable;allow;prefer;require;verify-ca;verify-full
	// +kubebuilder:default=prefer
	// +optional
	SSLMode string `json:"sslMode,omitempty"`
}

// ExternalRedisSpec points GitLab at an external Redis.
type ExternalRedisSpec struct {
	// Host of Redis.
	// +kubebuilder:validation:MinLength=1
	Host string `json:"host"`
	// Port of Redis.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=6379
	// +optional
	Port int32 `json:"port,omitempty"`
	// PasswordSecret holds the password, if any.
	// +optional
	PasswordSecret *corev1.SecretKeySelector `json:"passwordSecret,omitempty"`
	// TLS connects with TLS.
	// +optional
	TLS bool `json:"tls,omitempty"`
}

// SMTPSpec configures outgoing mail.
type SMTPSpec struct {
	// Address of the SMTP server.
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
	// Port of the SMTP server.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=587
	// +optional
	Port int32 `json:"port,omitempty"`
	// Domain used in HELO.
	// +optional
	Domain string `json:"domain,omitempty"`
	// Username for authentication.
	// +optional
	Username string `json:"username,omitempty"`
	// PasswordSecret holds the password.
	// +optional
	PasswordSecret *corev1.SecretKeySelector `json:"passwordSecret,omitempty"`
	// Authentication is plain, login or cram_md5.
	// +kubebuilder:validation:Enum=plain;login;cram_md5
	// +optional
	Authentication string `json:"authentication,omitempty"`
	// StartTLS enables STARTTLS.
	// +optional
	StartTLS bool `json:"startTLS,omitempty"`
	// TLS uses implicit TLS.
	// +optional
	TLS bool `json:"tls,omitempty"`
	// FromAddress of outgoing mail.
	// +optional
	FromAddress string `json:"fromAddress,omitempty"`
}

// GitLabStatus is the observed state of a GitLab.
type GitLabStatus struct {
	// Phase is Pending, Initializing, Running, Failed or Terminating.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Phase",xDescriptors={"urn:alm:descriptor:io.kubernetes.phase"}
	Phase string `json:"phase,omitempty"`
	// URL is the external URL.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="URL",xDescriptors={"urn:alm:descriptor:org.w3:link"}
	URL string `json:"url,omitempty"`
	// InternalURL is how workloads in the cluster reach the instance;
	// Runners naming this GitLab register through it.
	// +optional
	InternalURL string `json:"internalURL,omitempty"`
	// Version is the version the instance reports.
	// +optional
	Version string `json:"version,omitempty"`
	// RootPasswordSecret names the Secret holding the root password.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Root password Secret",xDescriptors={"urn:alm:descriptor:io.kubernetes:Secret"}
	RootPasswordSecret string `json:"rootPasswordSecret,omitempty"`
	// AdminTokenSecret names the Secret (key token) holding the operator's
	// admin token, used to create runners for Runners naming this GitLab.
	// +optional
	AdminTokenSecret string `json:"adminTokenSecret,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Available, AdminTokenReady, Progressing, Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Conditions",xDescriptors={"urn:alm:descriptor:io.kubernetes.conditions"}
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// GitLab deploys a GitLab instance (the Omnibus image) and hands Runners in
// its namespace what they need to register against it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=gitlab-operator
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +operator-sdk:csv:customresourcedefinitions:displayName="GitLab",resources={{StatefulSet,v1},{Service,v1},{Secret,v1},{Ingress,v1},{ServiceAccount,v1}}
type GitLab struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec GitLabSpec `json:"spec"`
	// +optional
	Status GitLabStatus `json:"status,omitempty"`
}

// GitLabList is a list of GitLabs.
//
// +kubebuilder:object:root=true
type GitLabList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitLab `json:"items"`
}

// GetConditions returns the GitLab's conditions.
func (g *GitLab) GetConditions() []metav1.Condition { return g.Status.Conditions }

// SetConditions replaces the GitLab's conditions.
func (g *GitLab) SetConditions(c []metav1.Condition) { g.Status.Conditions = c }
