package runnerlog

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// record is one log line reduced to what classification needs. Its strings
// still come from the input: they are matched against constants and never
// returned to callers.
type record struct {
	ts     time.Time // kubelet timestamp prefix, zero when absent
	level  string
	msg    string
	status string
	job    int64
}

// parseRecord normalises one line in any of the four formats. It reports
// false when the line has no message (blank lines, "level=info" with no msg,
// malformed JSON).
func parseRecord(line string) (record, bool) {
	var rec record
	s := strings.TrimRight(line, "\r\n")
	rec.ts, s = cutTimestamp(s)

	// The runner formatter colours debug lines white; the colour is the only
	// way to tell a debug line from an info line once prefixes are compared.
	debug := strings.HasPrefix(s, "\x1b[37;1m")
	s = stripANSI(s)

	t := strings.TrimLeft(s, " \t")
	switch {
	case strings.HasPrefix(t, "{"):
		if !parseJSON(t, &rec) {
			return rec, false
		}
	case strings.HasPrefix(t, "time=") || strings.HasPrefix(t, "level="):
		parseLogfmt(t, &rec)
	default:
		parseRunnerFormat(s, debug, &rec)
	}
	rec.msg = strings.TrimSpace(rec.msg)
	return rec, rec.msg != ""
}

// cutTimestamp removes the RFC 3339 timestamp and the single space that
// pods/log prepends with timestamps=true. A line without one is returned as is.
func cutTimestamp(s string) (time.Time, string) {
	// Cheap shape check first: "2006-01-02T" is the only prefix worth parsing.
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[0] < '0' || s[0] > '9' {
		return time.Time{}, s
	}
	sp := strings.IndexByte(s, ' ')
	if sp < 0 || sp > 40 {
		return time.Time{}, s
	}
	ts, err := time.Parse(time.RFC3339Nano, s[:sp])
	if err != nil {
		return time.Time{}, s
	}
	return ts, s[sp+1:]
}

// stripANSI removes CSI escape sequences (ESC '[' parameters final-byte), which
// covers every colour code gitlab-runner emits (\x1b[0;33m, \x1b[31;1m,
// \x1b[37;1m, \x1b[0;m).
func stripANSI(s string) string {
	i := strings.IndexByte(s, 0x1b)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i+1:]
		if len(s) > 0 && s[0] == '[' {
			j := 1
			// Parameter and intermediate bytes are 0x20-0x3F; the final
			// byte is 0x40-0x7E.
			for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
				j++
			}
			if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
				j++
			}
			s = s[j:]
		}
		i = strings.IndexByte(s, 0x1b)
	}
	b.WriteString(s)
	return b.String()
}

// levelPrefixes are the message prefixes of the runner format for levels above
// info (gitlab-runner log/runner_formatter.go).
var levelPrefixes = [...]struct{ prefix, level string }{
	{"WARNING: ", LevelWarning},
	{"ERROR: ", LevelError},
	{"PANIC: ", LevelPanic},
	{"FATAL: ", LevelFatal},
}

// parseRunnerFormat handles the default format: an optional level prefix, the
// message padded with spaces, then " key=value" fields sorted by key with
// unquoted values. The message ends at the first run of two spaces, because
// the formatter always writes at least the padding's last space plus the
// space before the first field.
func parseRunnerFormat(s string, debug bool, rec *record) {
	rec.level = LevelInfo
	if debug {
		rec.level = LevelDebug
	}
	for _, p := range levelPrefixes {
		if strings.HasPrefix(s, p.prefix) {
			rec.level = p.level
			s = s[len(p.prefix):]
			break
		}
	}
	msg, fields := s, ""
	if i := strings.Index(s, "  "); i >= 0 {
		msg, fields = s[:i], s[i:]
	}
	rec.msg = msg
	if fields == "" {
		return
	}
	rec.status = runnerField(fields, "status")
	if j := runnerField(fields, "job"); j != "" {
		rec.job = parseJob(j)
	}
}

// runnerField returns the value of key in the runner format's field section.
// Values are unquoted and may contain spaces (status=POST https://...: 403
// Forbidden), so a value ends only where the next " key=" starts.
func runnerField(fields, key string) string {
	needle := " " + key + "="
	i := strings.Index(fields, needle)
	if i < 0 {
		return ""
	}
	v := fields[i+len(needle):]
	for j := 0; j < len(v); j++ {
		if v[j] == ' ' && startsField(v[j+1:]) {
			return v[:j]
		}
	}
	return v
}

// startsField reports whether s begins with "identifier=", the shape of the
// next field in the runner format.
func startsField(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			return i > 0
		case c == '_' || c == '-' || c == '.' ||
			('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9'):
		default:
			return false
		}
	}
	return false
}

// parseLogfmt handles logrus's TextFormatter: key=value pairs where values
// that need it are Go-quoted.
func parseLogfmt(s string, rec *record) {
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return
		}
		key := s[:eq]
		if strings.IndexByte(key, ' ') >= 0 {
			// Not a key: skip the stray word.
			s = s[strings.IndexByte(key, ' '):]
			continue
		}
		s = s[eq+1:]
		var val string
		val, s = logfmtValue(s)
		switch key {
		case "level":
			rec.level = normaliseLevel(val)
		case "msg":
			rec.msg = val
		case "status":
			rec.status = val
		case "job":
			rec.job = parseJob(val)
		}
	}
}

// logfmtValue reads one value and returns it with the rest of the line.
func logfmtValue(s string) (string, string) {
	if !strings.HasPrefix(s, `"`) {
		if i := strings.IndexByte(s, ' '); i >= 0 {
			return s[:i], s[i:]
		}
		return s, ""
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			raw := s[:i+1]
			if v, err := strconv.Unquote(raw); err == nil {
				return v, s[i+1:]
			}
			return raw[1:i], s[i+1:]
		}
	}
	// Unterminated quote: take the rest.
	return s[1:], ""
}

// jsonLine is the subset of logrus JSONFormatter keys the parser needs. Status
// and job are kept raw because a hostile or future line may give them another
// JSON type, and that must not make the whole line unreadable.
type jsonLine struct {
	Msg    string          `json:"msg"`
	Level  string          `json:"level"`
	Status json.RawMessage `json:"status"`
	Job    json.RawMessage `json:"job"`
}

func parseJSON(s string, rec *record) bool {
	var l jsonLine
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return false
	}
	rec.msg = l.Msg
	rec.level = normaliseLevel(l.Level)
	if len(l.Status) > 0 {
		var st string
		if json.Unmarshal(l.Status, &st) == nil {
			rec.status = st
		}
	}
	if len(l.Job) > 0 {
		rec.job = parseJob(strings.Trim(string(l.Job), `"`))
	}
	return true
}

func parseJob(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// normaliseLevel maps logrus spellings onto the Level constants.
func normaliseLevel(l string) string {
	switch strings.ToLower(l) {
	case "debug", "trace":
		return LevelDebug
	case "info", "":
		return LevelInfo
	case "warn", "warning":
		return LevelWarning
	case "error":
		return LevelError
	case "fatal":
		return LevelFatal
	case "panic":
		return LevelPanic
	}
	return LevelInfo
}
