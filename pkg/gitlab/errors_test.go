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

package gitlab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// TestErrorClasses drives one idempotent call (GetRunner) and one
// never-retried call (CreateRunner) through every failure the fake can
// produce and checks kind, status, retry count, message and redaction.
func TestErrorClasses(t *testing.T) {
	ctx := context.Background()
	type outcome struct {
		kind       Kind
		status     int
		msg        []string
		retryAfter time.Duration
	}
	tests := []struct {
		name string
		// fault is injected on both routes.
		fault gitlabtest.Fault
		// server mutates the whole server instead.
		server func(*gitlabtest.Server)
		want   outcome
		// getCalls is how many times the idempotent GET reaches the server
		// (3 = retried twice).
		getCalls int
	}{
		{name: "401", fault: gitlabtest.Fault{Status: 401}, want: outcome{kind: KindUnauthorized, status: 401, msg: []string{"rejected the access token"}}, getCalls: 1},
		{name: "403", fault: gitlabtest.Fault{Status: 403}, want: outcome{kind: KindForbidden, status: 403}, getCalls: 1},
		{name: "403 with reason", fault: gitlabtest.Fault{Status: 403, Body: `{"message":"403 Forbidden - Runner associated with more than one project"}`},
			want: outcome{kind: KindForbidden, status: 403, msg: []string{"Runner associated with more than one project"}}, getCalls: 1},
		{name: "404 route", fault: gitlabtest.Fault{Status: 404, Body: `{"error":"404 Not Found"}`}, want: outcome{kind: KindAPINotFound, status: 404}, getCalls: 1},
		{name: "404 html", fault: gitlabtest.Fault{Status: 404, Body: "<html>default backend - 404</html>", ContentType: "text/html"},
			want: outcome{kind: KindAPINotFound, status: 404}, getCalls: 1},
		{name: "404 resource", fault: gitlabtest.Fault{Status: 404, Body: `{"message":"404 Runner Not Found"}`}, want: outcome{kind: KindNotFound, status: 404}, getCalls: 1},
		{name: "400 with message", fault: gitlabtest.Fault{Status: 400, Body: `{"message":"400 Bad request - Missing/invalid group"}`},
			want: outcome{kind: KindBadRequest, status: 400, msg: []string{"(400 Bad Request): Missing/invalid group"}}, getCalls: 1},
		{name: "400 grape", fault: gitlabtest.Fault{Status: 400, Body: `{"error":"runner_type is missing, runner_type does not have a valid value"}`},
			want: outcome{kind: KindBadRequest, status: 400, msg: []string{"runner_type is missing, runner_type does not have a valid value"}}, getCalls: 1},
		{name: "400 echoing a token is scrubbed", fault: gitlabtest.Fault{Status: 400, Body: `{"message":"bad token glrt-t1_EchoedSecretValue99 in ?token=abcdef123"}`},
			want: outcome{kind: KindBadRequest, status: 400, msg: []string{"glrt-[REDACTED]", "token=[REDACTED]"}}, getCalls: 1},
		{name: "410 outside registration", fault: gitlabtest.Fault{Status: 410}, want: outcome{kind: KindUnexpected, status: 410}, getCalls: 1},
		{name: "409", fault: gitlabtest.Fault{Status: 409}, want: outcome{kind: KindUnexpected, status: 409, msg: []string{"409 Conflict"}}, getCalls: 1},
		{name: "422", fault: gitlabtest.Fault{Status: 422, Body: `{"message":"Runner is orphaned"}`},
			want: outcome{kind: KindUnexpected, status: 422, msg: []string{"Runner is orphaned"}}, getCalls: 1},
		{name: "redirect", fault: gitlabtest.Fault{Status: 301, Body: "moved", ContentType: "text/html", Header: http.Header{"Location": {"https://gitlab.example.com/api/v4/x?private_token=glpat-LeakyLeaky"}}},
			want: outcome{kind: KindUnexpected, status: 301, msg: []string{"redirected", "to https://gitlab.example.com;"}}, getCalls: 1},
		{name: "429 with Retry-After beyond the cap", fault: gitlabtest.Fault{RateLimit: &gitlabtest.RateLimit{RetryAfter: time.Minute}},
			want: outcome{kind: KindRateLimited, status: 429, retryAfter: time.Minute}, getCalls: 1},
		{name: "429 within the cap, every time", fault: gitlabtest.Fault{RateLimit: &gitlabtest.RateLimit{}},
			want: outcome{kind: KindRateLimited, status: 429}, getCalls: 3},
		{name: "application rate limiter", fault: gitlabtest.Fault{Status: 429, Header: http.Header{"Retry-After": {"120"}}},
			want: outcome{kind: KindRateLimited, status: 429, retryAfter: 2 * time.Minute}, getCalls: 1},
		{name: "500", fault: gitlabtest.Fault{Status: 500}, want: outcome{kind: KindUnavailable, status: 500, msg: []string{"500 Internal Server Error"}}, getCalls: 3},
		{name: "502 html", fault: gitlabtest.Fault{Status: 502, Body: "<html>GitLab is not responding request_id=01J9ABC</html>", ContentType: "text/html"},
			want: outcome{kind: KindUnavailable, status: 502}, getCalls: 3},
		{name: "503", fault: gitlabtest.Fault{Status: 503}, want: outcome{kind: KindUnavailable, status: 503}, getCalls: 3},
		{name: "501 is not retried", fault: gitlabtest.Fault{Status: 501}, want: outcome{kind: KindUnavailable, status: 501}, getCalls: 1},
		{name: "200 with a login page", fault: gitlabtest.Fault{Status: 200, Body: "<html>sign in</html>", ContentType: "text/html"},
			want: outcome{kind: KindUnexpected, status: 200, msg: []string{"not GitLab's JSON"}}, getCalls: 1},
		{name: "dropped connection", fault: gitlabtest.Fault{Drop: true}, want: outcome{kind: KindUnavailable, msg: []string{"closed before an answer"}}, getCalls: 3},
		{name: "every connection dropped", server: func(s *gitlabtest.Server) { s.SetDropAll(true) },
			want: outcome{kind: KindUnavailable, msg: []string{"closed before an answer"}}, getCalls: 3},
		{name: "connection refused", server: func(s *gitlabtest.Server) { s.Stop() },
			want: outcome{kind: KindUnavailable, msg: []string{"connection refused"}}, getCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})
			if tt.server != nil {
				tt.server(f.srv)
			} else {
				f.srv.Inject(gitlabtest.RouteGetRunner, tt.fault)
				f.srv.Inject(gitlabtest.RouteCreateUserRunner, tt.fault)
			}
			c := f.client(t, adminPAT)
			for _, call := range []struct {
				route string
				calls int
				run   func() (any, error)
			}{
				{gitlabtest.RouteGetRunner, tt.getCalls, func() (any, error) { return c.GetRunner(ctx, r.ID) }},
				{gitlabtest.RouteCreateUserRunner, min(tt.getCalls, 1), func() (any, error) {
					return c.CreateRunner(ctx, CreateOptions{RunnerType: InstanceType})
				}},
			} {
				res, err := call.run()
				e := requireKind(t, err, tt.want.kind)
				if e.StatusCode != tt.want.status {
					t.Fatalf("%s: status %d, want %d", call.route, e.StatusCode, tt.want.status)
				}
				requireContains(t, e.Message, tt.want.msg...)
				if e.RetryAfter != tt.want.retryAfter || RetryAfter(err) != tt.want.retryAfter {
					t.Fatalf("%s: RetryAfter %s, want %s", call.route, e.RetryAfter, tt.want.retryAfter)
				}
				if got := f.srv.CallCount(call.route); got != call.calls {
					t.Fatalf("%s reached the server %d times, want %d", call.route, got, call.calls)
				}
				if IsTransient(err) != (tt.want.kind == KindUnavailable || tt.want.kind == KindRateLimited) {
					t.Fatalf("IsTransient wrong for %s", tt.want.kind)
				}
				for _, volatile := range []string{"01J9ABC", "request_id", "X-Request-Id"} {
					if strings.Contains(e.Message, volatile) {
						t.Fatalf("message carries volatile text %q: %s", volatile, e.Message)
					}
				}
				requireNoLeak(t, f.srv, []any{err, res}, "glrt-t1_EchoedSecretValue99", "abcdef123", "glpat-LeakyLeaky")
			}
			if n := len(f.srv.Runners()); n != 1 {
				t.Fatalf("%d runners after failed creates", n)
			}
		})
	}
}

// TestCreateLostResponse is the "created, but the answer was lost" case.
//
// GitLab creates the runner and then the connection drops. The client must
// return KindUnavailable and must not retry (a retry would create a second
// runner that nobody holds a token for). The fake then holds exactly one
// runner, whose token the caller never saw.
//
// What the caller (the Runner controller) must do, and what this test
// demonstrates at the end:
//  1. Before creating, put a unique, stable marker for the Runner object (its
//     UID) into the runner description (or maintenance note), and persist
//     "creation attempted" in status.
//  2. After KindUnavailable from CreateRunner (or on any reconcile that finds
//     no stored token but the "attempted" mark), call FindRunners with
//     Description set to that marker before creating again. FindRunners
//     needs an access token with api or read_api (the list routes do not
//     accept manage_runner), and an administrator for instance runners.
//  3. If exactly one runner matches, adopt it: ResetTokenByID returns a new
//     token (the lost one cannot be recovered), store it, and carry on. If
//     more than one matches (an earlier bug), keep the newest and DeleteByID
//     the others. If none matches, the create really failed: create again.
func TestCreateLostResponse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.client(t, adminPAT)
	marker := "gitlab-operator/uid=2f9c6a1e-7d3b-4c5e-9f00-1a2b3c4d5e6f"

	f.srv.LoseResponseNext(gitlabtest.RouteCreateUserRunner, 1)
	creds, err := c.CreateRunner(ctx, CreateOptions{RunnerType: InstanceType, RunnerOptions: RunnerOptions{Description: marker}})
	e := requireKind(t, err, KindUnavailable)
	requireContains(t, e.Message, "may have completed the request")
	if creds != nil {
		t.Fatalf("got credentials %v with an error", creds)
	}
	if n := f.srv.CallCount(gitlabtest.RouteCreateUserRunner); n != 1 {
		t.Fatalf("create reached GitLab %d times; it must not be retried", n)
	}
	runners := f.srv.Runners()
	if len(runners) != 1 || runners[0].Description != marker {
		t.Fatalf("fake holds %d runners: %+v", len(runners), runners)
	}
	requireNoLeak(t, f.srv, []any{err})

	// Recovery, as the controller does it.
	found, err := c.FindRunners(ctx, FindOptions{Description: marker})
	if err != nil || len(found) != 1 || found[0].ID != runners[0].ID {
		t.Fatalf("lookup by marker: %+v, %v", found, err)
	}
	adopted, err := c.ResetTokenByID(ctx, found[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Verify(ctx, adopted.Token, "s_000000000001"); err != nil || v.ID != runners[0].ID {
		t.Fatalf("adopted token does not verify: %v %v", v, err)
	}
	if n := len(f.srv.Runners()); n != 1 {
		t.Fatalf("recovery created runners: %d", n)
	}
}

func TestRegisterLostResponse(t *testing.T) {
	f := newFixture(t)
	f.srv.LoseResponseNext(gitlabtest.RouteRegister, 1)
	_, err := f.client(t, "").RegisterWithToken(context.Background(), regToken, RunnerOptions{Description: "m"})
	requireKind(t, err, KindUnavailable)
	if n, r := f.srv.CallCount(gitlabtest.RouteRegister), len(f.srv.Runners()); n != 1 || r != 1 {
		t.Fatalf("calls %d runners %d, want 1 and 1", n, r)
	}
}

func TestRetryPolicy(t *testing.T) {
	ctx := context.Background()
	t.Run("idempotent GET retried until success", func(t *testing.T) {
		f := newFixture(t)
		r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})
		f.srv.FailNext(gitlabtest.RouteGetRunner, 2, http.StatusServiceUnavailable)
		if _, err := f.client(t, adminPAT).GetRunner(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if n := f.srv.CallCount(gitlabtest.RouteGetRunner); n != 3 {
			t.Fatalf("calls %d", n)
		}
	})
	t.Run("retries disabled", func(t *testing.T) {
		f := newFixture(t)
		f.srv.FailNext(gitlabtest.RouteGetRunner, 2, http.StatusServiceUnavailable)
		c := f.client(t, adminPAT, func(cfg *Config) { cfg.Retry.MaxRetries = -1 })
		requireKind(t, firstErr(c.GetRunner(ctx, 1)), KindUnavailable)
		if n := f.srv.CallCount(gitlabtest.RouteGetRunner); n != 1 {
			t.Fatalf("calls %d", n)
		}
	})
	t.Run("429 with a short Retry-After is waited out", func(t *testing.T) {
		f := newFixture(t)
		r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})
		f.srv.RateLimitNext(gitlabtest.RouteVerify, 1, 0)
		if _, err := f.client(t, "").Verify(ctx, r.Token, ""); err != nil {
			t.Fatal(err)
		}
		if n := f.srv.CallCount(gitlabtest.RouteVerify); n != 2 {
			t.Fatalf("calls %d", n)
		}
	})
	t.Run("429 that does not fit before the deadline", func(t *testing.T) {
		f := newFixture(t)
		f.srv.RateLimitNext(gitlabtest.RouteGetRunner, 1, 2*time.Second)
		c := f.client(t, adminPAT, func(cfg *Config) {
			cfg.Retry.MaxRetryAfter = time.Hour
			cfg.Timeout = 500 * time.Millisecond
		})
		start := time.Now()
		err := firstErr(c.GetRunner(ctx, 1))
		e := requireKind(t, err, KindRateLimited)
		if e.RetryAfter != 2*time.Second || time.Since(start) > time.Second {
			t.Fatalf("RetryAfter %s after %s", e.RetryAfter, time.Since(start))
		}
		if n := f.srv.CallCount(gitlabtest.RouteGetRunner); n != 1 {
			t.Fatalf("calls %d", n)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		p := RetryPolicy{}.withDefaults()
		if p.MaxRetries != 2 || p.MinBackoff != 250*time.Millisecond || p.MaxBackoff != 2*time.Second || p.MaxRetryAfter != 10*time.Second {
			t.Fatalf("defaults %+v", p)
		}
		p = RetryPolicy{MaxRetries: -3, MinBackoff: time.Second, MaxBackoff: time.Millisecond}.withDefaults()
		if p.MaxRetries != 0 || p.MaxBackoff != time.Second {
			t.Fatalf("normalised %+v", p)
		}
	})
	t.Run("backoff is bounded and jittered", func(t *testing.T) {
		p := retryPolicy{RetryPolicy: RetryPolicy{MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond}, now: time.Now}
		for attempt := range 6 {
			d := p.backoff(0, 0, attempt, nil)
			ceiling := min(100*time.Millisecond<<attempt, 400*time.Millisecond)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("attempt %d: %s outside [%s, %s]", attempt, d, ceiling/2, ceiling)
			}
		}
		resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3"}}}
		if d := p.backoff(0, 0, 0, resp); d != 3*time.Second {
			t.Fatalf("429 backoff %s", d)
		}
	})
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"seconds", http.Header{"Retry-After": {"30"}}, 30 * time.Second, true},
		{"http date", http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}}, time.Minute, true},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0, true},
		{"ratelimit reset", http.Header{"Ratelimit-Reset": {fmt.Sprint(now.Add(90 * time.Second).Unix())}}, 90 * time.Second, true},
		{"ratelimit reset time", http.Header{"Ratelimit-Resettime": {now.Add(2 * time.Minute).Format(http.TimeFormat)}}, 2 * time.Minute, true},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"none", http.Header{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := retryAfter(tt.header, now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("got %s %v, want %s %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestTimeoutsAndCancellation(t *testing.T) {
	f := newFixture(t)
	r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})
	f.srv.SetLatency(gitlabtest.RouteVerify, 10*time.Second)
	c := f.client(t, "", func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })

	start := time.Now()
	err := firstErr(c.Verify(context.Background(), r.Token, ""))
	e := requireKind(t, err, KindUnavailable)
	requireContains(t, e.Message, "did not answer", "within 100ms")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}

	// Cancellation: a client whose own timeout cannot fire first, even on
	// a loaded machine.
	c = f.client(t, "", func(cfg *Config) { cfg.Timeout = 30 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	err = firstErr(c.Verify(ctx, r.Token, ""))
	requireContains(t, requireKind(t, err, KindUnavailable).Message, "cancelled")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled in chain: %v", err)
	}
	// Already cancelled: no request at all.
	f.srv.ResetCalls()
	requireKind(t, firstErr(c.Verify(ctx, r.Token, "")), KindUnavailable)
	if n := f.srv.CallCount(gitlabtest.AnyRoute); n != 0 {
		t.Fatalf("cancelled call reached the server %d times", n)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer dcancel()
	slow := f.client(t, "", func(cfg *Config) { cfg.Timeout = time.Minute })
	err = firstErr(slow.Verify(dctx, r.Token, ""))
	requireContains(t, requireKind(t, err, KindUnavailable).Message, "caller's deadline")
	requireNoLeak(t, f.srv, []any{err})
}

func TestTLS(t *testing.T) {
	ctx := context.Background()
	f := newTLSFixture(t)
	r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})

	t.Run("private CA trusted", func(t *testing.T) {
		if _, err := f.client(t, "").Verify(ctx, r.Token, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		f.srv.ResetCalls()
		c := f.client(t, "", func(cfg *Config) { cfg.CABundle = nil })
		err := firstErr(c.Verify(ctx, r.Token, ""))
		e := requireKind(t, err, KindTLS)
		requireContains(t, e.Message, "certificate signed by unknown authority: set spec.ca to a Secret with the GitLab CA bundle")
		requireNoLeak(t, f.srv, []any{err})
		if n := f.srv.CallCount(gitlabtest.AnyRoute); n != 0 {
			t.Fatalf("a request passed a failed handshake: %d", n)
		}
	})
	t.Run("another CA", func(t *testing.T) {
		other := gitlabtest.NewTLSServer()
		defer other.Close()
		c := f.client(t, "", func(cfg *Config) { cfg.CABundle = other.CAPEM() })
		requireKind(t, firstErr(c.Verify(ctx, r.Token, "")), KindTLS)
	})
	t.Run("insecure skip verify warns", func(t *testing.T) {
		var warned []string
		SetWarningHandler(func(msg string, kv ...any) { warned = append(warned, fmt.Sprint(msg, kv)) })
		defer SetWarningHandler(nil)
		c := f.client(t, "", func(cfg *Config) { cfg.CABundle, cfg.InsecureSkipVerify = nil, true })
		if _, err := c.Verify(ctx, r.Token, ""); err != nil {
			t.Fatal(err)
		}
		if len(warned) != 1 || !strings.Contains(warned[0], "DISABLED") || !strings.Contains(warned[0], f.srv.URL()) {
			t.Fatalf("warnings %q", warned)
		}
	})
	t.Run("hostname mismatch", func(t *testing.T) {
		srv := gitlabtest.NewTLSServer(gitlabtest.WithCertificateHosts("gitlab.internal.example"))
		defer srv.Close()
		c, err := NewClient(Config{URL: srv.URL(), CABundle: srv.CAPEM(), Retry: fastRetry()})
		if err != nil {
			t.Fatal(err)
		}
		e := requireKind(t, firstErr(c.Verify(ctx, bogusRunner, "")), KindTLS)
		requireContains(t, e.Message, "not valid for 127.0.0.1 (hostname mismatch)")
	})
	t.Run("https against plain http", func(t *testing.T) {
		plain := newFixture(t)
		c := plain.client(t, "", func(cfg *Config) { cfg.URL = strings.Replace(plain.srv.URL(), "http://", "https://", 1) })
		requireContains(t, requireKind(t, firstErr(c.Verify(ctx, bogusRunner, "")), KindTLS).Message, "did not answer with TLS")
	})
	t.Run("http against https", func(t *testing.T) {
		c := f.client(t, "", func(cfg *Config) { cfg.URL = strings.Replace(f.srv.URL(), "https://", "http://", 1) })
		requireContains(t, requireKind(t, firstErr(c.Verify(ctx, bogusRunner, "")), KindBadRequest).Message, "right scheme")
	})
}

func TestDNSFailure(t *testing.T) {
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		if os.Getenv(v) != "" {
			t.Skipf("%s is set: the proxy, not the resolver, would answer", v)
		}
	}
	c, err := NewClient(Config{URL: "https://gitlab.does-not-exist.invalid", Retry: fastRetry(), Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = firstErr(c.Verify(context.Background(), bogusRunner, ""))
	e := requireKind(t, err, KindUnavailable)
	// Sandboxes without DNS answer differently; only check the wording when
	// the resolver says "no such host".
	var dnsMsg = strings.Contains(e.Message, "cannot resolve")
	if u := errors.Unwrap(err); u != nil && strings.Contains(u.Error(), "no such host") && !dnsMsg {
		t.Fatalf("message %q", e.Message)
	}
	requireNoLeak(t, nil, []any{err})
}

// TestRedaction covers the scrubbing helpers directly, including the
// *url.Error case client-go produces for DELETE with a token in the query.
func TestRedaction(t *testing.T) {
	secret := "glrt-t1_SuperSecretValue123"
	ue := &url.Error{Op: "Delete", URL: "https://user:pw@gitlab.example.com/api/v4/runners?token=" + secret, Err: errors.New("connection reset by peer")}
	clean := sanitizeCause(ue, []string{secret})
	if strings.Contains(clean.Error(), secret) || strings.Contains(clean.Error(), "pw@") || !strings.Contains(clean.Error(), "https://gitlab.example.com/api/v4/runners") {
		t.Fatalf("sanitized %q", clean.Error())
	}
	// A secret in the inner error text is scrubbed too, and the chain still
	// unwraps.
	inner := fmt.Errorf("wrapped: %w", context.DeadlineExceeded)
	ue2 := &url.Error{Op: "Post", URL: "https://h/x", Err: fmt.Errorf("token %s: %w", secret, inner)}
	clean = sanitizeCause(ue2, []string{secret})
	if strings.Contains(clean.Error(), secret) || !errors.Is(clean, context.DeadlineExceeded) {
		t.Fatalf("sanitized %q", clean.Error())
	}
	plain := sanitizeCause(fmt.Errorf("oops %s: %w", secret, context.Canceled), []string{secret})
	if strings.Contains(plain.Error(), secret) || !errors.Is(plain, context.Canceled) {
		t.Fatalf("sanitized %q", plain.Error())
	}
	if got := redactURLString("::bad"); got != "<url>" {
		t.Fatalf("redactURLString %q", got)
	}
	for in, want := range map[string]string{
		"token=abc&x=1":                      "token=[REDACTED]&x=1",
		"private_token=glpat-xyz":            "private_token=[REDACTED]",
		"PRIVATE-TOKEN: glpat-abc":           "PRIVATE-TOKEN: [REDACTED]",
		"use glrtr-abcdef and GR1348941zzzz": "use glrtr-[REDACTED] and GR1348941[REDACTED]",
		"custom-secret-value here":           "[REDACTED] here",
	} {
		if got := scrub(in, []string{"custom-secret-value", "ab"}); got != want {
			t.Fatalf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	if KindOf(nil) != "" || KindOf(errors.New("x")) != KindUnknown || RetryAfter(errors.New("x")) != 0 {
		t.Fatal("helpers on foreign errors")
	}
	e := &Error{Kind: KindRateLimited, Op: "op", Message: "m", RetryAfter: time.Second, cause: &APIError{StatusCode: 429}}
	wrapped := fmt.Errorf("reconcile: %w", e)
	if KindOf(wrapped) != KindRateLimited || !IsTransient(wrapped) || RetryAfter(wrapped) != time.Second || IsNotFound(wrapped) {
		t.Fatal("helpers through wrapping")
	}
	var api *APIError
	if !errors.As(wrapped, &api) || api.Error() != "HTTP 429" || (&APIError{StatusCode: 400, Text: "x"}).Error() != "HTTP 400: x" {
		t.Fatal("APIError")
	}
	if s := fmt.Sprintf("%#v", e); !strings.Contains(s, `Kind:"RateLimited"`) {
		t.Fatalf("GoString %s", s)
	}
	if parseBody([]byte(`{"message":{"base":["x"],"error":"y","name":["a","b"]}}`)).text != "x; y; name a; name b" {
		t.Fatal("flattenMessage")
	}
}

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestTransportErrorClasses feeds synthetic transport errors to the
// classifier for the branches a local fake cannot provoke.
func TestTransportErrorClasses(t *testing.T) {
	c, err := newClient(Config{URL: "https://gitlab.example.com/gitlab"})
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(e error) error {
		return &url.Error{Op: "Post", URL: "https://gitlab.example.com/gitlab/api/v4/runners?token=glrt-QueryLeak1", Err: e}
	}
	cert := &x509.Certificate{}
	tests := []struct {
		err  error
		kind Kind
		msg  string
	}{
		{wrap(x509.HostnameError{Certificate: cert, Host: "gitlab.example.com"}), KindTLS, "not valid for gitlab.example.com (hostname mismatch)"},
		{wrap(x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired}), KindTLS, "has expired"},
		{wrap(x509.CertificateInvalidError{Cert: cert, Reason: x509.NotAuthorizedToSign}), KindTLS, "is not valid for a server"},
		{wrap(&tls.CertificateVerificationError{Err: errors.New("x509: something")}), KindTLS, "TLS handshake with GitLab at https://gitlab.example.com/gitlab failed (tls: failed to verify certificate)"},
		{wrap(errors.New("remote error: tls: handshake failure")), KindTLS, "(tls: handshake failure)"},
		{wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), KindTLS, "did not answer with TLS"},
		{wrap(&net.DNSError{Err: "server misbehaving", Name: "gitlab.example.com", IsTemporary: true}), KindUnavailable, "DNS lookup"},
		{wrap(&net.DNSError{Err: "no such host", Name: "gitlab.example.com", IsNotFound: true}), KindUnavailable, `cannot resolve GitLab's host name "gitlab.example.com"`},
		{wrap(&net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}), KindUnavailable, "no network route"},
		{wrap(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), KindUnavailable, "closed before an answer"},
		{wrap(timeoutErr{}), KindUnavailable, "in time"},
		{wrap(errors.New("proxyconnect tcp: weird")), KindUnavailable, "cannot reach GitLab at https://gitlab.example.com/gitlab"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			e := c.transportError(operation{name: "verify runner token", retry: retrySafe}, tt.err)
			if e.Kind != tt.kind || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("got %s %q", e.Kind, e.Message)
			}
			for _, r := range renderings(error(e)) {
				if strings.Contains(r, "QueryLeak") {
					t.Fatalf("leak in %q", r)
				}
			}
			if IsTransient(e) == (tt.kind == KindTLS) {
				t.Fatalf("transient %v for %s", IsTransient(e), tt.kind)
			}
			if transientTransportError(tt.err) && tt.kind == KindTLS {
				t.Fatal("TLS errors must not be retried")
			}
		})
	}
	if statusText(799) != "HTTP 799" || tlsReason(errors.New("x")) != "handshake error" {
		t.Fatal("helpers")
	}
}
