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
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// Tokens used across the tests. They look like real GitLab tokens so that the
// redaction patterns are exercised too.
const (
	adminPAT      = "glpat-AdminAdminAdmin00001"
	ownerPAT      = "glpat-GroupOwnerOwner00002"
	maintainerPAT = "glpat-ProjectMaintain00003"
	strangerPAT   = "glpat-NoRightsNoRights00004"
	readOnlyPAT   = "glpat-ReadUserReadUser00005"
	managePAT     = "glpat-OperatorScopes000006"
	expiredPAT    = "glpat-ExpiredExpired000007"
	revokedPAT    = "glpat-RevokedRevoked000008"
	unknownPAT    = "glpat-NeverIssuedNever0009"
	regToken      = "GR1348941RegistrationTok01"
	groupRegToken = "GR1348941GroupRegTokenXY02"
	badRegToken   = "GR1348941WrongWrongWrong03"
	bogusRunner   = "glrt-t1_NotARealRunnerTok1"

	groupID   = 7
	projectID = 42
	ownerID   = 100
	maintID   = 101
)

// fastRetry keeps retry waits in milliseconds so the suite stays fast.
func fastRetry() RetryPolicy {
	return RetryPolicy{MaxRetries: 2, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxRetryAfter: 100 * time.Millisecond}
}

type fixture struct {
	srv *gitlabtest.Server
}

func seed(srv *gitlabtest.Server) {
	srv.AddGroup(groupID)
	srv.AddProject(projectID, 0)
	srv.AddAccessToken(adminPAT, gitlabtest.TokenOptions{Admin: true, Scopes: []string{gitlabtest.ScopeAPI}})
	srv.AddAccessToken(ownerPAT, gitlabtest.TokenOptions{UserID: ownerID, Scopes: []string{gitlabtest.ScopeAPI}})
	srv.AddGroupMember(groupID, ownerID, gitlabtest.RoleOwner)
	srv.AddAccessToken(maintainerPAT, gitlabtest.TokenOptions{UserID: maintID, Scopes: []string{gitlabtest.ScopeCreateRunner, gitlabtest.ScopeManageRunner, gitlabtest.ScopeReadAPI}})
	srv.AddProjectMember(projectID, maintID, gitlabtest.RoleMaintainer)
	srv.AddAccessToken(strangerPAT, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}})
	srv.AddAccessToken(readOnlyPAT, gitlabtest.TokenOptions{Admin: true, Scopes: []string{gitlabtest.ScopeReadUser}})
	srv.AddAccessToken(managePAT, gitlabtest.TokenOptions{Admin: true, Scopes: []string{gitlabtest.ScopeCreateRunner, gitlabtest.ScopeManageRunner}})
	srv.AddAccessToken(expiredPAT, gitlabtest.TokenOptions{Admin: true, Scopes: []string{gitlabtest.ScopeAPI}, Expired: true})
	srv.AddAccessToken(revokedPAT, gitlabtest.TokenOptions{Admin: true, Scopes: []string{gitlabtest.ScopeAPI}, Revoked: true})
	srv.SetRegistrationToken(regToken)
	srv.SetGroupRegistrationToken(groupID, groupRegToken)
}

func newFixture(t *testing.T, opts ...gitlabtest.Option) *fixture {
	t.Helper()
	srv := gitlabtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	seed(srv)
	return &fixture{srv: srv}
}

func newTLSFixture(t *testing.T, opts ...gitlabtest.Option) *fixture {
	t.Helper()
	srv := gitlabtest.NewTLSServer(opts...)
	t.Cleanup(srv.Close)
	seed(srv)
	return &fixture{srv: srv}
}

// client builds a client for the fake with fast retries; mods adjust the
// Config.
func (f *fixture) client(t *testing.T, token string, mods ...func(*Config)) Client {
	t.Helper()
	cfg := Config{URL: f.srv.URL(), AccessToken: token, CABundle: f.srv.CAPEM(), Retry: fastRetry(), Timeout: 5 * time.Second}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func requireKind(t *testing.T, err error, want Kind) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error of kind %s, got nil", want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %T: %v", err, err)
	}
	if e.Kind != want {
		t.Fatalf("kind = %s, want %s (message: %s)", e.Kind, want, e.Message)
	}
	if e.Message == "" || e.Op == "" {
		t.Fatalf("error lacks message or op: %#v", e)
	}
	return e
}

func requireContains(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%q does not contain %q", s, p)
		}
	}
}

// renderings returns every way a value is likely to be printed: the fmt
// verbs, and for errors each link of the unwrap chain.
func renderings(v any) []string {
	out := []string{fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v)}
	if err, ok := v.(error); ok {
		for e := err; e != nil; e = errors.Unwrap(e) {
			out = append(out, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
		}
	}
	return out
}

// requireNoLeak fails if any token the fake ever issued or accepted, or any
// of extra, appears in any rendering of values.
func requireNoLeak(t *testing.T, srv *gitlabtest.Server, values []any, extra ...string) {
	t.Helper()
	var secrets []string
	if srv != nil {
		secrets = srv.IssuedTokens()
	}
	secrets = append(secrets, extra...)
	secrets = append(secrets, adminPAT, ownerPAT, maintainerPAT, strangerPAT, readOnlyPAT, managePAT,
		expiredPAT, revokedPAT, unknownPAT, regToken, groupRegToken, badRegToken, bogusRunner)
	for _, v := range values {
		if v == nil {
			continue
		}
		for _, r := range renderings(v) {
			for _, s := range secrets {
				if s != "" && strings.Contains(r, s) {
					t.Fatalf("secret %q leaked in %q", s, r)
				}
			}
		}
	}
}

func boolPtr(b bool) *bool    { return &b }
func int64Ptr(i int64) *int64 { return &i }
