package runnerlog

import (
	"strconv"
	"strings"
)

// Event is what one log line says about the runner's registration.
type Event struct {
	// State the line reports.
	State State
	// Reason is a CamelCase condition reason, finer than State.
	Reason string
	// Level is one of the Level constants, taken from the line's prefix
	// (runner format) or level field (text, json). In the runner format a
	// debug line differs from an info line only by its colour, so without
	// colours it reports LevelInfo.
	Level string
	// Message is the canonical text of the matched gitlab-runner message, for
	// example "Checking for jobs... forbidden". It is a constant of this
	// package, never a copy of the input, so variable parts of the original
	// message (the URL and short token in the "unhealthy" line, the parser
	// error in "Failed to load config ...") are absent.
	Message string
	// Detail is a fixed phrase about the failure, derived from the status
	// field: an HTTP status ("403 Forbidden"), a TLS problem ("certificate
	// signed by unknown authority") or a network problem ("connection
	// refused"). Empty when there is nothing to add.
	Detail string
	// Job is the job id from the job field, 0 when the line has none. It is
	// volatile: keep it out of condition messages.
	Job int64
}

// ParseLine classifies a single log line in any supported format. It reports
// false for lines that carry no registration signal (job traces, start-up
// banners, blank and continuation lines, debug noise, unparsable input).
//
// A line is normalised before matching: a kubelet timestamp prefix and ANSI
// colour codes are removed, the message is extracted (runner format: the text
// before two or more spaces; text format: msg="..."; json: "msg"), and a
// WARNING:/ERROR:/PANIC:/FATAL: prefix becomes Level.
func ParseLine(line string) (Event, bool) {
	rec, ok := parseRecord(line)
	if !ok {
		return Event{}, false
	}
	return classify(rec)
}

// Canonical messages. Event.Message is always one of these, or one of the
// unregister prefixes below followed by " succeeded", " forbidden" or
// " failed".
const (
	msgRegisterSucceeded   = "Registering runner... succeeded"
	msgRegisterForbidden   = "Registering runner... forbidden (check registration token)"
	msgRegisterFailed      = "Registering runner... failed"
	msgRegisterClientError = "Registering runner... client error"
	msgRegisteredSaved     = "Runner registered successfully."
	msgVerifyValid         = "Verifying runner... is valid"
	msgVerifyAlive         = "Verifying runner... is alive"
	msgVerifyNotValid      = "Verifying runner... is not valid"
	msgVerifyRemoved       = "Verifying runner... is removed"
	msgVerifyFailed        = "Verifying runner... failed"
	msgVerifyClientError   = "Verifying runner... client error"
	msgConfigLoaded        = "Configuration loaded"
	msgConfigLoadFailed    = "Failed to load config"
	msgTokenEmpty          = "Runner token is empty or whitespace"
	msgJobsReceived        = "Checking for jobs... received"
	msgJobsNoContent       = "Checking for jobs...no content"
	msgJobsForbidden       = "Checking for jobs... forbidden"
	msgJobsUnavailable     = "Checking for jobs... GitLab instance currently unavailable"
	msgJobsFailed          = "Checking for jobs... failed"
	msgJobsClientError     = "Checking for jobs... client error"
	msgUnhealthy           = "Runner is unhealthy and will be disabled"
	msgResetSucceeded      = "Resetting runner authentication token... succeeded"
	msgResetForbidden      = "Resetting runner authentication token... failed (check used token)"
	msgResetFailed         = "Resetting runner authentication token... failed"
	msgStopSignal          = "received stop signal"
	msgForcefulShutdown    = "Starting forceful shutdown"
	msgGracefulShutdown    = "Starting graceful shutdown"
	msgAllWorkersStopped   = "All workers stopped."
	msgCanExit             = "Can exit now!"
)

// operation identifies what gitlab-runner was doing, to name it in messages.
type operation int

const (
	opNone operation = iota
	opRegister
	opVerify
	opJobs
	opReset
	opUnregister
)

func (o operation) String() string {
	switch o {
	case opRegister:
		return "registering the runner"
	case opVerify:
		return "verifying the runner token"
	case opJobs:
		return "checking for jobs"
	case opReset:
		return "rotating the runner token"
	case opUnregister:
		return "unregistering the runner"
	}
	return "talking to GitLab"
}

// opOf recovers the operation from a canonical message.
func opOf(msg string) operation {
	switch {
	case strings.HasPrefix(msg, "Registering runner"):
		return opRegister
	case strings.HasPrefix(msg, "Verifying runner"):
		return opVerify
	case strings.HasPrefix(msg, "Checking for jobs"):
		return opJobs
	case strings.HasPrefix(msg, "Resetting runner"):
		return opReset
	case strings.HasPrefix(msg, "Unregistering runner"):
		return opUnregister
	}
	return opNone
}

// Prefixes of the request-outcome messages in network/gitlab.go. The outcome
// follows after the dots, with or without a space (Info uses fmt.Sprint, which
// adds none between two strings).
const (
	pfxRegister = "Registering runner..."
	pfxVerify   = "Verifying runner..."
	pfxJobs     = "Checking for jobs..."
	pfxReset    = "Resetting runner authentication token..."
	// Unregister messages have no dots: "Unregistering runner from GitLab
	// succeeded", "Unregistering runner manager from GitLab forbidden".
	pfxUnregisterRunner  = "Unregistering runner from GitLab"
	pfxUnregisterManager = "Unregistering runner manager from GitLab"
)

// classify maps a normalised record to an event following the table in
// gitlab-api.md section 4.5.
func classify(rec record) (Event, bool) {
	ev := Event{Level: rec.level, Job: rec.job}
	if ev.Level == "" {
		ev.Level = LevelInfo
	}
	msg := rec.msg

	set := func(st State, reason, canonical string) (Event, bool) {
		ev.State, ev.Reason, ev.Message = st, reason, canonical
		return ev, true
	}
	failure := func(canonical string) (Event, bool) {
		ev.Message = canonical
		ev.State, ev.Reason, ev.Detail = classifyStatus(opOf(canonical), rec.status)
		return ev, true
	}

	switch {
	case strings.HasPrefix(msg, pfxRegister):
		switch out := outcome(msg, pfxRegister); {
		case out == "succeeded":
			return set(StateRegistered, ReasonRunnerRegistered, msgRegisterSucceeded)
		case strings.HasPrefix(out, "forbidden"):
			ev.Detail = "403 Forbidden"
			return set(StateTokenRejected, ReasonTokenRejected, msgRegisterForbidden)
		case out == "failed" || out == "error":
			return failure(msgRegisterFailed)
		case out == "client error":
			return failure(msgRegisterClientError)
		}

	case strings.HasPrefix(msg, pfxVerify):
		switch out := outcome(msg, pfxVerify); out {
		case "is valid":
			return set(StateRegistered, ReasonRunnerRegistered, msgVerifyValid)
		case "is alive":
			return set(StateRegistered, ReasonRunnerRegistered, msgVerifyAlive)
		case "is not valid":
			return set(StateTokenRejected, ReasonTokenRejected, msgVerifyNotValid)
		case "is removed":
			ev.Detail = "403 Forbidden"
			return set(StateTokenRejected, ReasonTokenRejected, msgVerifyRemoved)
		case "failed", "error":
			return failure(msgVerifyFailed)
		case "client error":
			return failure(msgVerifyClientError)
		}

	case strings.HasPrefix(msg, pfxJobs):
		switch out := outcome(msg, pfxJobs); out {
		case "received":
			return set(StateReceivingJobs, ReasonReceivingJobs, msgJobsReceived)
		case "no content", "nothing":
			return set(StateReceivingJobs, ReasonReceivingJobs, msgJobsNoContent)
		case "forbidden":
			ev.Detail = "403 Forbidden"
			return set(StateTokenRejected, ReasonTokenRejected, msgJobsForbidden)
		case "GitLab instance currently unavailable":
			ev.Detail = statusDetail(rec.status)
			return set(StateDegraded, ReasonGitLabUnavailable, msgJobsUnavailable)
		case "failed", "error":
			return failure(msgJobsFailed)
		case "client error":
			return failure(msgJobsClientError)
		}

	case strings.HasPrefix(msg, pfxReset):
		switch out := outcome(msg, pfxReset); {
		case out == "succeeded":
			return set(StateTokenRotated, ReasonTokenRotated, msgResetSucceeded)
		case out == "failed (check used token)":
			ev.Detail = "403 Forbidden"
			return set(StateTokenRejected, ReasonTokenRejected, msgResetForbidden)
		case strings.HasPrefix(out, "failed") || out == "client error":
			return failure(msgResetFailed)
		}

	case strings.HasPrefix(msg, pfxUnregisterRunner) || strings.HasPrefix(msg, pfxUnregisterManager):
		pfx := pfxUnregisterRunner
		if strings.HasPrefix(msg, pfxUnregisterManager) {
			pfx = pfxUnregisterManager
		}
		switch outcome(msg, pfx) {
		case "succeeded":
			return set(StateUnregistered, ReasonUnregistered, pfx+" succeeded")
		case "forbidden":
			ev.Detail = "403 Forbidden"
			return set(StateTokenRejected, ReasonTokenRejected, pfx+" forbidden")
		case "failed", "client error":
			return failure(pfx + " failed")
		}

	case strings.HasPrefix(msg, msgRegisteredSaved):
		return set(StateRegistered, ReasonRunnerRegistered, msgRegisteredSaved)

	case msg == msgConfigLoaded:
		return set(StateConfigLoaded, ReasonConfigLoaded, msgConfigLoaded)

	case strings.HasPrefix(msg, msgConfigLoadFailed):
		return set(StateDegraded, ReasonConfigInvalid, msgConfigLoadFailed)

	case strings.HasPrefix(msg, msgTokenEmpty):
		return set(StateTokenRejected, ReasonTokenMissing, msgTokenEmpty)

	// ≥15.7: `Runner "<url><token>" is unhealthy and will be disabled for
	// <d> seconds!`; ≤15.6: `Runner <url><token> is not healthy and will be
	// disabled!`. Both embed the URL and short token, hence the constant.
	case strings.HasPrefix(msg, "Runner ") &&
		(strings.Contains(msg, " is unhealthy and will be disabled") ||
			strings.Contains(msg, " is not healthy and will be disabled")):
		return set(StateTokenRejected, ReasonTokenRejected, msgUnhealthy)

	case msg == "[runWait] received stop signal" || msg == "[handleForcefulShutdown] received stop signal":
		return set(StateTerminating, ReasonTerminating, msgStopSignal)
	case strings.HasPrefix(msg, msgForcefulShutdown):
		return set(StateTerminating, ReasonTerminating, msgForcefulShutdown)
	case strings.HasPrefix(msg, msgGracefulShutdown):
		return set(StateTerminating, ReasonTerminating, msgGracefulShutdown)
	case msg == msgAllWorkersStopped:
		return set(StateTerminating, ReasonTerminating, msgAllWorkersStopped)
	case msg == msgCanExit:
		return set(StateTerminating, ReasonTerminating, msgCanExit)
	}
	return Event{}, false
}

// outcome returns what follows a request prefix, without the optional space.
func outcome(msg, prefix string) string {
	return strings.TrimSpace(msg[len(prefix):])
}

// Status substrings, matched on the status field because its overall shape
// changed across runner versions (gitlab-api.md section 4.1).
var (
	// tlsPhrases map substrings of Go TLS errors to what Detail says.
	tlsPhrases = [...]struct{ match, detail string }{
		{"certificate signed by unknown authority", "certificate signed by unknown authority"},
		{"certificate has expired or is not yet valid", "certificate has expired or is not yet valid"},
		{"certificate is valid for", "certificate is not valid for the GitLab host name"},
		{"certificate is not valid for any names", "certificate is not valid for the GitLab host name"},
		{"cannot validate certificate for", "certificate is not valid for the GitLab host name"},
		{"first record does not look like a TLS handshake", "the server did not answer with TLS"},
		{"bad certificate", "the server rejected the client certificate"},
		{"handshake failure", "TLS handshake failure"},
	}
	// netPhrases map substrings of Go dial and transport errors to Detail.
	netPhrases = [...]struct{ match, detail string }{
		{"connection refused", "connection refused"},
		{"no such host", "no such host"},
		{"server misbehaving", "DNS lookup failed"},
		{"i/o timeout", "i/o timeout"},
		{"TLS handshake timeout", "TLS handshake timeout"},
		{"Client.Timeout exceeded", "request timeout"},
		{"network is unreachable", "network is unreachable"},
		{"no route to host", "no route to host"},
		{"connection reset by peer", "connection reset by peer"},
		{"dial tcp", "cannot connect"},
	}
)

// classifyStatus maps the status field of a failed request to a state, reason
// and fixed detail phrase.
func classifyStatus(op operation, status string) (State, string, string) {
	code := httpCode(status)
	switch {
	case op == opRegister && code == 410:
		return StateRegistrationDisabled, ReasonRegistrationDisabled, codeText(code)
	case strings.Contains(status, "x509:") || strings.Contains(status, "tls: "):
		detail := "TLS verification failed"
		for _, p := range tlsPhrases {
			if strings.Contains(status, p.match) {
				detail = p.detail
				break
			}
		}
		return StateTLSError, ReasonTLSFailure, detail
	}
	for _, p := range netPhrases {
		if strings.Contains(status, p.match) {
			return StateUnreachable, ReasonGitLabUnreachable, p.detail
		}
	}
	switch {
	case code == 401 || code == 403:
		return StateTokenRejected, ReasonTokenRejected, codeText(code)
	case code == 429:
		return StateDegraded, ReasonGitLabRateLimited, codeText(code)
	case code >= 400 && code < 500:
		return StateDegraded, ReasonRequestRejected, codeText(code)
	}
	return StateDegraded, ReasonGitLabUnavailable, codeText(code)
}

// statusDetail returns the HTTP status named in a status field, or "".
func statusDetail(status string) string {
	return codeText(httpCode(status))
}

// codeText renders an HTTP status from its code alone, so nothing from the
// log line is copied. It returns "" for 0.
func codeText(code int) string {
	if code == 0 {
		return ""
	}
	return strconv.Itoa(code) + " " + statusText[code]
}

// statusText holds the reason phrases gitlab-runner prints after a status
// code (Go's http.StatusText values) for the codes GitLab, its proxies and
// load balancers answer with. A local table keeps net/http, and everything
// it pulls in, out of this pure package; an unlisted code is simply not
// reported as Detail.
var statusText = map[int]string{
	200: "OK",
	201: "Created",
	202: "Accepted",
	204: "No Content",
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	406: "Not Acceptable",
	407: "Proxy Authentication Required",
	408: "Request Timeout",
	409: "Conflict",
	410: "Gone",
	412: "Precondition Failed",
	413: "Request Entity Too Large",
	415: "Unsupported Media Type",
	421: "Misdirected Request",
	422: "Unprocessable Entity",
	423: "Locked",
	425: "Too Early",
	429: "Too Many Requests",
	431: "Request Header Fields Too Large",
	451: "Unavailable For Legal Reasons",
	500: "Internal Server Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Gateway Timeout",
	505: "HTTP Version Not Supported",
	507: "Insufficient Storage",
	511: "Network Authentication Required",
}

// httpCode finds the first "<code> <StatusText>" in a status field, as
// gitlab-runner writes it ("POST <url>: 403 Forbidden (...)", "503 Service
// Unavailable"). Requiring the reason phrase after the number keeps ports
// and ids from matching.
func httpCode(status string) int {
	for i := 0; i+4 <= len(status); i++ {
		if i > 0 && status[i-1] != ' ' {
			continue
		}
		c0, c1, c2 := status[i], status[i+1], status[i+2]
		if c0 < '1' || c0 > '5' || c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' || status[i+3] != ' ' {
			continue
		}
		code := int(c0-'0')*100 + int(c1-'0')*10 + int(c2-'0')
		text := statusText[code]
		if text != "" && strings.HasPrefix(status[i+4:], text) {
			return code
		}
	}
	return 0
}
