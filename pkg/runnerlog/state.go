package runnerlog

// State is the registration state a log line (or a whole log) reports.
type State string

const (
	// StateUnknown means no line seen so far says anything about registration.
	StateUnknown State = "Unknown"

	// StateRegistered means gitlab-runner registered the runner or verified its
	// authentication token with GitLab ("Registering runner... succeeded",
	// "Verifying runner... is valid" / "is alive", "Runner registered
	// successfully.").
	StateRegistered State = "Registered"

	// StateConfigLoaded means gitlab-runner loaded config.toml ("Configuration
	// loaded"). It is logged at start-up and again on every reload, and a reload
	// resets gitlab-runner's own health counters.
	StateConfigLoaded State = "ConfigLoaded"

	// StateReceivingJobs means GitLab accepted a job request from the runner:
	// a job was received, or (at debug level) the poll returned no content.
	// Either proves the authentication token currently works.
	StateReceivingJobs State = "ReceivingJobs"

	// StateTokenRejected means GitLab refused the token gitlab-runner used:
	// "forbidden" answers, "Verifying runner... is not valid" / "is removed",
	// "is unhealthy and will be disabled", or an empty token in config.toml.
	// The operator should verify the stored token through the API.
	StateTokenRejected State = "TokenRejected"

	// StateRegistrationDisabled means GitLab answered 410 Gone to a
	// registration-token registration: the instance no longer accepts
	// registration tokens, and retrying cannot help.
	StateRegistrationDisabled State = "RegistrationDisabled"

	// StateTLSError means gitlab-runner could not establish a verified TLS
	// connection to GitLab (x509 or tls errors): a CA bundle or certificate
	// problem.
	StateTLSError State = "TLSError"

	// StateUnreachable means gitlab-runner could not connect to GitLab at all
	// (connection refused, unknown host, timeouts).
	StateUnreachable State = "Unreachable"

	// StateDegraded means a transient or configuration failure that is neither
	// a token, TLS nor network problem: GitLab answered 5xx or 429, rejected a
	// request for another reason, or gitlab-runner could not load config.toml.
	StateDegraded State = "Degraded"

	// StateTokenRotated means gitlab-runner rotated its own authentication
	// token ("Resetting runner authentication token... succeeded") and wrote
	// the new one into its config.toml; the operator's stored copy is stale.
	StateTokenRotated State = "TokenRotated"

	// StateTerminating means gitlab-runner received a stop signal and is
	// shutting down.
	StateTerminating State = "Terminating"

	// StateUnregistered means gitlab-runner unregistered the runner (or its
	// runner manager) from GitLab.
	StateUnregistered State = "Unregistered"
)

// Reasons are CamelCase strings suitable for metav1.Condition.Reason. They are
// finer than states: one state can carry several reasons (for example
// StateDegraded with ReasonGitLabUnavailable or ReasonConfigInvalid).
const (
	// ReasonNoLogSignal: nothing in the log so far reports a registration
	// state (StateUnknown).
	ReasonNoLogSignal = "NoLogSignal"
	// ReasonRunnerRegistered: registered or token verified (StateRegistered).
	ReasonRunnerRegistered = "RunnerRegistered"
	// ReasonConfigLoaded: config.toml loaded or reloaded (StateConfigLoaded).
	ReasonConfigLoaded = "ConfigLoaded"
	// ReasonReceivingJobs: GitLab accepted a job request (StateReceivingJobs).
	ReasonReceivingJobs = "ReceivingJobs"
	// ReasonTokenRejected: GitLab refused the runner's or the registration
	// token, or disabled the runner after repeated refusals
	// (StateTokenRejected).
	ReasonTokenRejected = "TokenRejected"
	// ReasonTokenMissing: config.toml holds an empty token, so gitlab-runner
	// skips the runner (StateTokenRejected).
	ReasonTokenMissing = "TokenMissing"
	// ReasonRegistrationDisabled: 410 Gone on registration
	// (StateRegistrationDisabled).
	ReasonRegistrationDisabled = "RegistrationDisabled"
	// ReasonTLSFailure: certificate or TLS handshake failure (StateTLSError).
	ReasonTLSFailure = "TLSFailure"
	// ReasonGitLabUnreachable: no connection to GitLab (StateUnreachable).
	ReasonGitLabUnreachable = "GitLabUnreachable"
	// ReasonGitLabUnavailable: GitLab answered 5xx, or a request failed for an
	// unclassified reason (StateDegraded).
	ReasonGitLabUnavailable = "GitLabUnavailable"
	// ReasonGitLabRateLimited: GitLab answered 429 (StateDegraded).
	ReasonGitLabRateLimited = "GitLabRateLimited"
	// ReasonRequestRejected: GitLab answered another 4xx, for example 400 on
	// registration with invalid settings (StateDegraded).
	ReasonRequestRejected = "RequestRejected"
	// ReasonConfigInvalid: gitlab-runner could not load config.toml
	// (StateDegraded).
	ReasonConfigInvalid = "ConfigInvalid"
	// ReasonTokenRotated: gitlab-runner rotated its own token
	// (StateTokenRotated).
	ReasonTokenRotated = "TokenRotated"
	// ReasonTerminating: stop signal received (StateTerminating).
	ReasonTerminating = "Terminating"
	// ReasonUnregistered: runner or runner manager removed from GitLab
	// (StateUnregistered).
	ReasonUnregistered = "Unregistered"
)

// Log levels as Event.Level reports them, whatever the log format spelled.
const (
	LevelDebug   = "debug"
	LevelInfo    = "info"
	LevelWarning = "warning"
	LevelError   = "error"
	LevelFatal   = "fatal"
	LevelPanic   = "panic"
)
