/*
Copyright 2026 The GitLab Operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package gitlabtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Routes served by the fake, in the form Inject and CallCount take.
const (
	RouteRegister         = "POST /api/v4/runners"
	RouteDeleteByToken    = "DELETE /api/v4/runners"
	RouteVerify           = "POST /api/v4/runners/verify"
	RouteDeleteManager    = "DELETE /api/v4/runners/managers"
	RouteResetToken       = "POST /api/v4/runners/reset_authentication_token"
	RouteCreateUserRunner = "POST /api/v4/user/runners"
	RouteListAll          = "GET /api/v4/runners/all"
	RouteListOwned        = "GET /api/v4/runners"
	RouteGetRunner        = "GET /api/v4/runners/:id"
	RouteUpdateRunner     = "PUT /api/v4/runners/:id"
	RouteDeleteRunner     = "DELETE /api/v4/runners/:id"
	RouteListManagers     = "GET /api/v4/runners/:id/managers"
	RouteResetTokenByID   = "POST /api/v4/runners/:id/reset_authentication_token"
	RouteVersion          = "GET /api/v4/version"
	RouteMetadata         = "GET /api/v4/metadata"
	RouteJobsRequest      = "POST /api/v4/jobs/request"
	RouteHealth           = "GET /-/health"
	RouteReadiness        = "GET /-/readiness"
	RouteLiveness         = "GET /-/liveness"
)

type handlerFunc func(s *Server, rq *request) response

type route struct {
	key     string
	method  string
	segs    []string
	handler handlerFunc
}

// routes is ordered so that literal segments win over :id (runners/all
// before runners/:id), as Grape's route order does.
var routes = buildRoutes(map[string]handlerFunc{
	RouteRegister:         (*Server).register,
	RouteDeleteByToken:    (*Server).deleteByToken,
	RouteVerify:           (*Server).verify,
	RouteDeleteManager:    (*Server).deleteManager,
	RouteResetToken:       (*Server).resetToken,
	RouteCreateUserRunner: (*Server).createUserRunner,
	RouteListAll:          (*Server).listAll,
	RouteListOwned:        (*Server).listOwned,
	RouteGetRunner:        (*Server).getRunner,
	RouteUpdateRunner:     (*Server).updateRunner,
	RouteDeleteRunner:     (*Server).deleteRunnerByID,
	RouteListManagers:     (*Server).listManagers,
	RouteResetTokenByID:   (*Server).resetTokenByID,
	RouteVersion:          (*Server).metadata,
	RouteMetadata:         (*Server).metadata,
	RouteJobsRequest:      (*Server).jobsRequest,
	RouteHealth:           (*Server).health,
	RouteReadiness:        (*Server).readiness,
	RouteLiveness:         (*Server).liveness,
})

func buildRoutes(m map[string]handlerFunc) []route {
	var literal, param []route
	for key, h := range m {
		method, pattern, _ := strings.Cut(key, " ")
		rt := route{key: key, method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), handler: h}
		if strings.Contains(pattern, ":id") {
			param = append(param, rt)
		} else {
			literal = append(literal, rt)
		}
	}
	return append(literal, param...)
}

// match finds the route for method and path (already stripped of the base
// path) and returns the raw :id segment.
func match(method, path string) (*route, string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		id, ok := "", true
		for j, seg := range rt.segs {
			if seg == ":id" {
				id = segs[j]
				continue
			}
			if seg != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return rt, id
		}
	}
	return nil, ""
}

// request is what a handler sees.
type request struct {
	r      *http.Request
	p      *params
	rawID  string
	body   []byte
	header http.Header
}

// response is what a handler returns; it is written after the state lock is
// released, or swallowed for LoseResponse.
type response struct {
	status int
	body   []byte
	ctype  string
	header http.Header
}

func (resp response) write(w http.ResponseWriter) {
	for k, vs := range resp.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if resp.status == http.StatusNoContent {
		w.WriteHeader(resp.status)
		return
	}
	ct := resp.ctype
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func jsonResp(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return response{status: status, body: b}
}

// message is GitLab's {"message": ...} error or info body.
func message(status int, text string) response {
	return jsonResp(status, map[string]string{"message": text})
}

// grapeError is a Grape parameter-validation body {"error": ...}.
func grapeError(status int, text string) response {
	return jsonResp(status, map[string]string{"error": text})
}

func noContent() response { return response{status: http.StatusNoContent} }

func defaultBody(status int) string {
	if status == http.StatusTooManyRequests {
		return `{"message":{"error":"This endpoint has been requested too many times. Try again later."}}`
	}
	b, _ := json.Marshal(map[string]string{"message": fmt.Sprintf("%d %s", status, http.StatusText(status))})
	return string(b)
}

func newRequestID() string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, 26)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

const maxBody = 16 << 20

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	w.Header().Set("X-Request-Id", newRequestID())

	var rt *route
	var rawID string
	if rest, ok := strings.CutPrefix(r.URL.Path, s.opts.basePath); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
		rt, rawID = match(r.Method, rest)
	}
	key := ""
	if rt != nil {
		key = rt.key
	}

	s.mu.Lock()
	s.record(r, key, body)
	dropAll := s.st.dropAll
	var effect *Fault
	var latency time.Duration
	if !dropAll {
		effect, latency = s.fl.pick(key)
	}
	s.mu.Unlock()

	if dropAll {
		dropConnection(w)
		return
	}
	if latency > 0 && !s.sleep(r.Context(), latency) {
		dropConnection(w)
		return
	}
	if effect != nil {
		switch {
		case effect.Drop:
			dropConnection(w)
			return
		case effect.RateLimit != nil:
			s.rateLimited(effect.RateLimit).write(w)
			return
		case effect.Status != 0:
			forced(effect).write(w)
			return
		}
	}

	var resp response
	if rt == nil {
		resp = grapeError(http.StatusNotFound, "404 Not Found")
	} else {
		resp = s.dispatch(rt, rawID, r, body)
	}
	if effect != nil && effect.LoseResponse {
		dropConnection(w)
		return
	}
	resp.write(w)
}

func (s *Server) dispatch(rt *route, rawID string, r *http.Request, body []byte) response {
	p, err := parseParams(r, body)
	if err != nil {
		return grapeError(http.StatusBadRequest, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return rt.handler(s, &request{r: r, p: p, rawID: rawID, body: body, header: r.Header})
}

func forced(f *Fault) response {
	resp := response{status: f.Status, body: []byte(f.Body), ctype: f.ContentType, header: f.Header.Clone()}
	if f.Body == "" {
		resp.body = []byte(defaultBody(f.Status))
	}
	return resp
}

// rateLimited renders a Rack::Attack throttle answer (lib/gitlab/throttle.rb).
func (s *Server) rateLimited(rl *RateLimit) response {
	s.mu.Lock()
	now := s.st.now()
	s.mu.Unlock()
	limit := rl.Limit
	if limit == 0 {
		limit = 600
	}
	name := rl.Name
	if name == "" {
		name = "throttle_authenticated_api"
	}
	secs := int64((rl.RetryAfter + time.Second - 1) / time.Second)
	reset := now.Add(time.Duration(secs) * time.Second)
	h := http.Header{}
	h.Set("RateLimit-Limit", strconv.Itoa(limit))
	h.Set("RateLimit-Name", name)
	h.Set("RateLimit-Observed", strconv.Itoa(limit+1))
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	return response{status: http.StatusTooManyRequests, body: []byte("Retry later\n"), ctype: "text/plain", header: h}
}

// sleep waits d, or less if the client goes away or the server stops; it
// reports whether the full delay elapsed.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closingChan():
		return false
	}
}

// dropConnection closes the client connection without writing a response.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not hijackable (a recorder or HTTP/2): abort the handler, which makes
	// the server close the stream or connection without logging.
	panic(http.ErrAbortHandler)
}

func (s *Server) record(r *http.Request, key string, body []byte) {
	s.cl.counts[key]++
	if !s.opts.recordCalls {
		return
	}
	s.cl.calls = append(s.cl.calls, Call{
		Method: r.Method,
		Path:   r.URL.Path,
		Route:  key,
		Query:  cloneValues(r.URL.Query()),
		Header: r.Header.Clone(),
		Body:   bytes.Clone(body),
		Time:   s.st.now(),
	})
}

// ---- parameters ----

// params holds request parameters from every transport Grape accepts. Body
// parameters win over query parameters, as in Rails.
type params struct {
	json  map[string]any
	form  url.Values
	query url.Values
}

func parseParams(r *http.Request, body []byte) (*params, error) {
	p := &params{query: r.URL.Query(), form: url.Values{}}
	ct := r.Header.Get("Content-Type")
	if ct == "" || len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	mt, mparams, err := mime.ParseMediaType(ct)
	if err != nil {
		return p, nil
	}
	switch mt {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&p.json); err != nil {
			return nil, errors.New("the request body is not a valid JSON object")
		}
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("the request body is not a valid form")
		}
		p.form = v
	case "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(body), mparams["boundary"]).ReadForm(maxBody)
		if err != nil {
			return nil, errors.New("the request body is not a valid multipart form")
		}
		p.form = url.Values(form.Value)
		_ = form.RemoveAll()
	}
	return p, nil
}

// raw returns a parameter's value: a JSON value, or the first form/query
// string. JSON null counts as absent.
func (p *params) raw(name string) (any, bool) {
	if v, ok := p.json[name]; ok && v != nil {
		return v, true
	}
	if vs, ok := p.form[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	if vs, ok := p.query[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	return nil, false
}

func (p *params) has(name string) bool {
	if _, ok := p.raw(name); ok {
		return true
	}
	return len(p.form[name+"[]"]) > 0 || len(p.query[name+"[]"]) > 0
}

// list reads an Array[String] parameter with Grape's CommaSeparatedToArray
// coercion: a JSON array, a comma-separated string, or repeated name[]
// values. Every element is split on commas and trimmed.
func (p *params) list(name string) ([]string, bool) {
	var items []string
	found := false
	if v, ok := p.json[name]; ok && v != nil {
		found = true
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				items = append(items, fmt.Sprint(e))
			}
		default:
			items = append(items, fmt.Sprint(x))
		}
	} else {
		for _, src := range []url.Values{p.form, p.query} {
			if vs, ok := src[name+"[]"]; ok {
				items, found = append(items, vs...), true
				break
			}
			if vs, ok := src[name]; ok {
				items, found = append(items, vs...), true
				break
			}
		}
	}
	out := []string{}
	for _, it := range items {
		for part := range strings.SplitSeq(it, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out, found
}

// hash reads a Hash parameter such as info: a JSON object, or info[key]
// form/query fields.
func (p *params) hash(name string) map[string]string {
	out := map[string]string{}
	if v, ok := p.json[name].(map[string]any); ok {
		for k, e := range v {
			if e != nil {
				if _, nested := e.(map[string]any); !nested {
					out[k] = fmt.Sprint(e)
				}
			}
		}
		return out
	}
	prefix := name + "["
	for _, src := range []url.Values{p.query, p.form} {
		for k, vs := range src {
			if rest, ok := strings.CutPrefix(k, prefix); ok && strings.HasSuffix(rest, "]") && len(vs) > 0 {
				out[strings.TrimSuffix(rest, "]")] = vs[0]
			}
		}
	}
	return out
}

// validator accumulates Grape-style parameter errors; GitLab joins them with
// ", " in one {"error": ...} body.
type validator struct {
	p    *params
	errs []string
}

func (v *validator) fail(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

func (v *validator) response() (response, bool) {
	if len(v.errs) == 0 {
		return response{}, false
	}
	return grapeError(http.StatusBadRequest, strings.Join(v.errs, ", ")), true
}

func (v *validator) require(names ...string) {
	for _, n := range names {
		if !v.p.has(n) {
			v.fail("%s is missing", n)
		}
	}
}

func (v *validator) str(name string) (string, bool) {
	raw, ok := v.p.raw(name)
	if !ok {
		return "", false
	}
	switch x := raw.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	default:
		v.fail("%s is invalid", name)
		return "", false
	}
}

func (v *validator) boolean(name string) *bool {
	raw, ok := v.p.raw(name)
	if !ok {
		return nil
	}
	var b bool
	switch x := raw.(type) {
	case bool:
		b = x
	case string:
		switch strings.ToLower(x) {
		case "true", "1", "t", "yes":
			b = true
		case "false", "0", "f", "no":
			b = false
		default:
			v.fail("%s is invalid", name)
			return nil
		}
	case json.Number:
		switch x.String() {
		case "1":
			b = true
		case "0":
			b = false
		default:
			v.fail("%s is invalid", name)
			return nil
		}
	default:
		v.fail("%s is invalid", name)
		return nil
	}
	return &b
}

func (v *validator) integer(name string) *int64 {
	raw, ok := v.p.raw(name)
	if !ok {
		return nil
	}
	var s string
	switch x := raw.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		v.fail("%s is invalid", name)
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		v.fail("%s is invalid", name)
		return nil
	}
	return &n
}

// oneOf reads a string parameter restricted to values.
func (v *validator) oneOf(name string, values ...string) (string, bool) {
	s, ok := v.str(name)
	if !ok {
		return "", false
	}
	for _, allowed := range values {
		if s == allowed {
			return s, true
		}
	}
	v.fail("%s does not have a valid value", name)
	return "", false
}

func (v *validator) mutuallyExclusive(a, b string) {
	if v.p.has(a) && v.p.has(b) {
		v.fail("%s, %s are mutually exclusive", a, b)
	}
}
