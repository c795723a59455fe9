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

// Package gitlab is the GitLab runner-registration client shared by the Runner
// and GitLab controllers.
//
// It wraps gitlab.com/gitlab-org/api/client-go/v2 with the behaviour the
// controllers need and the library does not give by default:
//
//   - Retries only where they are safe. Reads, deletes, updates and
//     POST /runners/verify are retried a few times with a short, jittered
//     backoff; calls that create a runner or rotate a token are never retried
//     inside the client, because a retry after a lost response would create a
//     second runner or invalidate the token the first attempt returned. See
//     RetryPolicy.
//   - Bounded waits. Every call has a timeout (Config.Timeout) and honours ctx;
//     a 429 is waited out only when Retry-After fits under
//     RetryPolicy.MaxRetryAfter and the deadline, otherwise the caller gets a
//     KindRateLimited *Error with RetryAfter and requeues.
//   - Typed, actionable, redacted errors. Every failure is an *Error with a
//     Kind the controllers map to conditions, a stable message written for
//     users (no request ids, addresses, ports or timestamps) and no secret in
//     any string: tokens are sent in headers or bodies, never in URLs, and
//     error text is scrubbed as a second line of defence.
//   - TLS and proxies like the rest of the operator: the transport clones
//     http.DefaultTransport (so HTTPS_PROXY/NO_PROXY apply), appends a custom
//     CA bundle to the system roots, and skips verification only when the
//     Config asks, with a loud warning.
//
// Client is the interface the controllers depend on; NewClient builds the
// real one and Cache shares clients between concurrent reconciles. Tests use
// the fake GitLab in package gitlabtest.
package gitlab
