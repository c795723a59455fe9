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
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitLab renders API times in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

// onlineWindow is how recently a runner must have contacted GitLab to count
// as online (Ci::Runner::ONLINE_CONTACT_TIMEOUT).
const onlineWindow = 2 * time.Hour

func fmtTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(timeFormat)
	return &s
}

// registrationDetails is Entities::Ci::RunnerRegistrationDetails.
type registrationDetails struct {
	ID             int64   `json:"id"`
	Token          string  `json:"token"`
	TokenExpiresAt *string `json:"token_expires_at"`
}

// resetTokenResult is Entities::Ci::ResetTokenResult: token_expires_at only
// for expirable tokens.
func resetTokenResult(r *runner) map[string]any {
	out := map[string]any{"token": r.token}
	if r.tokenExpiresAt != nil {
		out["token_expires_at"] = fmtTime(r.tokenExpiresAt)
	}
	return out
}

// modelErrors mirrors the Ci::Runner validations the runner APIs surface.
// Keys and texts are GitLab's; the order of messages follows the attribute
// order of the model.
func modelErrors(r *runner) (keys []string, byKey map[string][]string, sentences []string) {
	byKey = map[string][]string{}
	add := func(key, msg, human string) {
		keys = append(keys, key)
		byKey[key] = append(byKey[key], msg)
		sentences = append(sentences, human+" "+msg)
	}
	if len(r.tags) == 0 && !r.runUntagged {
		add("tags_list", "can not be empty when runner is not allowed to pick untagged jobs", "Tags list")
	}
	if r.maximumTimeout != nil && *r.maximumTimeout < 600 {
		add("maximum_timeout", "needs to be at least 10 minutes", "Maximum timeout")
	}
	if len(r.maintenanceNote) > 1024 {
		add("maintenance_note", "is too long (maximum is 1024 characters)", "Maintenance note")
	}
	return keys, byKey, sentences
}

// toSentence joins like Rails' Array#to_sentence.
func toSentence(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	case 2:
		return parts[0] + " and " + parts[1]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + ", and " + parts[len(parts)-1]
}

// runnerSettings are the settable attributes shared by register, create and
// update.
type runnerSettings struct {
	description, note *string
	paused, active    *bool
	locked            *bool
	runUntagged       *bool
	accessLevel       *string
	tags              []string
	hasTags           bool
	maximumTimeout    *int64
}

func readSettings(v *validator, noteAliases ...string) runnerSettings {
	var rs runnerSettings
	if d, ok := v.str("description"); ok {
		rs.description = &d
	}
	for _, name := range append([]string{"maintenance_note"}, noteAliases...) {
		if n, ok := v.str(name); ok {
			rs.note = &n
			break
		}
	}
	v.mutuallyExclusive("active", "paused")
	rs.active = v.boolean("active")
	rs.paused = v.boolean("paused")
	rs.locked = v.boolean("locked")
	if a, ok := v.oneOf("access_level", "not_protected", "ref_protected"); ok {
		rs.accessLevel = &a
	}
	rs.runUntagged = v.boolean("run_untagged")
	rs.tags, rs.hasTags = v.p.list("tag_list")
	rs.maximumTimeout = v.integer("maximum_timeout")
	return rs
}

func (rs runnerSettings) apply(r *runner) {
	if rs.description != nil {
		r.description = *rs.description
	}
	if rs.note != nil {
		r.maintenanceNote = *rs.note
	}
	if rs.active != nil {
		r.paused = !*rs.active
	}
	if rs.paused != nil {
		r.paused = *rs.paused
	}
	if rs.locked != nil {
		r.locked = *rs.locked
	}
	if rs.accessLevel != nil {
		r.accessLevel = *rs.accessLevel
	}
	if rs.runUntagged != nil {
		r.runUntagged = *rs.runUntagged
	}
	if rs.hasTags {
		r.tags = slices.Clone(rs.tags)
	}
	if rs.maximumTimeout != nil {
		mt := *rs.maximumTimeout
		r.maximumTimeout = &mt
	}
}

func newRunner(typ, registrationType string) *runner {
	return &runner{typ: typ, registrationType: registrationType, runUntagged: true, accessLevel: "not_protected"}
}

// ---- runner-token endpoints (lib/api/ci/runner.rb) ----

// register is POST /api/v4/runners (Ci::Runners::RegisterRunnerService).
func (s *Server) register(rq *request) response {
	v := &validator{p: rq.p}
	v.require("token")
	token, _ := v.str("token")
	v.mutuallyExclusive("maintainer_note", "maintenance_note")
	rs := readSettings(v, "maintainer_note")
	if resp, bad := v.response(); bad {
		return resp
	}

	st := s.st
	scope, known := st.regTokens[token]
	if !known || token == "" {
		// attrs_from_token: an unknown non-empty token yields {} when the
		// instance disallows registration tokens, hence 410 rather than 403.
		if token != "" && !st.allowRegToken {
			return message(http.StatusGone, "410 Gone - runner registration disallowed")
		}
		return message(http.StatusForbidden, "403 Forbidden - invalid token supplied")
	}
	if !st.allowRegToken {
		return message(http.StatusGone, "410 Gone - runner registration disallowed")
	}

	r := newRunner(scope.typ, RegistrationToken)
	switch scope.typ {
	case GroupType:
		r.groupID = scope.id
	case ProjectType:
		r.projectID = scope.id
	}
	rs.apply(r)
	if keys, byKey, _ := modelErrors(r); len(keys) > 0 {
		return jsonResp(http.StatusBadRequest, map[string]any{"message": byKey})
	}
	st.addRunner(r)
	r.tokenExpiresAt = st.expiryFromNow()
	return jsonResp(http.StatusCreated, registrationDetails{ID: r.id, Token: r.token, TokenExpiresAt: fmtTime(r.tokenExpiresAt)})
}

// runnerFromToken validates the token parameter and authenticates the
// runner: 400 when missing, 403 {"message":"403 Forbidden"} when unknown,
// deleted, rotated away or expired.
func (s *Server) runnerFromToken(v *validator, extraRequired ...string) (*runner, *response) {
	v.require(append([]string{"token"}, extraRequired...)...)
	token, _ := v.str("token")
	if resp, bad := v.response(); bad {
		return nil, &resp
	}
	r := s.st.runnerByToken(token)
	if r == nil {
		resp := message(http.StatusForbidden, "403 Forbidden")
		return nil, &resp
	}
	return r, nil
}

// verify is POST /api/v4/runners/verify: 200 with the registration details,
// upserting the runner manager named by system_id.
func (s *Server) verify(rq *request) response {
	v := &validator{p: rq.p}
	r, errResp := s.runnerFromToken(v)
	if errResp != nil {
		return *errResp
	}
	systemID, _ := v.str("system_id")
	s.st.touch(r, systemID, rq.p.hash("info"))
	return jsonResp(http.StatusOK, registrationDetails{ID: r.id, Token: r.token, TokenExpiresAt: fmtTime(r.tokenExpiresAt)})
}

// deleteByToken is DELETE /api/v4/runners: deletes the whole runner.
func (s *Server) deleteByToken(rq *request) response {
	r, errResp := s.runnerFromToken(&validator{p: rq.p})
	if errResp != nil {
		return *errResp
	}
	s.st.deleteRunner(r)
	return noContent()
}

// deleteManager is DELETE /api/v4/runners/managers.
func (s *Server) deleteManager(rq *request) response {
	v := &validator{p: rq.p}
	r, errResp := s.runnerFromToken(v, "system_id")
	if errResp != nil {
		return *errResp
	}
	systemID, _ := v.str("system_id")
	if r.managers[systemID] == nil {
		return message(http.StatusNotFound, "404 Runner manager not found Not Found")
	}
	delete(r.managers, systemID)
	return noContent()
}

// resetToken is POST /api/v4/runners/reset_authentication_token.
func (s *Server) resetToken(rq *request) response {
	r, errResp := s.runnerFromToken(&validator{p: rq.p})
	if errResp != nil {
		return *errResp
	}
	s.st.rotate(r)
	return jsonResp(http.StatusCreated, resetTokenResult(r))
}

// jobsRequest is POST /api/v4/jobs/request: never a job, just 204 for a
// valid runner so that gitlab-runner polls quietly.
func (s *Server) jobsRequest(rq *request) response {
	v := &validator{p: rq.p}
	r, errResp := s.runnerFromToken(v)
	if errResp != nil {
		return *errResp
	}
	systemID, _ := v.str("system_id")
	s.st.touch(r, systemID, rq.p.hash("info"))
	resp := noContent()
	resp.header = http.Header{"X-Gitlab-Last-Update": []string{strconv.FormatInt(s.st.now().UnixNano(), 16)}}
	return resp
}

// ---- access-token endpoints ----

// authenticate finds the access token (PRIVATE-TOKEN header, private_token
// parameter or Bearer) and checks its scopes against the route's allowed
// scopes, with GitLab's 401/403 bodies.
func (s *Server) authenticate(rq *request, allowed ...string) (*user, *response) {
	tok := rq.header.Get("Private-Token")
	if tok == "" {
		tok, _ = (&validator{p: rq.p}).str("private_token")
	}
	if tok == "" {
		if b, ok := strings.CutPrefix(rq.header.Get("Authorization"), "Bearer "); ok {
			tok = strings.TrimSpace(b)
		}
	}
	at := s.st.accessTokens[tok]
	switch {
	case tok == "" || at == nil:
		resp := message(http.StatusUnauthorized, "401 Unauthorized")
		return nil, &resp
	case at.revoked:
		resp := jsonResp(http.StatusUnauthorized, map[string]string{
			"error":             "invalid_token",
			"error_description": "Token was revoked. You have to re-authorize from the user.",
		})
		return nil, &resp
	case at.expired:
		resp := jsonResp(http.StatusUnauthorized, map[string]string{
			"error":             "invalid_token",
			"error_description": "Token is expired. You can either do re-authorization or token refresh.",
		})
		return nil, &resp
	}
	for _, sc := range allowed {
		if at.scopes[sc] {
			return at.user, nil
		}
	}
	resp := jsonResp(http.StatusForbidden, map[string]string{
		"error":             "insufficient_scope",
		"error_description": "The request requires higher privileges than provided by the access token.",
		"scope":             strings.Join(allowed, " "),
	})
	return nil, &resp
}

// createUserRunner is POST /api/v4/user/runners (Ci::Runners::CreateRunnerService).
func (s *Server) createUserRunner(rq *request) response {
	u, errResp := s.authenticate(rq, ScopeAPI, ScopeCreateRunner)
	if errResp != nil {
		return *errResp
	}
	v := &validator{p: rq.p}
	runnerType, ok := "", false
	if !rq.p.has("runner_type") {
		v.fail("runner_type is missing")
		v.fail("runner_type does not have a valid value")
	} else {
		runnerType, ok = v.oneOf("runner_type", InstanceType, GroupType, ProjectType)
	}
	var groupID, projectID *int64
	if ok && runnerType == GroupType {
		v.require("group_id")
		groupID = v.integer("group_id")
	}
	if ok && runnerType == ProjectType {
		v.require("project_id")
		projectID = v.integer("project_id")
	}
	rs := readSettings(v)
	if resp, bad := v.response(); bad {
		return resp
	}

	st := s.st
	insufficient := message(http.StatusForbidden, "403 Forbidden - Insufficient permissions")
	r := newRunner(runnerType, AuthenticatedUser)
	r.creatorID = u.id
	switch runnerType {
	case InstanceType:
		if !u.admin {
			return insufficient
		}
	case GroupType:
		if st.groups[*groupID] == nil {
			return message(http.StatusBadRequest, "400 Bad request - Missing/invalid group")
		}
		if !u.admin && u.groups[*groupID] < RoleOwner {
			return insufficient
		}
		r.groupID = *groupID
	case ProjectType:
		if st.projects[*projectID] == nil {
			return message(http.StatusBadRequest, "400 Bad request - Missing/invalid project")
		}
		if !u.admin && st.projectRole(u, *projectID) < RoleMaintainer {
			return insufficient
		}
		r.projectID = *projectID
	}
	rs.apply(r)
	if keys, _, sentences := modelErrors(r); len(keys) > 0 {
		return message(http.StatusBadRequest, "400 Bad request - "+toSentence(sentences))
	}
	st.addRunner(r)
	r.tokenExpiresAt = st.expiryFromNow()
	return jsonResp(http.StatusCreated, registrationDetails{ID: r.id, Token: r.token, TokenExpiresAt: fmtTime(r.tokenExpiresAt)})
}

// ---- runners API (lib/api/ci/runners.rb) ----

type runnerJSON struct {
	ID          int64   `json:"id"`
	Description string  `json:"description"`
	IPAddress   *string `json:"ip_address"`
	Active      bool    `json:"active"`
	Paused      bool    `json:"paused"`
	IsShared    bool    `json:"is_shared"`
	RunnerType  string  `json:"runner_type"`
	Name        *string `json:"name"`
	Online      bool    `json:"online"`
	Status      string  `json:"status"`
}

type projectJSON struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	NameWithNamespace string `json:"name_with_namespace"`
	Path              string `json:"path"`
	PathWithNamespace string `json:"path_with_namespace"`
}

type groupJSON struct {
	ID     int64  `json:"id"`
	WebURL string `json:"web_url"`
	Name   string `json:"name"`
}

type runnerDetailsJSON struct {
	runnerJSON
	TagList         []string      `json:"tag_list"`
	RunUntagged     bool          `json:"run_untagged"`
	Locked          bool          `json:"locked"`
	MaximumTimeout  *int64        `json:"maximum_timeout"`
	AccessLevel     string        `json:"access_level"`
	Version         *string       `json:"version"`
	Revision        *string       `json:"revision"`
	Platform        *string       `json:"platform"`
	Architecture    *string       `json:"architecture"`
	ContactedAt     *string       `json:"contacted_at"`
	MaintenanceNote *string       `json:"maintenance_note,omitempty"`
	Projects        []projectJSON `json:"projects"`
	Groups          []groupJSON   `json:"groups"`
}

type managerJSON struct {
	ID                 int64   `json:"id"`
	SystemID           string  `json:"system_id"`
	Version            *string `json:"version"`
	Revision           *string `json:"revision"`
	Platform           *string `json:"platform"`
	Architecture       *string `json:"architecture"`
	CreatedAt          *string `json:"created_at"`
	ContactedAt        *string `json:"contacted_at"`
	IPAddress          *string `json:"ip_address"`
	Status             string  `json:"status"`
	JobExecutionStatus string  `json:"job_execution_status"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (st *state) status(contacted *time.Time) string {
	switch {
	case contacted == nil:
		return "never_contacted"
	case st.now().Sub(*contacted) < onlineWindow:
		return "online"
	default:
		return "offline"
	}
}

func (st *state) runnerEntity(r *runner) runnerJSON {
	var name *string
	if m := r.latestManager(); m != nil {
		name = optString(m.name)
	}
	status := st.status(r.contactedAt)
	return runnerJSON{
		ID: r.id, Description: r.description, Active: !r.paused, Paused: r.paused,
		IsShared: r.typ == InstanceType, RunnerType: r.typ, Name: name,
		Online: status == "online", Status: status,
	}
}

func (st *state) runnerDetails(r *runner, withNote bool) runnerDetailsJSON {
	d := runnerDetailsJSON{
		runnerJSON:     st.runnerEntity(r),
		TagList:        slices.Clone(r.tags),
		RunUntagged:    r.runUntagged,
		Locked:         r.locked,
		MaximumTimeout: r.maximumTimeout,
		AccessLevel:    r.accessLevel,
		ContactedAt:    fmtTime(r.contactedAt),
		Projects:       []projectJSON{},
		Groups:         []groupJSON{},
	}
	if d.TagList == nil {
		d.TagList = []string{}
	}
	if m := r.latestManager(); m != nil {
		d.Version, d.Revision = optString(m.version), optString(m.revision)
		d.Platform, d.Architecture = optString(m.platform), optString(m.architecture)
	}
	if withNote {
		d.MaintenanceNote = &r.maintenanceNote
	}
	switch r.typ {
	case ProjectType:
		name := fmt.Sprintf("project-%d", r.projectID)
		d.Projects = append(d.Projects, projectJSON{ID: r.projectID, Name: name, NameWithNamespace: name, Path: name, PathWithNamespace: name})
	case GroupType:
		name := fmt.Sprintf("group-%d", r.groupID)
		d.Groups = append(d.Groups, groupJSON{ID: r.groupID, Name: name, WebURL: "https://gitlab.example.com/groups/" + name})
	}
	return d
}

// runnerByID parses :id and loads the runner: 400 for a non-integer id and
// 404 {"message":"404 Runner Not Found"} for an unknown one.
func (s *Server) runnerByID(rq *request) (*runner, *response) {
	id, err := strconv.ParseInt(rq.rawID, 10, 64)
	if err != nil {
		resp := grapeError(http.StatusBadRequest, "id is invalid")
		return nil, &resp
	}
	r := s.st.runners[id]
	if r == nil {
		resp := message(http.StatusNotFound, "404 Runner Not Found")
		return nil, &resp
	}
	return r, nil
}

func noAccess() response { return message(http.StatusForbidden, "403 Forbidden - No access granted") }

// getRunner is GET /api/v4/runners/:id. Instance runners are readable by
// every authenticated user; others need ownership.
func (s *Server) getRunner(rq *request) response {
	u, errResp := s.authenticate(rq, ScopeAPI, ScopeReadAPI, ScopeManageRunner)
	if errResp != nil {
		return *errResp
	}
	r, errResp := s.runnerByID(rq)
	if errResp != nil {
		return *errResp
	}
	owns := s.st.owns(u, r)
	if !owns && r.typ != InstanceType {
		return noAccess()
	}
	return jsonResp(http.StatusOK, s.st.runnerDetails(r, owns))
}

// listManagers is GET /api/v4/runners/:id/managers.
func (s *Server) listManagers(rq *request) response {
	u, errResp := s.authenticate(rq, ScopeAPI, ScopeReadAPI, ScopeManageRunner)
	if errResp != nil {
		return *errResp
	}
	r, errResp := s.runnerByID(rq)
	if errResp != nil {
		return *errResp
	}
	if !s.st.owns(u, r) && r.typ != InstanceType {
		return noAccess()
	}
	ms := slices.SortedFunc(maps.Values(r.managers), func(a, b *manager) int { return int(a.id - b.id) })
	out := make([]managerJSON, 0, len(ms))
	for _, m := range ms {
		created, contacted := m.createdAt, m.contactedAt
		out = append(out, managerJSON{
			ID: m.id, SystemID: m.systemID, Version: optString(m.version), Revision: optString(m.revision),
			Platform: optString(m.platform), Architecture: optString(m.architecture),
			CreatedAt: fmtTime(&created), ContactedAt: fmtTime(&contacted),
			Status: s.st.status(&contacted), JobExecutionStatus: "idle",
		})
	}
	return jsonResp(http.StatusOK, out)
}

// updateRunner is PUT /api/v4/runners/:id.
func (s *Server) updateRunner(rq *request) response {
	u, errResp := s.authenticate(rq, ScopeAPI, ScopeManageRunner)
	if errResp != nil {
		return *errResp
	}
	v := &validator{p: rq.p}
	rs := readSettings(v)
	names := []string{"description", "active", "paused", "tag_list", "run_untagged", "locked", "access_level", "maximum_timeout", "maintenance_note"}
	if !slices.ContainsFunc(names, rq.p.has) {
		v.fail("%s are missing, at least one parameter must be provided", strings.Join(names, ", "))
	}
	if resp, bad := v.response(); bad {
		return resp
	}
	r, errResp := s.runnerByID(rq)
	if errResp != nil {
		return *errResp
	}
	if !s.st.owns(u, r) {
		return noAccess()
	}
	updated := *r
	rs.apply(&updated)
	if keys, byKey, _ := modelErrors(&updated); len(keys) > 0 {
		return jsonResp(http.StatusBadRequest, map[string]any{"message": byKey})
	}
	*r = updated
	return jsonResp(http.StatusOK, s.st.runnerDetails(r, true))
}

// deleteRunnerByID is DELETE /api/v4/runners/:id.
func (s *Server) deleteRunnerByID(rq *request) response {
	u, errResp := s.authenticate(rq, ScopeAPI, ScopeManageRunner)
	if errResp != nil {
		return *errResp
	}
	r, errResp := s.runnerByID(rq)
	if errResp != nil {
		return *errResp
	}
	if !s.st.owns(u, r) {
		return noAccess()
	}
	s.st.deleteRunner(r)
	return noContent()
}

// resetTokenByID is POST /api/v4/runners/:id/reset_authentication_token.
func (s *Server) resetTokenByID(rq *request) response {
	u, errResp := s.authenticate(rq, ScopeAPI, ScopeManageRunner)
	if errResp != nil {
		return *errResp
	}
	r, errResp := s.runnerByID(rq)
	if errResp != nil {
		return *errResp
	}
	if !s.st.owns(u, r) {
		return noAccess()
	}
	s.st.rotate(r)
	return jsonResp(http.StatusCreated, resetTokenResult(r))
}

// listAll is GET /api/v4/runners/all (administrators only).
func (s *Server) listAll(rq *request) response {
	u, errResp := s.authenticate(rq, ScopeAPI, ScopeReadAPI)
	if errResp != nil {
		return *errResp
	}
	if !u.admin {
		return message(http.StatusForbidden, "403 Forbidden")
	}
	return s.listRunners(rq, func(*runner) bool { return true })
}

// listOwned is GET /api/v4/runners: the runners the user can manage (all of
// them for an administrator). GitLab's ci_available_runners is richer; this
// is close enough for lookups by description.
func (s *Server) listOwned(rq *request) response {
	u, errResp := s.authenticate(rq, ScopeAPI, ScopeReadAPI)
	if errResp != nil {
		return *errResp
	}
	return s.listRunners(rq, func(r *runner) bool { return s.st.owns(u, r) })
}

var scopeFilters = map[string]func(st *state, r *runner) bool{
	"active":          func(_ *state, r *runner) bool { return !r.paused },
	"paused":          func(_ *state, r *runner) bool { return r.paused },
	"online":          func(st *state, r *runner) bool { return st.status(r.contactedAt) == "online" },
	"offline":         func(st *state, r *runner) bool { return st.status(r.contactedAt) == "offline" },
	"never_contacted": func(_ *state, r *runner) bool { return r.contactedAt == nil },
	"stale":           func(*state, *runner) bool { return false },
	"shared":          func(_ *state, r *runner) bool { return r.typ == InstanceType },
	"specific":        func(_ *state, r *runner) bool { return r.typ != InstanceType },
	InstanceType:      func(_ *state, r *runner) bool { return r.typ == InstanceType },
	GroupType:         func(_ *state, r *runner) bool { return r.typ == GroupType },
	ProjectType:       func(_ *state, r *runner) bool { return r.typ == ProjectType },
}

// listRunners applies the filter_params of runners.rb and offset pagination.
func (s *Server) listRunners(rq *request, visible func(*runner) bool) response {
	v := &validator{p: rq.p}
	typ, hasType := v.oneOf("type", InstanceType, GroupType, ProjectType)
	status, hasStatus := v.oneOf("status", "online", "offline", "stale", "never_contacted", "active", "paused")
	paused := v.boolean("paused")
	tags, hasTags := rq.p.list("tag_list")
	scope, hasScope := v.str("scope")
	page, perPage := v.integer("page"), v.integer("per_page")
	if resp, bad := v.response(); bad {
		return resp
	}
	if hasScope && scopeFilters[scope] == nil {
		return message(http.StatusBadRequest, "Scope contains invalid value")
	}

	st := s.st
	var matched []*runner
	for _, r := range st.runners {
		switch {
		case !visible(r),
			hasScope && !scopeFilters[scope](st, r),
			hasType && r.typ != typ,
			hasStatus && !scopeFilters[status](st, r),
			paused != nil && r.paused != *paused,
			hasTags && !hasAllTags(r.tags, tags):
			continue
		}
		matched = append(matched, r)
	}
	slices.SortFunc(matched, func(a, b *runner) int { return int(a.id - b.id) })

	items, header := paginate(rq, matched, page, perPage)
	out := make([]runnerJSON, 0, len(items))
	for _, r := range items {
		out = append(out, st.runnerEntity(r))
	}
	resp := jsonResp(http.StatusOK, out)
	resp.header = header
	return resp
}

func hasAllTags(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// paginate slices items like GitLab's offset pagination (per_page default 20,
// maximum 100) and returns the X-* and Link headers.
func paginate[T any](rq *request, items []T, pageP, perPageP *int64) ([]T, http.Header) {
	page, perPage := int64(1), int64(20)
	if pageP != nil && *pageP > 0 {
		page = *pageP
	}
	if perPageP != nil && *perPageP > 0 {
		perPage = min(*perPageP, 100)
	}
	total := int64(len(items))
	totalPages := max(1, (total+perPage-1)/perPage)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)

	h := http.Header{}
	h.Set("X-Total", strconv.FormatInt(total, 10))
	h.Set("X-Total-Pages", strconv.FormatInt(totalPages, 10))
	h.Set("X-Per-Page", strconv.FormatInt(perPage, 10))
	h.Set("X-Page", strconv.FormatInt(page, 10))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")

	scheme := "http"
	if rq.r.TLS != nil {
		scheme = "https"
	}
	link := func(p int64, rel string) string {
		q := rq.r.URL.Query()
		q.Set("page", strconv.FormatInt(p, 10))
		q.Set("per_page", strconv.FormatInt(perPage, 10))
		u := url.URL{Scheme: scheme, Host: rq.r.Host, Path: rq.r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s>; rel=\"%s\"", u.String(), rel)
	}
	var links []string
	if page > 1 {
		h.Set("X-Prev-Page", strconv.FormatInt(page-1, 10))
		links = append(links, link(page-1, "prev"))
	}
	if page < totalPages {
		h.Set("X-Next-Page", strconv.FormatInt(page+1, 10))
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(1, "first"), link(totalPages, "last"))
	h.Set("Link", strings.Join(links, ", "))
	return items[start:end], h
}

// ---- instance endpoints ----

// metadata is GET /api/v4/version and /api/v4/metadata.
func (s *Server) metadata(rq *request) response {
	if _, errResp := s.authenticate(rq, ScopeAPI, ScopeReadAPI, ScopeReadUser); errResp != nil {
		return *errResp
	}
	return jsonResp(http.StatusOK, map[string]any{
		"version":  s.st.version,
		"revision": s.st.revision,
		"kas": map[string]any{
			"enabled": false, "externalUrl": nil, "externalK8sProxyUrl": nil, "version": nil,
		},
		"enterprise": strings.HasSuffix(s.st.version, "-ee"),
	})
}

func healthBlocked() response {
	return jsonResp(http.StatusNotFound, map[string]any{"error": "Not Found", "status": 404})
}

// health is GET /-/health: plain text.
func (s *Server) health(*request) response {
	switch {
	case s.st.healthBlocked:
		return healthBlocked()
	case !s.st.live:
		return response{status: http.StatusServiceUnavailable, body: []byte("GitLab Not OK"), ctype: "text/plain"}
	}
	return response{status: http.StatusOK, body: []byte("GitLab OK"), ctype: "text/plain"}
}

// readiness is GET /-/readiness.
func (s *Server) readiness(*request) response {
	switch {
	case s.st.healthBlocked:
		return healthBlocked()
	case !s.st.ready:
		return jsonResp(http.StatusServiceUnavailable, map[string]any{
			"status":       "failed",
			"master_check": []map[string]string{{"status": "failed", "message": "unexpected Master check result: false"}},
		})
	}
	return jsonResp(http.StatusOK, map[string]any{"status": "ok", "master_check": []map[string]string{{"status": "ok"}}})
}

// liveness is GET /-/liveness.
func (s *Server) liveness(*request) response {
	switch {
	case s.st.healthBlocked:
		return healthBlocked()
	case !s.st.live:
		return jsonResp(http.StatusServiceUnavailable, map[string]string{"status": "failed"})
	}
	return jsonResp(http.StatusOK, map[string]string{"status": "ok"})
}
