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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// opListRunners names FindRunners' operation; a bare 403 on it means "not an
// administrator".
const opListRunners = "list runners"

// maxFindPages bounds FindRunners (100 runners a page), so that a server that
// always reports a next page cannot keep a reconcile busy forever.
const maxFindPages = 200

// client implements Client on top of client-go.
type client struct {
	root    *url.URL // GitLab root URL with a trailing slash
	display string   // root URL for messages
	timeout time.Duration
	now     func() time.Time

	hc   *http.Client
	api  *gitlab.Client // authenticated with the access token; nil without one
	anon *gitlab.Client // no credentials: runner-token endpoints and probes

	accessToken string
	// notAdmin remembers that /runners/all answered 403 for this token, so
	// FindRunners goes straight to /runners next time.
	notAdmin atomic.Bool
}

var _ Client = (*client)(nil)

// NewClient validates cfg and builds a Client. Configuration problems (empty
// or malformed URL, unsupported scheme, credentials in the URL, a CA bundle
// without certificates) are an *Error of KindInvalidConfig. NewClient does
// no network I/O.
func NewClient(cfg Config) (Client, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func newClient(cfg Config) (*client, error) {
	root, err := normalizeURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &client{
		root:        root,
		display:     displayURL(root),
		timeout:     cfg.Timeout,
		now:         time.Now,
		accessToken: cfg.AccessToken,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	tr, err := newTransport(cfg, c.display)
	if err != nil {
		return nil, err
	}
	c.hc = &http.Client{
		Transport: &captureTransport{next: tr},
		// A redirect turns a POST into a GET and sends the token to
		// wherever the Location points; report it instead of following it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	policy := retryPolicy{RetryPolicy: cfg.Retry.withDefaults(), now: time.Now}
	opts := []gitlab.ClientOptionFunc{
		gitlab.WithBaseURL(root.String()),
		gitlab.WithHTTPClient(c.hc),
		gitlab.WithUserAgent(ua),
		gitlab.WithCustomRetry(policy.check),
		gitlab.WithCustomBackoff(policy.backoff),
		gitlab.WithCustomRetryMax(policy.MaxRetries),
		gitlab.WithCustomRetryWaitMinMax(policy.MinBackoff, policy.MaxBackoff),
		gitlab.WithCustomLimiter(noLimiter{}),
		gitlab.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
	}
	if c.anon, err = gitlab.NewAuthSourceClient(gitlab.Unauthenticated{}, opts...); err != nil {
		return nil, invalidConfig("cannot build a GitLab client for %s: %s", c.display, scrub(err.Error(), []string{cfg.AccessToken}))
	}
	if cfg.AccessToken != "" {
		if c.api, err = gitlab.NewClient(cfg.AccessToken, opts...); err != nil {
			return nil, invalidConfig("cannot build a GitLab client for %s: %s", c.display, scrub(err.Error(), []string{cfg.AccessToken}))
		}
	}
	return c, nil
}

// String identifies the client without any secret, in case one is logged.
func (c *client) String() string { return "gitlab.Client(" + c.display + ")" }

// GoString is String, so %#v does not dump the access token.
func (c *client) GoString() string { return c.String() }

func (c *client) closeIdleConnections() { c.hc.CloseIdleConnections() }

// ---- per-call plumbing ----

type callStateKey struct{}

// callState collects what client-go throws away: the body of a 404, which
// tells a missing runner from a missing route.
type callState struct {
	mu   sync.Mutex
	body []byte
}

func (s *callState) notFound() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body
}

// captureTransport keeps 404 bodies for the call's callState.
type captureTransport struct{ next http.RoundTripper }

func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		return resp, err
	}
	st, _ := req.Context().Value(callStateKey{}).(*callState)
	if st == nil {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	st.mu.Lock()
	st.body = body
	st.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// wrapped transport.
func (t *captureTransport) CloseIdleConnections() {
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// do runs one operation with the call timeout, the retry mode and error
// classification. fn receives the request option carrying the context.
func (c *client) do(ctx context.Context, op operation, fn func(opt gitlab.RequestOptionFunc) (*gitlab.Response, error)) error {
	if ctx == nil {
		ctx = context.Background()
	}
	op.secrets = append(op.secrets, c.accessToken)
	if ctx.Err() != nil {
		return c.contextError(ctx, op)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	st := &callState{}
	callCtx = context.WithValue(withRetryMode(callCtx, op.retry), callStateKey{}, st)
	resp, err := fn(gitlab.WithContext(callCtx))
	if err == nil {
		return nil
	}
	return c.classify(ctx, callCtx, op, resp, err, st)
}

// withJSONBody sends v as a JSON body. gitlab-runner does this for DELETE
// /runners and DELETE /runners/managers; client-go would put the parameters,
// and so the runner token, in the query string, where proxies and access
// logs record it.
func withJSONBody(v any) gitlab.RequestOptionFunc {
	return func(req *retryablehttp.Request) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := req.SetBody(b); err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		return nil
	}
}

func (c *client) needAccessToken(op operation) error {
	if c.api == nil {
		return &Error{Kind: KindInvalidConfig, Op: op.name, Message: fmt.Sprintf(
			"GitLab needs an access token to %s, but none is configured; provide a personal, group or project access token", op.name)}
	}
	return nil
}

func argError(op operation, format string, args ...any) error {
	return &Error{Kind: KindInvalidConfig, Op: op.name, Message: fmt.Sprintf(format, args...)}
}

func validateRunnerOptions(op operation, o RunnerOptions) error {
	switch o.AccessLevel {
	case "", AccessLevelNotProtected, AccessLevelRefProtected:
	default:
		return argError(op, "the runner access level %q is not valid; use %s or %s", o.AccessLevel, AccessLevelNotProtected, AccessLevelRefProtected)
	}
	return nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTags(t []string) *[]string {
	if t == nil {
		return nil
	}
	c := slices.Clone(t)
	return &c
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := t.UTC()
	return &c
}

// registrationDetails is GitLab's {id, token, token_expires_at}.
type registrationDetails struct {
	ID             int64      `json:"id"`
	Token          string     `json:"token"`
	TokenExpiresAt *time.Time `json:"token_expires_at"`
}

// ---- runner-token operations ----

// RegisterWithToken implements Client.
func (c *client) RegisterWithToken(ctx context.Context, registrationToken string, opts RunnerOptions) (*Credentials, error) {
	op := operation{name: "register runner", cred: credRegistration, retry: retryNever, secrets: []string{registrationToken}}
	if registrationToken == "" {
		return nil, argError(op, "the runner registration token is empty")
	}
	if err := validateRunnerOptions(op, opts); err != nil {
		return nil, err
	}
	var out *gitlab.Runner
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (resp *gitlab.Response, err error) {
		out, resp, err = c.anon.Runners.RegisterNewRunner(&gitlab.RegisterNewRunnerOptions{
			Token:           &registrationToken,
			Description:     optString(opts.Description),
			Paused:          opts.Paused,
			Locked:          opts.Locked,
			RunUntagged:     opts.RunUntagged,
			TagList:         optTags(opts.Tags),
			AccessLevel:     optString(opts.AccessLevel),
			MaximumTimeout:  opts.MaximumTimeout,
			MaintenanceNote: optString(opts.MaintenanceNote),
		}, opt)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	return &Credentials{ID: out.ID, Token: out.Token, ExpiresAt: copyTime(out.TokenExpiresAt)}, nil
}

// Verify implements Client. It uses client-go's request builder because
// VerifyRegisteredRunner neither sends system_id nor returns the body.
func (c *client) Verify(ctx context.Context, token, systemID string) (*Credentials, error) {
	op := operation{name: "verify runner token", cred: credRunner, retry: retrySafe, secrets: []string{token}}
	if token == "" {
		return nil, argError(op, "the runner authentication token is empty")
	}
	params := map[string]string{"token": token}
	if systemID != "" {
		params["system_id"] = systemID
	}
	var body bytes.Buffer
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		body.Reset()
		req, err := c.anon.NewRequest(http.MethodPost, "runners/verify", params, []gitlab.RequestOptionFunc{opt})
		if err != nil {
			return nil, err
		}
		return c.anon.Do(req, &body)
	})
	if err != nil {
		return nil, err
	}
	// GitLab up to about 15.x answers the text "200" instead of the JSON
	// details; the token is valid either way.
	var d registrationDetails
	if json.Unmarshal(body.Bytes(), &d) != nil {
		return &Credentials{Token: token}, nil
	}
	if d.Token == "" {
		d.Token = token
	}
	return &Credentials{ID: d.ID, Token: d.Token, ExpiresAt: copyTime(d.TokenExpiresAt)}, nil
}

// DeleteByToken implements Client.
func (c *client) DeleteByToken(ctx context.Context, token string) error {
	op := operation{name: "delete runner by token", cred: credRunner, retry: retrySafe, secrets: []string{token}}
	if token == "" {
		return argError(op, "the runner authentication token is empty")
	}
	return c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		req, err := c.anon.NewRequest(http.MethodDelete, "runners", nil,
			[]gitlab.RequestOptionFunc{opt, withJSONBody(map[string]string{"token": token})})
		if err != nil {
			return nil, err
		}
		return c.anon.Do(req, nil)
	})
}

// DeleteManager implements Client.
func (c *client) DeleteManager(ctx context.Context, token, systemID string) error {
	op := operation{name: "delete runner manager", cred: credRunner, retry: retrySafe, secrets: []string{token},
		subject: fmt.Sprintf("runner manager %q", systemID)}
	if token == "" {
		return argError(op, "the runner authentication token is empty")
	}
	if systemID == "" {
		return argError(op, "the runner manager system ID is empty")
	}
	return c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		req, err := c.anon.NewRequest(http.MethodDelete, "runners/managers", nil,
			[]gitlab.RequestOptionFunc{opt, withJSONBody(map[string]string{"token": token, "system_id": systemID})})
		if err != nil {
			return nil, err
		}
		return c.anon.Do(req, nil)
	})
}

// ResetToken implements Client.
func (c *client) ResetToken(ctx context.Context, token string) (*Credentials, error) {
	op := operation{name: "reset runner token", cred: credRunner, retry: retryNever, secrets: []string{token}}
	if token == "" {
		return nil, argError(op, "the runner authentication token is empty")
	}
	var out gitlab.RunnerAuthenticationToken
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		req, err := c.anon.NewRequest(http.MethodPost, "runners/reset_authentication_token",
			map[string]string{"token": token}, []gitlab.RequestOptionFunc{opt})
		if err != nil {
			return nil, err
		}
		return c.anon.Do(req, &out)
	})
	if err != nil {
		return nil, err
	}
	return tokenCredentials(0, &out, op)
}

func tokenCredentials(id int64, t *gitlab.RunnerAuthenticationToken, op operation) (*Credentials, error) {
	if t == nil || t.Token == nil || *t.Token == "" {
		return nil, &Error{Kind: KindUnexpected, Op: op.name, Message: fmt.Sprintf("GitLab answered the request to %s without a token", op.name)}
	}
	return &Credentials{ID: id, Token: *t.Token, ExpiresAt: copyTime(t.TokenExpiresAt)}, nil
}

// ---- access-token operations ----

// CreateRunner implements Client.
func (c *client) CreateRunner(ctx context.Context, opts CreateOptions) (*Credentials, error) {
	op := operation{name: "create runner", cred: credAccess, retry: retryNever}
	if err := c.needAccessToken(op); err != nil {
		return nil, err
	}
	if err := validateRunnerOptions(op, opts.RunnerOptions); err != nil {
		return nil, err
	}
	var groupID, projectID *int64
	switch opts.RunnerType {
	case InstanceType:
	case GroupType:
		if opts.GroupID <= 0 {
			return nil, argError(op, "a group runner needs the id of its group")
		}
		groupID = &opts.GroupID
	case ProjectType:
		if opts.ProjectID <= 0 {
			return nil, argError(op, "a project runner needs the id of its project")
		}
		projectID = &opts.ProjectID
	default:
		return nil, argError(op, "the runner type %q is not valid; use %s, %s or %s", opts.RunnerType, InstanceType, GroupType, ProjectType)
	}
	var out *gitlab.UserRunner
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (resp *gitlab.Response, err error) {
		out, resp, err = c.api.Users.CreateUserRunner(&gitlab.CreateUserRunnerOptions{
			RunnerType:      &opts.RunnerType,
			GroupID:         groupID,
			ProjectID:       projectID,
			Description:     optString(opts.Description),
			Paused:          opts.Paused,
			Locked:          opts.Locked,
			RunUntagged:     opts.RunUntagged,
			TagList:         optTags(opts.Tags),
			AccessLevel:     optString(opts.AccessLevel),
			MaximumTimeout:  opts.MaximumTimeout,
			MaintenanceNote: optString(opts.MaintenanceNote),
		}, opt)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	return &Credentials{ID: out.ID, Token: out.Token, ExpiresAt: copyTime(out.TokenExpiresAt)}, nil
}

func runnerOp(name string, id int64, retry retryMode) operation {
	return operation{name: name, cred: credAccess, retry: retry, subject: fmt.Sprintf("runner %d", id)}
}

func (c *client) checkID(op operation, id int64) error {
	if err := c.needAccessToken(op); err != nil {
		return err
	}
	if id <= 0 {
		return argError(op, "the runner id %d is not valid", id)
	}
	return nil
}

// DeleteByID implements Client.
func (c *client) DeleteByID(ctx context.Context, id int64) error {
	op := runnerOp("delete runner", id, retrySafe)
	if err := c.checkID(op, id); err != nil {
		return err
	}
	return c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		return c.api.Runners.DeleteRegisteredRunnerByID(id, opt)
	})
}

// ResetTokenByID implements Client.
func (c *client) ResetTokenByID(ctx context.Context, id int64) (*Credentials, error) {
	op := runnerOp("reset runner token", id, retryNever)
	if err := c.checkID(op, id); err != nil {
		return nil, err
	}
	var out *gitlab.RunnerAuthenticationToken
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (resp *gitlab.Response, err error) {
		out, resp, err = c.api.Runners.ResetRunnerAuthenticationToken(id, opt)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	return tokenCredentials(id, out, op)
}

func runnerFromDetails(d *gitlab.RunnerDetails) *Runner {
	return &Runner{
		ID:              d.ID,
		Description:     d.Description,
		Tags:            slices.Clone(d.TagList),
		Paused:          d.Paused,
		Locked:          d.Locked,
		RunUntagged:     d.RunUntagged,
		AccessLevel:     d.AccessLevel,
		MaximumTimeout:  d.MaximumTimeout,
		RunnerType:      d.RunnerType,
		Online:          d.Online,
		Status:          d.Status,
		MaintenanceNote: d.MaintenanceNote,
		ContactedAt:     copyTime(d.ContactedAt),
	}
}

// GetRunner implements Client.
func (c *client) GetRunner(ctx context.Context, id int64) (*Runner, error) {
	op := runnerOp("get runner", id, retrySafe)
	if err := c.checkID(op, id); err != nil {
		return nil, err
	}
	var out *gitlab.RunnerDetails
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (resp *gitlab.Response, err error) {
		out, resp, err = c.api.Runners.GetRunnerDetails(id, opt)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	return runnerFromDetails(out), nil
}

// UpdateRunner implements Client.
func (c *client) UpdateRunner(ctx context.Context, id int64, opts RunnerOptions) (*Runner, error) {
	op := runnerOp("update runner", id, retrySafe)
	if err := c.checkID(op, id); err != nil {
		return nil, err
	}
	if err := validateRunnerOptions(op, opts); err != nil {
		return nil, err
	}
	upd := &gitlab.UpdateRunnerDetailsOptions{
		Description:     optString(opts.Description),
		Paused:          opts.Paused,
		TagList:         optTags(opts.Tags),
		RunUntagged:     opts.RunUntagged,
		Locked:          opts.Locked,
		AccessLevel:     optString(opts.AccessLevel),
		MaximumTimeout:  opts.MaximumTimeout,
		MaintenanceNote: optString(opts.MaintenanceNote),
	}
	if *upd == (gitlab.UpdateRunnerDetailsOptions{}) {
		return nil, argError(op, "nothing to update: set at least one runner setting")
	}
	var out *gitlab.RunnerDetails
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (resp *gitlab.Response, err error) {
		out, resp, err = c.api.Runners.UpdateRunnerDetails(id, upd, opt)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	return runnerFromDetails(out), nil
}

// FindRunners implements Client.
func (c *client) FindRunners(ctx context.Context, opts FindOptions) ([]Runner, error) {
	op := operation{name: opListRunners, cred: credAccess, retry: retrySafe}
	if err := c.needAccessToken(op); err != nil {
		return nil, err
	}
	switch opts.Type {
	case "", InstanceType, GroupType, ProjectType:
	default:
		return nil, argError(op, "the runner type %q is not valid; use %s, %s or %s", opts.Type, InstanceType, GroupType, ProjectType)
	}
	if !c.notAdmin.Load() {
		found, err := c.findRunners(ctx, op, opts, true)
		if err == nil || !IsForbidden(err) || IsInsufficientScope(err) {
			return found, err
		}
		// Not an administrator: fall back to the user's own runners.
		c.notAdmin.Store(true)
	}
	return c.findRunners(ctx, op, opts, false)
}

func (c *client) findRunners(ctx context.Context, op operation, opts FindOptions, all bool) ([]Runner, error) {
	list := &gitlab.ListRunnersOptions{
		ListOptions: gitlab.ListOptions{PerPage: 100, Page: 1},
		Type:        optString(opts.Type),
		TagList:     optTags(opts.Tags),
	}
	var found []Runner
	for range maxFindPages {
		var page []*gitlab.Runner
		var next int64
		err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (*gitlab.Response, error) {
			var resp *gitlab.Response
			var err error
			if all {
				page, resp, err = c.api.Runners.ListAllRunners(list, opt)
			} else {
				page, resp, err = c.api.Runners.ListRunners(list, opt)
			}
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if opts.Description != "" && r.Description != opts.Description {
				continue
			}
			if opts.DescriptionContains != "" && !strings.Contains(r.Description, opts.DescriptionContains) {
				continue
			}
			found = append(found, Runner{
				ID: r.ID, Description: r.Description, Paused: r.Paused, RunnerType: r.RunnerType,
				Online: r.Online, Status: r.Status,
			})
		}
		if next <= list.Page || len(page) == 0 {
			return found, nil
		}
		list.Page = next
	}
	return found, nil
}

// Version implements Client.
func (c *client) Version(ctx context.Context) (*Version, error) {
	op := operation{name: "read the GitLab version", cred: credAccess, retry: retrySafe}
	if err := c.needAccessToken(op); err != nil {
		return nil, err
	}
	var out *gitlab.Version
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (resp *gitlab.Response, err error) {
		out, resp, err = c.api.Version.GetVersion(opt)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	return &Version{Version: out.Version, Revision: out.Revision}, nil
}

// Ready implements Client.
func (c *client) Ready(ctx context.Context) error {
	// A probe is cheap to repeat by the caller; do not retry inside.
	op := operation{name: "check GitLab readiness", cred: credNone, retry: retryNever}
	err := c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		u := *c.root
		u.Path += "-/readiness"
		req, err := c.anon.NewRequestToURL(http.MethodGet, &u, nil, []gitlab.RequestOptionFunc{opt})
		if err != nil {
			return nil, err
		}
		return c.anon.Do(req, io.Discard)
	})
	if KindOf(err) != KindAPINotFound {
		return err
	}
	// Health checks are allow-listed (404 for everyone else). Any answer of
	// the API itself, even 401 without a token, shows Rails is serving.
	err = c.do(ctx, op, func(opt gitlab.RequestOptionFunc) (resp *gitlab.Response, err error) {
		_, resp, err = c.anon.Version.GetVersion(opt)
		return resp, err
	})
	switch KindOf(err) {
	case "", KindUnauthorized, KindForbidden:
		return nil
	}
	return err
}
