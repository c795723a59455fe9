package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// reqKey classifies one API request: verb (create, update, patch, delete,
// get, list, watch), resource (with subresource, "runners/status") and the
// response code class ("2xx", "409", ...).
type reqKey struct {
	Verb     string
	Resource string
	Code     string
}

// counter is an http.RoundTripper wrapper that counts a client's requests
// to the API server (the manager's, the floor's, the bench's). Outside the
// converge phase and the floor it keeps counts only (bounded memory: a few
// dozen keys), so it does not disturb the heap measurement.
type counter struct {
	mu     sync.Mutex
	counts map[reqKey]int
	// selectors records every list/watch of secrets, configmaps and pods
	// with its label selector, to show the cache is scoped.
	selectors map[string]int
	// dropEvents answers Event creates locally (-x-drop-events).
	dropEvents bool
	// tracing records every non-watch request's timing (converge and
	// floor only: it grows with the requests).
	tracing bool
	trace   []traceEntry
}

// traceEntry is one request's timing.
type traceEntry struct {
	start, end time.Time
	verb       string
	resource   string
}

// writeTrace writes a trace as CSV (start and end in milliseconds from
// origin, verb, resource) for -trace-dir.
func writeTrace(dir, name string, origin time.Time, t []traceEntry) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("start_ms,end_ms,verb,resource\n")
	for _, e := range t {
		fmt.Fprintf(&b, "%.3f,%.3f,%s,%s\n", ms(e.start.Sub(origin)), ms(e.end.Sub(origin)), e.verb, e.resource)
	}
	return os.WriteFile(filepath.Join(dir, name+".csv"), []byte(b.String()), 0o644)
}

func (c *counter) startTrace() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tracing, c.trace = true, nil
}

// stopTrace returns the trace and stops recording.
func (c *counter) stopTrace() []traceEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trace
	c.tracing, c.trace = false, nil
	return t
}

// traceStats summarises a trace over [from, to]: the mean number of
// requests in flight (how busy the client keeps the API server) and the
// mean latency of writes and reads.
type traceStats struct {
	inFlight              float64
	writeLatency, readLat time.Duration
	writes, reads         int
}

func summarizeTrace(t []traceEntry, from, to time.Time) traceStats {
	var st traceStats
	var busy, wsum, rsum time.Duration
	for _, e := range t {
		s, en := e.start, e.end
		if s.Before(from) {
			s = from
		}
		if en.After(to) {
			en = to
		}
		if en.After(s) {
			busy += en.Sub(s)
		}
		d := e.end.Sub(e.start)
		switch {
		case isWrite(e.verb):
			st.writes++
			wsum += d
		default:
			st.reads++
			rsum += d
		}
	}
	if to.After(from) {
		st.inFlight = float64(busy) / float64(to.Sub(from))
	}
	if st.writes > 0 {
		st.writeLatency = wsum / time.Duration(st.writes)
	}
	if st.reads > 0 {
		st.readLat = rsum / time.Duration(st.reads)
	}
	return st
}

func newCounter() *counter {
	return &counter{counts: map[reqKey]int{}, selectors: map[string]int{}}
}

// wrap is what rest.Config.Wrap takes.
func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		verb, resource, named := classify(req)
		start := time.Now()
		var resp *http.Response
		var err error
		if c.dropEvents && verb == "create" && resource == "events" {
			resp, err = echo(req)
		} else {
			resp, err = rt.RoundTrip(req)
		}
		code := "error"
		if err == nil {
			code = codeClass(resp.StatusCode)
		}
		end := time.Now()
		c.mu.Lock()
		if c.tracing && verb != "watch" {
			c.trace = append(c.trace, traceEntry{start: start, end: end, verb: verb, resource: resource})
		}
		c.counts[reqKey{Verb: verb, Resource: resource, Code: code}]++
		if !named && (verb == "list" || verb == "watch") {
			switch resource {
			case "secrets", "configmaps", "pods":
				sel := req.URL.Query().Get("labelSelector")
				if sel == "" {
					sel = "<none>"
				}
				c.selectors[fmt.Sprintf("%s %s labelSelector=%s", verb, resource, sel)]++
			}
		}
		c.mu.Unlock()
		return resp, err
	})
}

// echo answers a create with 201 and the object sent, as the API server
// would, without sending it.
func echo(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		body = b
	}
	h := http.Header{}
	h.Set("Content-Type", req.Header.Get("Content-Type"))
	return &http.Response{StatusCode: http.StatusCreated, Status: "201 Created", Header: h, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func codeClass(code int) string {
	switch {
	case code >= 200 && code < 300:
		return "2xx"
	default:
		return fmt.Sprint(code)
	}
}

// classify maps a request to its Kubernetes verb and resource.
// /api/v1/namespaces/ns/secrets/name and
// /apis/gitlab.com/v1beta1/namespaces/ns/runners/name/status are the
// shapes; named reports whether the path names one object.
func classify(req *http.Request) (verb, resource string, named bool) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(req.Method), "nonresource:" + req.URL.Path, false
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	if len(parts) == 0 {
		return strings.ToLower(req.Method), "discovery", false
	}
	resource = parts[0]
	named = len(parts) >= 2
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	switch req.Method {
	case http.MethodGet:
		switch {
		case req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	default:
		verb = strings.ToLower(req.Method)
	}
	return verb, resource, named
}

func isWrite(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete":
		return true
	}
	return false
}

// snapshot is a copy of the counts at one moment.
type snapshot map[reqKey]int

func (c *counter) snapshot() snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(snapshot, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

func (c *counter) selectorLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.selectors))
	for k := range c.selectors {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// since returns the requests made between old and s.
func (s snapshot) since(old snapshot) snapshot {
	out := snapshot{}
	for k, v := range s {
		if d := v - old[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// writes counts create, update, patch and delete requests.
func (s snapshot) writes() int {
	n := 0
	for k, v := range s {
		if isWrite(k.Verb) {
			n += v
		}
	}
	return n
}

// reads counts get and list requests (watches are long-lived and left out).
func (s snapshot) reads() int {
	n := 0
	for k, v := range s {
		if k.Verb == "get" || k.Verb == "list" {
			n += v
		}
	}
	return n
}

// lines renders the counts, writes first, as "verb resource [code]: n".
func (s snapshot) lines(filter func(reqKey) bool) []string {
	keys := make([]reqKey, 0, len(s))
	for k := range s {
		if filter == nil || filter(k) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if isWrite(a.Verb) != isWrite(b.Verb) {
			return isWrite(a.Verb)
		}
		if a.Verb != b.Verb {
			return a.Verb < b.Verb
		}
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Code < b.Code
	})
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		code := ""
		if k.Code != "2xx" {
			code = " [" + k.Code + "]"
		}
		out = append(out, fmt.Sprintf("%-6s %-22s%s: %d", k.Verb, k.Resource, code, s[k]))
	}
	return out
}
