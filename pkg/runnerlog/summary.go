package runnerlog

import (
	"bytes"
	"time"
)

// MaxChunkSize is the most the operator reads from a runner pod's log at once
// (DESIGN.md section 9: "Log reads: at most 64 KiB per read").
const MaxChunkSize = 64 << 10

// Summary is the registration state derived from a runner log, folded chunk
// by chunk with Summarize. The zero value is a valid starting point.
//
// State, Reason, Message, LastMessage and TokenRejected are stable texts
// built from constants: they never contain tokens, URLs, ids or timestamps, so
// they can go into a Kubernetes condition without making it churn.
// LastTimestamp and Consumed are bookkeeping for the reader and must stay out
// of conditions.
type Summary struct {
	// State is the state reported by the latest line that carried a signal,
	// StateUnknown until one was seen.
	State State
	// Reason is the condition reason matching State (see the Reason
	// constants).
	Reason string
	// Message is a human, actionable sentence for the condition message.
	Message string
	// LastMessage is the canonical gitlab-runner message of the latest
	// significant line (Event.Message), useful in events and debugging.
	LastMessage string
	// TokenRejected is set when GitLab refused the runner's token and stays
	// set, even while later failures (network, TLS, 5xx) change State, until
	// a line shows that the runner started over or its token works:
	// registered or verified, configuration (re)loaded, a job request
	// accepted, the token rotated, or the runner unregistered. A reload
	// clears it because gitlab-runner resets its health state on reload; if
	// the token is still bad the next poll, seconds later, sets it again.
	TokenRejected bool
	// LastTimestamp is the kubelet timestamp of the last complete line folded
	// so far, when the log was read with timestamps=true; zero otherwise. A
	// reader can resume with sinceTime from it.
	LastTimestamp time.Time
	// Consumed is the number of bytes of the chunk given to the latest
	// Summarize call that were folded. See Summarize for the contract.
	Consumed int
}

// Summarize folds the complete lines of chunk into prev and returns the new
// summary. The latest significant line wins (State, Reason, Message,
// LastMessage); TokenRejected follows the rule documented on Summary.
//
// Partial lines: only lines terminated by '\n' are folded. An incomplete
// final line is left alone and Summary.Consumed tells how many bytes were
// used; the caller must present chunk[Consumed:] again at the start of the
// next chunk (keep the leftover bytes, or re-read from offset+Consumed).
// The exception is a chunk of at least MaxChunkSize bytes without any
// newline: such a line can never complete within one read, so it is skipped
// and reported as consumed, which keeps the reader from stalling on it.
//
// Folding the same lines twice yields the same summary, so a reader that
// resumes with an overlapping window (sinceTime has second precision) does
// not corrupt the state.
//
// Start a new container's log from the zero Summary: states of a previous
// container do not carry over.
func Summarize(chunk []byte, prev Summary) Summary {
	s := prev
	if s.State == "" {
		s.State, s.Reason, s.Message = StateUnknown, ReasonNoLogSignal, unknownMessage
	}
	complete, _ := SplitComplete(chunk)
	s.Consumed = len(complete)
	if len(complete) == 0 && len(chunk) >= MaxChunkSize {
		s.Consumed = len(chunk)
		return s
	}
	for len(complete) > 0 {
		i := bytes.IndexByte(complete, '\n')
		line := complete[:i]
		complete = complete[i+1:]

		rec, ok := parseRecord(string(line))
		if !rec.ts.IsZero() {
			s.LastTimestamp = rec.ts
		}
		if !ok {
			continue
		}
		ev, ok := classify(rec)
		if ok {
			s.apply(ev)
		}
	}
	return s
}

// apply folds one event into the summary.
func (s *Summary) apply(ev Event) {
	s.State = ev.State
	s.Reason = ev.Reason
	s.Message = ev.Describe()
	s.LastMessage = ev.Message
	switch ev.State {
	case StateTokenRejected:
		s.TokenRejected = true
	case StateRegistered, StateConfigLoaded, StateReceivingJobs, StateTokenRotated, StateUnregistered:
		s.TokenRejected = false
	}
}

// SplitComplete splits chunk after its last newline. complete holds every
// complete line (it is empty when chunk has no newline); rest is the length
// of the trailing incomplete line, which the caller must read again.
func SplitComplete(chunk []byte) (complete []byte, rest int) {
	i := bytes.LastIndexByte(chunk, '\n')
	if i < 0 {
		return chunk[:0], len(chunk)
	}
	return chunk[:i+1], len(chunk) - i - 1
}

const unknownMessage = "The runner log has not reported a registration state yet."

// Describe returns a human, actionable sentence for the event, suitable for a
// condition message. It is built from constants, the operation, and Detail
// only: no token, URL, id or timestamp.
func (e Event) Describe() string {
	op := opOf(e.Message).String()
	detail := ""
	if e.Detail != "" {
		detail = " (" + e.Detail + ")"
	}
	switch e.Reason {
	case ReasonRunnerRegistered:
		switch e.Message {
		case msgRegisterSucceeded:
			return "gitlab-runner registered the runner with GitLab."
		case msgRegisteredSaved:
			return "gitlab-runner saved the runner registration to config.toml."
		}
		return "GitLab accepted the runner authentication token."
	case ReasonConfigLoaded:
		return "gitlab-runner loaded config.toml."
	case ReasonReceivingJobs:
		if e.Message == msgJobsReceived {
			return "gitlab-runner is receiving jobs from GitLab."
		}
		return "gitlab-runner is polling GitLab for jobs and its token is accepted."
	case ReasonTokenRejected:
		switch e.Message {
		case msgRegisterForbidden:
			return "GitLab rejected the registration token (403 Forbidden): check the runner-registration-token key of the token Secret."
		case msgVerifyNotValid, msgVerifyRemoved:
			return "GitLab rejected the runner authentication token during verification: the runner no longer exists in GitLab or the token is wrong."
		case msgJobsForbidden:
			return "GitLab rejected the runner authentication token while checking for jobs (403 Forbidden): the runner was deleted in GitLab or its token was rotated or revoked."
		case msgUnhealthy:
			return "gitlab-runner disabled the runner after repeated failed job requests, usually because GitLab rejects its token."
		case msgResetForbidden:
			return "GitLab rejected the runner authentication token when gitlab-runner tried to rotate it (403 Forbidden)."
		case pfxUnregisterRunner + " forbidden", pfxUnregisterManager + " forbidden":
			return "GitLab rejected the runner authentication token while unregistering (403 Forbidden): the runner is probably deleted already."
		}
		return "GitLab rejected the token while " + op + detail + "."
	case ReasonTokenMissing:
		return "config.toml holds an empty runner token, so gitlab-runner skips the runner."
	case ReasonRegistrationDisabled:
		return "GitLab answered 410 Gone while registering: this instance does not accept runner registration tokens. " +
			"Create the runner in GitLab and provide its runner authentication token, or provide an access token with the create_runner scope."
	case ReasonTLSFailure:
		return "gitlab-runner could not establish a trusted TLS connection to GitLab while " + op + detail +
			": add the CA that signed the GitLab certificate to the runner CA bundle, or fix the certificate."
	case ReasonGitLabUnreachable:
		return "gitlab-runner cannot reach GitLab while " + op + detail +
			": check the GitLab URL, DNS, network policies and proxy settings."
	case ReasonGitLabRateLimited:
		return "GitLab is rate limiting gitlab-runner while " + op + detail + "; it keeps retrying."
	case ReasonRequestRejected:
		return "GitLab rejected the request while " + op + detail + ": check the runner settings in the Runner spec."
	case ReasonGitLabUnavailable:
		if e.Message == msgJobsUnavailable {
			return "GitLab is currently unavailable" + detail + "; gitlab-runner keeps checking for jobs."
		}
		if e.Detail != "" {
			return "GitLab answered " + e.Detail + " while " + op + "; gitlab-runner keeps retrying."
		}
		return "gitlab-runner failed while " + op + "; it keeps retrying."
	case ReasonConfigInvalid:
		return "gitlab-runner could not load config.toml: check the spec.config template."
	case ReasonTokenRotated:
		return "gitlab-runner rotated its own authentication token and wrote it to config.toml; the token the operator stored is stale."
	case ReasonTerminating:
		return "gitlab-runner received a stop signal and is shutting down."
	case ReasonUnregistered:
		return "gitlab-runner unregistered the runner from GitLab."
	}
	return unknownMessage
}
