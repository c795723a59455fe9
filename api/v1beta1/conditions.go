package v1beta1

// Condition types. Conditions are the operator's API: every type below is
// owned by exactly one controller, carries observedGeneration, and its reasons
// are the constants further down. Messages never hold secrets or volatile text
// (ids, timestamps) so that a steady state never rewrites status.
const (
	// ConditionReady summarises the other conditions: True when the resource
	// does what it was asked to do.
	ConditionReady = "Ready"

	// ConditionRegistered (Runner) says whether the runner holds a valid
	// authentication token in GitLab.
	ConditionRegistered = "Registered"
	// ConditionDeployed (Runner) says whether the runner workload (config
	// Secret, RBAC, Deployment) is in place and available.
	ConditionDeployed = "Deployed"
	// ConditionRunnerHealthy (Runner) is derived from the runner pod's own
	// log: registered, receiving jobs, or reporting a rejected token, TLS or
	// network failure.
	ConditionRunnerHealthy = "RunnerHealthy"
	// ConditionSettingsApplied (Runner) says whether the server-side settings
	// in the spec (tags, locked, run untagged, ...) could be applied in GitLab.
	ConditionSettingsApplied = "SettingsApplied"

	// ConditionAvailable (GitLab) is True when the instance answers its
	// readiness check.
	ConditionAvailable = "Available"
	// ConditionAdminTokenReady (GitLab) is True when the operator's admin
	// token works against the instance.
	ConditionAdminTokenReady = "AdminTokenReady"
	// ConditionProgressing (GitLab) is True while a rollout is under way.
	ConditionProgressing = "Progressing"
	// ConditionDegraded (GitLab) is True when the instance needs attention.
	ConditionDegraded = "Degraded"
)

// Condition reasons shared by both kinds.
const (
	// ReasonReconciling: the operator is still working towards the spec.
	ReasonReconciling = "Reconciling"
	// ReasonReady: everything the condition covers is in place.
	ReasonReady = "Ready"
	// ReasonInvalidSpec: the spec cannot be acted on; the message names the field.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonSecretNotFound: a referenced Secret does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretKeyMissing: a referenced Secret lacks the expected key.
	ReasonSecretKeyMissing = "SecretKeyMissing"
	// ReasonConfigMapNotFound: a referenced ConfigMap does not exist.
	ReasonConfigMapNotFound = "ConfigMapNotFound"
	// ReasonDeleting: the resource is being deleted.
	ReasonDeleting = "Deleting"
)

// Runner registration reasons (condition Registered).
const (
	// ReasonRegistered: the runner was created in GitLab by the operator.
	ReasonRegistered = "Registered"
	// ReasonTokenVerified: a stored or user-supplied runner token was verified.
	ReasonTokenVerified = "TokenVerified"
	// ReasonWaitingForGitLab: a managed GitLab named in spec.gitlab.name is
	// not ready yet.
	ReasonWaitingForGitLab = "WaitingForGitLab"
	// ReasonGitLabNotFound: spec.gitlab.name names no GitLab in the namespace.
	ReasonGitLabNotFound = "GitLabNotFound"
	// ReasonRegistrationTokensDisallowed: GitLab answered 410 to a
	// registration token.
	ReasonRegistrationTokensDisallowed = "RegistrationTokensDisallowed"
	// ReasonTokenRejected: GitLab rejected the token (403).
	ReasonTokenRejected = "TokenRejected"
	// ReasonUnauthorized: the access token was refused (401) or lacks scope.
	ReasonUnauthorized = "Unauthorized"
	// ReasonGitLabUnreachable: GitLab could not be reached (network, 5xx).
	ReasonGitLabUnreachable = "GitLabUnreachable"
	// ReasonTLSError: the TLS handshake with GitLab failed.
	ReasonTLSError = "TLSError"
	// ReasonRateLimited: GitLab asked the operator to slow down (429).
	ReasonRateLimited = "RateLimited"
	// ReasonRejectedByGitLab: GitLab refused the request as invalid (400/404).
	ReasonRejectedByGitLab = "RejectedByGitLab"
	// ReasonDeregistering: the finalizer is removing the runner from GitLab.
	ReasonDeregistering = "Deregistering"
	// ReasonDeregistrationFailed: removing the runner from GitLab failed and
	// is being retried.
	ReasonDeregistrationFailed = "DeregistrationFailed"
)

// Runner workload and settings reasons.
const (
	// ReasonDeploymentAvailable: the runner Deployment has available replicas.
	ReasonDeploymentAvailable = "DeploymentAvailable"
	// ReasonDeploymentProgressing: the runner Deployment is rolling out.
	ReasonDeploymentProgressing = "DeploymentProgressing"
	// ReasonWaitingForRegistration: the workload waits for a runner token.
	ReasonWaitingForRegistration = "WaitingForRegistration"
	// ReasonSettingsApplied: server-side settings were sent to GitLab.
	ReasonSettingsApplied = "SettingsApplied"
	// ReasonSettingsNotApplicable: a pre-created runner token cannot carry
	// server-side settings; change them in GitLab instead.
	ReasonSettingsNotApplicable = "SettingsNotApplicable"
	// ReasonNoLogYet: the runner pod has not logged anything useful yet.
	ReasonNoLogYet = "NoLogYet"
)

// GitLab instance reasons.
const (
	// ReasonInstanceStarting: the instance pod is not ready yet.
	ReasonInstanceStarting = "InstanceStarting"
	// ReasonInstanceReady: the instance answers its readiness check.
	ReasonInstanceReady = "InstanceReady"
	// ReasonInstanceUnreachable: the readiness check failed.
	ReasonInstanceUnreachable = "InstanceUnreachable"
	// ReasonAdminTokenPending: the admin token is not usable yet.
	ReasonAdminTokenPending = "AdminTokenPending"
	// ReasonAdminTokenValid: the admin token works.
	ReasonAdminTokenValid = "AdminTokenValid"
	// ReasonRollingOut: the StatefulSet is rolling out a new revision.
	ReasonRollingOut = "RollingOut"
	// ReasonUpToDate: the StatefulSet runs the current revision.
	ReasonUpToDate = "UpToDate"
	// ReasonUpgradePathBlocked: the version change skips a required upgrade stop.
	ReasonUpgradePathBlocked = "UpgradePathBlocked"
	// ReasonDowngradeRefused: the version change goes backwards.
	ReasonDowngradeRefused = "DowngradeRefused"
	// ReasonNotImplemented: a feature is accepted by the API but not acted on yet.
	ReasonNotImplemented = "NotImplemented"
)

// Runner phases (status.phase).
const (
	PhasePending      = "Pending"
	PhaseInitializing = "Initializing"
	PhaseRunning      = "Running"
	PhaseFailed       = "Failed"
	PhaseTerminating  = "Terminating"
)

// Runner registration states (status.registration).
const (
	RegistrationPending       = "pending"
	RegistrationSucceeded     = "succeeded"
	RegistrationFailed        = "failed"
	RegistrationDeregistering = "deregistering"
)

// Well-known keys, labels, annotations and finalizers.
const (
	// FinalizerDeregister blocks deletion of a Runner until it is removed
	// from GitLab.
	FinalizerDeregister = "gitlab.com/deregister"
	// FinalizerGitLab blocks deletion of a GitLab until its children are
	// cleaned up according to the retention policy.
	FinalizerGitLab = "gitlab.com/retention"
	// AnnotationSkipDeregistration, set to "true" on a Runner, lets its
	// deletion proceed without contacting GitLab.
	AnnotationSkipDeregistration = "gitlab.com/skip-deregistration"

	// SecretKeyRunnerToken holds a runner authentication token (glrt-...).
	SecretKeyRunnerToken = "runner-token"
	// SecretKeyRegistrationToken holds a legacy registration token.
	SecretKeyRegistrationToken = "runner-registration-token"
	// SecretKeyAccessToken holds a personal, group or project access token
	// with the create_runner scope.
	SecretKeyAccessToken = "access-token"
	// SecretKeyCA is the key of a CA bundle Secret; SecretKeyTLSCrt is
	// accepted too.
	SecretKeyCA = "ca.crt"
	// SecretKeyTLSCrt is the alternative CA bundle key.
	SecretKeyTLSCrt = "tls.crt"
	// ConfigMapKeyConfigTemplate is the key of the config.toml template.
	ConfigMapKeyConfigTemplate = "config.toml"
)
