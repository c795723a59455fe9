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
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"syscall"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// credKind is the credential an operation authenticates with; it decides
// what a 401/403 means.
type credKind int

const (
	credNone credKind = iota
	credRegistration
	credRunner
	credAccess
)

// operation describes one Client call for retries and error messages.
type operation struct {
	name    string // "create runner"
	cred    credKind
	retry   retryMode
	subject string   // what a 404 is about: "runner 42"
	secrets []string // every secret the call used, scrubbed from all text
}

// gitlabBody is what we understand of a GitLab error body.
type gitlabBody struct {
	isJSON  bool
	text    string // message or error text, as GitLab wrote it
	errCode string // OAuth-style "error": invalid_token, insufficient_scope
	errDesc string
	scope   string
}

func parseBody(body []byte) gitlabBody {
	var raw map[string]any
	if len(body) == 0 || json.Unmarshal(body, &raw) != nil {
		return gitlabBody{}
	}
	b := gitlabBody{isJSON: true}
	switch m := raw["message"].(type) {
	case string:
		b.text = m
	case map[string]any:
		b.text = flattenMessage(m)
	}
	if e, ok := raw["error"].(string); ok {
		b.errCode = e
		if b.text == "" {
			b.text = e
		}
	}
	b.errDesc, _ = raw["error_description"].(string)
	b.scope, _ = raw["scope"].(string)
	return b
}

// flattenMessage renders Rails validation errors
// {"tags_list":["can not be empty ..."]} as "tags_list can not be empty ...".
func flattenMessage(m map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		var msgs []string
		switch v := m[k].(type) {
		case []any:
			for _, e := range v {
				msgs = append(msgs, fmt.Sprint(e))
			}
		default:
			msgs = append(msgs, fmt.Sprint(v))
		}
		for _, msg := range msgs {
			if k == "error" || k == "base" {
				parts = append(parts, msg)
			} else {
				parts = append(parts, k+" "+msg)
			}
		}
	}
	return strings.Join(parts, "; ")
}

var statusPrefix = regexp.MustCompile(`^\d{3} [A-Za-z ]+? - `)

// detail is GitLab's text without the "403 Forbidden - " prefix, or "" when
// it only restates the status. It is scrubbed and kept short and on one line.
func (b gitlabBody) detail(status int, secrets []string) string {
	t := strings.TrimSpace(b.text)
	if strings.EqualFold(t, fmt.Sprintf("%d %s", status, http.StatusText(status))) {
		return ""
	}
	t = statusPrefix.ReplaceAllString(t, "")
	t = strings.Join(strings.Fields(t), " ")
	if len(t) > 300 {
		t = t[:300] + "..."
	}
	return scrub(t, secrets)
}

var resourceNotFound = regexp.MustCompile(`^404 .+ (?i:not found)`)

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprintf("HTTP %d", code)
}

// httpError turns a GitLab answer into an *Error.
func (c *client) httpError(op operation, status int, header http.Header, body []byte) *Error {
	b := parseBody(body)
	detail := b.detail(status, op.secrets)
	e := &Error{Op: op.name, StatusCode: status, cause: &APIError{StatusCode: status, Text: detail}}
	withDetail := func(s string) string {
		if detail == "" {
			return s
		}
		return s + ": " + detail
	}

	switch {
	case status == http.StatusBadRequest:
		e.Kind = KindBadRequest
		if !b.isJSON {
			e.Message = fmt.Sprintf("GitLab at %s answered 400 Bad Request to %s without a GitLab error body; check that the URL points at GitLab and uses the right scheme (https:// or http://)", c.display, op.name)
		} else {
			e.Message = withDetail(fmt.Sprintf("GitLab rejected the request to %s (400 Bad Request)", op.name))
		}

	case status == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
		desc := strings.ToLower(b.errDesc)
		switch {
		case op.cred != credAccess:
			e.Message = withDetail(fmt.Sprintf("GitLab answered 401 Unauthorized to %s", op.name))
		case strings.Contains(desc, "expired"):
			e.reason = reasonExpired
			e.Message = "GitLab rejected the access token (401 Unauthorized): the token has expired; create a new access token and update the Secret"
		case strings.Contains(desc, "revoked"):
			e.reason = reasonRevoked
			e.Message = "GitLab rejected the access token (401 Unauthorized): the token was revoked; create a new access token and update the Secret"
		default:
			e.Message = "GitLab rejected the access token (401 Unauthorized): it is invalid, expired or revoked; provide a valid personal, group or project access token"
		}

	case status == http.StatusForbidden:
		e.Kind = KindForbidden
		c.forbidden(op, b, detail, e)

	case status == http.StatusNotFound:
		if b.isJSON && resourceNotFound.MatchString(strings.TrimSpace(b.text)) && !strings.EqualFold(strings.TrimSpace(b.text), "404 Not Found") {
			e.Kind = KindNotFound
			subject := op.subject
			if subject == "" {
				subject = "the resource"
			}
			e.Message = fmt.Sprintf("%s was not found in GitLab (404 Not Found); it was deleted or never existed", subject)
		} else {
			e.Kind = KindAPINotFound
			e.Message = fmt.Sprintf("GitLab at %s has no API endpoint to %s (404 Not Found): check that the URL is GitLab's root URL, including a relative path such as /gitlab if GitLab uses one, and that GitLab is running and recent enough", c.display, op.name)
		}

	case status == http.StatusGone && op.cred == credRegistration:
		e.Kind = KindRegistrationDisallowed
		e.Message = "GitLab rejected the registration token: the instance disallows registration tokens (410); create the runner in GitLab and put its glrt- token under key runner-token, or give an access-token"

	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.RetryAfter, _ = retryAfter(header, c.now())
		e.Message = fmt.Sprintf("GitLab is rate limiting requests (429 Too Many Requests) to %s; the request will be retried later", op.name)

	case status == http.StatusRequestTimeout || status >= 500:
		e.Kind = KindUnavailable
		e.Message = fmt.Sprintf("GitLab at %s is unavailable (%s) to %s; the request will be retried later", c.display, statusText(status), op.name)

	case status >= 300 && status < 400:
		e.Kind = KindUnexpected
		target := ""
		if loc, err := url.Parse(header.Get("Location")); err == nil && loc.Host != "" {
			target = " to " + loc.Scheme + "://" + loc.Host
		}
		e.Message = fmt.Sprintf("GitLab at %s redirected the request (%s)%s; set the GitLab URL to the address GitLab really serves (for example https:// instead of http://)", c.display, statusText(status), target)

	default:
		e.Kind = KindUnexpected
		e.Message = withDetail(fmt.Sprintf("GitLab answered %s to %s", statusText(status), op.name))
	}
	return e
}

func (c *client) forbidden(op operation, b gitlabBody, detail string, e *Error) {
	switch {
	case b.errCode == reasonInsufficientScope:
		e.reason = reasonInsufficientScope
		scopes := strings.Join(strings.Fields(scrub(b.scope, op.secrets)), ", ")
		if scopes == "" {
			scopes = "api"
		}
		e.Message = fmt.Sprintf("the access token lacks the scope to %s (403 insufficient_scope); give it one of these scopes: %s", op.name, scopes)
	case op.cred == credRegistration:
		e.Message = "GitLab rejected the registration token (403 Forbidden): it is not a valid instance, group or project registration token; check the registration token, or create the runner in GitLab and put its glrt- token under key runner-token"
	case op.cred == credRunner:
		e.Message = "GitLab does not accept the runner authentication token (403 Forbidden): the runner was deleted in GitLab, or its token was rotated, revoked or has expired"
	case strings.EqualFold(detail, "Insufficient permissions"):
		e.Message = "the access token's user may not create this runner (403 Forbidden): instance runners need an administrator's token, group runners a group Owner's, project runners a project Maintainer's"
	case strings.EqualFold(detail, "No access granted"):
		e.Message = fmt.Sprintf("the access token's user has no access to %s (403 Forbidden): it must be an administrator, an Owner of the runner's group or a Maintainer of its project", op.subject)
	case detail == "" && op.name == opListRunners:
		e.reason = reasonNotAdmin
		e.Message = "GitLab refused to list all runners (403 Forbidden): the access token's user is not an administrator"
	case detail == "":
		e.Message = fmt.Sprintf("GitLab refused to %s (403 Forbidden)", op.name)
	default:
		e.Message = fmt.Sprintf("GitLab refused to %s (403 Forbidden): %s", op.name, detail)
	}
}

// contextError reports a cancelled or timed-out call. parent is the caller's
// context; a deadline that only our own timeout hit is reported with it.
func (c *client) contextError(parent context.Context, op operation) *Error {
	e := &Error{Kind: KindUnavailable, Op: op.name}
	switch {
	case errors.Is(parent.Err(), context.Canceled):
		e.Message = fmt.Sprintf("the request to %s was cancelled", op.name)
		e.cause = context.Canceled
	case parent.Err() != nil:
		e.Message = fmt.Sprintf("GitLab at %s did not answer the request to %s before the caller's deadline", c.display, op.name)
		e.cause = context.DeadlineExceeded
	default:
		e.Message = fmt.Sprintf("GitLab at %s did not answer the request to %s within %s; check that GitLab is up and reachable from the operator", c.display, op.name, c.timeout)
		e.cause = context.DeadlineExceeded
	}
	return e
}

// transportError classifies an error that happened before any HTTP answer.
func (c *client) transportError(op operation, err error) *Error {
	e := &Error{Kind: KindUnavailable, Op: op.name, cause: sanitizeCause(err, op.secrets)}
	host := c.root.Hostname()

	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		dnsErr           *net.DNSError
		netErr           net.Error
	)
	switch {
	case errors.As(err, &unknownAuthority):
		e.Kind = KindTLS
		e.Message = fmt.Sprintf("cannot verify GitLab's TLS certificate at %s: certificate signed by unknown authority: set spec.ca to a Secret with the GitLab CA bundle", c.display)
	case errors.As(err, &hostname):
		e.Kind = KindTLS
		e.Message = fmt.Sprintf("GitLab's TLS certificate is not valid for %s (hostname mismatch): use a host name the certificate lists in the GitLab URL, or reissue the certificate for this name", host)
	case errors.As(err, &invalid):
		e.Kind = KindTLS
		if invalid.Reason == x509.Expired {
			e.Message = fmt.Sprintf("GitLab's TLS certificate at %s has expired or is not yet valid: renew the certificate, or check the clock of the operator's node", c.display)
		} else {
			e.Message = fmt.Sprintf("GitLab's TLS certificate at %s is not valid for a server (x509 certificate invalid): fix the certificate or the CA bundle in spec.ca", c.display)
		}
	case isTLSError(err):
		e.Kind = KindTLS
		if msg := err.Error(); strings.Contains(msg, "does not look like a TLS handshake") || strings.Contains(msg, "HTTP response to HTTPS client") {
			e.Message = fmt.Sprintf("GitLab at %s did not answer with TLS: use http:// if GitLab serves plain HTTP on this port, or the HTTPS port", c.display)
		} else {
			e.Message = fmt.Sprintf("the TLS handshake with GitLab at %s failed (%s): check spec.ca and that the URL points at GitLab's HTTPS endpoint", c.display, tlsReason(err))
		}
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			e.Message = fmt.Sprintf("cannot resolve GitLab's host name %q: check the GitLab URL and the cluster DNS", host)
		} else {
			e.Message = fmt.Sprintf("the DNS lookup of GitLab's host name %q failed: check the cluster DNS; the request will be retried later", host)
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Message = fmt.Sprintf("cannot connect to GitLab at %s: connection refused; check the URL and port and that GitLab is running", c.display)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		e.Message = fmt.Sprintf("the connection to GitLab at %s closed before an answer to %s arrived", c.display, op.name)
		if op.retry == retryNever {
			e.Message += "; GitLab may have completed the request, so look it up before repeating it"
		}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.Message = fmt.Sprintf("no network route to GitLab at %s: check network policies, proxies and the URL", c.display)
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Message = fmt.Sprintf("GitLab at %s did not answer the request to %s in time; check that GitLab is up and reachable from the operator", c.display, op.name)
	default:
		e.Message = fmt.Sprintf("cannot reach GitLab at %s to %s: check the URL, proxy settings and network policies", c.display, op.name)
	}
	return e
}

var tlsReasonRE = regexp.MustCompile(`(?:tls|x509): [^:]+`)

// tlsReason extracts the stable "tls: ..." phrase of a handshake error.
func tlsReason(err error) string {
	if m := tlsReasonRE.FindString(err.Error()); m != "" {
		return m
	}
	return "handshake error"
}

// sanitizeCause copies a transport error so that its text holds no secret:
// *url.Error's URL is reduced to scheme, host and path.
func sanitizeCause(err error, secrets []string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		clean := &url.Error{Op: ue.Op, URL: redactURLString(ue.URL), Err: ue.Err}
		if scrub(clean.Error(), secrets) == clean.Error() {
			return clean
		}
		return &scrubbedError{msg: scrub(clean.Error(), secrets), err: ue.Err}
	}
	if scrub(err.Error(), secrets) == err.Error() {
		return err
	}
	return &scrubbedError{msg: scrub(err.Error(), secrets), err: errors.Unwrap(err)}
}

func redactURLString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<url>"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// scrubbedError carries redacted text but still unwraps to the original
// inner error for errors.Is/As (e.g. context.DeadlineExceeded).
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// classify turns whatever client-go returned into an *Error.
func (c *client) classify(parent, callCtx context.Context, op operation, resp *gitlab.Response, err error, st *callState) *Error {
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) {
		var header http.Header
		body := er.Body
		switch {
		case er.Response != nil:
			header = er.Response.Header
		case resp != nil && resp.Response != nil:
			header = resp.Header
		}
		if er.StatusCode == http.StatusNotFound {
			body = st.notFound()
		}
		return c.httpError(op, er.StatusCode, header, body)
	}
	if parent.Err() != nil || callCtx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return c.contextError(parent, op)
	}
	if resp != nil && resp.Response != nil && resp.StatusCode < 300 {
		// The status was fine but the body was not the JSON we expected:
		// typically an SSO or proxy login page answering 200.
		return &Error{
			Kind: KindUnexpected, Op: op.name, StatusCode: resp.StatusCode,
			Message: fmt.Sprintf("GitLab at %s answered the request to %s with a body that is not GitLab's JSON; check that the URL points at GitLab's API and not at a login page or proxy", c.display, op.name),
			cause:   sanitizeCause(err, op.secrets),
		}
	}
	return c.transportError(op, err)
}
