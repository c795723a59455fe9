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
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Client is the GitLab API surface the controllers use. Implementations are
// safe for concurrent use. Every error returned is an *Error.
type Client interface {
	// RegisterWithToken registers a runner with a legacy registration token
	// (POST /api/v4/runners). It is never retried. A 410 means the instance
	// disallows registration tokens (KindRegistrationDisallowed); a 403 means
	// the token is wrong (KindForbidden).
	RegisterWithToken(ctx context.Context, registrationToken string, opts RunnerOptions) (*Credentials, error)

	// CreateRunner creates a runner with the access token
	// (POST /api/v4/user/runners) and returns its glrt- token. It is never
	// retried; after a KindUnavailable error the runner may exist, see
	// FindRunners.
	CreateRunner(ctx context.Context, opts CreateOptions) (*Credentials, error)

	// Verify checks a runner authentication token (POST /api/v4/runners/verify)
	// and registers or refreshes the runner manager systemID (empty: GitLab's
	// legacy manager). It returns the runner id and token expiry. A 403
	// (KindForbidden) means the runner was deleted or the token rotated,
	// expired or never existed.
	Verify(ctx context.Context, token, systemID string) (*Credentials, error)

	// DeleteByToken deletes the whole runner that owns token
	// (DELETE /api/v4/runners). KindForbidden means GitLab does not know the
	// token: the runner is already gone (or the token was rotated).
	DeleteByToken(ctx context.Context, token string) error

	// DeleteByID deletes a runner with the access token
	// (DELETE /api/v4/runners/:id). KindNotFound means it is already gone.
	DeleteByID(ctx context.Context, id int64) error

	// DeleteManager removes one runner manager, leaving the runner
	// (DELETE /api/v4/runners/managers). KindNotFound: the manager is gone;
	// KindForbidden: the token (hence the runner) is gone.
	DeleteManager(ctx context.Context, token, systemID string) error

	// ResetToken rotates a runner's token using the current token
	// (POST /api/v4/runners/reset_authentication_token). The old token stops
	// working at once. Never retried. The returned Credentials has ID 0:
	// GitLab does not return it here.
	ResetToken(ctx context.Context, token string) (*Credentials, error)

	// ResetTokenByID rotates a runner's token with the access token
	// (POST /api/v4/runners/:id/reset_authentication_token). Never retried.
	ResetTokenByID(ctx context.Context, id int64) (*Credentials, error)

	// GetRunner reads a runner's details with the access token
	// (GET /api/v4/runners/:id).
	GetRunner(ctx context.Context, id int64) (*Runner, error)

	// UpdateRunner changes a runner's settings with the access token
	// (PUT /api/v4/runners/:id); nil and empty fields of opts are left alone.
	UpdateRunner(ctx context.Context, id int64, opts RunnerOptions) (*Runner, error)

	// FindRunners lists runners visible to the access token that match opts,
	// following pagination. It uses GET /api/v4/runners/all (administrators)
	// and falls back to GET /api/v4/runners (the token user's runners) when
	// the user is not an administrator. GitLab cannot filter by description,
	// so Description and DescriptionContains are applied here; Type and Tags
	// are sent to GitLab. The list entity has no tags, locked, access level or
	// timeout: call GetRunner for those. The access token needs the api or
	// read_api scope (manage_runner is not accepted on these routes).
	FindRunners(ctx context.Context, opts FindOptions) ([]Runner, error)

	// Version returns GitLab's version (GET /api/v4/version). It needs an
	// access token with api, read_api or read_user; a 401/403 still proves
	// that GitLab is up and routing.
	Version(ctx context.Context) (*Version, error)

	// Ready reports whether GitLab is ready (GET /-/readiness). GitLab
	// answers health checks only to allow-listed clients and 404 to others;
	// on that 404 Ready probes GET /api/v4/version without a token instead,
	// where any answer from GitLab's API (even 401) counts as ready.
	Ready(ctx context.Context) error
}

// Runner types accepted by CreateOptions.RunnerType and FindOptions.Type.
const (
	InstanceType = "instance_type"
	GroupType    = "group_type"
	ProjectType  = "project_type"
)

// Access levels for RunnerOptions.AccessLevel.
const (
	AccessLevelNotProtected = "not_protected"
	AccessLevelRefProtected = "ref_protected"
)

// RunnerOptions are the server-side settings of a runner. Nil pointers and
// empty strings leave GitLab's defaults (run untagged jobs, unlocked, not
// paused, not_protected, no maximum timeout).
type RunnerOptions struct {
	// Description is the runner's description in GitLab. Put a unique,
	// stable marker for the owning object (e.g. its UID) here so that
	// FindRunners can find a runner whose create response was lost.
	Description string
	// Tags is sent as tag_list when non-nil; an empty non-nil slice clears
	// the tags on UpdateRunner.
	Tags []string
	// RunUntagged lets the runner pick jobs without tags (GitLab default
	// true). False requires at least one tag.
	RunUntagged *bool
	// Locked restricts a project runner to its current projects.
	Locked *bool
	// Paused stops the runner from receiving new jobs.
	Paused *bool
	// AccessLevel is AccessLevelNotProtected or AccessLevelRefProtected.
	AccessLevel string
	// MaximumTimeout in seconds; GitLab requires at least 600.
	MaximumTimeout *int64
	// MaintenanceNote is a free-form note (at most 1024 characters) shown
	// to GitLab administrators.
	MaintenanceNote string
}

// CreateOptions describes a runner to create with POST /api/v4/user/runners.
type CreateOptions struct {
	RunnerOptions
	// RunnerType is InstanceType (needs an administrator's token), GroupType
	// (group Owner; GroupID required) or ProjectType (project Maintainer;
	// ProjectID required).
	RunnerType string
	// GroupID is the group of a GroupType runner.
	GroupID int64
	// ProjectID is the project of a ProjectType runner.
	ProjectID int64
}

// FindOptions filters FindRunners. Empty fields do not filter.
type FindOptions struct {
	// Description matches the runner description exactly.
	Description string
	// DescriptionContains matches a substring of the description.
	DescriptionContains string
	// Type is InstanceType, GroupType or ProjectType.
	Type string
	// Tags keeps runners that have all of these tags.
	Tags []string
}

// Credentials is what GitLab returns when a runner is registered, created,
// verified or its token rotated. Token is a secret: the String, GoString and
// Format methods redact it, so %v, %+v, %#v and %s never print it, and the
// logr/slog hooks do the same. Read the field explicitly to store it.
type Credentials struct {
	// ID is the runner id (0 after ResetToken, which does not return it).
	ID int64
	// Token is the runner authentication token.
	Token string
	// ExpiresAt is when Token expires; nil if it does not.
	ExpiresAt *time.Time
}

const redacted = "[REDACTED]"

// String renders the credentials without the token.
func (c Credentials) String() string {
	tok := "<empty>"
	if c.Token != "" {
		tok = redacted
	}
	exp := "never"
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("{ID:%d Token:%s ExpiresAt:%s}", c.ID, tok, exp)
}

// GoString renders the credentials for %#v without the token.
func (c Credentials) GoString() string {
	return "gitlab.Credentials" + c.String()
}

// Format implements fmt.Formatter so that every verb, including %+v and
// %#v, goes through the redacting String.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, c.GoString())
		return
	}
	_, _ = fmt.Fprint(f, c.String())
}

// MarshalLog implements logr.Marshaler: loggers built on logr (zap via zapr,
// as controller-runtime uses) log this instead of the struct.
func (c Credentials) MarshalLog() any {
	return map[string]any{"id": c.ID, "token": redactedOrEmpty(c.Token), "expiresAt": c.ExpiresAt}
}

// LogValue implements slog.LogValuer with the token redacted.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("id", c.ID),
		slog.String("token", redactedOrEmpty(c.Token)),
		slog.Any("expiresAt", c.ExpiresAt),
	)
}

func redactedOrEmpty(tok string) string {
	if tok == "" {
		return ""
	}
	return redacted
}

// Runner is a runner as GitLab reports it. From FindRunners only ID,
// Description, Paused, RunnerType, Online and Status are filled (the list
// entity has no more); GetRunner fills everything.
type Runner struct {
	// ID is GitLab's runner id.
	ID int64
	// Description, Tags, Paused, Locked, RunUntagged, AccessLevel,
	// MaximumTimeout (seconds, 0 if unset) and MaintenanceNote are the
	// runner's settings, as in RunnerOptions.
	Description     string
	Tags            []string
	Paused          bool
	Locked          bool
	RunUntagged     bool
	AccessLevel     string
	MaximumTimeout  int64
	MaintenanceNote string
	// RunnerType is InstanceType, GroupType or ProjectType.
	RunnerType string
	// Online is true when a runner manager contacted GitLab recently.
	Online bool
	// Status is online, offline, stale or never_contacted.
	Status string
	// ContactedAt is the last contact of any runner manager.
	ContactedAt *time.Time
}

// Version is GitLab's version and revision.
type Version struct {
	// Version is e.g. "18.3.1-ee".
	Version string
	// Revision is the git revision GitLab was built from.
	Revision string
}

// Token prefixes GitLab uses.
const (
	// TokenPrefixRunner starts the authentication token of a runner created
	// in the UI or with POST /user/runners. gitlab-runner treats a token as
	// such iff it has this prefix.
	TokenPrefixRunner = "glrt-"
	// TokenPrefixRegisteredRunner starts the authentication token of a runner
	// registered with a registration token (recent GitLab versions). Note
	// that it does not start with TokenPrefixRunner.
	TokenPrefixRegisteredRunner = "glrtr-"
	// TokenPrefixRegistration starts runner registration tokens.
	TokenPrefixRegistration = "GR1348941"
	// TokenPrefixPersonalAccess starts personal, group and project access
	// tokens (administrators can add an instance prefix before it).
	TokenPrefixPersonalAccess = "glpat-"
)

// IsRunnerAuthToken reports whether tok is a created-runner authentication
// token (glrt-), the kind that is verified with Verify and whose server-side
// settings can only be changed in GitLab. It uses the same rule as
// gitlab-runner; glrtr- tokens of registered runners do not match.
func IsRunnerAuthToken(tok string) bool {
	return strings.HasPrefix(tok, TokenPrefixRunner)
}

// IsRegistrationToken reports whether tok looks like a runner registration
// token (GR1348941...). Older registration tokens have no prefix, so false
// does not prove it is not one.
func IsRegistrationToken(tok string) bool {
	return strings.HasPrefix(tok, TokenPrefixRegistration)
}
