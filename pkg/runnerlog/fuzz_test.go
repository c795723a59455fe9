package runnerlog

import (
	"regexp"
	"strings"
	"testing"
)

// tokenLike finds what must never reach a message: prefixed GitLab tokens and
// the value of the runner= short-token field (runner format, text format and
// JSON spellings).
var tokenLike = regexp.MustCompile(`(?:glrtr?-|glpat-|glcbt-|GR1348941)[0-9A-Za-z_\-]*|runner[=":]+([^\s"]+)`)

// tokenPrefixes appear in no message constant, so their mere presence in an
// output means something was copied from the input.
var tokenPrefixes = []string{"glrt-", "glrtr-", "glpat-", "glcbt-", "GR1348941"}

// assertNoLeak checks that no token-like substring of input appears in any
// text the package derived from it.
func assertNoLeak(t *testing.T, input string, outputs ...any) {
	t.Helper()
	var texts []string
	for _, o := range outputs {
		switch v := o.(type) {
		case Summary:
			texts = append(texts, v.Message, v.LastMessage, v.Reason, string(v.State))
		case Event:
			texts = append(texts, v.Message, v.Detail, v.Reason, v.Level, string(v.State), v.Describe())
		}
	}
	out := strings.Join(texts, "\n")
	for _, p := range tokenPrefixes {
		if strings.Contains(out, p) {
			t.Fatalf("output contains %q:\ninput:  %q\noutput: %q", p, input, out)
		}
	}
	for _, m := range tokenLike.FindAllStringSubmatch(input, -1) {
		candidate := m[0]
		if m[1] != "" {
			candidate = m[1]
		}
		// Short values (runner=a) can occur in any English sentence; real
		// short tokens are 8 or 9 characters and contain a digit.
		if len(candidate) < 8 || !strings.ContainsAny(candidate, "0123456789") {
			continue
		}
		if strings.Contains(out, candidate) {
			t.Fatalf("output contains token-like %q:\ninput:  %q\noutput: %q", candidate, input, out)
		}
	}
}

// canonicalMessages is every value Event.Message may take.
var canonicalMessages = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range []string{
		msgRegisterSucceeded, msgRegisterForbidden, msgRegisterFailed, msgRegisterClientError, msgRegisteredSaved,
		msgVerifyValid, msgVerifyAlive, msgVerifyNotValid, msgVerifyRemoved, msgVerifyFailed, msgVerifyClientError,
		msgConfigLoaded, msgConfigLoadFailed, msgTokenEmpty, msgJobsReceived, msgJobsNoContent, msgJobsForbidden,
		msgJobsUnavailable, msgJobsFailed, msgJobsClientError, msgUnhealthy, msgResetSucceeded, msgResetForbidden,
		msgResetFailed, msgStopSignal, msgForcefulShutdown, msgGracefulShutdown, msgAllWorkersStopped, msgCanExit,
	} {
		m[s] = true
	}
	for _, p := range []string{pfxUnregisterRunner, pfxUnregisterManager} {
		for _, o := range []string{" succeeded", " forbidden", " failed"} {
			m[p+o] = true
		}
	}
	return m
}()

var levels = map[string]bool{LevelDebug: true, LevelInfo: true, LevelWarning: true, LevelError: true, LevelFatal: true, LevelPanic: true}

func addSeeds(f *testing.F, add func(string)) {
	for _, name := range sampleFiles {
		for _, l := range strings.Split(string(readSample(f, name)), "\n") {
			add(l)
		}
	}
	for _, l := range leakLines {
		add(l)
	}
	for _, tc := range lineCases {
		for _, format := range formats {
			add(renderLine(format, tc.level, tc.msg, tc.fields...))
		}
	}
}

func FuzzParseLine(f *testing.F) {
	addSeeds(f, func(s string) { f.Add(s) })
	f.Fuzz(func(t *testing.T, line string) {
		ev, ok := ParseLine(line)
		if !ok {
			if ev != (Event{}) {
				t.Fatalf("no signal but a non-zero event %+v", ev)
			}
			return
		}
		if !canonicalMessages[ev.Message] {
			t.Fatalf("Message %q is not canonical (input %q)", ev.Message, line)
		}
		if !levels[ev.Level] {
			t.Fatalf("Level %q (input %q)", ev.Level, line)
		}
		if ev.State == "" || ev.State == StateUnknown || ev.Reason == "" {
			t.Fatalf("incomplete event %+v", ev)
		}
		if ev.Job < 0 {
			t.Fatalf("negative job %d", ev.Job)
		}
		assertNoLeak(t, line, ev)
	})
}

func FuzzSummarize(f *testing.F) {
	var all strings.Builder
	addSeeds(f, func(s string) {
		all.WriteString(s + "\n")
		f.Add([]byte(s+"\n"), uint16(len(s)/2))
	})
	f.Add([]byte(all.String()), uint16(1000))
	f.Fuzz(func(t *testing.T, chunk []byte, cut uint16) {
		input := string(chunk)
		s := Summarize(chunk, Summary{})
		if s.Consumed < 0 || s.Consumed > len(chunk) {
			t.Fatalf("Consumed %d out of range 0..%d", s.Consumed, len(chunk))
		}
		if s.Consumed > 0 && s.Consumed < len(chunk) && chunk[s.Consumed-1] != '\n' {
			t.Fatalf("Consumed %d does not end a line", s.Consumed)
		}
		if s.State == "" || s.Reason == "" || s.Message == "" {
			t.Fatalf("incomplete summary %+v", s)
		}
		assertNoLeak(t, input, s)

		// Cutting the chunk anywhere and resuming from Consumed gives the
		// same summary as reading it in one go.
		k := int(cut) % (len(chunk) + 1)
		first := Summarize(chunk[:k], Summary{})
		if first.Consumed != k && len(chunk[:k]) >= MaxChunkSize {
			return // overlong-line skipping makes the two reads differ legitimately
		}
		second := Summarize(chunk[first.Consumed:], first)
		whole := s
		if second.Consumed+first.Consumed != whole.Consumed {
			// Only the final incomplete line may remain, and it must be the
			// same one.
			t.Fatalf("consumed %d+%d, whole read consumed %d", first.Consumed, second.Consumed, whole.Consumed)
		}
		second.Consumed = whole.Consumed
		if second != whole {
			t.Fatalf("split at %d:\n got %+v\nwant %+v", k, second, whole)
		}
	})
}
