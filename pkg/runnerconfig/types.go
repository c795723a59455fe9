package runnerconfig

import (
	"errors"
	"fmt"
	"time"
)

// Config is the whole config.toml.
//
// Zero values mean "unset" and are omitted from the output, so gitlab-runner
// applies its own default and a template may fill them in (see Merge). Fields
// whose zero value is meaningful are pointers.
type Config struct {
	// Concurrent limits jobs across all runners. gitlab-runner requires at
	// least 1; 0 is omitted.
	Concurrent int `toml:"concurrent,omitzero"`
	// CheckInterval is the job poll interval in seconds (0: gitlab-runner's
	// default of 3).
	CheckInterval int `toml:"check_interval,omitzero"`
	// LogLevel: debug, info, warn, error, fatal or panic.
	LogLevel string `toml:"log_level,omitempty"`
	// LogFormat: runner, text or json.
	LogFormat string `toml:"log_format,omitempty"`
	// ListenAddress is host:port for /metrics and the debug endpoints. It is
	// read once at start-up: changing it needs a pod restart.
	ListenAddress string `toml:"listen_address,omitempty"`
	// ShutdownTimeout in seconds (0: gitlab-runner's default of 30).
	ShutdownTimeout int `toml:"shutdown_timeout,omitzero"`
	// ConnectionMaxAge is a Go duration such as "15m".
	ConnectionMaxAge Duration `toml:"connection_max_age,omitempty"`
	// SentryDSN, when set, reports runner errors to Sentry.
	SentryDSN string `toml:"sentry_dsn,omitempty"`
	// SessionServer enables the interactive web terminal. Read once at
	// start-up.
	SessionServer *SessionServer `toml:"session_server,omitempty"`
	// Runners are the [[runners]] entries. The operator renders exactly one.
	Runners []Runner `toml:"runners,omitempty"`
}

// SessionServer is the [session_server] table.
type SessionServer struct {
	ListenAddress    string `toml:"listen_address,omitempty"`
	AdvertiseAddress string `toml:"advertise_address,omitempty"`
	// SessionTimeout in seconds (0: gitlab-runner's default of 1800).
	SessionTimeout int `toml:"session_timeout,omitzero"`
}

// Runner is one [[runners]] entry.
type Runner struct {
	// Name is shown in GitLab and logged as runner_name.
	Name string `toml:"name,omitempty"`
	// URL of the GitLab instance.
	URL string `toml:"url,omitempty"`
	// ID is the runner's id in GitLab.
	ID int64 `toml:"id,omitzero"`
	// Token is the runner authentication token (never the registration
	// token). The rendered file therefore belongs in a Secret.
	Token string `toml:"token,omitempty"`
	// TokenObtainedAt and TokenExpiresAt drive gitlab-runner's own token
	// rotation. Zero values are omitted; a zero TokenExpiresAt means the token
	// does not expire.
	TokenObtainedAt time.Time `toml:"token_obtained_at,omitempty"`
	TokenExpiresAt  time.Time `toml:"token_expires_at,omitempty"`
	// TLSCAFile, TLSCertFile and TLSKeyFile are paths inside the runner pod.
	TLSCAFile   string `toml:"tls-ca-file,omitempty"`
	TLSCertFile string `toml:"tls-cert-file,omitempty"`
	TLSKeyFile  string `toml:"tls-key-file,omitempty"`
	// Executor is "kubernetes" for this operator.
	Executor string `toml:"executor,omitempty"`
	// CloneURL overrides the URL jobs clone from.
	CloneURL string `toml:"clone_url,omitempty"`
	// Limit caps concurrent jobs of this runner (0: no limit).
	Limit int `toml:"limit,omitzero"`
	// RequestConcurrency is the number of concurrent job requests; 2 or more
	// avoids gitlab-runner's long-polling warning (0: default of 1).
	RequestConcurrency int `toml:"request_concurrency,omitzero"`
	// OutputLimit is the maximum job log size in KiB (0: default of 4096).
	OutputLimit int `toml:"output_limit,omitzero"`
	// Environment holds NAME=value entries added to every job.
	Environment []string `toml:"environment,omitempty"`
	BuildsDir   string   `toml:"builds_dir,omitempty"`
	CacheDir    string   `toml:"cache_dir,omitempty"`
	Shell       string   `toml:"shell,omitempty"`
	// UnhealthyRequestsLimit is the number of failed job requests before the
	// runner is disabled for UnhealthyInterval (0: default of 3).
	UnhealthyRequestsLimit int `toml:"unhealthy_requests_limit,omitzero"`
	// UnhealthyInterval is a Go duration (default "1h").
	UnhealthyInterval Duration `toml:"unhealthy_interval,omitempty"`
	// FeatureFlags maps FF_* names to their state.
	FeatureFlags map[string]bool `toml:"feature_flags,omitempty"`
	// Kubernetes is the [runners.kubernetes] table.
	Kubernetes *Kubernetes `toml:"kubernetes,omitempty"`
	// Cache is the [runners.cache] table.
	Cache *Cache `toml:"cache,omitempty"`
}

// Kubernetes is the [runners.kubernetes] table: where and how job pods run.
// Resource quantities are Kubernetes quantity strings ("500m", "1Gi").
type Kubernetes struct {
	Host                           string     `toml:"host,omitempty"`
	Namespace                      string     `toml:"namespace,omitempty"`
	NamespaceOverwriteAllowed      string     `toml:"namespace_overwrite_allowed,omitempty"`
	NamespacePerJob                *bool      `toml:"namespace_per_job,omitempty"`
	Image                          string     `toml:"image,omitempty"`
	HelperImage                    string     `toml:"helper_image,omitempty"`
	HelperImageFlavor              string     `toml:"helper_image_flavor,omitempty"`
	ServiceAccount                 string     `toml:"service_account,omitempty"`
	ServiceAccountOverwriteAllowed string     `toml:"service_account_overwrite_allowed,omitempty"`
	PullPolicy                     StringList `toml:"pull_policy,omitempty"`
	AllowedPullPolicies            StringList `toml:"allowed_pull_policies,omitempty"`
	ImagePullSecrets               []string   `toml:"image_pull_secrets,omitempty"`
	// Privileged is a pointer because false is a deliberate choice a
	// template must not override.
	Privileged *bool `toml:"privileged,omitempty"`

	CPULimit             string `toml:"cpu_limit,omitempty"`
	CPURequest           string `toml:"cpu_request,omitempty"`
	MemoryLimit          string `toml:"memory_limit,omitempty"`
	MemoryRequest        string `toml:"memory_request,omitempty"`
	HelperCPULimit       string `toml:"helper_cpu_limit,omitempty"`
	HelperCPURequest     string `toml:"helper_cpu_request,omitempty"`
	HelperMemoryLimit    string `toml:"helper_memory_limit,omitempty"`
	HelperMemoryRequest  string `toml:"helper_memory_request,omitempty"`
	ServiceCPULimit      string `toml:"service_cpu_limit,omitempty"`
	ServiceCPURequest    string `toml:"service_cpu_request,omitempty"`
	ServiceMemoryLimit   string `toml:"service_memory_limit,omitempty"`
	ServiceMemoryRequest string `toml:"service_memory_request,omitempty"`

	// PollTimeout and PollInterval are in seconds (0: gitlab-runner's
	// defaults of 180 and 3).
	PollTimeout  int `toml:"poll_timeout,omitzero"`
	PollInterval int `toml:"poll_interval,omitzero"`
	// CleanupGracePeriodSeconds is a pointer because 0 is a valid value.
	CleanupGracePeriodSeconds *int64 `toml:"cleanup_grace_period_seconds,omitempty"`

	NodeSelector map[string]string `toml:"node_selector,omitempty"`
	// NodeTolerations maps "key=value" (or "key") to a taint effect.
	NodeTolerations map[string]string `toml:"node_tolerations,omitempty"`
	PodLabels       map[string]string `toml:"pod_labels,omitempty"`
	PodAnnotations  map[string]string `toml:"pod_annotations,omitempty"`

	// Security contexts of the job pod and its containers; the operator sets
	// them so job pods pass OpenShift restricted-v2 / Pod Security
	// "restricted" where the user asks for it.
	PodSecurityContext                      *PodSecurityContext       `toml:"pod_security_context,omitempty"`
	BuildContainerSecurityContext           *ContainerSecurityContext `toml:"build_container_security_context,omitempty"`
	HelperContainerSecurityContext          *ContainerSecurityContext `toml:"helper_container_security_context,omitempty"`
	ServiceContainerSecurityContext         *ContainerSecurityContext `toml:"service_container_security_context,omitempty"`
	InitPermissionsContainerSecurityContext *ContainerSecurityContext `toml:"init_permissions_container_security_context,omitempty"`
}

// PodSecurityContext is [runners.kubernetes.pod_security_context].
type PodSecurityContext struct {
	FSGroup            *int64  `toml:"fs_group,omitempty"`
	RunAsGroup         *int64  `toml:"run_as_group,omitempty"`
	RunAsNonRoot       *bool   `toml:"run_as_non_root,omitempty"`
	RunAsUser          *int64  `toml:"run_as_user,omitempty"`
	SupplementalGroups []int64 `toml:"supplemental_groups,omitempty"`
	SELinuxType        string  `toml:"selinux_type,omitempty"`
}

// ContainerSecurityContext is one of the
// [runners.kubernetes.*_container_security_context] tables.
type ContainerSecurityContext struct {
	Capabilities             *Capabilities `toml:"capabilities,omitempty"`
	Privileged               *bool         `toml:"privileged,omitempty"`
	RunAsUser                *int64        `toml:"run_as_user,omitempty"`
	RunAsGroup               *int64        `toml:"run_as_group,omitempty"`
	RunAsNonRoot             *bool         `toml:"run_as_non_root,omitempty"`
	ReadOnlyRootFilesystem   *bool         `toml:"read_only_root_filesystem,omitempty"`
	AllowPrivilegeEscalation *bool         `toml:"allow_privilege_escalation,omitempty"`
	SELinuxType              string        `toml:"selinux_type,omitempty"`
	ProcMount                string        `toml:"proc_mount,omitempty"`
}

// Capabilities is the capabilities table of a container security context.
type Capabilities struct {
	Add  []string `toml:"add,omitempty"`
	Drop []string `toml:"drop,omitempty"`
}

// Cache is [runners.cache]. Its keys are PascalCase in config.toml.
//
// Credentials (S3 AccessKey/SecretKey/SessionToken, GCS AccessID/PrivateKey,
// Azure AccountName/AccountKey) are deliberately not modelled: the operator
// passes them to the runner as environment variables (CACHE_S3_ACCESS_KEY,
// CACHE_S3_SECRET_KEY, CACHE_GCS_ACCESS_ID, CACHE_GCS_PRIVATE_KEY,
// GOOGLE_APPLICATION_CREDENTIALS, CACHE_AZURE_ACCOUNT_NAME,
// CACHE_AZURE_ACCOUNT_KEY) from a Secret, so they never sit in a rendered
// file. A user template that sets them anyway keeps them (Merge preserves
// every key it does not model).
type Cache struct {
	// Type is s3, gcs or azure.
	Type string `toml:"Type,omitempty"`
	Path string `toml:"Path,omitempty"`
	// Shared shares the cache between runners.
	Shared                 bool        `toml:"Shared,omitempty"`
	MaxUploadedArchiveSize int64       `toml:"MaxUploadedArchiveSize,omitzero"`
	S3                     *CacheS3    `toml:"s3,omitempty"`
	GCS                    *CacheGCS   `toml:"gcs,omitempty"`
	Azure                  *CacheAzure `toml:"azure,omitempty"`
}

// CacheS3 is [runners.cache.s3] without credentials.
type CacheS3 struct {
	ServerAddress  string `toml:"ServerAddress,omitempty"`
	BucketName     string `toml:"BucketName,omitempty"`
	BucketLocation string `toml:"BucketLocation,omitempty"`
	Insecure       bool   `toml:"Insecure,omitempty"`
	// AuthenticationType is access-key or iam.
	AuthenticationType        string `toml:"AuthenticationType,omitempty"`
	ServerSideEncryption      string `toml:"ServerSideEncryption,omitempty"`
	ServerSideEncryptionKeyID string `toml:"ServerSideEncryptionKeyID,omitempty"`
	DualStack                 *bool  `toml:"DualStack,omitempty"`
	PathStyle                 *bool  `toml:"PathStyle,omitempty"`
	Accelerate                bool   `toml:"Accelerate,omitempty"`
	RoleARN                   string `toml:"RoleARN,omitempty"`
	UploadRoleARN             string `toml:"UploadRoleARN,omitempty"`
}

// CacheGCS is [runners.cache.gcs] without credentials.
type CacheGCS struct {
	// CredentialsFile is a path inside the runner pod (a mounted Secret).
	CredentialsFile string `toml:"CredentialsFile,omitempty"`
	BucketName      string `toml:"BucketName,omitempty"`
	UniverseDomain  string `toml:"UniverseDomain,omitempty"`
}

// CacheAzure is [runners.cache.azure] without credentials.
type CacheAzure struct {
	ContainerName string `toml:"ContainerName,omitempty"`
	StorageDomain string `toml:"StorageDomain,omitempty"`
}

// StringList is a list of strings that also decodes from a single string,
// as gitlab-runner accepts for pull_policy ("always" or ["always"]). It always
// encodes as an array.
type StringList []string

// UnmarshalTOML implements toml.Unmarshaler.
func (l *StringList) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*l = StringList{v}
		return nil
	case []any:
		out := make(StringList, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("expected a string or an array of strings, found an array holding %s", tomlType(e))
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("expected a string or an array of strings, found %s", tomlType(v))
}

// Duration is a Go duration string ("15m", "1h"), the form gitlab-runner
// writes. It also decodes from an integer number of nanoseconds, which
// gitlab-runner's decoder accepts as well, so valid templates are not
// rejected.
type Duration string

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		if _, err := time.ParseDuration(v); err != nil {
			// The value is not quoted back: error texts end up in
			// conditions, and a value is user data.
			return errors.New("invalid duration: use a Go duration such as \"15m\" or \"1h\"")
		}
		*d = Duration(v)
		return nil
	case int64:
		*d = Duration(time.Duration(v).String())
		return nil
	}
	return fmt.Errorf("expected a duration string such as \"15m\", found %s", tomlType(v))
}

// tomlType names, with its article, the TOML type of a decoded value for error messages, which
// users read in terms of their template, not of Go.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a datetime"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	}
	return "a value"
}
