package runnerlog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// field is one key=value pair of a rendered log line.
type field struct{ k, v string }

var formats = []string{"runner", "color", "text", "json"}

// renderLine writes a line the way gitlab-runner's formatters do
// (gitlab-api.md section 4.1), so every line class is tested in every format.
func renderLine(format, level, msg string, fields ...field) string {
	switch format {
	case "runner", "color":
		prefix, colour := "", ""
		switch level {
		case LevelWarning:
			prefix, colour = "WARNING: ", "\x1b[0;33m"
		case LevelError:
			prefix, colour = "ERROR: ", "\x1b[31;1m"
		case LevelPanic:
			prefix, colour = "PANIC: ", "\x1b[31;1m"
		case LevelFatal:
			prefix, colour = "FATAL: ", "\x1b[31;1m"
		case LevelDebug:
			colour = "\x1b[37;1m"
		}
		reset := "\x1b[0;m"
		if format == "runner" {
			colour, reset = "", ""
		}
		var b strings.Builder
		b.WriteString(colour + prefix + fmt.Sprintf("%-*s", 50-len(prefix), msg) + reset + " ")
		for _, f := range fields {
			b.WriteString(" " + colour + f.k + reset + "=" + f.v)
		}
		return b.String()
	case "text":
		var b strings.Builder
		b.WriteString(`time="2026-12-04T19:32:01.638644779Z" level=` + level + " msg=" + strconv.Quote(msg))
		for _, f := range fields {
			v := f.v
			if strings.ContainsAny(v, ` "=`) {
				v = strconv.Quote(v)
			}
			b.WriteString(" " + f.k + "=" + v)
		}
		return b.String()
	case "json":
		m := map[string]any{"level": level, "msg": msg, "time": "2026-12-04T19:32:01.61828422Z"}
		for _, f := range fields {
			if n, err := strconv.ParseInt(f.v, 10, 64); err == nil {
				m[f.k] = n
			} else {
				m[f.k] = f.v
			}
		}
		out, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return string(out)
	}
	panic("unknown format " + format)
}

var (
	corr     = field{"correlation_id", "01J9ZK3Q4Y6ZP0Q2M7N8R5T6VW"}
	short    = field{"runner", "xyz123abc"}
	name     = field{"runner_name", "k8s-runner"}
	loop     = []field{{"builds", "0"}, {"max_builds", "10"}}
	refused  = "execute JSON request: execute request: couldn't execute POST against https://127.0.0.1:1/api/v4/jobs/request: Post \"https://127.0.0.1:1/api/v4/jobs/request\": dial tcp 127.0.0.1:1: connect: connection refused"
	unknownA = "execute JSON request: execute request: couldn't execute POST against https://gitlab.example.com/api/v4/runners: Post \"https://gitlab.example.com/api/v4/runners\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
)

func st(v string) field { return field{"status", v} }

func withStatus(v string) []field { return []field{corr, short, name, st(v)} }

// lineCase is one line class of the catalogue (gitlab-api.md 4.2 and 4.5).
type lineCase struct {
	name   string
	level  string
	msg    string
	fields []field
	want   Event // Level is filled from level
}

var lineCases = []lineCase{
	{"register succeeded", LevelInfo, "Registering runner... succeeded", []field{corr, short, name},
		Event{State: StateRegistered, Reason: ReasonRunnerRegistered, Message: msgRegisterSucceeded}},
	{"register forbidden", LevelError, "Registering runner... forbidden (check registration token)",
		withStatus("POST https://gitlab.example.com/api/v4/runners: 403 Forbidden (403 Forbidden - invalid token supplied)"),
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgRegisterForbidden, Detail: "403 Forbidden"}},
	{"register forbidden before 16.5 (no status)", LevelError, "Registering runner... forbidden (check registration token)", []field{short},
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgRegisterForbidden, Detail: "403 Forbidden"}},
	{"register 410", LevelError, "Registering runner... failed",
		withStatus("POST https://gitlab.example.com/api/v4/runners: 410 Gone (410 Gone - runner registration disallowed)"),
		Event{State: StateRegistrationDisabled, Reason: ReasonRegistrationDisabled, Message: msgRegisterFailed, Detail: "410 Gone"}},
	{"register connection refused", LevelError, "Registering runner... failed", withStatus(refused),
		Event{State: StateUnreachable, Reason: ReasonGitLabUnreachable, Message: msgRegisterFailed, Detail: "connection refused"}},
	{"register unknown CA", LevelError, "Registering runner... failed", withStatus(unknownA),
		Event{State: StateTLSError, Reason: ReasonTLSFailure, Message: msgRegisterFailed, Detail: "certificate signed by unknown authority"}},
	{"register wrong host", LevelError, "Registering runner... failed",
		withStatus(`Post "https://localhost:35797/api/v4/runners": tls: failed to verify certificate: x509: certificate is valid for example.com, *.example.com, not localhost`),
		Event{State: StateTLSError, Reason: ReasonTLSFailure, Message: msgRegisterFailed, Detail: "certificate is not valid for the GitLab host name"}},
	{"register expired cert", LevelError, "Registering runner... failed",
		withStatus(`Post "https://gitlab.example.com/api/v4/runners": x509: certificate has expired or is not yet valid: current time ...`),
		Event{State: StateTLSError, Reason: ReasonTLSFailure, Message: msgRegisterFailed, Detail: "certificate has expired or is not yet valid"}},
	{"register plain http", LevelError, "Registering runner... failed",
		withStatus(`Post "https://gitlab.example.com/api/v4/runners": http: server gave HTTP response to HTTPS client; tls: first record does not look like a TLS handshake`),
		Event{State: StateTLSError, Reason: ReasonTLSFailure, Message: msgRegisterFailed, Detail: "the server did not answer with TLS"}},
	{"register other tls", LevelError, "Registering runner... failed",
		withStatus(`Post "https://gitlab.example.com/api/v4/runners": remote error: tls: protocol version not supported`),
		Event{State: StateTLSError, Reason: ReasonTLSFailure, Message: msgRegisterFailed, Detail: "TLS verification failed"}},
	{"register no such host", LevelError, "Registering runner... failed",
		withStatus(`Post "https://gitlab.invalid/api/v4/runners": dial tcp: lookup gitlab.invalid on 10.96.0.10:53: no such host`),
		Event{State: StateUnreachable, Reason: ReasonGitLabUnreachable, Message: msgRegisterFailed, Detail: "no such host"}},
	{"register timeout", LevelError, "Registering runner... failed",
		withStatus(`Post "https://10.0.0.1/api/v4/runners": dial tcp 10.0.0.1:443: i/o timeout`),
		Event{State: StateUnreachable, Reason: ReasonGitLabUnreachable, Message: msgRegisterFailed, Detail: "i/o timeout"}},
	{"register bare dial tcp", LevelError, "Registering runner... failed",
		withStatus(`Post "https://10.0.0.1/api/v4/runners": dial tcp 10.0.0.1:443: connect: something new`),
		Event{State: StateUnreachable, Reason: ReasonGitLabUnreachable, Message: msgRegisterFailed, Detail: "cannot connect"}},
	{"register 500", LevelError, "Registering runner... failed",
		withStatus("POST https://gitlab.example.com/api/v4/runners: 500 Internal Server Error"),
		Event{State: StateDegraded, Reason: ReasonGitLabUnavailable, Message: msgRegisterFailed, Detail: "500 Internal Server Error"}},
	{"register 400 validation", LevelError, "Registering runner... failed",
		withStatus("POST https://gitlab.example.com/api/v4/runners: 400 Bad Request (tags_list: can not be empty when runner is not allowed to pick untagged jobs)"),
		Event{State: StateDegraded, Reason: ReasonRequestRejected, Message: msgRegisterFailed, Detail: "400 Bad Request"}},
	{"register 429", LevelError, "Registering runner... failed", withStatus("429 Too Many Requests"),
		Event{State: StateDegraded, Reason: ReasonGitLabRateLimited, Message: msgRegisterFailed, Detail: "429 Too Many Requests"}},
	{"register no status", LevelError, "Registering runner... failed", []field{short},
		Event{State: StateDegraded, Reason: ReasonGitLabUnavailable, Message: msgRegisterFailed}},
	{"register client error", LevelError, "Registering runner... client error", withStatus("only http or https scheme supported"),
		Event{State: StateDegraded, Reason: ReasonGitLabUnavailable, Message: msgRegisterClientError}},
	{"register error (<=16.0)", LevelError, "Registering runner... error", withStatus("couldn't execute POST against https://gitlab.example.com/api/v4/runners: dial tcp: connection refused"),
		Event{State: StateUnreachable, Reason: ReasonGitLabUnreachable, Message: msgRegisterFailed, Detail: "connection refused"}},
	{"registered and saved", LevelInfo, "Runner registered successfully. Feel free to start it, but if it's running already the config should be automatically reloaded!", nil,
		Event{State: StateRegistered, Reason: ReasonRunnerRegistered, Message: msgRegisteredSaved}},
	{"verify valid", LevelInfo, "Verifying runner... is valid", []field{corr, short},
		Event{State: StateRegistered, Reason: ReasonRunnerRegistered, Message: msgVerifyValid}},
	{"verify alive", LevelInfo, "Verifying runner... is alive", []field{corr, short, name},
		Event{State: StateRegistered, Reason: ReasonRunnerRegistered, Message: msgVerifyAlive}},
	{"verify not valid (info level)", LevelInfo, "Verifying runner... is not valid", []field{corr, short},
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgVerifyNotValid}},
	{"verify removed", LevelError, "Verifying runner... is removed", withStatus("POST https://gitlab.example.com/api/v4/runners/verify: 403 Forbidden"),
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgVerifyRemoved, Detail: "403 Forbidden"}},
	{"verify failed tls", LevelError, "Verifying runner... failed", withStatus(unknownA),
		Event{State: StateTLSError, Reason: ReasonTLSFailure, Message: msgVerifyFailed, Detail: "certificate signed by unknown authority"}},
	{"verify failed 502", LevelError, "Verifying runner... failed", withStatus("502 Bad Gateway"),
		Event{State: StateDegraded, Reason: ReasonGitLabUnavailable, Message: msgVerifyFailed, Detail: "502 Bad Gateway"}},
	{"verify client error", LevelError, "Verifying runner... client error", withStatus("x"),
		Event{State: StateDegraded, Reason: ReasonGitLabUnavailable, Message: msgVerifyClientError}},
	{"configuration loaded", LevelInfo, "Configuration loaded", loop,
		Event{State: StateConfigLoaded, Reason: ReasonConfigLoaded, Message: msgConfigLoaded}},
	{"config load failed", LevelError, "Failed to load config near line 3 (last key parsed 'runners'): expected a top-level item to end with a newline, comment, or EOF, but got '=' instead", loop,
		Event{State: StateDegraded, Reason: ReasonConfigInvalid, Message: msgConfigLoadFailed}},
	{"empty token", LevelWarning, "Runner token is empty or whitespace; this runner will be skipped during job polling. Check the 'token' field in your config.toml for this runner.", append(loop, short, name),
		Event{State: StateTokenRejected, Reason: ReasonTokenMissing, Message: msgTokenEmpty}},
	{"jobs received", LevelInfo, "Checking for jobs... received",
		[]field{corr, {"job", "4242"}, {"repo_url", "https://gitlab.example.com/group/project.git"}, short, name},
		Event{State: StateReceivingJobs, Reason: ReasonReceivingJobs, Message: msgJobsReceived, Job: 4242}},
	{"jobs no content (debug)", LevelDebug, "Checking for jobs...no content", withStatus("204 No Content"),
		Event{State: StateReceivingJobs, Reason: ReasonReceivingJobs, Message: msgJobsNoContent}},
	{"jobs nothing (<=16.0)", LevelDebug, "Checking for jobs... nothing", []field{short},
		Event{State: StateReceivingJobs, Reason: ReasonReceivingJobs, Message: msgJobsNoContent}},
	{"jobs forbidden", LevelError, "Checking for jobs... forbidden", withStatus("POST https://gitlab.example.com/api/v4/jobs/request: 403 Forbidden"),
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgJobsForbidden, Detail: "403 Forbidden"}},
	{"jobs unavailable", LevelWarning, "Checking for jobs... GitLab instance currently unavailable", withStatus("503 Service Unavailable"),
		Event{State: StateDegraded, Reason: ReasonGitLabUnavailable, Message: msgJobsUnavailable, Detail: "503 Service Unavailable"}},
	{"jobs failed refused", LevelWarning, "Checking for jobs... failed", withStatus(refused),
		Event{State: StateUnreachable, Reason: ReasonGitLabUnreachable, Message: msgJobsFailed, Detail: "connection refused"}},
	{"jobs failed 410 is not registration", LevelWarning, "Checking for jobs... failed", withStatus("POST https://g/api/v4/jobs/request: 410 Gone"),
		Event{State: StateDegraded, Reason: ReasonRequestRejected, Message: msgJobsFailed, Detail: "410 Gone"}},
	{"jobs failed 401", LevelWarning, "Checking for jobs... failed", withStatus("POST https://g/api/v4/jobs/request: 401 Unauthorized"),
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgJobsFailed, Detail: "401 Unauthorized"}},
	{"jobs client error", LevelError, "Checking for jobs... client error", withStatus("only http or https scheme supported"),
		Event{State: StateDegraded, Reason: ReasonGitLabUnavailable, Message: msgJobsClientError}},
	{"unhealthy (>=15.7)", LevelError, `Runner "https://gitlab.example.comxyz123abc" is unhealthy and will be disabled for 1h0m0s seconds!`,
		[]field{{"unhealthy_requests", "3"}, {"unhealthy_requests_limit", "3"}},
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgUnhealthy}},
	{"unhealthy (<=15.6)", LevelError, "Runner https://gitlab.example.comGR1348941aGtf9e5u is not healthy and will be disabled!", nil,
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgUnhealthy}},
	{"reset succeeded", LevelInfo, "Resetting runner authentication token... succeeded", []field{corr, short, name},
		Event{State: StateTokenRotated, Reason: ReasonTokenRotated, Message: msgResetSucceeded}},
	{"reset forbidden", LevelError, "Resetting runner authentication token... failed (check used token)",
		withStatus("POST https://gitlab.example.com/api/v4/runners/reset_authentication_token: 403 Forbidden"),
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: msgResetForbidden, Detail: "403 Forbidden"}},
	{"reset failed network", LevelError, "Resetting runner authentication token... failed", withStatus(refused),
		Event{State: StateUnreachable, Reason: ReasonGitLabUnreachable, Message: msgResetFailed, Detail: "connection refused"}},
	{"stop signal", LevelWarning, "[runWait] received stop signal", append(loop, field{"stop-signal", "terminated"}),
		Event{State: StateTerminating, Reason: ReasonTerminating, Message: msgStopSignal}},
	{"second stop signal", LevelWarning, "[handleForcefulShutdown] received stop signal", nil,
		Event{State: StateTerminating, Reason: ReasonTerminating, Message: msgStopSignal}},
	{"forceful shutdown", LevelWarning, "Starting forceful shutdown", []field{{"StopSignal", "terminated"}, {"shutdown-timeout", "30s"}},
		Event{State: StateTerminating, Reason: ReasonTerminating, Message: msgForcefulShutdown}},
	{"graceful shutdown", LevelWarning, "Starting graceful shutdown, waiting for builds to finish", []field{{"StopSignal", "quit"}},
		Event{State: StateTerminating, Reason: ReasonTerminating, Message: msgGracefulShutdown}},
	{"all workers stopped", LevelInfo, "All workers stopped.", loop,
		Event{State: StateTerminating, Reason: ReasonTerminating, Message: msgAllWorkersStopped}},
	{"can exit", LevelInfo, "Can exit now!", loop,
		Event{State: StateTerminating, Reason: ReasonTerminating, Message: msgCanExit}},
	{"unregister succeeded", LevelInfo, "Unregistering runner from GitLab succeeded", []field{corr, short, name},
		Event{State: StateUnregistered, Reason: ReasonUnregistered, Message: "Unregistering runner from GitLab succeeded"}},
	{"unregister manager succeeded", LevelInfo, "Unregistering runner manager from GitLab succeeded", []field{corr, short, name},
		Event{State: StateUnregistered, Reason: ReasonUnregistered, Message: "Unregistering runner manager from GitLab succeeded"}},
	{"unregister forbidden", LevelError, "Unregistering runner from GitLab forbidden", withStatus("DELETE https://gitlab.example.com/api/v4/runners: 403 Forbidden"),
		Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Message: "Unregistering runner from GitLab forbidden", Detail: "403 Forbidden"}},
	{"unregister manager failed", LevelError, "Unregistering runner manager from GitLab failed", withStatus(refused),
		Event{State: StateUnreachable, Reason: ReasonGitLabUnreachable, Message: "Unregistering runner manager from GitLab failed", Detail: "connection refused"}},
}

func TestParseLineClasses(t *testing.T) {
	for _, tc := range lineCases {
		for _, format := range formats {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				line := renderLine(format, tc.level, tc.msg, tc.fields...)
				want := tc.want
				want.Level = tc.level
				if format == "runner" && tc.level == LevelDebug {
					// Without colour a debug line is indistinguishable from
					// an info line.
					want.Level = LevelInfo
				}
				got, ok := ParseLine(line)
				if !ok {
					t.Fatalf("ParseLine(%q) reported no signal", line)
				}
				if got != want {
					t.Errorf("ParseLine(%q)\n got %+v\nwant %+v", line, got, want)
				}
				// The same line read with timestamps=true and CRLF endings.
				got2, ok := ParseLine("2026-12-04T19:32:01.638644779Z " + line + "\r\n")
				if !ok || got2 != got {
					t.Errorf("with kubelet timestamp: got %+v, %v; want %+v", got2, ok, got)
				}
				if d := got.Describe(); d == "" || d == unknownMessage {
					t.Errorf("Describe() = %q", d)
				}
			})
		}
	}
}

func TestParseLineNoSignal(t *testing.T) {
	lines := []string{
		"",
		"   ",
		"\x1b[0;m ",
		"### run",
		"Runtime platform                                    arch=amd64 os=linux pid=7 revision=a1b2c3d4 version=19.3.0",
		"Running in system-mode.                            ",
		"Starting multi-runner from /etc/gitlab-runner/config.toml...  builds=0 max_builds=0",
		"Metrics server listening                            address=:9252 builds=0 max_builds=10",
		"Job succeeded                                       duration_s=12.345 job=4242 runner=xyz123abc",
		"WARNING: Job failed: command terminated with exit code 1  exit_code=1 job=4243",
		"PANIC: Failed to register the runner.              ",
		"PANIC: Failed to verify the runner.                ",
		"WARNING: Unregistering all runners                 ",
		`WARNING: Runner "https://gitlab.example.comxyz123abc" is not healthy, but check for a new job will be forced!  unhealthy_interval=1h0m0s`,
		"WARNING: CONFIGURATION: Long polling issues detected.",
		"  - Request bottleneck: 1 runners have request_concurrency=1, causing job delays during long polling",
		"Submitting job to coordinator...ok                  code=200 job=4242",
		"Registering runner... pending",
		"Checking for jobs... something new",
		`time="2026-12-04T19:32:01.655301568Z" level=info`,
		`{"level":"info","time":"2026-12-04T19:32:01Z"}`,
		`{"msg": "Configuration loaded"`, // truncated JSON
		`{"msg": 42}`,
		"Configuration loaded, but not quite",
	}
	for _, l := range lines {
		if ev, ok := ParseLine(l); ok {
			t.Errorf("ParseLine(%q) = %+v, want no signal", l, ev)
		}
	}
}

func TestParseLineOddInputs(t *testing.T) {
	tests := []struct {
		line string
		want Event
	}{
		// Logrus text format with an unquoted single-word msg and a
		// mis-typed level.
		{`level=WARN msg=Configuration\ loaded`, Event{}},
		{`level=WARN msg="Configuration loaded"`, Event{State: StateConfigLoaded, Reason: ReasonConfigLoaded, Level: LevelWarning, Message: msgConfigLoaded}},
		{`level=bogus msg="Configuration loaded" stray word`, Event{State: StateConfigLoaded, Reason: ReasonConfigLoaded, Level: LevelInfo, Message: msgConfigLoaded}},
		// Unterminated quote and a bad escape must not lose the message.
		{`level=error msg="Checking for jobs... forbidden`, Event{State: StateTokenRejected, Reason: ReasonTokenRejected, Level: LevelError, Message: msgJobsForbidden, Detail: "403 Forbidden"}},
		{`level=info msg="Checking for jobs... received" job="12"`, Event{State: StateReceivingJobs, Reason: ReasonReceivingJobs, Level: LevelInfo, Message: msgJobsReceived, Job: 12}},
		// JSON with odd types for status and job.
		{`{"msg":"Checking for jobs... received","job":"77","status":5}`, Event{State: StateReceivingJobs, Reason: ReasonReceivingJobs, Level: LevelInfo, Message: msgJobsReceived, Job: 77}},
		{`{"msg":"Checking for jobs... received","job":-3,"level":"trace"}`, Event{State: StateReceivingJobs, Reason: ReasonReceivingJobs, Level: LevelDebug, Message: msgJobsReceived}},
		// A timestamp-looking prefix that is not one stays part of the line.
		{"2026-12-04Tnope Configuration loaded", Event{}},
		// Unknown escape sequences are dropped, not copied.
		{"\x1b[2KConfiguration loaded\x1b", Event{State: StateConfigLoaded, Reason: ReasonConfigLoaded, Level: LevelInfo, Message: msgConfigLoaded}},
	}
	for _, tc := range tests {
		got, ok := ParseLine(tc.line)
		if ok != (tc.want != Event{}) || got != tc.want {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", tc.line, got, ok, tc.want)
		}
	}
}

func TestStripANSI(t *testing.T) {
	tests := map[string]string{
		"plain": "plain",
		"\x1b[31;1mERROR: x\x1b[0;m  \x1b[31;1mk\x1b[0;m=v": "ERROR: x  k=v",
		"a\x1b[0;mb":   "ab",
		"\x1b":         "",
		"\x1b[":        "",
		"x\x1b[12":     "x",
		"\x1bXy":       "Xy",
		"\x1b[?25lok":  "ok",
		"\x1b[1;2;3Hz": "z",
	}
	for in, want := range tests {
		if got := stripANSI(in); got != want {
			t.Errorf("stripANSI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCutTimestamp(t *testing.T) {
	ts, rest := cutTimestamp("2026-12-04T19:32:01.638644779Z Configuration loaded")
	want := time.Date(2026, 12, 4, 19, 32, 1, 638644779, time.UTC)
	if !ts.Equal(want) || rest != "Configuration loaded" {
		t.Errorf("got %v %q", ts, rest)
	}
	for _, s := range []string{"Configuration loaded", "2026-12-04T19:32:01Z", "2026-12-04T99:32:01Z x", "20261204T193201Z x"} {
		if ts, rest := cutTimestamp(s); !ts.IsZero() || rest != s {
			t.Errorf("cutTimestamp(%q) = %v %q, want unchanged", s, ts, rest)
		}
	}
}

func TestHTTPCode(t *testing.T) {
	tests := map[string]int{
		"POST https://gitlab.example.com/api/v4/runners: 403 Forbidden (403 Forbidden - invalid token supplied)": 403,
		"503 Service Unavailable":           503,
		"POST https://h:443/api: 410 Gone":  410,
		"dial tcp 127.0.0.1:1: connect":     0,
		"https://h:500 Internal":            0, // a port, not a status
		"job 404 Runner Not Found":          0, // not the reason phrase of 404
		"x 404 Not Found":                   404,
		"600 Something":                     0,
		"":                                  0,
		"42":                                0,
		"POST u: 429 Too Many Requests (x)": 429,
	}
	for in, want := range tests {
		if got := httpCode(in); got != want {
			t.Errorf("httpCode(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestDescribeEveryReason checks every reason has an actionable message of its
// own, with no token prefix in it.
func TestDescribeEveryReason(t *testing.T) {
	reasons := []string{ReasonRunnerRegistered, ReasonConfigLoaded, ReasonReceivingJobs, ReasonTokenRejected,
		ReasonTokenMissing, ReasonRegistrationDisabled, ReasonTLSFailure, ReasonGitLabUnreachable,
		ReasonGitLabUnavailable, ReasonGitLabRateLimited, ReasonRequestRejected, ReasonConfigInvalid,
		ReasonTokenRotated, ReasonTerminating, ReasonUnregistered}
	seen := map[string]string{}
	for _, r := range reasons {
		d := Event{Reason: r, Message: msgJobsFailed, Detail: "503 Service Unavailable"}.Describe()
		if d == unknownMessage || d == "" {
			t.Errorf("reason %s has no description", r)
		}
		if other, dup := seen[d]; dup {
			t.Errorf("reasons %s and %s share the description %q", r, other, d)
		}
		seen[d] = r
		for _, bad := range []string{"glrt-", "glpat-", "GR1348941", "http://", "https://"} {
			if strings.Contains(d, bad) {
				t.Errorf("description of %s contains %q: %s", r, bad, d)
			}
		}
	}
	if d := (Event{}).Describe(); d != unknownMessage {
		t.Errorf("zero Event describes as %q", d)
	}
}

// The local reason phrases must be exactly what gitlab-runner prints, which
// is Go's http.StatusText.
func TestStatusTextMatchesNetHTTP(t *testing.T) {
	for code, text := range statusText {
		if want := http.StatusText(code); text != want {
			t.Errorf("statusText[%d] = %q, net/http says %q", code, text, want)
		}
	}
}
