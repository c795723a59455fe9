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
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryMode says whether an operation may be repeated after a failure whose
// effect on the server is unknown.
type retryMode int

const (
	// retryNever: creates, registrations and token rotations. Repeating them
	// after a lost response duplicates a runner or burns the token the first
	// attempt got.
	retryNever retryMode = iota
	// retrySafe: reads, deletes, updates and verify.
	retrySafe
)

type retryModeKey struct{}

func withRetryMode(ctx context.Context, m retryMode) context.Context {
	return context.WithValue(ctx, retryModeKey{}, m)
}

func retryModeFrom(ctx context.Context) retryMode {
	m, _ := ctx.Value(retryModeKey{}).(retryMode)
	return m
}

// retryPolicy implements client-go's CheckRetry and Backoff hooks. It
// replaces client-go's defaults, which retry 429 for every method, retry
// POSTs on 5xx and ignore Retry-After (reference section 3.3).
type retryPolicy struct {
	RetryPolicy
	now func() time.Time
}

// check decides whether go-retryablehttp tries again. A false with a nil
// error hands the last response or transport error back to client-go
// unchanged.
func (p retryPolicy) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if retryModeFrom(ctx) != retrySafe {
		return false, nil
	}
	if err != nil {
		return transientTransportError(err), nil
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait, _ := retryAfter(resp.Header, p.now())
		if wait > p.MaxRetryAfter {
			return false, nil
		}
		if dl, ok := ctx.Deadline(); ok && p.now().Add(wait).After(dl) {
			return false, nil
		}
		return true, nil
	case resp.StatusCode == 0,
		resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// backoff returns the server's Retry-After for 429s and an exponential,
// jittered wait otherwise. attempt counts from 0.
func (p retryPolicy) backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if wait, ok := retryAfter(resp.Header, p.now()); ok {
			return wait
		}
	}
	d := p.MinBackoff
	for i := 0; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	// Half fixed, half random, so that many reconcilers that failed together
	// do not retry together.
	half := d / 2
	return half + rand.N(half+1)
}

// transientTransportError reports whether a transport error may go away on
// its own. Certificate problems and unknown hosts do not.
func transientTransportError(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return false
	}
	return !isTLSError(err)
}

func isTLSError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		recordHeader     tls.RecordHeaderError
		alert            tls.AlertError
	)
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verification), errors.As(err, &recordHeader), errors.As(err, &alert):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: ") || strings.Contains(msg, "HTTP response to HTTPS client")
}

// retryAfter reads how long the server wants us to wait: Retry-After
// (seconds or an HTTP date), else RateLimit-Reset (Unix time), else
// RateLimit-ResetTime (HTTP date). GitLab sends all three on throttled
// requests; client-go looks only at RateLimit-Reset.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(0, time.Duration(secs)*time.Second), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	if v := strings.TrimSpace(h.Get("RateLimit-Reset")); v != "" {
		if epoch, err := strconv.ParseInt(v, 10, 64); err == nil && epoch > 0 {
			return max(0, time.Unix(epoch, 0).Sub(now)), true
		}
	}
	if v := strings.TrimSpace(h.Get("RateLimit-ResetTime")); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	return 0, false
}

// noLimiter disables client-go's own rate limiter, which it would otherwise
// configure from the first RateLimit-Limit header and then use to block every
// later call of the client; throttling is the controller's business (it
// requeues on KindRateLimited).
type noLimiter struct{}

func (noLimiter) Wait(ctx context.Context) error { return ctx.Err() }
