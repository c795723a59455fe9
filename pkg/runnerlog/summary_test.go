package runnerlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var sampleFiles = []string{
	"sample-runner-nocolor.log",
	"sample-runner-color.log",
	"sample-text.log",
	"sample-json.log",
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sampleEvents is the event sequence every sample file must produce: the four
// files render the same catalogue in the four formats.
var sampleEvents = []struct {
	state   State
	reason  string
	message string
}{
	{StateRegistered, ReasonRunnerRegistered, msgRegisterSucceeded},
	{StateRegistered, ReasonRunnerRegistered, msgRegisteredSaved},
	{StateTokenRejected, ReasonTokenRejected, msgRegisterForbidden},
	{StateRegistrationDisabled, ReasonRegistrationDisabled, msgRegisterFailed},
	{StateUnreachable, ReasonGitLabUnreachable, msgRegisterFailed},
	{StateTLSError, ReasonTLSFailure, msgRegisterFailed},
	{StateTLSError, ReasonTLSFailure, msgRegisterFailed},
	{StateRegistered, ReasonRunnerRegistered, msgVerifyValid},
	{StateTokenRejected, ReasonTokenRejected, msgVerifyNotValid},
	{StateRegistered, ReasonRunnerRegistered, msgVerifyAlive},
	{StateTokenRejected, ReasonTokenRejected, msgVerifyRemoved},
	{StateConfigLoaded, ReasonConfigLoaded, msgConfigLoaded},
	{StateReceivingJobs, ReasonReceivingJobs, msgJobsReceived},
	{StateTokenRejected, ReasonTokenRejected, msgJobsForbidden},
	{StateUnreachable, ReasonGitLabUnreachable, msgJobsFailed},
	{StateDegraded, ReasonGitLabUnavailable, msgJobsUnavailable},
	{StateTokenRejected, ReasonTokenRejected, msgUnhealthy},
	{StateTokenRejected, ReasonTokenMissing, msgTokenEmpty},
	{StateDegraded, ReasonConfigInvalid, msgConfigLoadFailed},
	{StateReceivingJobs, ReasonReceivingJobs, msgJobsNoContent},
	{StateTokenRotated, ReasonTokenRotated, msgResetSucceeded},
	{StateTokenRejected, ReasonTokenRejected, msgResetForbidden},
	{StateTerminating, ReasonTerminating, msgStopSignal},
	{StateTerminating, ReasonTerminating, msgForcefulShutdown},
	{StateTerminating, ReasonTerminating, msgAllWorkersStopped},
	{StateTerminating, ReasonTerminating, msgCanExit},
	{StateTerminating, ReasonTerminating, msgStopSignal},
	{StateTerminating, ReasonTerminating, msgGracefulShutdown},
	{StateConfigLoaded, ReasonConfigLoaded, msgConfigLoaded},
	{StateUnregistered, ReasonUnregistered, "Unregistering runner from GitLab succeeded"},
	{StateTokenRejected, ReasonTokenRejected, "Unregistering runner from GitLab forbidden"},
	{StateUnregistered, ReasonUnregistered, "Unregistering runner manager from GitLab succeeded"},
}

func TestSampleFilesEvents(t *testing.T) {
	for _, name := range sampleFiles {
		t.Run(name, func(t *testing.T) {
			var i int
			for _, line := range strings.Split(string(readSample(t, name)), "\n") {
				ev, ok := ParseLine(line)
				if !ok {
					continue
				}
				if i >= len(sampleEvents) {
					t.Fatalf("unexpected extra event %+v from %q", ev, line)
				}
				w := sampleEvents[i]
				if ev.State != w.state || ev.Reason != w.reason || ev.Message != w.message {
					t.Errorf("event %d from %q\n got %s/%s/%q\nwant %s/%s/%q", i, line, ev.State, ev.Reason, ev.Message, w.state, w.reason, w.message)
				}
				i++
			}
			if i != len(sampleEvents) {
				t.Errorf("got %d events, want %d", i, len(sampleEvents))
			}
		})
	}
}

// TestSampleSections summarises each "### section" of every sample file on its
// own, as if it were the whole log of a fresh container.
func TestSampleSections(t *testing.T) {
	want := map[string]struct {
		state    State
		reason   string
		rejected bool
	}{
		"startup (every command)":                           {StateUnknown, ReasonNoLogSignal, false},
		"register (legacy registration token)":              {StateRegistered, ReasonRunnerRegistered, false},
		"register failures":                                 {StateTLSError, ReasonTLSFailure, true},
		"register / verify with glrt- authentication token": {StateTokenRejected, ReasonTokenRejected, true},
		"verify legacy token":                               {StateTokenRejected, ReasonTokenRejected, true},
		// forbidden, then network and 503 failures, unhealthy, an empty
		// token and a config error: the state follows the latest line but
		// the token stays rejected.
		"run": {StateDegraded, ReasonConfigInvalid, true},
		"job update lines (logrus Info/Debug use fmt.Sprint: NO space between two string operands)": {StateReceivingJobs, ReasonReceivingJobs, false},
		"token reset (automatic rotation)": {StateTokenRejected, ReasonTokenRejected, true},
		"shutdown: SIGTERM / SIGINT":       {StateTerminating, ReasonTerminating, false},
		"shutdown: SIGQUIT":                {StateTerminating, ReasonTerminating, false},
		"full run startup sequence (default request_concurrency=1 triggers the long-polling warning)": {StateConfigLoaded, ReasonConfigLoaded, false},
		"unregister": {StateUnregistered, ReasonUnregistered, false},
	}
	for _, name := range sampleFiles {
		sections := strings.Split(string(readSample(t, name)), "### ")[1:]
		if len(sections) != len(want) {
			t.Fatalf("%s: %d sections, want %d", name, len(sections), len(want))
		}
		for _, sec := range sections {
			title, body, _ := strings.Cut(sec, "\n")
			w, ok := want[title]
			if !ok {
				t.Fatalf("%s: unexpected section %q", name, title)
			}
			s := Summarize([]byte(body), Summary{})
			if s.State != w.state || s.Reason != w.reason || s.TokenRejected != w.rejected {
				t.Errorf("%s / %s: got %s/%s rejected=%v, want %s/%s rejected=%v",
					name, title, s.State, s.Reason, s.TokenRejected, w.state, w.reason, w.rejected)
			}
			if s.Consumed != len(body) {
				t.Errorf("%s / %s: consumed %d of %d", name, title, s.Consumed, len(body))
			}
			assertNoLeak(t, body, s)
		}
	}
}

func line(level, msg string, fields ...field) string {
	return renderLine("runner", level, msg, fields...) + "\n"
}

var (
	lConfigLoaded = line(LevelInfo, "Configuration loaded", loop...)
	lReceived     = line(LevelInfo, "Checking for jobs... received", corr, field{"job", "1"}, short)
	lNoContent    = line(LevelDebug, "Checking for jobs...no content", withStatus("204 No Content")...)
	lForbidden    = line(LevelError, "Checking for jobs... forbidden", withStatus("POST https://g/api/v4/jobs/request: 403 Forbidden")...)
	lUnhealthy    = line(LevelError, `Runner "https://gitlab.example.comxyz123abc" is unhealthy and will be disabled for 1h0m0s seconds!`)
	lRefused      = line(LevelWarning, "Checking for jobs... failed", withStatus(refused)...)
	lUnavailable  = line(LevelWarning, "Checking for jobs... GitLab instance currently unavailable", withStatus("503 Service Unavailable")...)
	lTLS          = line(LevelWarning, "Checking for jobs... failed", withStatus(unknownA)...)
	lVerified     = line(LevelInfo, "Verifying runner... is valid", corr, short)
	lRotated      = line(LevelInfo, "Resetting runner authentication token... succeeded", corr, short, name)
	lStop         = line(LevelWarning, "[runWait] received stop signal", field{"stop-signal", "terminated"})
	lJobDone      = line(LevelInfo, "Job succeeded", field{"job", "1"}, short)
	lRegister410  = line(LevelError, "Registering runner... failed", withStatus("POST https://g/api/v4/runners: 410 Gone (410 Gone - runner registration disallowed)")...)
	lUnregistered = line(LevelInfo, "Unregistering runner manager from GitLab succeeded", corr, short)
)

func TestSummarizePrecedence(t *testing.T) {
	tests := []struct {
		name     string
		lines    []string
		state    State
		reason   string
		rejected bool
	}{
		{"nothing", nil, StateUnknown, ReasonNoLogSignal, false},
		{"healthy start", []string{lConfigLoaded, lReceived}, StateReceivingJobs, ReasonReceivingJobs, false},
		{"forbidden after start", []string{lConfigLoaded, lForbidden}, StateTokenRejected, ReasonTokenRejected, true},
		{"received clears rejection", []string{lForbidden, lReceived}, StateReceivingJobs, ReasonReceivingJobs, false},
		{"no content clears rejection", []string{lForbidden, lNoContent}, StateReceivingJobs, ReasonReceivingJobs, false},
		{"verification clears rejection", []string{lForbidden, lVerified}, StateRegistered, ReasonRunnerRegistered, false},
		{"rotation clears rejection", []string{lForbidden, lRotated}, StateTokenRotated, ReasonTokenRotated, false},
		{"reload clears rejection", []string{lForbidden, lUnhealthy, lConfigLoaded}, StateConfigLoaded, ReasonConfigLoaded, false},
		{"reload with a still-bad token", []string{lForbidden, lConfigLoaded, lForbidden}, StateTokenRejected, ReasonTokenRejected, true},
		{"unregister clears rejection", []string{lForbidden, lUnregistered}, StateUnregistered, ReasonUnregistered, false},
		{"network failure keeps rejection", []string{lForbidden, lRefused}, StateUnreachable, ReasonGitLabUnreachable, true},
		{"503 keeps rejection", []string{lForbidden, lUnavailable}, StateDegraded, ReasonGitLabUnavailable, true},
		{"tls keeps rejection", []string{lForbidden, lTLS}, StateTLSError, ReasonTLSFailure, true},
		{"stop keeps rejection", []string{lForbidden, lStop}, StateTerminating, ReasonTerminating, true},
		{"a finished job proves nothing about the runner token", []string{lForbidden, lJobDone}, StateTokenRejected, ReasonTokenRejected, true},
		{"unhealthy", []string{lConfigLoaded, lForbidden, lForbidden, lForbidden, lUnhealthy}, StateTokenRejected, ReasonTokenRejected, true},
		{"recovered from outage", []string{lRefused, lUnavailable, lReceived}, StateReceivingJobs, ReasonReceivingJobs, false},
		{"latest problem wins", []string{lRefused, lTLS}, StateTLSError, ReasonTLSFailure, false},
		{"410", []string{lRegister410}, StateRegistrationDisabled, ReasonRegistrationDisabled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunk := []byte(strings.Join(tc.lines, ""))
			s := Summarize(chunk, Summary{})
			if s.State != tc.state || s.Reason != tc.reason || s.TokenRejected != tc.rejected {
				t.Errorf("got %s/%s rejected=%v, want %s/%s rejected=%v", s.State, s.Reason, s.TokenRejected, tc.state, tc.reason, tc.rejected)
			}
			if s.Message == "" {
				t.Error("empty Message")
			}
			// Line by line folding gives the same result as one chunk.
			inc := Summarize(nil, Summary{})
			for _, l := range tc.lines {
				inc = Summarize([]byte(l), inc)
			}
			inc.Consumed = s.Consumed
			if inc != s {
				t.Errorf("incremental %+v != whole %+v", inc, s)
			}
			// Folding the same lines again changes nothing.
			again := Summarize(chunk, s)
			if again != s {
				t.Errorf("refolding changed the summary:\n%+v\n%+v", s, again)
			}
		})
	}
}

func TestSummarizeKeepsPreviousStateOnSilence(t *testing.T) {
	s := Summarize([]byte(lForbidden), Summary{})
	next := Summarize([]byte(line(LevelInfo, "Job succeeded", short)+"\n\n"), s)
	next.Consumed = s.Consumed
	if next != s {
		t.Errorf("silence changed the summary: %+v -> %+v", s, next)
	}
}

func TestSummarizeMessagesAreStable(t *testing.T) {
	// Two occurrences of the same failure with different ids, URLs, ports
	// and timestamps must produce byte-identical condition texts.
	a := "2026-12-04T19:32:01.1Z " + renderLine("json", LevelError, "Checking for jobs... forbidden",
		field{"correlation_id", "AAAA"}, field{"runner", "abc123def"}, st("POST https://a.example:8443/api/v4/jobs/request: 403 Forbidden")) + "\n"
	b := "2026-12-05T01:02:03.9Z " + renderLine("json", LevelError, "Checking for jobs... forbidden",
		field{"correlation_id", "BBBB"}, field{"runner", "zzz999yyy"}, st("POST https://b.example/api/v4/jobs/request: 403 Forbidden")) + "\n"
	sa, sb := Summarize([]byte(a), Summary{}), Summarize([]byte(b), Summary{})
	if sa.State != sb.State || sa.Reason != sb.Reason || sa.Message != sb.Message || sa.LastMessage != sb.LastMessage {
		t.Errorf("volatile parts leaked into the summary:\n%+v\n%+v", sa, sb)
	}
	if want := time.Date(2026, 12, 5, 1, 2, 3, 900000000, time.UTC); !sb.LastTimestamp.Equal(want) {
		t.Errorf("LastTimestamp = %v, want %v", sb.LastTimestamp, want)
	}
}

func TestSplitComplete(t *testing.T) {
	tests := []struct {
		in       string
		complete string
		rest     int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"abc\n", "abc\n", 0},
		{"a\nb\nc", "a\nb\n", 1},
		{"\n", "\n", 0},
		{"a\r\nb", "a\r\n", 1},
	}
	for _, tc := range tests {
		c, r := SplitComplete([]byte(tc.in))
		if string(c) != tc.complete || r != tc.rest {
			t.Errorf("SplitComplete(%q) = %q, %d; want %q, %d", tc.in, c, r, tc.complete, tc.rest)
		}
	}
}

func TestSummarizePartialLine(t *testing.T) {
	full := lConfigLoaded + lForbidden
	cut := len(lConfigLoaded) + 20 // inside the forbidden line
	s := Summarize([]byte(full[:cut]), Summary{})
	if s.Consumed != len(lConfigLoaded) {
		t.Fatalf("Consumed = %d, want %d", s.Consumed, len(lConfigLoaded))
	}
	if s.State != StateConfigLoaded || s.TokenRejected {
		t.Fatalf("partial line was folded: %+v", s)
	}
	// The caller presents the leftover again with the next bytes.
	s = Summarize([]byte(full[s.Consumed:]), s)
	if s.State != StateTokenRejected || !s.TokenRejected || s.Consumed != len(lForbidden) {
		t.Errorf("after completing the line: %+v", s)
	}
}

func TestSummarizeOverlongLine(t *testing.T) {
	huge := bytes.Repeat([]byte("x"), MaxChunkSize)
	s := Summarize(huge, Summary{})
	if s.Consumed != len(huge) {
		t.Errorf("an overlong line must be skipped, Consumed = %d", s.Consumed)
	}
	if s.State != StateUnknown {
		t.Errorf("State = %s", s.State)
	}
	short := bytes.Repeat([]byte("x"), MaxChunkSize-1)
	if s := Summarize(short, Summary{}); s.Consumed != 0 {
		t.Errorf("a short incomplete line must wait, Consumed = %d", s.Consumed)
	}
}

// TestSummarizeReaderSimulation feeds every sample file through a reader that
// reads n bytes at a time and keeps the unconsumed tail, for many n. The
// result must not depend on where the chunks were cut.
func TestSummarizeReaderSimulation(t *testing.T) {
	for _, name := range sampleFiles {
		data := readSample(t, name)
		whole := Summarize(data, Summary{})
		for _, n := range []int{1, 2, 3, 7, 50, 51, 97, 500, 4096, MaxChunkSize} {
			var s Summary
			var pending []byte
			for off := 0; off < len(data) || len(pending) > 0; {
				end := min(off+n, len(data))
				chunk := append(pending, data[off:end]...)
				off = end
				s = Summarize(chunk, s)
				pending = append([]byte(nil), chunk[s.Consumed:]...)
				if off == len(data) && len(pending) > 0 {
					// End of the log: the writer finishes the line.
					pending = append(pending, '\n')
				}
			}
			s.Consumed = whole.Consumed
			if s != whole {
				t.Errorf("%s with %d-byte reads:\n got %+v\nwant %+v", name, n, s, whole)
			}
		}
	}
}

// Tokens as they could appear in a runner's log if a future gitlab-runner
// version, a user's job output or an attacker printed them.
var leakLines = []string{
	`ERROR: Checking for jobs... forbidden               correlation_id=glrt-t1_SECRETSECRETSECRET runner=glrt-t1_SECRETSECRETSECRET status=POST https://glpat-SECRETSECRETSECRET@gitlab.example.com/api/v4/jobs/request?token=glrt-SECRETSECRETSECRET: 403 Forbidden`,
	`ERROR: Registering runner... failed                 runner=GR1348941SECRETSECRET status=POST https://gitlab.example.com/api/v4/runners?token=GR1348941SECRETSECRET: 410 Gone (410 Gone - GR1348941SECRETSECRET)`,
	`ERROR: Runner "https://gitlab.example.comglrt-SECRETSECRETSECRET" is unhealthy and will be disabled for 1h0m0s seconds!  unhealthy_requests=3`,
	`ERROR: Failed to load config token = "glrtr-SECRETSECRETSECRET" near line 3  builds=0`,
	`{"level":"error","msg":"Verifying runner... is removed","runner":"SECRETSECRET","status":"POST https://x/api/v4/runners/verify?token=glrt-SECRETSECRETSECRET: 403 Forbidden"}`,
	`time="2026-12-04T19:32:01Z" level=warning msg="Checking for jobs... failed" runner=SECRETSECRET status="dial tcp glrt-SECRETSECRETSECRET:443: connection refused"`,
	`time="2026-12-04T19:32:01Z" level=warning msg="Runner token is empty or whitespace glrt-SECRETSECRETSECRET" runner=SECRETSECRET`,
	`Checking for jobs... received                       job=1 repo_url=https://gitlab-ci-token:glcbt-SECRETSECRETSECRET@gitlab.example.com/g/p.git runner=SECRETSECRET`,
}

func TestNoTokenLeaks(t *testing.T) {
	var s Summary
	for _, l := range leakLines {
		ev, ok := ParseLine(l)
		if !ok {
			t.Errorf("no signal from %q", l)
			continue
		}
		for _, out := range []string{ev.Message, ev.Detail, ev.Describe()} {
			if strings.Contains(out, "SECRET") {
				t.Errorf("token leaked from %q into %q", l, out)
			}
		}
		s = Summarize([]byte(l+"\n"), s)
		if strings.Contains(s.Message+s.LastMessage+s.Reason+string(s.State), "SECRET") {
			t.Errorf("token leaked into summary %+v", s)
		}
	}
}
