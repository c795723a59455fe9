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
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds one Client call, retries included, when
// Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is sent when Config.UserAgent is empty.
const DefaultUserAgent = "gitlab-operator"

// Config says how to reach one GitLab.
type Config struct {
	// URL is GitLab's root URL, e.g. https://gitlab.example.com or
	// https://example.com/gitlab for a relative URL root. A trailing slash
	// and a trailing /api/v4 are accepted and ignored.
	URL string
	// AccessToken is a personal, group, project or administrator access
	// token. It is needed by CreateRunner, DeleteByID, ResetTokenByID,
	// GetRunner, UpdateRunner, FindRunners and Version, and may be empty for
	// clients that only use runner-token calls.
	AccessToken string
	// CABundle is PEM; its certificates are trusted in addition to the
	// system roots.
	CABundle []byte
	// InsecureSkipVerify disables TLS certificate verification. Only set it
	// when a spec field explicitly asks; NewClient logs a warning through the
	// handler set with SetWarningHandler.
	InsecureSkipVerify bool
	// Timeout bounds each call, retries and waits included; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent with every request; empty means DefaultUserAgent.
	UserAgent string
	// Retry tunes in-client retries; the zero value gives the defaults.
	Retry RetryPolicy
}

// RetryPolicy tunes the retries a Client does on its own. Only idempotent
// calls are retried (GET, PUT, DELETE and POST /runners/verify): creating,
// registering and token rotation are never retried, for any failure.
type RetryPolicy struct {
	// MaxRetries is the number of retries after the first attempt; 0 means
	// the default of 2, a negative value disables retries.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential, jittered wait between
	// attempts after 5xx or network errors (defaults 250ms and 2s).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest 429 Retry-After the client waits out
	// itself (default 10s). A longer one, or one that would not fit before
	// the call's deadline, ends the call with KindRateLimited and RetryAfter
	// so that the controller requeues instead of holding a worker.
	MaxRetryAfter time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries == 0 {
		p.MaxRetries = 2
	}
	if p.MaxRetries < 0 {
		p.MaxRetries = 0
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 250 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 2 * time.Second
	}
	if p.MaxBackoff < p.MinBackoff {
		p.MaxBackoff = p.MinBackoff
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 10 * time.Second
	}
	return p
}

// warningHandler receives security-relevant warnings; see SetWarningHandler.
var warningHandler atomic.Pointer[func(msg string, keysAndValues ...any)]

// SetWarningHandler routes the package's warnings (today: a client created
// with InsecureSkipVerify) to h, typically a logr logger's Info method:
//
//	gitlab.SetWarningHandler(ctrl.Log.WithName("gitlab").Info)
//
// The default logs through log/slog at warning level. A nil h restores it.
func SetWarningHandler(h func(msg string, keysAndValues ...any)) {
	if h == nil {
		warningHandler.Store(nil)
		return
	}
	warningHandler.Store(&h)
}

func warn(msg string, keysAndValues ...any) {
	if h := warningHandler.Load(); h != nil {
		(*h)(msg, keysAndValues...)
		return
	}
	slog.Warn(msg, keysAndValues...)
}

func invalidConfig(format string, args ...any) *Error {
	return &Error{Kind: KindInvalidConfig, Op: "configure client", Message: fmt.Sprintf(format, args...)}
}

// normalizeURL validates the configured URL and returns GitLab's root URL
// with exactly one trailing slash. Error messages never echo userinfo.
func normalizeURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, invalidConfig("the GitLab URL is empty; set it to GitLab's root URL, e.g. https://gitlab.example.com")
	}
	if !strings.Contains(raw, "://") {
		return nil, invalidConfig("the GitLab URL has no scheme; write it as https://<host>[:port][/path]")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalidConfig("the GitLab URL is not a valid URL; write it as https://<host>[:port][/path]")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, invalidConfig("the GitLab URL has the unsupported scheme %q; use https:// (or http://)", u.Scheme)
	case u.User != nil:
		return nil, invalidConfig("the GitLab URL must not contain credentials; put tokens in the Secret instead")
	case u.Host == "" || u.Hostname() == "":
		return nil, invalidConfig("the GitLab URL has no host; write it as https://<host>[:port][/path]")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, invalidConfig("the GitLab URL must not contain a query or fragment; use GitLab's root URL")
	case u.Opaque != "":
		return nil, invalidConfig("the GitLab URL is not a valid URL; write it as https://<host>[:port][/path]")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return nil, invalidConfig("the GitLab URL has an invalid port %q", port)
		}
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api/v4")
	p = strings.TrimRight(p, "/")
	u.Path = p + "/"
	u.RawPath = ""
	return u, nil
}

// displayURL is the root URL for messages: scheme, host and path only.
func displayURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/")
}

// newTransport clones http.DefaultTransport's behaviour (proxy from the
// environment, timeouts, HTTP/2) and applies the TLS settings.
func newTransport(cfg Config, display string) (*http.Transport, error) {
	var tr *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	} else {
		// Someone replaced DefaultTransport with a wrapper; rebuild the
		// standard settings.
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	tr.Proxy = http.ProxyFromEnvironment
	// Many reconcilers talk to the same GitLab at once; keep more than the
	// default two idle connections so they are reused instead of redialled.
	tr.MaxIdleConnsPerHost = 32

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.CABundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(cfg.CABundle) {
			return nil, invalidConfig("the CA bundle for %s contains no PEM certificate; put the PEM-encoded CA certificate(s) in the CA Secret", display)
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.InsecureSkipVerify {
		tlsCfg.InsecureSkipVerify = true // #nosec G402 -- only when the spec explicitly asks; warned about below.
		warn("TLS certificate verification is DISABLED for this GitLab; anyone on the network path can impersonate it and read runner and access tokens",
			"url", display)
	}
	tr.TLSClientConfig = tlsCfg
	return tr, nil
}
