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
	"crypto/rand"
	"maps"
	"slices"
	"sort"
	"time"
)

// Runner types, as GitLab spells them.
const (
	InstanceType = "instance_type"
	GroupType    = "group_type"
	ProjectType  = "project_type"
)

// Registration types: how a runner came to exist.
const (
	// RegistrationToken marks runners registered with POST /api/v4/runners;
	// their authentication tokens start with glrtr-.
	RegistrationToken = "registration_token"
	// AuthenticatedUser marks runners created through the UI or
	// POST /api/v4/user/runners; their tokens start with glrt-.
	AuthenticatedUser = "authenticated_user"
)

// LegacySystemID is the manager GitLab uses when a runner request carries no
// system_id.
const LegacySystemID = "<legacy>"

// Role is a membership access level, with GitLab's numeric values.
type Role int

// Membership roles.
const (
	RoleGuest      Role = 10
	RoleReporter   Role = 20
	RoleDeveloper  Role = 30
	RoleMaintainer Role = 40
	RoleOwner      Role = 50
)

// Access-token scopes the fake understands.
const (
	ScopeAPI          = "api"
	ScopeReadAPI      = "read_api"
	ScopeReadUser     = "read_user"
	ScopeCreateRunner = "create_runner"
	ScopeManageRunner = "manage_runner"
)

// TokenOptions describes an access token added with AddAccessToken.
type TokenOptions struct {
	// Scopes granted to the token, e.g. ScopeCreateRunner.
	Scopes []string
	// Admin makes the token's user an instance administrator.
	Admin bool
	// UserID is the token's user; 0 creates a new user.
	UserID int64
	// Expired and Revoked make GitLab answer 401 invalid_token.
	Expired, Revoked bool
}

// ManagerState is a snapshot of a runner manager (one gitlab-runner process,
// identified by its system_id).
type ManagerState struct {
	// ID is the manager's id in GitLab.
	ID int64
	// SystemID is the manager's system_id (LegacySystemID when the runner
	// sent none).
	SystemID string
	// CreatedAt and ContactedAt are the first and last contact.
	CreatedAt, ContactedAt time.Time
	// Name, Version, Revision, Platform and Architecture come from the
	// "info" hash the runner sent last.
	Name, Version, Revision, Platform, Architecture string
}

// RunnerState is a deep-copied snapshot of one runner in the fake. Fields
// mirror GitLab's runner attributes.
type RunnerState struct {
	// ID is the runner id.
	ID int64
	// Token is the current authentication token (glrt- or glrtr-).
	Token string
	// TokenExpiresAt is nil for tokens that do not expire.
	TokenExpiresAt *time.Time
	// TokenObtainedAt is when Token was issued (creation or rotation).
	TokenObtainedAt time.Time
	// Type is InstanceType, GroupType or ProjectType; GroupID or ProjectID
	// names the owner.
	Type      string
	GroupID   int64
	ProjectID int64
	// Description, MaintenanceNote, Tags, RunUntagged, Locked, Paused,
	// AccessLevel and MaximumTimeout (seconds, 0 if unset) are the runner's
	// settings.
	Description     string
	MaintenanceNote string
	Tags            []string
	RunUntagged     bool
	Locked          bool
	Paused          bool
	AccessLevel     string
	MaximumTimeout  int64
	// RegistrationType is RegistrationToken or AuthenticatedUser.
	RegistrationType string
	// CreatorID is the user whose access token created the runner (0 for
	// registered or seeded runners).
	CreatorID int64
	// CreatedAt is the creation time; ContactedAt the last verify or job
	// request (nil if never).
	CreatedAt   time.Time
	ContactedAt *time.Time
	// Managers maps system_id to the runner's managers.
	Managers map[string]ManagerState
}

// RunnerSpec seeds a runner with CreateRunnerDirect, as if an administrator
// had created it in the GitLab UI.
type RunnerSpec struct {
	// Type defaults to InstanceType; GroupID or ProjectID name the owner of
	// group and project runners.
	Type      string
	GroupID   int64
	ProjectID int64
	// Description, MaintenanceNote, Tags, Locked, Paused and
	// MaximumTimeout (seconds, 0 for none) are the runner's settings.
	Description     string
	MaintenanceNote string
	Tags            []string
	Locked          bool
	Paused          bool
	MaximumTimeout  int64
	// RunUntagged defaults to true.
	RunUntagged *bool
	// AccessLevel defaults to not_protected.
	AccessLevel string
	// Token overrides the generated glrt- token.
	Token string
	// TokenExpiresAt overrides the expiry derived from SetTokenLifetime.
	TokenExpiresAt *time.Time
}

type user struct {
	id       int64
	admin    bool
	groups   map[int64]Role
	projects map[int64]Role
}

type accessToken struct {
	token   string
	user    *user
	scopes  map[string]bool
	expired bool
	revoked bool
}

type group struct {
	id       int64
	regToken string
}

type project struct {
	id       int64
	groupID  int64
	regToken string
}

type manager struct {
	id           int64
	systemID     string
	createdAt    time.Time
	contactedAt  time.Time
	name         string
	version      string
	revision     string
	platform     string
	architecture string
}

type runner struct {
	id               int64
	token            string
	tokenExpiresAt   *time.Time
	tokenObtainedAt  time.Time
	typ              string
	groupID          int64
	projectID        int64
	description      string
	maintenanceNote  string
	tags             []string
	runUntagged      bool
	locked           bool
	paused           bool
	accessLevel      string
	maximumTimeout   *int64
	registrationType string
	creatorID        int64
	createdAt        time.Time
	contactedAt      *time.Time
	managers         map[string]*manager
}

// regScope is what a registration token registers into.
type regScope struct {
	typ string
	id  int64
}

// state is the fake's GitLab. All access is under Server.mu.
type state struct {
	now func() time.Time

	nextRunnerID  int64
	nextManagerID int64
	nextUserID    int64

	runners       map[int64]*runner
	runnerTokens  map[string]int64 // current runner token -> runner id
	accessTokens  map[string]*accessToken
	users         map[int64]*user
	groups        map[int64]*group
	projects      map[int64]*project
	regTokens     map[string]regScope
	instanceToken string
	allowRegToken bool
	tokenLifetime time.Duration

	issued   []string
	issuedIx map[string]bool

	version, revision string
	ready, live       bool
	healthBlocked     bool
	dropAll           bool
}

func newState(now func() time.Time) *state {
	return &state{
		now:           now,
		nextRunnerID:  1,
		nextManagerID: 1,
		nextUserID:    1,
		runners:       map[int64]*runner{},
		runnerTokens:  map[string]int64{},
		accessTokens:  map[string]*accessToken{},
		users:         map[int64]*user{},
		groups:        map[int64]*group{},
		projects:      map[int64]*project{},
		regTokens:     map[string]regScope{},
		allowRegToken: true,
		issuedIx:      map[string]bool{},
		version:       "18.3.1-ee",
		revision:      "5e0ad6e6f1c",
		ready:         true,
		live:          true,
	}
}

func (st *state) remember(tok string) {
	if tok == "" || st.issuedIx[tok] {
		return
	}
	st.issuedIx[tok] = true
	st.issued = append(st.issued, tok)
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomString returns n characters from tokenAlphabet using crypto/rand,
// because tests scan for leaked tokens and must never see two runners share
// one.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return string(b)
}

// newRunnerToken returns an unused runner authentication token. Created
// runners get glrt- with the partition infix of recent GitLab versions
// (t1_ instance, t2_ group, t3_ project); registered runners get glrtr-.
func (st *state) newRunnerToken(registrationType, typ string) string {
	for {
		var tok string
		if registrationType == RegistrationToken {
			tok = "glrtr-" + randomString(24)
		} else {
			infix := map[string]string{InstanceType: "t1_", GroupType: "t2_", ProjectType: "t3_"}[typ]
			tok = "glrt-" + infix + randomString(20)
		}
		if _, used := st.runnerTokens[tok]; !used && !st.issuedIx[tok] {
			return tok
		}
	}
}

func (st *state) expiryFromNow() *time.Time {
	if st.tokenLifetime <= 0 {
		return nil
	}
	t := st.now().Add(st.tokenLifetime).UTC().Truncate(time.Millisecond)
	return &t
}

func (st *state) addRunner(r *runner) {
	r.id = st.nextRunnerID
	st.nextRunnerID++
	if r.token == "" {
		r.token = st.newRunnerToken(r.registrationType, r.typ)
	}
	r.tokenObtainedAt = st.now().UTC()
	r.createdAt = r.tokenObtainedAt
	if r.managers == nil {
		r.managers = map[string]*manager{}
	}
	st.runners[r.id] = r
	st.runnerTokens[r.token] = r.id
	st.remember(r.token)
}

// runnerByToken finds the runner that currently owns tok and whose token has
// not expired: the lookup authenticate_runner! performs.
func (st *state) runnerByToken(tok string) *runner {
	id, ok := st.runnerTokens[tok]
	if !ok || tok == "" {
		return nil
	}
	r := st.runners[id]
	if r == nil || (r.tokenExpiresAt != nil && !st.now().Before(*r.tokenExpiresAt)) {
		return nil
	}
	return r
}

func (st *state) deleteRunner(r *runner) {
	delete(st.runnerTokens, r.token)
	delete(st.runners, r.id)
}

// rotate gives r a new token; the old one stops working at once.
func (st *state) rotate(r *runner) {
	delete(st.runnerTokens, r.token)
	r.token = st.newRunnerToken(r.registrationType, r.typ)
	r.tokenExpiresAt = st.expiryFromNow()
	r.tokenObtainedAt = st.now().UTC()
	st.runnerTokens[r.token] = r.id
	st.remember(r.token)
}

// touch records a runner contact and upserts its manager, as
// authenticate_runner! with ensure_manager does.
func (st *state) touch(r *runner, systemID string, info map[string]string) {
	now := st.now().UTC()
	r.contactedAt = &now
	if systemID == "" {
		systemID = LegacySystemID
	}
	m := r.managers[systemID]
	if m == nil {
		m = &manager{id: st.nextManagerID, systemID: systemID, createdAt: now}
		st.nextManagerID++
		r.managers[systemID] = m
	}
	m.contactedAt = now
	if info != nil {
		m.name = firstNonEmpty(info["name"], m.name)
		m.version = firstNonEmpty(info["version"], m.version)
		m.revision = firstNonEmpty(info["revision"], m.revision)
		m.platform = firstNonEmpty(info["platform"], m.platform)
		m.architecture = firstNonEmpty(info["architecture"], m.architecture)
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// latestManager is the most recently contacted manager; GitLab reports its
// version fields on the runner (deprecated fields).
func (r *runner) latestManager() *manager {
	var best *manager
	for _, m := range r.managers {
		if best == nil || m.contactedAt.After(best.contactedAt) ||
			(m.contactedAt.Equal(best.contactedAt) && m.id > best.id) {
			best = m
		}
	}
	return best
}

func (st *state) user(id int64) *user {
	if id == 0 {
		id = st.nextUserID
	}
	if id >= st.nextUserID {
		st.nextUserID = id + 1
	}
	u := st.users[id]
	if u == nil {
		u = &user{id: id, groups: map[int64]Role{}, projects: map[int64]Role{}}
		st.users[id] = u
	}
	return u
}

// projectRole is the user's effective role in a project, including the role
// inherited from the project's group.
func (st *state) projectRole(u *user, projectID int64) Role {
	role := u.projects[projectID]
	if p := st.projects[projectID]; p != nil && p.groupID != 0 {
		role = max(role, u.groups[p.groupID])
	}
	return role
}

// owns reports whether u may read, update and delete runner r (GitLab's
// owned_runner rule plus administrators).
func (st *state) owns(u *user, r *runner) bool {
	if u.admin {
		return true
	}
	switch r.typ {
	case GroupType:
		return u.groups[r.groupID] >= RoleOwner
	case ProjectType:
		return st.projectRole(u, r.projectID) >= RoleMaintainer
	}
	return false
}

func (r *runner) snapshot() RunnerState {
	s := RunnerState{
		ID:               r.id,
		Token:            r.token,
		TokenExpiresAt:   copyTime(r.tokenExpiresAt),
		TokenObtainedAt:  r.tokenObtainedAt,
		Type:             r.typ,
		GroupID:          r.groupID,
		ProjectID:        r.projectID,
		Description:      r.description,
		MaintenanceNote:  r.maintenanceNote,
		Tags:             slices.Clone(r.tags),
		RunUntagged:      r.runUntagged,
		Locked:           r.locked,
		Paused:           r.paused,
		AccessLevel:      r.accessLevel,
		MaximumTimeout:   derefInt(r.maximumTimeout),
		RegistrationType: r.registrationType,
		CreatorID:        r.creatorID,
		CreatedAt:        r.createdAt,
		ContactedAt:      copyTime(r.contactedAt),
		Managers:         make(map[string]ManagerState, len(r.managers)),
	}
	if s.Tags == nil {
		s.Tags = []string{}
	}
	for k, m := range r.managers {
		s.Managers[k] = ManagerState{
			ID: m.id, SystemID: m.systemID, CreatedAt: m.createdAt, ContactedAt: m.contactedAt,
			Name: m.name, Version: m.version, Revision: m.revision, Platform: m.platform, Architecture: m.architecture,
		}
	}
	return s
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// ---- state API ----

// AddAccessToken registers a personal, group or project access token. The
// token is also remembered in IssuedTokens.
func (s *Server) AddAccessToken(token string, opts TokenOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.user(opts.UserID)
	if opts.Admin {
		u.admin = true
	}
	at := &accessToken{token: token, user: u, scopes: map[string]bool{}, expired: opts.Expired, revoked: opts.Revoked}
	for _, sc := range opts.Scopes {
		at.scopes[sc] = true
	}
	s.st.accessTokens[token] = at
	s.st.remember(token)
}

// AddGroupMember gives a user (by id, as in TokenOptions.UserID) a role in a
// group. Group Owners may create and manage group runners; the role is
// inherited by the group's projects.
func (s *Server) AddGroupMember(groupID, userID int64, role Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.user(userID).groups[groupID] = role
}

// AddProjectMember gives a user a role in a project. Maintainers may create
// and manage project runners.
func (s *Server) AddProjectMember(projectID, userID int64, role Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.user(userID).projects[projectID] = role
}

// SetRegistrationToken sets the instance runner registration token
// (GR1348941...). An empty string removes it.
func (s *Server) SetRegistrationToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.instanceToken != "" {
		delete(s.st.regTokens, s.st.instanceToken)
	}
	s.st.instanceToken = tok
	if tok != "" {
		s.st.regTokens[tok] = regScope{typ: InstanceType}
		s.st.remember(tok)
	}
}

// AllowRegistrationTokens is the allow_runner_registration_token setting.
// With false, POST /api/v4/runners answers 410 for every non-empty token.
// It applies to instance, group and project registration tokens alike.
func (s *Server) AllowRegistrationTokens(allow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.allowRegToken = allow
}

// AddGroup creates a group with the given id.
func (s *Server) AddGroup(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.groups[id] == nil {
		s.st.groups[id] = &group{id: id}
	}
}

// AddProject creates a project in a group (groupID 0: a personal project).
func (s *Server) AddProject(id, groupID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.projects[id] == nil {
		s.st.projects[id] = &project{id: id}
	}
	s.st.projects[id].groupID = groupID
}

// SetGroupRegistrationToken sets a group's registration token, creating the
// group if needed.
func (s *Server) SetGroupRegistrationToken(groupID int64, tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.st.groups[groupID]
	if g == nil {
		g = &group{id: groupID}
		s.st.groups[groupID] = g
	}
	delete(s.st.regTokens, g.regToken)
	g.regToken = tok
	if tok != "" {
		s.st.regTokens[tok] = regScope{typ: GroupType, id: groupID}
		s.st.remember(tok)
	}
}

// SetProjectRegistrationToken sets a project's registration token, creating
// the project (without a group) if needed.
func (s *Server) SetProjectRegistrationToken(projectID int64, tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.projects[projectID]
	if p == nil {
		p = &project{id: projectID}
		s.st.projects[projectID] = p
	}
	delete(s.st.regTokens, p.regToken)
	p.regToken = tok
	if tok != "" {
		s.st.regTokens[tok] = regScope{typ: ProjectType, id: projectID}
		s.st.remember(tok)
	}
}

// SetTokenLifetime makes newly issued and rotated runner tokens expire after
// d (the instance's runner token expiration setting). Zero means no expiry.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.tokenLifetime = d
}

// SetClock replaces the server's clock, for expiry tests.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.now = now
}

// SetRunnerTokenExpiry changes one runner's token expiry (nil: never). It
// reports whether the runner exists.
func (s *Server) SetRunnerTokenExpiry(id int64, at *time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.runners[id]
	if r == nil {
		return false
	}
	r.tokenExpiresAt = copyTime(at)
	return true
}

// SetVersion sets what /version and /metadata report.
func (s *Server) SetVersion(version, revision string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.version, s.st.revision = version, revision
}

// SetReady switches /-/readiness between 200 and 503.
func (s *Server) SetReady(ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.ready = ready
}

// SetLive switches /-/liveness and /-/health between 200 and 503.
func (s *Server) SetLive(live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.live = live
}

// RestrictHealthChecks makes /-/health, /-/readiness and /-/liveness answer
// 404, as GitLab does for clients outside monitoring_whitelist.
func (s *Server) RestrictHealthChecks(restricted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.healthBlocked = restricted
}

// SetDropAll makes the server accept connections but close every one of them
// without answering ("down" while the port is still open). Stop gives
// connection refused instead.
func (s *Server) SetDropAll(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.dropAll = drop
}

// CreateRunnerDirect seeds a runner as if it had been created in the GitLab
// UI, and returns it with its glrt- token.
func (s *Server) CreateRunnerDirect(spec RunnerSpec) RunnerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &runner{
		token:            spec.Token,
		typ:              firstNonEmpty(spec.Type, InstanceType),
		groupID:          spec.GroupID,
		projectID:        spec.ProjectID,
		description:      spec.Description,
		maintenanceNote:  spec.MaintenanceNote,
		tags:             slices.Clone(spec.Tags),
		runUntagged:      spec.RunUntagged == nil || *spec.RunUntagged,
		locked:           spec.Locked,
		paused:           spec.Paused,
		accessLevel:      firstNonEmpty(spec.AccessLevel, "not_protected"),
		registrationType: AuthenticatedUser,
	}
	if spec.MaximumTimeout != 0 {
		mt := spec.MaximumTimeout
		r.maximumTimeout = &mt
	}
	s.st.addRunner(r)
	r.tokenExpiresAt = s.st.expiryFromNow()
	if spec.TokenExpiresAt != nil {
		r.tokenExpiresAt = copyTime(spec.TokenExpiresAt)
	}
	return r.snapshot()
}

// DeleteRunnerDirect removes a runner as if an administrator had deleted it
// in the UI. It reports whether the runner existed.
func (s *Server) DeleteRunnerDirect(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.runners[id]
	if r == nil {
		return false
	}
	s.st.deleteRunner(r)
	return true
}

// Runners returns deep copies of every runner, ordered by id.
func (s *Server) Runners() []RunnerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.st.runners))
	out := make([]RunnerState, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.st.runners[id].snapshot())
	}
	return out
}

// Runner returns a deep copy of the runner with this id.
func (s *Server) Runner(id int64) (RunnerState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.runners[id]
	if r == nil {
		return RunnerState{}, false
	}
	return r.snapshot(), true
}

// RunnerByToken returns the runner whose current token is tok, expired or
// not.
func (s *Server) RunnerByToken(tok string) (RunnerState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.st.runnerTokens[tok]
	if !ok {
		return RunnerState{}, false
	}
	return s.st.runners[id].snapshot(), true
}

// IssuedTokens lists every secret the server ever issued or accepted: runner
// authentication tokens (including rotated-away ones), access tokens and
// registration tokens. Tests scan logs, events, status and errors for them.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.st.issued)
	sort.Strings(out)
	return out
}
