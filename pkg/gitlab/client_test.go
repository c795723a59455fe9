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
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

func TestRegisterWithToken(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		token     string
		opts      RunnerOptions
		setup     func(*gitlabtest.Server)
		wantKind  Kind
		wantMsg   []string
		wantCalls int
		check     func(*testing.T, *gitlabtest.Server, *Credentials)
	}{{
		name:  "instance registration token",
		token: regToken,
		opts: RunnerOptions{Description: "k8s", Tags: []string{"a", "b"}, RunUntagged: boolPtr(false), Locked: boolPtr(true),
			Paused: boolPtr(true), AccessLevel: AccessLevelRefProtected, MaximumTimeout: int64Ptr(3600), MaintenanceNote: "managed"},
		wantCalls: 1,
		check: func(t *testing.T, srv *gitlabtest.Server, c *Credentials) {
			if !strings.HasPrefix(c.Token, TokenPrefixRegisteredRunner) || IsRunnerAuthToken(c.Token) || c.ID == 0 || c.ExpiresAt != nil {
				t.Fatalf("unexpected credentials %v (token prefix ok: %v)", c, strings.HasPrefix(c.Token, "glrtr-"))
			}
			r, _ := srv.RunnerByToken(c.Token)
			if r.Type != gitlabtest.InstanceType || r.Description != "k8s" || !slices.Equal(r.Tags, []string{"a", "b"}) || r.RunUntagged ||
				!r.Locked || !r.Paused || r.AccessLevel != "ref_protected" || r.MaximumTimeout != 3600 || r.MaintenanceNote != "managed" ||
				r.RegistrationType != gitlabtest.RegistrationToken {
				t.Fatalf("runner state %+v", r)
			}
		},
	}, {
		name:      "group registration token with expiry",
		token:     groupRegToken,
		setup:     func(s *gitlabtest.Server) { s.SetTokenLifetime(time.Hour) },
		wantCalls: 1,
		check: func(t *testing.T, srv *gitlabtest.Server, c *Credentials) {
			r, _ := srv.RunnerByToken(c.Token)
			if r.Type != gitlabtest.GroupType || r.GroupID != groupID || c.ExpiresAt == nil || time.Until(*c.ExpiresAt) < 50*time.Minute {
				t.Fatalf("runner %+v creds %v", r, c)
			}
		},
	}, {
		name: "wrong token", token: badRegToken, wantKind: KindForbidden, wantCalls: 1,
		wantMsg: []string{"rejected the registration token", "403"},
	}, {
		name: "registration tokens disallowed", token: regToken, wantKind: KindRegistrationDisallowed, wantCalls: 1,
		setup:   func(s *gitlabtest.Server) { s.AllowRegistrationTokens(false) },
		wantMsg: []string{"GitLab rejected the registration token: the instance disallows registration tokens (410); create the runner in GitLab and put its glrt- token under key runner-token, or give an access-token"},
	}, {
		name: "garbage token while disallowed is 410 too", token: badRegToken, wantKind: KindRegistrationDisallowed, wantCalls: 1,
		setup: func(s *gitlabtest.Server) { s.AllowRegistrationTokens(false) },
	}, {
		name: "maximum timeout too small", token: regToken, opts: RunnerOptions{MaximumTimeout: int64Ptr(60)},
		wantKind: KindBadRequest, wantCalls: 1, wantMsg: []string{"400 Bad Request", "maximum_timeout needs to be at least 10 minutes"},
	}, {
		name: "untagged runner without tags", token: regToken, opts: RunnerOptions{RunUntagged: boolPtr(false)},
		wantKind: KindBadRequest, wantCalls: 1, wantMsg: []string{"tags_list can not be empty when runner is not allowed to pick untagged jobs"},
	}, {
		name: "rate limited is not retried", token: regToken, wantKind: KindRateLimited, wantCalls: 1,
		setup: func(s *gitlabtest.Server) { s.RateLimitNext(gitlabtest.RouteRegister, 1, 0) },
	}, {
		name: "migrations backoff", token: regToken, wantKind: KindRateLimited, wantCalls: 1,
		setup: func(s *gitlabtest.Server) {
			f := gitlabtest.MigrationsRunning()
			f.Times = 1
			s.Inject(gitlabtest.RouteRegister, f)
		},
	}, {
		name: "5xx is not retried", token: regToken, wantKind: KindUnavailable, wantCalls: 1,
		setup: func(s *gitlabtest.Server) { s.FailNext(gitlabtest.RouteRegister, 1, http.StatusBadGateway) },
	}, {
		name: "empty token", token: "", wantKind: KindInvalidConfig, wantCalls: 0,
	}, {
		name: "invalid access level", token: regToken, opts: RunnerOptions{AccessLevel: "everyone"}, wantKind: KindInvalidConfig, wantCalls: 0,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f.srv)
			}
			c := f.client(t, "")
			creds, err := c.RegisterWithToken(ctx, tt.token, tt.opts)
			if got := f.srv.CallCount(gitlabtest.RouteRegister); got != tt.wantCalls {
				t.Fatalf("POST /runners called %d times, want %d", got, tt.wantCalls)
			}
			requireNoLeak(t, f.srv, []any{err, creds})
			if tt.wantKind != "" {
				e := requireKind(t, err, tt.wantKind)
				requireContains(t, e.Message, tt.wantMsg...)
				if len(f.srv.Runners()) != 0 {
					t.Fatalf("a failed registration left runners: %+v", f.srv.Runners())
				}
				return
			}
			if err != nil {
				t.Fatalf("RegisterWithToken: %v", err)
			}
			if tt.check != nil {
				tt.check(t, f.srv, creds)
			}
		})
	}
}

func TestCreateRunner(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		token    string
		opts     CreateOptions
		setup    func(*gitlabtest.Server)
		wantKind Kind
		wantMsg  []string
		scope    bool
		check    func(*testing.T, gitlabtest.RunnerState)
	}{{
		name:  "instance runner by an administrator",
		token: adminPAT,
		opts: CreateOptions{RunnerType: InstanceType, RunnerOptions: RunnerOptions{Description: "uid-1", Tags: []string{"x"},
			RunUntagged: boolPtr(false), AccessLevel: AccessLevelNotProtected, MaximumTimeout: int64Ptr(600), MaintenanceNote: "note"}},
		check: func(t *testing.T, r gitlabtest.RunnerState) {
			if r.Type != gitlabtest.InstanceType || r.Description != "uid-1" || r.RunUntagged || r.MaximumTimeout != 600 ||
				r.RegistrationType != gitlabtest.AuthenticatedUser || r.MaintenanceNote != "note" {
				t.Fatalf("runner %+v", r)
			}
		},
	}, {
		name: "group runner by a group owner", token: ownerPAT, opts: CreateOptions{RunnerType: GroupType, GroupID: groupID},
		check: func(t *testing.T, r gitlabtest.RunnerState) {
			if r.Type != gitlabtest.GroupType || r.GroupID != groupID || r.CreatorID != ownerID {
				t.Fatalf("runner %+v", r)
			}
		},
	}, {
		name: "project runner with create_runner scope", token: maintainerPAT, opts: CreateOptions{RunnerType: ProjectType, ProjectID: projectID},
		check: func(t *testing.T, r gitlabtest.RunnerState) {
			if r.Type != gitlabtest.ProjectType || r.ProjectID != projectID {
				t.Fatalf("runner %+v", r)
			}
		},
	}, {
		name: "instance runner by a non-administrator", token: ownerPAT, opts: CreateOptions{RunnerType: InstanceType},
		wantKind: KindForbidden, wantMsg: []string{"may not create this runner", "administrator"},
	}, {
		name: "unknown group", token: adminPAT, opts: CreateOptions{RunnerType: GroupType, GroupID: 999},
		wantKind: KindBadRequest, wantMsg: []string{"Missing/invalid group"},
	}, {
		name: "model validation", token: adminPAT, opts: CreateOptions{RunnerType: InstanceType, RunnerOptions: RunnerOptions{RunUntagged: boolPtr(false)}},
		wantKind: KindBadRequest, wantMsg: []string{"Tags list can not be empty when runner is not allowed to pick untagged jobs"},
	}, {
		name: "token without create_runner or api", token: readOnlyPAT, opts: CreateOptions{RunnerType: InstanceType},
		wantKind: KindForbidden, scope: true, wantMsg: []string{"lacks the scope", "api, create_runner"},
	}, {
		name: "expired token", token: expiredPAT, opts: CreateOptions{RunnerType: InstanceType},
		wantKind: KindUnauthorized, wantMsg: []string{"has expired"},
	}, {
		name: "revoked token", token: revokedPAT, opts: CreateOptions{RunnerType: InstanceType},
		wantKind: KindUnauthorized, wantMsg: []string{"was revoked"},
	}, {
		name: "unknown token", token: unknownPAT, opts: CreateOptions{RunnerType: InstanceType},
		wantKind: KindUnauthorized, wantMsg: []string{"401 Unauthorized"},
	}, {
		name: "no access token configured", token: "", opts: CreateOptions{RunnerType: InstanceType},
		wantKind: KindInvalidConfig, wantMsg: []string{"needs an access token"},
	}, {
		name: "bad runner type", token: adminPAT, opts: CreateOptions{RunnerType: "shared"}, wantKind: KindInvalidConfig,
	}, {
		name: "group runner without group", token: adminPAT, opts: CreateOptions{RunnerType: GroupType}, wantKind: KindInvalidConfig,
	}, {
		name: "project runner without project", token: adminPAT, opts: CreateOptions{RunnerType: ProjectType}, wantKind: KindInvalidConfig,
	}, {
		name: "bad access level", token: adminPAT, opts: CreateOptions{RunnerType: InstanceType, RunnerOptions: RunnerOptions{AccessLevel: "x"}},
		wantKind: KindInvalidConfig,
	}, {
		name: "server error is not retried", token: adminPAT, opts: CreateOptions{RunnerType: InstanceType},
		setup: func(s *gitlabtest.Server) {
			s.FailNext(gitlabtest.RouteCreateUserRunner, 3, http.StatusInternalServerError)
		},
		wantKind: KindUnavailable, wantMsg: []string{"500 Internal Server Error"},
	}, {
		name: "rate limit is not retried", token: adminPAT, opts: CreateOptions{RunnerType: InstanceType},
		setup:    func(s *gitlabtest.Server) { s.RateLimitNext(gitlabtest.RouteCreateUserRunner, 3, 0) },
		wantKind: KindRateLimited,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f.srv)
			}
			creds, err := f.client(t, tt.token).CreateRunner(ctx, tt.opts)
			requireNoLeak(t, f.srv, []any{err, creds})
			if calls := f.srv.CallCount(gitlabtest.RouteCreateUserRunner); calls > 1 {
				t.Fatalf("create was sent %d times; it must never be retried", calls)
			}
			if tt.wantKind != "" {
				e := requireKind(t, err, tt.wantKind)
				requireContains(t, e.Message, tt.wantMsg...)
				if IsInsufficientScope(err) != tt.scope {
					t.Fatalf("IsInsufficientScope = %v", !tt.scope)
				}
				if n := len(f.srv.Runners()); n != 0 {
					t.Fatalf("%d runners after a failed create", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateRunner: %v", err)
			}
			if !IsRunnerAuthToken(creds.Token) {
				t.Fatalf("created runner token lacks glrt-: %v", creds)
			}
			r, ok := f.srv.Runner(creds.ID)
			if !ok || r.Token != creds.Token {
				t.Fatalf("runner %d not in the fake", creds.ID)
			}
			tt.check(t, r)
		})
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.srv.SetTokenLifetime(24 * time.Hour)
	seeded := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "ui"})
	c := f.client(t, "")

	t.Run("valid token with system id", func(t *testing.T) {
		creds, err := c.Verify(ctx, seeded.Token, "s_0123456789ab")
		if err != nil {
			t.Fatal(err)
		}
		if creds.ID != seeded.ID || creds.Token != seeded.Token || creds.ExpiresAt == nil || !creds.ExpiresAt.Equal(*seeded.TokenExpiresAt) {
			t.Fatalf("creds %v, seeded %+v", creds, seeded)
		}
		r, _ := f.srv.Runner(seeded.ID)
		if _, ok := r.Managers["s_0123456789ab"]; !ok {
			t.Fatalf("verify did not create the runner manager: %+v", r.Managers)
		}
	})
	t.Run("valid token without system id uses the legacy manager", func(t *testing.T) {
		if _, err := c.Verify(ctx, seeded.Token, ""); err != nil {
			t.Fatal(err)
		}
		r, _ := f.srv.Runner(seeded.ID)
		if _, ok := r.Managers[gitlabtest.LegacySystemID]; !ok {
			t.Fatalf("managers %+v", r.Managers)
		}
	})
	t.Run("old GitLab answering a bare 200", func(t *testing.T) {
		f.srv.Inject(gitlabtest.RouteVerify, gitlabtest.Fault{Status: 200, Body: "200", ContentType: "text/plain", Times: 1})
		creds, err := c.Verify(ctx, seeded.Token, "")
		if err != nil || creds.ID != 0 || creds.Token != seeded.Token {
			t.Fatalf("creds %v err %v", creds, err)
		}
	})
	t.Run("transient failures are retried", func(t *testing.T) {
		f.srv.ResetCalls()
		f.srv.FailNext(gitlabtest.RouteVerify, 1, http.StatusServiceUnavailable)
		f.srv.DropNext(gitlabtest.RouteVerify, 1)
		if _, err := c.Verify(ctx, seeded.Token, ""); err != nil {
			t.Fatal(err)
		}
		if n := f.srv.CallCount(gitlabtest.RouteVerify); n != 3 {
			t.Fatalf("verify calls = %d, want 3", n)
		}
	})
	for _, tc := range []struct {
		name, token string
		kind        Kind
		prep        func()
	}{
		{name: "unknown token", token: bogusRunner, kind: KindForbidden},
		{name: "empty token", token: "", kind: KindInvalidConfig},
		{name: "expired token", token: seeded.Token, kind: KindForbidden, prep: func() {
			past := time.Now().Add(-time.Minute)
			f.srv.SetRunnerTokenExpiry(seeded.ID, &past)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prep != nil {
				tc.prep()
			}
			creds, err := c.Verify(ctx, tc.token, "")
			e := requireKind(t, err, tc.kind)
			if tc.kind == KindForbidden {
				requireContains(t, e.Message, "deleted in GitLab", "rotated")
			}
			requireNoLeak(t, f.srv, []any{err, creds})
		})
	}
}

func TestDeleteByToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.client(t, "")
	r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})

	f.srv.FailNext(gitlabtest.RouteDeleteByToken, 1, http.StatusBadGateway)
	if err := c.DeleteByToken(ctx, r.Token); err != nil {
		t.Fatalf("DeleteByToken: %v", err)
	}
	if _, ok := f.srv.Runner(r.ID); ok {
		t.Fatal("runner still exists")
	}
	if n := f.srv.CallCount(gitlabtest.RouteDeleteByToken); n != 2 {
		t.Fatalf("calls = %d, want 2 (one retry after 502)", n)
	}
	// The token travels in the body, never in the URL.
	for _, call := range f.srv.Calls() {
		if call.Route != gitlabtest.RouteDeleteByToken {
			continue
		}
		if len(call.Query) != 0 || !strings.Contains(string(call.Body), r.Token) {
			t.Fatalf("DELETE /runners query %v body %s", call.Query, call.Body)
		}
	}
	// Already gone: GitLab no longer knows the token.
	err := c.DeleteByToken(ctx, r.Token)
	requireKind(t, err, KindForbidden)
	if !IsForbidden(err) || IsNotFound(err) || IsTransient(err) {
		t.Fatalf("helpers disagree for %v", err)
	}
	requireNoLeak(t, f.srv, []any{err})
	requireKind(t, c.DeleteByToken(ctx, ""), KindInvalidConfig)
}

func TestDeleteByID(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	admin := f.client(t, adminPAT)
	r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})
	grp := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{Type: gitlabtest.GroupType, GroupID: groupID})

	if err := admin.DeleteByID(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	err := admin.DeleteByID(ctx, r.ID)
	e := requireKind(t, err, KindNotFound)
	if !IsNotFound(err) || e.StatusCode != 404 {
		t.Fatalf("IsNotFound false for %#v", e)
	}
	requireContains(t, e.Message, "runner 1 was not found")

	err = f.client(t, strangerPAT).DeleteByID(ctx, grp.ID)
	requireContains(t, requireKind(t, err, KindForbidden).Message, "no access to runner 2")
	if err := f.client(t, ownerPAT).DeleteByID(ctx, grp.ID); err != nil {
		t.Fatalf("group owner delete: %v", err)
	}
	requireKind(t, admin.DeleteByID(ctx, 0), KindInvalidConfig)
	requireKind(t, f.client(t, "").DeleteByID(ctx, 5), KindInvalidConfig)

	// The operator token with only create_runner and manage_runner may delete
	// by id (manage_runner is accepted on /runners/:id).
	r3 := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})
	if err := f.client(t, managePAT).DeleteByID(ctx, r3.ID); err != nil {
		t.Fatalf("manage_runner delete: %v", err)
	}
	requireNoLeak(t, f.srv, []any{err})
}

func TestDeleteManager(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.client(t, "")
	r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})
	if _, err := c.Verify(ctx, r.Token, "s_aaaaaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteManager(ctx, r.Token, "s_aaaaaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	st, ok := f.srv.Runner(r.ID)
	if !ok || len(st.Managers) != 0 {
		t.Fatalf("runner must stay without managers: %v %+v", ok, st.Managers)
	}
	err := c.DeleteManager(ctx, r.Token, "s_aaaaaaaaaaaa")
	requireContains(t, requireKind(t, err, KindNotFound).Message, `runner manager "s_aaaaaaaaaaaa" was not found`)
	requireNoLeak(t, f.srv, []any{err})
	err = c.DeleteManager(ctx, bogusRunner, "s_aaaaaaaaaaaa")
	requireKind(t, err, KindForbidden)
	requireNoLeak(t, f.srv, []any{err})
	requireKind(t, c.DeleteManager(ctx, r.Token, ""), KindInvalidConfig)
	requireKind(t, c.DeleteManager(ctx, "", "s_x"), KindInvalidConfig)
}

func TestResetToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.srv.SetTokenLifetime(time.Hour)
	c := f.client(t, "")
	r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})

	creds, err := c.ResetToken(ctx, r.Token)
	if err != nil {
		t.Fatal(err)
	}
	if creds.Token == r.Token || !IsRunnerAuthToken(creds.Token) || creds.ExpiresAt == nil || creds.ID != 0 {
		t.Fatalf("creds %v", creds)
	}
	requireKind(t, firstErr(c.Verify(ctx, r.Token, "")), KindForbidden)
	if _, err := c.Verify(ctx, creds.Token, ""); err != nil {
		t.Fatalf("new token rejected: %v", err)
	}

	err = firstErr(c.ResetToken(ctx, r.Token))
	requireKind(t, err, KindForbidden)
	requireNoLeak(t, f.srv, []any{err})

	// A rotation whose answer is lost must not be repeated: the first
	// attempt already replaced the token.
	f.srv.ResetCalls()
	f.srv.LoseResponseNext(gitlabtest.RouteResetToken, 1)
	err = firstErr(c.ResetToken(ctx, creds.Token))
	requireContains(t, requireKind(t, err, KindUnavailable).Message, "may have completed the request")
	if n := f.srv.CallCount(gitlabtest.RouteResetToken); n != 1 {
		t.Fatalf("reset sent %d times", n)
	}
	requireKind(t, firstErr(c.Verify(ctx, creds.Token, "")), KindForbidden)
	requireNoLeak(t, f.srv, []any{err})
	requireKind(t, firstErr(c.ResetToken(ctx, "")), KindInvalidConfig)
}

func TestResetTokenByID(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{})
	admin := f.client(t, managePAT)

	creds, err := admin.ResetTokenByID(ctx, r.ID)
	if err != nil || creds.ID != r.ID || creds.Token == r.Token || creds.ExpiresAt != nil {
		t.Fatalf("creds %v err %v", creds, err)
	}
	cur, _ := f.srv.Runner(r.ID)
	if cur.Token != creds.Token {
		t.Fatal("fake holds another token")
	}
	requireKind(t, firstErr(admin.ResetTokenByID(ctx, 999)), KindNotFound)
	requireKind(t, firstErr(f.client(t, strangerPAT).ResetTokenByID(ctx, r.ID)), KindForbidden)
	f.srv.ResetCalls()
	f.srv.FailNext(gitlabtest.RouteResetTokenByID, 1, http.StatusServiceUnavailable)
	err = firstErr(admin.ResetTokenByID(ctx, r.ID))
	requireKind(t, err, KindUnavailable)
	if n := f.srv.CallCount(gitlabtest.RouteResetTokenByID); n != 1 {
		t.Fatalf("reset by id sent %d times", n)
	}
	f.srv.Inject(gitlabtest.RouteResetTokenByID, gitlabtest.Fault{Status: 201, Body: "{}", Times: 1})
	requireKind(t, firstErr(admin.ResetTokenByID(ctx, r.ID)), KindUnexpected)
	requireNoLeak(t, f.srv, []any{err})
}

func TestGetAndUpdateRunner(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	admin := f.client(t, adminPAT)
	seeded := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "d", Tags: []string{"t1"}, Locked: true, MaximumTimeout: 900, MaintenanceNote: "m"})
	if _, err := f.client(t, "").Verify(ctx, seeded.Token, ""); err != nil {
		t.Fatal(err)
	}

	r, err := admin.GetRunner(ctx, seeded.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != seeded.ID || r.Description != "d" || !slices.Equal(r.Tags, []string{"t1"}) || !r.Locked || !r.RunUntagged ||
		r.MaximumTimeout != 900 || r.RunnerType != InstanceType || !r.Online || r.Status != "online" || r.AccessLevel != "not_protected" ||
		r.MaintenanceNote != "m" || r.ContactedAt == nil {
		t.Fatalf("runner %+v", r)
	}

	up, err := admin.UpdateRunner(ctx, seeded.ID, RunnerOptions{Description: "new", Tags: []string{}, Paused: boolPtr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if up.Description != "new" || len(up.Tags) != 0 || !up.Paused {
		t.Fatalf("updated %+v", up)
	}
	err = firstErr(admin.UpdateRunner(ctx, seeded.ID, RunnerOptions{RunUntagged: boolPtr(false)}))
	requireContains(t, requireKind(t, err, KindBadRequest).Message, "tags_list can not be empty")
	requireKind(t, firstErr(admin.UpdateRunner(ctx, seeded.ID, RunnerOptions{})), KindInvalidConfig)
	requireKind(t, firstErr(admin.UpdateRunner(ctx, seeded.ID, RunnerOptions{AccessLevel: "bad"})), KindInvalidConfig)
	requireKind(t, firstErr(admin.GetRunner(ctx, 12345)), KindNotFound)
	requireKind(t, firstErr(admin.GetRunner(ctx, -1)), KindInvalidConfig)
	requireKind(t, firstErr(f.client(t, "").GetRunner(ctx, 1)), KindInvalidConfig)

	grp := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{Type: gitlabtest.GroupType, GroupID: groupID})
	requireKind(t, firstErr(f.client(t, strangerPAT).GetRunner(ctx, grp.ID)), KindForbidden)
	if _, err := f.client(t, ownerPAT).GetRunner(ctx, grp.ID); err != nil {
		t.Fatalf("owner cannot read group runner: %v", err)
	}
	requireNoLeak(t, f.srv, []any{err})
}

func TestFindRunners(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for i := range 230 {
		f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "other-" + string(rune('a'+i%26))})
	}
	want := f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "uid-1234", Tags: []string{"k8s"}})
	f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "uid-1234", Type: gitlabtest.GroupType, GroupID: groupID})
	f.srv.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "prefix uid-1234 suffix"})

	admin := f.client(t, adminPAT)
	got, err := admin.FindRunners(ctx, FindOptions{Description: "uid-1234"})
	if err != nil || len(got) != 2 {
		t.Fatalf("found %+v err %v", got, err)
	}
	if n := f.srv.CallCount(gitlabtest.RouteListAll); n != 3 {
		t.Fatalf("pages fetched = %d, want 3 (233 runners, 100 a page)", n)
	}
	// Type and tags are filtered by GitLab.
	f.srv.ResetCalls()
	got, err = admin.FindRunners(ctx, FindOptions{Description: "uid-1234", Type: InstanceType, Tags: []string{"k8s"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != want.ID || got[0].Description != "uid-1234" || got[0].RunnerType != InstanceType {
		t.Fatalf("found %+v", got)
	}
	if calls := f.srv.Calls(); len(calls) != 1 || calls[0].Query.Get("type") != "instance_type" || calls[0].Query.Get("tag_list") != "k8s" {
		t.Fatalf("calls %+v", calls)
	}
	got, err = admin.FindRunners(ctx, FindOptions{DescriptionContains: "uid-1234"})
	if err != nil || len(got) != 3 {
		t.Fatalf("contains: %d runners, err %v", len(got), err)
	}

	// A group owner is not an administrator: /runners/all is refused once,
	// then the client uses /runners directly.
	owner := f.client(t, ownerPAT)
	f.srv.ResetCalls()
	for range 2 {
		got, err = owner.FindRunners(ctx, FindOptions{Description: "uid-1234"})
		if err != nil || len(got) != 1 || got[0].RunnerType != GroupType {
			t.Fatalf("owner found %+v err %v", got, err)
		}
	}
	if n := f.srv.CallCount(gitlabtest.RouteListAll); n != 1 {
		t.Fatalf("/runners/all called %d times, want 1", n)
	}

	// The operator token (create_runner, manage_runner) may not list.
	err = firstErr(f.client(t, managePAT).FindRunners(ctx, FindOptions{}))
	requireKind(t, err, KindForbidden)
	if !IsInsufficientScope(err) {
		t.Fatalf("want insufficient scope: %v", err)
	}
	requireNoLeak(t, f.srv, []any{err})
	requireKind(t, firstErr(admin.FindRunners(ctx, FindOptions{Type: "bogus"})), KindInvalidConfig)
	requireKind(t, firstErr(f.client(t, "").FindRunners(ctx, FindOptions{})), KindInvalidConfig)
	f.srv.FailNext(gitlabtest.RouteListAll, 5, http.StatusInternalServerError)
	requireKind(t, firstErr(admin.FindRunners(ctx, FindOptions{})), KindUnavailable)
}

func TestVersionAndReady(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.srv.SetVersion("17.11.2-ee", "abc123")
	v, err := f.client(t, readOnlyPAT).Version(ctx)
	if err != nil || v.Version != "17.11.2-ee" || v.Revision != "abc123" {
		t.Fatalf("version %+v err %v", v, err)
	}
	requireKind(t, firstErr(f.client(t, managePAT).Version(ctx)), KindForbidden)
	requireKind(t, firstErr(f.client(t, unknownPAT).Version(ctx)), KindUnauthorized)
	requireKind(t, firstErr(f.client(t, "").Version(ctx)), KindInvalidConfig)

	c := f.client(t, "")
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
	f.srv.SetReady(false)
	requireContains(t, requireKind(t, c.Ready(ctx), KindUnavailable).Message, "503")
	f.srv.SetReady(true)
	// Outside the monitoring allowlist GitLab answers 404; the API probe
	// (401 without a token) proves it is serving.
	f.srv.RestrictHealthChecks(true)
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("ready with restricted health checks: %v", err)
	}
	if f.srv.CallCount(gitlabtest.RouteVersion) != 4 {
		t.Fatalf("version probes: %d", f.srv.CallCount(gitlabtest.RouteVersion))
	}
	// A URL without the relative root never reaches the API.
	g := newFixture(t, gitlabtest.WithBasePath("/gitlab"))
	wrong := g.client(t, "", func(cfg *Config) { cfg.URL = strings.TrimSuffix(g.srv.URL(), "/gitlab") })
	requireKind(t, wrong.Ready(ctx), KindAPINotFound)
	g.srv.Stop()
	requireKind(t, wrong.Ready(ctx), KindUnavailable)
}

func TestBasePathAndURLForms(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, gitlabtest.WithBasePath("/gitlab"))
	base := f.srv.URL()
	for _, u := range []string{base, base + "/", base + "//", base + "/api/v4", base + "/api/v4/", "  " + base + "  "} {
		t.Run(u, func(t *testing.T) {
			c := f.client(t, adminPAT, func(cfg *Config) { cfg.URL = u })
			creds, err := c.CreateRunner(ctx, CreateOptions{RunnerType: InstanceType})
			if err != nil {
				t.Fatalf("create via %q: %v", u, err)
			}
			if err := c.DeleteByToken(ctx, creds.Token); err != nil {
				t.Fatalf("delete via %q: %v", u, err)
			}
			if err := c.Ready(ctx); err != nil {
				t.Fatalf("ready via %q: %v", u, err)
			}
		})
	}
	// Without the relative root every API call hits GitLab's catch-all 404,
	// which must not look like "runner already gone".
	root := strings.TrimSuffix(base, "/gitlab")
	c := f.client(t, adminPAT, func(cfg *Config) { cfg.URL = root })
	err := c.DeleteByID(ctx, 1)
	e := requireKind(t, err, KindAPINotFound)
	if IsNotFound(err) {
		t.Fatal("a route 404 must not count as not found")
	}
	requireContains(t, e.Message, "relative path such as /gitlab")
	requireKind(t, firstErr(c.CreateRunner(ctx, CreateOptions{RunnerType: InstanceType})), KindAPINotFound)
	requireNoLeak(t, f.srv, []any{err})
}

func TestNewClientValidation(t *testing.T) {
	tests := []struct {
		url     string
		ca      []byte
		wantMsg string
	}{
		{url: "", wantMsg: "URL is empty"},
		{url: "   ", wantMsg: "URL is empty"},
		{url: "gitlab.example.com", wantMsg: "has no scheme"},
		{url: "ftp://gitlab.example.com", wantMsg: `unsupported scheme "ftp"`},
		{url: "https://", wantMsg: "has no host"},
		{url: "https://:443/", wantMsg: "has no host"},
		{url: "https://user:hunter2secret@gitlab.example.com", wantMsg: "must not contain credentials"},
		{url: "https://gitlab.example.com/?private_token=glpat-x", wantMsg: "query or fragment"},
		{url: "https://gitlab.example.com/#frag", wantMsg: "query or fragment"},
		{url: "https://gitlab.example.com:99999", wantMsg: "invalid port"},
		{url: "https://gitlab example.com", wantMsg: "not a valid URL"},
		{url: "http://%41:8080/", wantMsg: "not a valid URL"},
		{url: "https://gitlab.example.com", ca: []byte("not pem"), wantMsg: "contains no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := NewClient(Config{URL: tt.url, CABundle: tt.ca, AccessToken: adminPAT})
			if c != nil {
				t.Fatalf("got a client for %q", tt.url)
			}
			e := requireKind(t, err, KindInvalidConfig)
			requireContains(t, e.Message, tt.wantMsg)
			for _, secret := range []string{"hunter2secret", "glpat-x", adminPAT} {
				if strings.Contains(e.Message, secret) {
					t.Fatalf("message leaks %q: %s", secret, e.Message)
				}
			}
		})
	}
	c, err := NewClient(Config{URL: "HTTPS://GitLab.Example.com:8443/sub/path/"})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.(*client).display; s != "https://GitLab.Example.com:8443/sub/path" {
		t.Fatalf("display %q", s)
	}
	// The transport keeps http.DefaultTransport's proxy behaviour and a TLS
	// floor.
	tr := c.(*client).hc.Transport.(*captureTransport).next.(*http.Transport)
	if tr.Proxy == nil || tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || tr.TLSClientConfig.InsecureSkipVerify || tr.TLSClientConfig.RootCAs != nil {
		t.Fatalf("transport %+v", tr)
	}
}

func TestClientStringHidesToken(t *testing.T) {
	c, err := NewClient(Config{URL: "https://gitlab.example.com", AccessToken: adminPAT})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range renderings(c) {
		if strings.Contains(r, adminPAT) {
			t.Fatalf("client rendering leaks the token: %s", r)
		}
	}
}

func TestRequestShape(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.client(t, adminPAT, func(cfg *Config) { cfg.UserAgent = "gitlab-operator/test" })
	if _, err := c.CreateRunner(ctx, CreateOptions{RunnerType: InstanceType, RunnerOptions: RunnerOptions{Tags: []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	calls := f.srv.Calls()
	last := calls[len(calls)-1]
	if last.Header.Get("Private-Token") != adminPAT || last.Header.Get("User-Agent") != "gitlab-operator/test" ||
		last.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", last.Header)
	}
	var body map[string]any
	if err := json.Unmarshal(last.Body, &body); err != nil || body["runner_type"] != "instance_type" {
		t.Fatalf("body %s", last.Body)
	}
	// Runner-token calls carry no access token.
	anon := f.client(t, "")
	_, _ = anon.Verify(ctx, bogusRunner, "")
	calls = f.srv.Calls()
	if h := calls[len(calls)-1].Header.Get("Private-Token"); h != "" {
		t.Fatalf("runner-token call sent Private-Token %q", h)
	}
}

func firstErr[T any](_ T, err error) error { return err }
