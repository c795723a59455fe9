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
	"net/http"
	"net/url"
	"slices"
	"time"
)

// AnyRoute matches every request in Inject, including unknown routes.
const AnyRoute = "*"

// Fault describes a misbehaviour injected for one route. Zero fields do
// nothing, so a Fault can combine, say, latency with a forced status.
//
// Routes are written as "METHOD pattern" with :id for the numeric segment,
// exactly as in the Route* constants (e.g. "POST /api/v4/user/runners"), or
// AnyRoute.
type Fault struct {
	// Status forces this HTTP status instead of handling the request. The
	// request is not processed (nothing is created or deleted).
	Status int
	// Body replaces the default body for Status, which is GitLab's usual
	// {"message":"<code> <text>"}.
	Body string
	// ContentType replaces application/json for Body.
	ContentType string
	// Header is added to the forced response.
	Header http.Header

	// RateLimit answers like Rack::Attack: 429, text/plain "Retry later\n"
	// and the RateLimit-* and Retry-After headers.
	RateLimit *RateLimit

	// Latency delays the request before anything else happens. The delay is
	// cut short when the client goes away or the server stops.
	Latency time.Duration

	// Drop closes the connection without answering and without processing
	// the request.
	Drop bool
	// LoseResponse processes the request normally (a create creates) and
	// then closes the connection instead of sending the response: the
	// "created, but the answer was lost" case.
	LoseResponse bool

	// Times limits the fault to the next N matching requests; 0 means until
	// it is removed.
	Times int
}

// RateLimit shapes an injected 429.
type RateLimit struct {
	// RetryAfter is sent as Retry-After (whole seconds, rounded up) and used
	// for RateLimit-Reset / RateLimit-ResetTime.
	RetryAfter time.Duration
	// Limit is RateLimit-Limit (default 600).
	Limit int
	// Name is RateLimit-Name (default throttle_authenticated_api).
	Name string
}

// MigrationsRunning is the 429 GitLab's runner API answers while database
// migrations run (check_if_backoff_required!).
func MigrationsRunning() Fault {
	return Fault{
		Status: http.StatusTooManyRequests,
		Body:   `{"message":"Executing database migrations. Please retry later."}`,
		Header: http.Header{"Retry-After": []string{"60"}},
	}
}

type injected struct {
	id    int
	route string
	Fault
}

type faults struct {
	seq  int
	list []*injected
}

// Inject adds a fault for route and returns a function that removes it.
// Faults are matched in the order they were added: the first matching fault
// with an effect (status, rate limit, drop, lose response) decides the
// answer, and the longest matching latency applies.
func (s *Server) Inject(route string, f Fault) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fl.seq++
	in := &injected{id: s.fl.seq, route: route, Fault: f}
	s.fl.list = append(s.fl.list, in)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fl.list = slices.DeleteFunc(s.fl.list, func(x *injected) bool { return x.id == in.id })
	}
}

// ClearFaults removes every injected fault (not the whole-server switches).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fl.list = nil
}

// FailNext answers the next n requests to route with status and GitLab's
// default body for it, without processing them.
func (s *Server) FailNext(route string, n, status int) {
	s.Inject(route, Fault{Status: status, Times: n})
}

// RateLimitNext answers the next n requests to route with a Rack::Attack 429.
func (s *Server) RateLimitNext(route string, n int, retryAfter time.Duration) {
	s.Inject(route, Fault{RateLimit: &RateLimit{RetryAfter: retryAfter}, Times: n})
}

// DropNext closes the connection of the next n requests to route without
// processing them.
func (s *Server) DropNext(route string, n int) {
	s.Inject(route, Fault{Drop: true, Times: n})
}

// LoseResponseNext processes the next n requests to route and then closes
// the connection instead of answering.
func (s *Server) LoseResponseNext(route string, n int) {
	s.Inject(route, Fault{LoseResponse: true, Times: n})
}

// SetLatency delays every request to route by d until the returned function
// is called.
func (s *Server) SetLatency(route string, d time.Duration) (remove func()) {
	return s.Inject(route, Fault{Latency: d})
}

func (f *Fault) hasEffect() bool {
	return f.Status != 0 || f.RateLimit != nil || f.Drop || f.LoseResponse
}

// pick selects the faults for one request and uses up their Times. Called
// with s.mu held.
func (fl *faults) pick(route string) (effect *Fault, latency time.Duration) {
	keep := fl.list[:0]
	for _, in := range fl.list {
		used := false
		if in.route == route || in.route == AnyRoute {
			if in.Latency > latency {
				latency = in.Latency
				used = true
			}
			if effect == nil && in.hasEffect() {
				f := in.Fault
				effect = &f
				used = true
			}
		}
		if used && in.Times > 0 {
			in.Times--
			if in.Times == 0 {
				continue
			}
		}
		keep = append(keep, in)
	}
	clear(fl.list[len(keep):])
	fl.list = keep
	return effect, latency
}

// Call is one recorded request.
type Call struct {
	// Method is the HTTP method.
	Method string
	// Path is the request path as received, including any base path.
	Path string
	// Route is the matched route ("POST /api/v4/runners/verify"), or "" for
	// an unknown route.
	Route string
	// Query is the parsed query string.
	Query url.Values
	// Header holds every request header, including PRIVATE-TOKEN and
	// Runner-Token.
	Header http.Header
	// Body is the raw request body.
	Body []byte
	// Time is the arrival time on the server's clock.
	Time time.Time
}

type callLog struct {
	calls  []Call
	counts map[string]int
}

// Calls returns a copy of every request received since the start or the last
// ResetCalls, in arrival order (empty with WithoutCallRecording).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.cl.calls))
	for i, c := range s.cl.calls {
		c.Query = cloneValues(c.Query)
		c.Header = c.Header.Clone()
		c.Body = slices.Clone(c.Body)
		out[i] = c
	}
	return out
}

// CallCount returns how many requests arrived for route ("POST
// /api/v4/user/runners"), including ones answered by a fault or dropped.
// AnyRoute counts everything.
func (s *Server) CallCount(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route == AnyRoute {
		n := 0
		for _, c := range s.cl.counts {
			n += c
		}
		return n
	}
	return s.cl.counts[route]
}

// ResetCalls forgets recorded calls and counts.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cl.calls = nil
	s.cl.counts = map[string]int{}
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
