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
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	admin    = "glpat-admin-000000000001"
	owner    = "glpat-owner-000000000002"
	dev      = "glpat-devel-000000000003"
	operator = "glpat-oper--000000000004"
	reader   = "glpat-read--000000000005"
	stranger = "glpat-other-000000000006"
)

func newTestServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	s.AddGroup(7)
	s.AddProject(42, 7)
	s.AddProject(43, 0)
	s.AddAccessToken(admin, TokenOptions{Admin: true, Scopes: []string{ScopeAPI}})
	s.AddAccessToken(owner, TokenOptions{UserID: 100, Scopes: []string{ScopeAPI}})
	s.AddGroupMember(7, 100, RoleOwner)
	s.AddAccessToken(dev, TokenOptions{UserID: 101, Scopes: []string{ScopeAPI}})
	s.AddProjectMember(43, 101, RoleDeveloper)
	s.AddAccessToken(operator, TokenOptions{Admin: true, Scopes: []string{ScopeCreateRunner, ScopeManageRunner}})
	s.AddAccessToken(reader, TokenOptions{Admin: true, Scopes: []string{ScopeReadUser}})
	s.AddAccessToken(stranger, TokenOptions{Scopes: []string{ScopeAPI}})
	return s
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// req sends one request; body may be nil, a url.Values (urlencoded form), a
// *multipart form built by form(), or anything else (JSON).
func req(t *testing.T, s *Server, method, path string, body any, headers ...string) reply {
	t.Helper()
	r, err := tryReq(s, method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

type multipartBody map[string][]string

func tryReq(s *Server, method, path string, body any, headers ...string) (reply, error) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case multipartBody:
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, vs := range b {
			for _, v := range vs {
				_ = w.WriteField(k, v)
			}
		}
		_ = w.Close()
		rd, ct = &buf, w.FormDataContentType()
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	hr, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		return reply{}, err
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		hr.Header.Set(headers[i], headers[i+1])
	}
	client := http.DefaultClient
	if ca := s.CAPEM(); ca != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	resp, err := client.Do(hr)
	if err != nil {
		return reply{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

func expect(t *testing.T, r reply, status int, body string) {
	t.Helper()
	if r.status != status || (body != "" && r.body != body) {
		t.Fatalf("got %d %q, want %d %q", r.status, r.body, status, body)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Fatal("missing X-Request-Id")
	}
	if status != http.StatusNoContent && strings.HasPrefix(r.body, "{") && r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("JSON body with Content-Type %q", r.header.Get("Content-Type"))
	}
}

func pat(tok string) []string { return []string{"PRIVATE-TOKEN", tok} }

func TestParamTransports(t *testing.T) {
	s := newTestServer(t)
	transports := map[string]func(p map[string]string) (path string, body any){
		"query": func(p map[string]string) (string, any) {
			v := url.Values{}
			for k, x := range p {
				v.Set(k, x)
			}
			return "?" + v.Encode(), nil
		},
		"json": func(p map[string]string) (string, any) { return "", p },
		"urlencoded": func(p map[string]string) (string, any) {
			v := url.Values{}
			for k, x := range p {
				v.Set(k, x)
			}
			return "", v
		},
		"multipart": func(p map[string]string) (string, any) {
			m := multipartBody{}
			for k, x := range p {
				m[k] = []string{x}
			}
			return "", m
		},
	}
	for name, tr := range transports {
		t.Run(name, func(t *testing.T) {
			r := s.CreateRunnerDirect(RunnerSpec{})
			q, body := tr(map[string]string{"token": r.Token, "system_id": "s_" + name})
			res := req(t, s, "POST", "/api/v4/runners/verify"+q, body)
			expect(t, res, 200, "")
			if m := res.json(t); m["id"] != float64(r.ID) || m["token"] != r.Token {
				t.Fatalf("verify body %v", m)
			}
			q, body = tr(map[string]string{"token": r.Token, "system_id": "s_" + name})
			expect(t, req(t, s, "DELETE", "/api/v4/runners/managers"+q, body), 204, "")
			q, body = tr(map[string]string{"token": r.Token})
			expect(t, req(t, s, "DELETE", "/api/v4/runners"+q, body), 204, "")
			if _, ok := s.Runner(r.ID); ok {
				t.Fatal("runner not deleted")
			}
		})
	}
	// Body parameters win over query parameters, as in Rails.
	r := s.CreateRunnerDirect(RunnerSpec{})
	expect(t, req(t, s, "POST", "/api/v4/runners/verify?token=wrong", map[string]string{"token": r.Token}), 200, "")
	expect(t, req(t, s, "POST", "/api/v4/runners/verify", "{not json"), 400, "")
}

func TestTagListForms(t *testing.T) {
	s := newTestServer(t)
	forms := map[string]struct {
		query string
		body  any
	}{
		"json array":  {body: map[string]any{"runner_type": "instance_type", "tag_list": []string{"a", "b"}}},
		"json string": {body: map[string]any{"runner_type": "instance_type", "tag_list": "a, b"}},
		"form comma":  {body: url.Values{"runner_type": {"instance_type"}, "tag_list": {"a,b"}}},
		"form array":  {body: url.Values{"runner_type": {"instance_type"}, "tag_list[]": {"a", "b"}}},
		"multipart":   {body: multipartBody{"runner_type": {"instance_type"}, "tag_list[]": {"a", "b"}}},
		"query":       {query: "?runner_type=instance_type&tag_list=a,,b"},
	}
	for name, f := range forms {
		t.Run(name, func(t *testing.T) {
			res := req(t, s, "POST", "/api/v4/user/runners"+f.query, f.body, pat(admin)...)
			expect(t, res, 201, "")
			st, _ := s.Runner(int64(res.json(t)["id"].(float64)))
			if !slices.Equal(st.Tags, []string{"a", "b"}) {
				t.Fatalf("tags %q", st.Tags)
			}
		})
	}
}

func TestResponseConventions(t *testing.T) {
	s := newTestServer(t, WithBasePath("gitlab/"))
	if !strings.HasSuffix(s.URL(), "/gitlab") {
		t.Fatalf("URL %s", s.URL())
	}
	r := s.CreateRunnerDirect(RunnerSpec{})
	ids := map[string]bool{}
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{"GET", "/api/v4/nope", nil, 404, `{"error":"404 Not Found"}`},
		{"PATCH", "/api/v4/runners", nil, 404, `{"error":"404 Not Found"}`},
		{"POST", "/api/v4/runners/verify", map[string]string{"token": "x"}, 403, `{"message":"403 Forbidden"}`},
		{"POST", "/api/v4/runners/verify", map[string]string{}, 400, `{"error":"token is missing"}`},
		{"POST", "/api/v4/jobs/request", map[string]string{"token": r.Token}, 204, ""},
		{"DELETE", "/api/v4/runners", map[string]string{"token": r.Token}, 204, ""},
	} {
		res := req(t, s, c.method, c.path, c.body)
		expect(t, res, c.status, c.want)
		if c.status == 204 {
			if res.body != "" || res.header.Get("Content-Type") != "" {
				t.Fatalf("204 with body %q / type %q", res.body, res.header.Get("Content-Type"))
			}
		}
		ids[res.header.Get("X-Request-Id")] = true
	}
	if len(ids) != 6 {
		t.Fatalf("request ids not unique: %v", ids)
	}
	// Outside the base path everything is an unknown route.
	u, _ := url.Parse(s.URL())
	resp, err := http.Get(u.Scheme + "://" + u.Host + "/api/v4/version")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 404 || s.CallCount("") != 3 {
		t.Fatalf("status %d, unknown count %d", resp.StatusCode, s.CallCount(""))
	}
}

func TestRegisterContract(t *testing.T) {
	s := newTestServer(t)
	s.SetRegistrationToken("GR1348941inst")
	s.SetRegistrationToken("GR1348941instance") // replaces the first
	s.SetProjectRegistrationToken(43, "GR1348941proj")
	reg := func(p map[string]any) reply { return req(t, s, "POST", "/api/v4/runners", p) }

	expect(t, reg(map[string]any{}), 400, `{"error":"token is missing"}`)
	expect(t, reg(map[string]any{"token": "GR1348941inst"}), 403, `{"message":"403 Forbidden - invalid token supplied"}`)
	expect(t, reg(map[string]any{"token": ""}), 403, `{"message":"403 Forbidden - invalid token supplied"}`)
	expect(t, reg(map[string]any{"token": "GR1348941instance", "access_level": "all"}), 400, `{"error":"access_level does not have a valid value"}`)
	expect(t, reg(map[string]any{"token": "GR1348941instance", "active": true, "paused": false}), 400, `{"error":"active, paused are mutually exclusive"}`)
	expect(t, reg(map[string]any{"token": "GR1348941instance", "maintainer_note": "a", "maintenance_note": "b"}), 400, `{"error":"maintainer_note, maintenance_note are mutually exclusive"}`)
	expect(t, reg(map[string]any{"token": "GR1348941instance", "maximum_timeout": "soon", "locked": "maybe"}), 400, `{"error":"locked is invalid, maximum_timeout is invalid"}`)
	expect(t, reg(map[string]any{"token": "GR1348941instance", "run_untagged": false, "maximum_timeout": 60}), 400,
		`{"message":{"maximum_timeout":["needs to be at least 10 minutes"],"tags_list":["can not be empty when runner is not allowed to pick untagged jobs"]}}`)

	res := reg(map[string]any{"token": "GR1348941instance", "description": "d", "active": false, "maintainer_note": "legacy", "info": map[string]any{"name": "n"}})
	expect(t, res, 201, "")
	m := res.json(t)
	if tok, _ := m["token"].(string); !strings.HasPrefix(tok, "glrtr-") || m["token_expires_at"] != nil || len(m) != 3 {
		t.Fatalf("body %v", m)
	}
	st, _ := s.RunnerByToken(m["token"].(string))
	if st.Type != InstanceType || !st.Paused || st.MaintenanceNote != "legacy" || st.RegistrationType != RegistrationToken {
		t.Fatalf("state %+v", st)
	}
	res = reg(map[string]any{"token": "GR1348941proj"})
	expect(t, res, 201, "")
	if st, _ := s.RunnerByToken(res.json(t)["token"].(string)); st.Type != ProjectType || st.ProjectID != 43 {
		t.Fatalf("project runner %+v", st)
	}

	s.AllowRegistrationTokens(false)
	gone := `{"message":"410 Gone - runner registration disallowed"}`
	expect(t, reg(map[string]any{"token": "GR1348941instance"}), 410, gone)
	expect(t, reg(map[string]any{"token": "anything"}), 410, gone)
	expect(t, reg(map[string]any{"token": ""}), 403, "")
}

func TestUserRunnersContract(t *testing.T) {
	s := newTestServer(t)
	create := func(tok string, p any) reply { return req(t, s, "POST", "/api/v4/user/runners", p, pat(tok)...) }
	it := map[string]any{"runner_type": "instance_type"}

	expect(t, req(t, s, "POST", "/api/v4/user/runners", it), 401, `{"message":"401 Unauthorized"}`)
	expect(t, create("glpat-unknown", it), 401, `{"message":"401 Unauthorized"}`)
	expect(t, create(reader, it), 403, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api create_runner"}`)
	expect(t, create(admin, map[string]any{}), 400, `{"error":"runner_type is missing, runner_type does not have a valid value"}`)
	expect(t, create(admin, map[string]any{"runner_type": "shared"}), 400, `{"error":"runner_type does not have a valid value"}`)
	expect(t, create(admin, map[string]any{"runner_type": "group_type"}), 400, `{"error":"group_id is missing"}`)
	expect(t, create(admin, map[string]any{"runner_type": "project_type"}), 400, `{"error":"project_id is missing"}`)
	expect(t, create(admin, map[string]any{"runner_type": "group_type", "group_id": 99}), 400, `{"message":"400 Bad request - Missing/invalid group"}`)
	expect(t, create(admin, map[string]any{"runner_type": "project_type", "project_id": 99}), 400, `{"message":"400 Bad request - Missing/invalid project"}`)
	insufficient := `{"message":"403 Forbidden - Insufficient permissions"}`
	expect(t, create(owner, it), 403, insufficient)
	expect(t, create(dev, map[string]any{"runner_type": "project_type", "project_id": 43}), 403, insufficient)
	expect(t, create(stranger, map[string]any{"runner_type": "group_type", "group_id": 7}), 403, insufficient)
	expect(t, create(admin, map[string]any{"runner_type": "instance_type", "run_untagged": false, "maximum_timeout": 10}), 400,
		`{"message":"400 Bad request - Tags list can not be empty when runner is not allowed to pick untagged jobs and Maximum timeout needs to be at least 10 minutes"}`)

	for _, c := range []struct {
		tok    string
		params map[string]any
		prefix string
	}{
		{admin, it, "glrt-t1_"},
		{owner, map[string]any{"runner_type": "group_type", "group_id": 7}, "glrt-t2_"},
		// A group Owner inherits Maintainer rights in the group's projects.
		{owner, map[string]any{"runner_type": "project_type", "project_id": "42"}, "glrt-t3_"},
		{operator, it, "glrt-t1_"},
	} {
		res := create(c.tok, c.params)
		expect(t, res, 201, "")
		if m := res.json(t); !strings.HasPrefix(m["token"].(string), c.prefix) || len(m) != 3 {
			t.Fatalf("body %v", m)
		}
	}
	// Other ways to present the access token.
	expect(t, req(t, s, "POST", "/api/v4/user/runners?private_token="+admin, it), 201, "")
	expect(t, req(t, s, "POST", "/api/v4/user/runners", it, "Authorization", "Bearer "+admin), 201, "")

	s.AddAccessToken("glpat-expired", TokenOptions{Admin: true, Scopes: []string{ScopeAPI}, Expired: true})
	s.AddAccessToken("glpat-revoked", TokenOptions{Admin: true, Scopes: []string{ScopeAPI}, Revoked: true})
	expect(t, create("glpat-expired", it), 401, `{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}`)
	expect(t, create("glpat-revoked", it), 401, `{"error":"invalid_token","error_description":"Token was revoked. You have to re-authorize from the user."}`)
}

func TestRunnerTokenLifecycle(t *testing.T) {
	now := time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newTestServer(t, WithClock(clock))
	s.SetTokenLifetime(time.Hour)
	r := s.CreateRunnerDirect(RunnerSpec{Description: "x"})
	if r.TokenExpiresAt == nil || !r.TokenExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("expiry %v", r.TokenExpiresAt)
	}

	res := req(t, s, "POST", "/api/v4/runners/verify", map[string]any{"token": r.Token, "system_id": "s_1", "info": map[string]any{"name": "n", "version": "19.3.0", "features": map[string]any{"x": true}}})
	expect(t, res, 200, fmt.Sprintf(`{"id":%d,"token":"%s","token_expires_at":"2026-08-22T11:00:00.000Z"}`, r.ID, r.Token))
	if st, _ := s.Runner(r.ID); st.Managers["s_1"].Version != "19.3.0" || st.ContactedAt == nil {
		t.Fatalf("manager %+v", st.Managers)
	}

	res = req(t, s, "POST", "/api/v4/jobs/request", map[string]any{"token": r.Token, "system_id": "s_1"})
	expect(t, res, 204, "")
	if res.header.Get("X-GitLab-Last-Update") == "" {
		t.Fatal("missing X-GitLab-Last-Update")
	}

	advance(30 * time.Minute)
	res = req(t, s, "POST", "/api/v4/runners/reset_authentication_token", url.Values{"token": {r.Token}})
	expect(t, res, 201, "")
	m := res.json(t)
	newTok := m["token"].(string)
	if newTok == r.Token || m["token_expires_at"] != "2026-08-22T11:30:00.000Z" {
		t.Fatalf("reset body %v", m)
	}
	for _, path := range []string{"/api/v4/runners/verify", "/api/v4/jobs/request", "/api/v4/runners/reset_authentication_token"} {
		expect(t, req(t, s, "POST", path, map[string]string{"token": r.Token}), 403, `{"message":"403 Forbidden"}`)
	}
	if !slices.Contains(s.IssuedTokens(), r.Token) || !slices.Contains(s.IssuedTokens(), newTok) {
		t.Fatal("IssuedTokens misses a runner token")
	}

	expect(t, req(t, s, "DELETE", "/api/v4/runners/managers", map[string]string{"token": newTok}), 400, `{"error":"system_id is missing"}`)
	expect(t, req(t, s, "DELETE", "/api/v4/runners/managers", map[string]string{"token": newTok, "system_id": "nope"}), 404, `{"message":"404 Runner manager not found Not Found"}`)
	expect(t, req(t, s, "DELETE", "/api/v4/runners/managers", map[string]string{"token": "x", "system_id": "s_1"}), 403, "")

	// Expiry: the token stops working once the clock passes it.
	advance(2 * time.Hour)
	expect(t, req(t, s, "POST", "/api/v4/runners/verify", map[string]string{"token": newTok}), 403, "")
	if _, ok := s.RunnerByToken(newTok); !ok {
		t.Fatal("RunnerByToken must still find an expired token")
	}
	s.SetRunnerTokenExpiry(r.ID, nil)
	expect(t, req(t, s, "POST", "/api/v4/runners/verify", map[string]string{"token": newTok}), 200, "")
	expect(t, req(t, s, "DELETE", "/api/v4/runners", map[string]string{"token": newTok}), 204, "")
	expect(t, req(t, s, "DELETE", "/api/v4/runners", map[string]string{"token": newTok}), 403, "")
	expect(t, req(t, s, "POST", "/api/v4/jobs/request", map[string]string{"token": newTok}), 403, "")
	if s.SetRunnerTokenExpiry(r.ID, nil) || s.DeleteRunnerDirect(r.ID) {
		t.Fatal("state API on a deleted runner")
	}
	s.SetClock(time.Now)
}

func TestRunnersAPI(t *testing.T) {
	s := newTestServer(t)
	inst := s.CreateRunnerDirect(RunnerSpec{Description: "inst", Tags: []string{"k8s"}, MaximumTimeout: 3600, MaintenanceNote: "note"})
	grp := s.CreateRunnerDirect(RunnerSpec{Type: GroupType, GroupID: 7, Paused: true})
	prj := s.CreateRunnerDirect(RunnerSpec{Type: ProjectType, ProjectID: 42, Tags: []string{"k8s", "gpu"}})
	expect(t, req(t, s, "POST", "/api/v4/runners/verify", map[string]string{"token": inst.Token, "system_id": "s_a"}), 200, "")

	res := req(t, s, "GET", fmt.Sprintf("/api/v4/runners/%d", inst.ID), nil, pat(admin)...)
	expect(t, res, 200, "")
	d := res.json(t)
	for k, want := range map[string]any{"id": float64(inst.ID), "description": "inst", "is_shared": true, "runner_type": "instance_type",
		"online": true, "status": "online", "maximum_timeout": float64(3600), "access_level": "not_protected", "run_untagged": true,
		"locked": false, "active": true, "paused": false, "maintenance_note": "note", "ip_address": nil} {
		if d[k] != want {
			t.Fatalf("%s = %v, want %v (%v)", k, d[k], want, d)
		}
	}
	// Instance runners are readable by anyone, without the maintenance note.
	res = req(t, s, "GET", fmt.Sprintf("/api/v4/runners/%d", inst.ID), nil, pat(stranger)...)
	expect(t, res, 200, "")
	if _, ok := res.json(t)["maintenance_note"]; ok {
		t.Fatal("maintenance note shown to a non-owner")
	}
	noAccess := `{"message":"403 Forbidden - No access granted"}`
	expect(t, req(t, s, "GET", fmt.Sprintf("/api/v4/runners/%d", grp.ID), nil, pat(stranger)...), 403, noAccess)
	expect(t, req(t, s, "GET", fmt.Sprintf("/api/v4/runners/%d", grp.ID), nil, pat(owner)...), 200, "")
	expect(t, req(t, s, "GET", fmt.Sprintf("/api/v4/runners/%d", prj.ID), nil, pat(owner)...), 200, "")
	expect(t, req(t, s, "GET", "/api/v4/runners/999", nil, pat(admin)...), 404, `{"message":"404 Runner Not Found"}`)
	expect(t, req(t, s, "GET", "/api/v4/runners/abc", nil, pat(admin)...), 400, `{"error":"id is invalid"}`)
	expect(t, req(t, s, "GET", "/api/v4/runners/1", nil), 401, `{"message":"401 Unauthorized"}`)

	// manage_runner is accepted on /runners/:id routes only.
	expect(t, req(t, s, "GET", fmt.Sprintf("/api/v4/runners/%d/managers", inst.ID), nil, pat(operator)...), 200, "")
	managers := req(t, s, "GET", fmt.Sprintf("/api/v4/runners/%d/managers", inst.ID), nil, pat(operator)...).body
	if !strings.Contains(managers, `"system_id":"s_a"`) || !strings.Contains(managers, `"status":"online"`) {
		t.Fatalf("managers %s", managers)
	}
	expect(t, req(t, s, "GET", fmt.Sprintf("/api/v4/runners/%d/managers", grp.ID), nil, pat(stranger)...), 403, noAccess)
	expect(t, req(t, s, "GET", "/api/v4/runners/all", nil, pat(operator)...), 403,
		`{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api"}`)
	expect(t, req(t, s, "GET", "/api/v4/runners/all", nil, pat(owner)...), 403, `{"message":"403 Forbidden"}`)

	// PUT
	path := fmt.Sprintf("/api/v4/runners/%d", grp.ID)
	expect(t, req(t, s, "PUT", path, map[string]any{}, pat(owner)...), 400,
		`{"error":"description, active, paused, tag_list, run_untagged, locked, access_level, maximum_timeout, maintenance_note are missing, at least one parameter must be provided"}`)
	expect(t, req(t, s, "PUT", path, map[string]any{"run_untagged": false}, pat(owner)...), 400,
		`{"message":{"tags_list":["can not be empty when runner is not allowed to pick untagged jobs"]}}`)
	expect(t, req(t, s, "PUT", path, map[string]any{"description": "x"}, pat(stranger)...), 403, noAccess)
	res = req(t, s, "PUT", path, url.Values{"description": {"renamed"}, "active": {"true"}, "tag_list": {"a,b"}, "run_untagged": {"false"}, "locked": {"1"}, "access_level": {"ref_protected"}, "maximum_timeout": {"700"}}, pat(owner)...)
	expect(t, res, 200, "")
	if st, _ := s.Runner(grp.ID); st.Description != "renamed" || st.Paused || !slices.Equal(st.Tags, []string{"a", "b"}) || st.RunUntagged || !st.Locked || st.AccessLevel != "ref_protected" || st.MaximumTimeout != 700 {
		t.Fatalf("updated %+v", st)
	}

	// Reset by id and delete by id.
	res = req(t, s, "POST", fmt.Sprintf("/api/v4/runners/%d/reset_authentication_token", prj.ID), nil, pat(operator)...)
	expect(t, res, 201, "")
	if m := res.json(t); m["token"] == prj.Token || len(m) != 1 {
		t.Fatalf("reset by id %v", m)
	}
	expect(t, req(t, s, "POST", fmt.Sprintf("/api/v4/runners/%d/reset_authentication_token", prj.ID), nil, pat(stranger)...), 403, noAccess)
	expect(t, req(t, s, "DELETE", fmt.Sprintf("/api/v4/runners/%d", prj.ID), nil, pat(stranger)...), 403, noAccess)
	expect(t, req(t, s, "DELETE", fmt.Sprintf("/api/v4/runners/%d", prj.ID), nil, pat(operator)...), 204, "")
	expect(t, req(t, s, "DELETE", fmt.Sprintf("/api/v4/runners/%d", prj.ID), nil, pat(operator)...), 404, `{"message":"404 Runner Not Found"}`)
}

func TestListAndPagination(t *testing.T) {
	s := newTestServer(t)
	for i := range 45 {
		spec := RunnerSpec{Description: fmt.Sprint("r", i), Tags: []string{"all"}}
		if i%3 == 0 {
			spec.Type, spec.GroupID, spec.Paused = GroupType, 7, true
			spec.Tags = append(spec.Tags, "third")
		}
		s.CreateRunnerDirect(spec)
	}
	list := func(tok, query string) (reply, []map[string]any) {
		res := req(t, s, "GET", "/api/v4/runners/all"+query, nil, pat(tok)...)
		var items []map[string]any
		_ = json.Unmarshal([]byte(res.body), &items)
		return res, items
	}
	res, items := list(admin, "?per_page=20&page=2")
	expect(t, res, 200, "")
	h := res.header
	if len(items) != 20 || h.Get("X-Total") != "45" || h.Get("X-Total-Pages") != "3" || h.Get("X-Page") != "2" ||
		h.Get("X-Per-Page") != "20" || h.Get("X-Next-Page") != "3" || h.Get("X-Prev-Page") != "1" {
		t.Fatalf("headers %v, %d items", h, len(items))
	}
	for _, rel := range []string{`rel="next"`, `rel="prev"`, `rel="first"`, `rel="last"`, "page=3", "per_page=20"} {
		if !strings.Contains(h.Get("Link"), rel) {
			t.Fatalf("Link %q lacks %q", h.Get("Link"), rel)
		}
	}
	if keys := slices.Sorted(maps.Keys(items[0])); strings.Join(keys, ",") != "active,description,id,ip_address,is_shared,name,online,paused,runner_type,status" {
		t.Fatalf("list entity keys %v", keys)
	}
	res, items = list(admin, "?page=3&per_page=20")
	if len(items) != 5 || res.header.Get("X-Next-Page") != "" {
		t.Fatalf("last page: %d items, next %q", len(items), res.header.Get("X-Next-Page"))
	}
	if _, items = list(admin, "?per_page=1000"); len(items) != 45 {
		t.Fatalf("per_page capped wrongly: %d", len(items))
	}
	if _, items = list(admin, ""); len(items) != 20 {
		t.Fatalf("default per_page: %d", len(items))
	}
	for q, want := range map[string]int{
		"?type=group_type&per_page=100":                 15,
		"?tag_list=all,third&per_page=100":              15,
		"?tag_list[]=third&per_page=100":                15,
		"?paused=true&per_page=100":                     15,
		"?status=never_contacted&per_page=100":          45,
		"?status=online":                                0,
		"?scope=specific&per_page=100":                  15,
		"?scope=active&type=instance_type&per_page=100": 30,
	} {
		if _, items := list(admin, q); len(items) != want {
			t.Fatalf("%s: %d items, want %d", q, len(items), want)
		}
	}
	expect(t, req(t, s, "GET", "/api/v4/runners/all?type=bogus", nil, pat(admin)...), 400, `{"error":"type does not have a valid value"}`)
	expect(t, req(t, s, "GET", "/api/v4/runners/all?scope=bogus", nil, pat(admin)...), 400, `{"message":"Scope contains invalid value"}`)
	expect(t, req(t, s, "GET", "/api/v4/runners/all?page=x", nil, pat(admin)...), 400, `{"error":"page is invalid"}`)

	// The owned list shows the group owner only the group's runners.
	res = req(t, s, "GET", "/api/v4/runners?per_page=100", nil, pat(owner)...)
	expect(t, res, 200, "")
	if err := json.Unmarshal([]byte(res.body), &items); err != nil || len(items) != 15 {
		t.Fatalf("owned list %d items", len(items))
	}
}

func TestMetadataAndHealth(t *testing.T) {
	s := newTestServer(t)
	s.SetVersion("17.0.0", "deadbeef")
	expect(t, req(t, s, "GET", "/api/v4/version", nil), 401, `{"message":"401 Unauthorized"}`)
	expect(t, req(t, s, "GET", "/api/v4/version", nil, pat(operator)...), 403, "")
	res := req(t, s, "GET", "/api/v4/metadata", nil, pat(reader)...)
	expect(t, res, 200, "")
	if m := res.json(t); m["version"] != "17.0.0" || m["revision"] != "deadbeef" || m["enterprise"] != false || m["kas"] == nil {
		t.Fatalf("metadata %v", m)
	}

	expect(t, req(t, s, "GET", "/-/readiness", nil), 200, `{"master_check":[{"status":"ok"}],"status":"ok"}`)
	expect(t, req(t, s, "GET", "/-/liveness", nil), 200, `{"status":"ok"}`)
	if r := req(t, s, "GET", "/-/health", nil); r.status != 200 || r.body != "GitLab OK" || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("health %+v", r)
	}
	s.SetReady(false)
	s.SetLive(false)
	expect(t, req(t, s, "GET", "/-/readiness", nil), 503, `{"master_check":[{"message":"unexpected Master check result: false","status":"failed"}],"status":"failed"}`)
	expect(t, req(t, s, "GET", "/-/liveness", nil), 503, `{"status":"failed"}`)
	expect(t, req(t, s, "GET", "/-/health", nil), 503, "GitLab Not OK")
	s.RestrictHealthChecks(true)
	for _, p := range []string{"/-/readiness", "/-/liveness", "/-/health"} {
		expect(t, req(t, s, "GET", p, nil), 404, `{"error":"Not Found","status":404}`)
	}
}

func TestFaults(t *testing.T) {
	s := newTestServer(t)
	it := map[string]any{"runner_type": "instance_type"}

	t.Run("fail next n", func(t *testing.T) {
		s.ResetCalls()
		s.FailNext(RouteCreateUserRunner, 2, 503)
		expect(t, req(t, s, "POST", "/api/v4/user/runners", it, pat(admin)...), 503, `{"message":"503 Service Unavailable"}`)
		expect(t, req(t, s, "POST", "/api/v4/user/runners", it, pat(admin)...), 503, "")
		expect(t, req(t, s, "POST", "/api/v4/user/runners", it, pat(admin)...), 201, "")
		if n := s.CallCount(RouteCreateUserRunner); n != 3 {
			t.Fatalf("count %d", n)
		}
	})
	t.Run("forced body, type and header", func(t *testing.T) {
		remove := s.Inject(RouteVersion, Fault{Status: 502, Body: "<html>bad gateway</html>", ContentType: "text/html", Header: http.Header{"X-Extra": {"1"}}})
		res := req(t, s, "GET", "/api/v4/version", nil, pat(admin)...)
		if res.status != 502 || res.body != "<html>bad gateway</html>" || res.header.Get("Content-Type") != "text/html" || res.header.Get("X-Extra") != "1" {
			t.Fatalf("forced %+v", res)
		}
		remove()
		expect(t, req(t, s, "GET", "/api/v4/version", nil, pat(admin)...), 200, "")
	})
	t.Run("rate limit", func(t *testing.T) {
		s.RateLimitNext(AnyRoute, 1, 1500*time.Millisecond)
		before := time.Now()
		res := req(t, s, "GET", "/api/v4/version", nil, pat(admin)...)
		h := res.header
		reset, _ := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64)
		resetTime, err := http.ParseTime(h.Get("RateLimit-ResetTime"))
		if res.status != 429 || res.body != "Retry later\n" || h.Get("Content-Type") != "text/plain" || h.Get("Retry-After") != "2" ||
			h.Get("RateLimit-Limit") != "600" || h.Get("RateLimit-Name") != "throttle_authenticated_api" || h.Get("RateLimit-Remaining") != "0" ||
			h.Get("RateLimit-Observed") != "601" || reset < before.Unix()+1 || err != nil || resetTime.Unix() != reset {
			t.Fatalf("429 %+v", res)
		}
	})
	t.Run("migrations", func(t *testing.T) {
		f := MigrationsRunning()
		f.Times = 1
		s.Inject(RouteRegister, f)
		res := req(t, s, "POST", "/api/v4/runners", map[string]string{"token": "x"})
		expect(t, res, 429, `{"message":"Executing database migrations. Please retry later."}`)
		if res.header.Get("Retry-After") != "60" {
			t.Fatal("Retry-After")
		}
		s.Inject(RouteRegister, Fault{Status: 429, Times: 1})
		expect(t, req(t, s, "POST", "/api/v4/runners", map[string]string{"token": "x"}), 429,
			`{"message":{"error":"This endpoint has been requested too many times. Try again later."}}`)
	})
	t.Run("drop does not process", func(t *testing.T) {
		before := len(s.Runners())
		s.DropNext(RouteCreateUserRunner, 1)
		if _, err := tryReq(s, "POST", "/api/v4/user/runners", it, pat(admin)...); err == nil {
			t.Fatal("dropped request answered")
		}
		if len(s.Runners()) != before {
			t.Fatal("dropped request was processed")
		}
	})
	t.Run("lose response processes", func(t *testing.T) {
		before := len(s.Runners())
		s.LoseResponseNext(RouteCreateUserRunner, 1)
		if _, err := tryReq(s, "POST", "/api/v4/user/runners", it, pat(admin)...); err == nil {
			t.Fatal("lost response answered")
		}
		if len(s.Runners()) != before+1 {
			t.Fatal("request was not processed")
		}
	})
	t.Run("latency", func(t *testing.T) {
		remove := s.SetLatency(RouteVersion, 80*time.Millisecond)
		start := time.Now()
		expect(t, req(t, s, "GET", "/api/v4/version", nil, pat(admin)...), 200, "")
		if time.Since(start) < 80*time.Millisecond {
			t.Fatal("no latency")
		}
		remove()
		// A client that gives up does not keep the handler sleeping.
		s.SetLatency(RouteVersion, time.Hour)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		hr, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/api/v4/version", nil)
		if _, err := http.DefaultClient.Do(hr); err == nil {
			t.Fatal("expected timeout")
		}
		s.ClearFaults()
		expect(t, req(t, s, "GET", "/api/v4/version", nil, pat(admin)...), 200, "")
	})
	t.Run("latency combined with a status", func(t *testing.T) {
		s.SetLatency(AnyRoute, 10*time.Millisecond)
		s.FailNext(RouteVersion, 1, 500)
		expect(t, req(t, s, "GET", "/api/v4/version", nil, pat(admin)...), 500, "")
		s.ClearFaults()
	})
	t.Run("drop all", func(t *testing.T) {
		s.SetDropAll(true)
		if _, err := tryReq(s, "GET", "/-/health", nil); err == nil {
			t.Fatal("answered while dropping")
		}
		s.SetDropAll(false)
		expect(t, req(t, s, "GET", "/-/liveness", nil), 200, "")
	})
	t.Run("stop and start", func(t *testing.T) {
		url := s.URL()
		s.Stop()
		s.Stop()
		_, err := tryReq(s, "GET", "/-/liveness", nil)
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("want connection refused, got %v", err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if s.URL() != url {
			t.Fatalf("URL changed: %s -> %s", url, s.URL())
		}
		expect(t, req(t, s, "GET", "/-/liveness", nil), 200, "")
	})
}

func TestStopAbortsLatency(t *testing.T) {
	s := newTestServer(t)
	s.SetLatency(AnyRoute, time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := tryReq(s, "GET", "/-/liveness", nil)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	s.Close()
	if err := <-done; err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start after Close")
	}
}

func TestTLSServer(t *testing.T) {
	s := NewTLSServer(WithBasePath("/gl"), WithCertificateHosts("127.0.0.1", "gitlab.test"))
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "https://") || len(s.CAPEM()) == 0 {
		t.Fatalf("URL %s", s.URL())
	}
	expect(t, req(t, s, "GET", "/-/readiness", nil), 200, "")
	// Without the CA the handshake fails.
	if _, err := http.Get(s.URL() + "/-/readiness"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err %v", err)
	}
	s.Stop()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	expect(t, req(t, s, "GET", "/-/readiness", nil), 200, "")
	if NewServer().CAPEM() != nil {
		t.Fatal("plain server has a CA")
	}
}

func TestCallRecording(t *testing.T) {
	s := newTestServer(t)
	req(t, s, "POST", "/api/v4/runners/verify?x=1", map[string]string{"token": "t"}, "Runner-Token", "t", "PRIVATE-TOKEN", "p")
	calls := s.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls %d", len(calls))
	}
	c := calls[0]
	if c.Method != "POST" || c.Path != "/api/v4/runners/verify" || c.Route != RouteVerify || c.Query.Get("x") != "1" ||
		c.Header.Get("Runner-Token") != "t" || c.Header.Get("Private-Token") != "p" || string(c.Body) != `{"token":"t"}` || c.Time.IsZero() {
		t.Fatalf("call %+v", c)
	}
	calls[0].Header.Set("Runner-Token", "changed")
	if s.Calls()[0].Header.Get("Runner-Token") != "t" {
		t.Fatal("Calls is not a copy")
	}
	if s.CallCount(AnyRoute) != 1 || s.CallCount(RouteVerify) != 1 {
		t.Fatal("counts")
	}
	s.ResetCalls()
	if len(s.Calls()) != 0 || s.CallCount(RouteVerify) != 0 {
		t.Fatal("reset")
	}
	quiet := newTestServer(t, WithoutCallRecording())
	req(t, quiet, "GET", "/-/health", nil)
	if len(quiet.Calls()) != 0 || quiet.CallCount(RouteHealth) != 1 {
		t.Fatal("WithoutCallRecording")
	}
}

func TestStateSnapshots(t *testing.T) {
	s := newTestServer(t)
	exp := time.Now().Add(time.Hour)
	r := s.CreateRunnerDirect(RunnerSpec{Tags: []string{"a"}, Token: "glrt-fixedtoken", TokenExpiresAt: &exp, RunUntagged: new(bool)})
	if r.Token != "glrt-fixedtoken" || r.RunUntagged || r.AccessLevel != "not_protected" || r.Type != InstanceType || !r.TokenExpiresAt.Equal(exp) {
		t.Fatalf("spec defaults %+v", r)
	}
	snap := s.Runners()
	snap[0].Tags[0] = "mutated"
	*snap[0].TokenExpiresAt = time.Time{}
	again, _ := s.Runner(r.ID)
	if again.Tags[0] != "a" || again.TokenExpiresAt.IsZero() {
		t.Fatal("snapshots share memory with the fake")
	}
	if _, ok := s.Runner(999); ok {
		t.Fatal("Runner(999)")
	}
	if _, ok := s.RunnerByToken("nope"); ok {
		t.Fatal("RunnerByToken(nope)")
	}
	empty := s.CreateRunnerDirect(RunnerSpec{})
	if empty.Tags == nil || len(empty.Managers) != 0 {
		t.Fatal("nil slices in snapshot")
	}
	if !s.DeleteRunnerDirect(empty.ID) || len(s.Runners()) != 1 {
		t.Fatal("DeleteRunnerDirect")
	}
	s.SetGroupRegistrationToken(8, "GR1348941g8")
	s.SetGroupRegistrationToken(8, "GR1348941g8b")
	expect(t, req(t, s, "POST", "/api/v4/runners", map[string]string{"token": "GR1348941g8"}), 403, "")
	res := req(t, s, "POST", "/api/v4/runners", map[string]string{"token": "GR1348941g8b"})
	expect(t, res, 201, "")
	s.SetRegistrationToken("")
	if !slices.Contains(s.IssuedTokens(), "GR1348941g8") || !slices.Contains(s.IssuedTokens(), admin) {
		t.Fatal("IssuedTokens")
	}
	s.SetProjectRegistrationToken(50, "GR1348941p50")
	s.SetProjectRegistrationToken(50, "")
	expect(t, req(t, s, "POST", "/api/v4/runners", map[string]string{"token": "GR1348941p50"}), 403, "")
}

// TestConcurrentLoad runs 200 runners through their lifecycle in parallel
// (the benchmark's scale); run with -race.
func TestConcurrentLoad(t *testing.T) {
	s := newTestServer(t, WithoutCallRecording())
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for i := range 200 {
		wg.Go(func() {
			res, err := tryReq(s, "POST", "/api/v4/user/runners", map[string]any{"runner_type": "instance_type", "description": fmt.Sprint("r", i)}, pat(admin)...)
			if err != nil || res.status != 201 {
				errs <- fmt.Sprint("create ", res.status, err)
				return
			}
			var m map[string]any
			_ = json.Unmarshal([]byte(res.body), &m)
			tok := m["token"].(string)
			if res, err := tryReq(s, "POST", "/api/v4/runners/verify", map[string]string{"token": tok, "system_id": fmt.Sprint("s_", i)}); err != nil || res.status != 200 {
				errs <- fmt.Sprint("verify ", res.status, err)
				return
			}
			if i%4 == 0 {
				if res, err := tryReq(s, "DELETE", "/api/v4/runners", map[string]string{"token": tok}); err != nil || res.status != 204 {
					errs <- fmt.Sprint("delete ", res.status, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if n := len(s.Runners()); n != 150 {
		t.Fatalf("%d runners", n)
	}
	if n := s.CallCount(RouteVerify); n != 200 {
		t.Fatalf("verify count %d", n)
	}
}
