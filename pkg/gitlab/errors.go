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
	"regexp"
	"strings"
	"time"
)

// Kind classifies an *Error so that controllers can pick a condition reason
// and a requeue strategy without parsing messages.
type Kind string

// Error kinds. The string values are CamelCase so they can be used as
// condition reasons directly.
const (
	// KindUnknown is what KindOf returns for an error that is not an *Error.
	KindUnknown Kind = "Unknown"
	// KindInvalidConfig: the Config or the call's arguments are unusable
	// (bad URL, missing access token, invalid runner type...). Retrying
	// without a spec change will not help.
	KindInvalidConfig Kind = "InvalidConfig"
	// KindUnauthorized: 401, the access token is missing, invalid, expired or
	// revoked.
	KindUnauthorized Kind = "Unauthorized"
	// KindForbidden: 403. For runner-token calls the token is unknown to
	// GitLab (runner deleted, token rotated, revoked or expired); for
	// registration the registration token is wrong; for access-token calls
	// the token lacks a scope or its user lacks permission.
	KindForbidden Kind = "Forbidden"
	// KindRegistrationDisallowed: 410 on registration; the instance (or
	// namespace) disallows registration tokens.
	KindRegistrationDisallowed Kind = "RegistrationDisallowed"
	// KindNotFound: 404 for a resource (runner, runner manager): it is gone.
	KindNotFound Kind = "NotFound"
	// KindAPINotFound: 404 for the route itself, or a non-GitLab 404. The URL
	// does not point at GitLab's API (wrong relative path, a proxy's default
	// backend while GitLab starts) or this GitLab lacks the endpoint. Not a
	// "resource is gone": never treat it as successful deletion.
	KindAPINotFound Kind = "APINotFound"
	// KindBadRequest: 400; Message carries GitLab's validation text.
	KindBadRequest Kind = "BadRequest"
	// KindRateLimited: 429 that was not waited out; see RetryAfter.
	KindRateLimited Kind = "RateLimited"
	// KindUnavailable: 5xx, connection refused, DNS failure, timeouts,
	// connections closed before an answer, cancelled contexts.
	KindUnavailable Kind = "Unavailable"
	// KindTLS: certificate verification or TLS handshake failures.
	KindTLS Kind = "TLS"
	// KindUnexpected: any other answer (409, 412, 422, redirects, bodies
	// that are not GitLab's JSON).
	KindUnexpected Kind = "Unexpected"
)

// Error is the error type every Client method returns.
//
// Message is written for users (it can go into a condition): it says what
// happened and what to change, and it is stable for a given cause: no
// request ids, client ports, timestamps or durations that vary between calls.
// No string reachable from an Error contains a token: Message is scrubbed,
// and the wrapped cause is a copy of the transport error with the URL
// reduced to scheme, host and path.
type Error struct {
	// Kind is the classification.
	Kind Kind
	// Op names the operation, e.g. "create runner".
	Op string
	// StatusCode is the HTTP status, or 0 if no response arrived.
	StatusCode int
	// Message is the user-facing description.
	Message string
	// RetryAfter is the server's requested wait for KindRateLimited (0 if it
	// sent none), and a suggested wait for some other transient kinds.
	RetryAfter time.Duration

	// reason refines Kind for the package's own decisions
	// (insufficient_scope, expired, revoked...).
	reason string
	cause  error
}

// Error returns Message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying cause, if any: a redacted *url.Error with
// its network, TLS or context error, or an *APIError for HTTP answers.
func (e *Error) Unwrap() error { return e.cause }

// GoString keeps %#v short and free of the cause's internals.
func (e *Error) GoString() string {
	return fmt.Sprintf("&gitlab.Error{Kind:%q, Op:%q, StatusCode:%d, Message:%q, RetryAfter:%s}",
		e.Kind, e.Op, e.StatusCode, e.Message, e.RetryAfter)
}

// APIError is the cause of an *Error built from an HTTP answer: the status and
// GitLab's own message text (redacted), for debug logs.
type APIError struct {
	// StatusCode is the HTTP status GitLab answered.
	StatusCode int
	// Text is GitLab's message or error text, empty if the body was not
	// GitLab JSON.
	Text string
}

// Error renders the status and GitLab's text.
func (e *APIError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("HTTP %d", e.StatusCode)
	}
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Text)
}

// KindOf returns the Kind of err: its *Error's Kind, KindUnknown for other
// errors, and "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// IsNotFound reports whether err says the runner or runner manager does not
// exist (KindNotFound). A route-level 404 (KindAPINotFound) is not.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// IsForbidden reports whether err is a 403 (KindForbidden). For DeleteByToken
// and DeleteManager that means GitLab no longer knows the runner token.
func IsForbidden(err error) bool { return KindOf(err) == KindForbidden }

// IsTransient reports whether retrying later may succeed without any change:
// KindRateLimited and KindUnavailable.
func IsTransient(err error) bool {
	k := KindOf(err)
	return k == KindRateLimited || k == KindUnavailable
}

// IsInsufficientScope reports whether err is a 403 because the access token
// lacks a scope (as opposed to its user lacking a permission).
func IsInsufficientScope(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.reason == reasonInsufficientScope
}

// RetryAfter returns the wait GitLab asked for (KindRateLimited), or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

const (
	reasonInsufficientScope = "insufficient_scope"
	reasonExpired           = "expired"
	reasonRevoked           = "revoked"
	reasonNotAdmin          = "not_admin"
)

// tokenPatterns catch token-shaped strings that might reach an error text by
// a path nobody foresaw: runner, access, job and registration tokens, and
// token-like query parameters.
var tokenPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(glrtr-|glrt-|glpat-|glcbt-|gldt-|glptt-|glft-|glimt-|glagent-|glsoat-|GR1348941)[A-Za-z0-9_.\-]+`),
	regexp.MustCompile(`(?i)((?:private_|job_|access_|runner_)?token=)[^&\s"']+`),
	regexp.MustCompile(`(?i)((?:private-token|job-token|runner-token|authorization):\s*)\S+`),
}

// scrub removes every known secret and anything token-shaped from s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	for _, re := range tokenPatterns {
		s = re.ReplaceAllString(s, "${1}"+redacted)
	}
	return s
}
