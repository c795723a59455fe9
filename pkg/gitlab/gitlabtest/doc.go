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

// Package gitlabtest is an in-process fake of the GitLab REST API used by the
// operator's tests and by the local demo. It is a test double, not GitLab: it
// implements only the runner-lifecycle endpoints the operator and gitlab-runner
// use, with the status codes, bodies, headers and token formats documented in
// shared/reference/gitlab-api.md (sections 1, 2 and 6), and nothing else.
//
// What it models:
//
//   - runner registration with legacy registration tokens (POST /api/v4/runners,
//     with the 403/410 decision logic), runner creation with access tokens
//     (POST /api/v4/user/runners, glrt- tokens), verify, delete by token, by id
//     and per runner manager, token rotation and expiry, runner details, update
//     and listing with offset pagination, /version, /metadata, the /-/ health
//     endpoints and POST /api/v4/jobs/request;
//   - access tokens with scopes (api, read_api, read_user, create_runner,
//     manage_runner), administrators, group and project memberships;
//   - request parameters read from the query string, JSON bodies and urlencoded
//     or multipart forms, for every method including DELETE;
//   - fault injection per route (forced status and body, latency, dropped
//     connections, "performed but response lost", Rack::Attack style 429s,
//     fail-the-next-N), plus whole-server switches (Stop/Start for connection
//     refused, drop every connection, readiness and liveness);
//   - a TLS variant with its own private CA (NewTLSServer, CAPEM).
//
// What it does not model: jobs, pipelines, projects beyond their ids, GraphQL,
// OAuth, admin mode, and most of GitLab's authorization rules beyond the ones
// listed above. Behaviour that GitLab documents only partly (see section 7 of
// the reference) is the reference's best reading, so a test that passes here
// still needs the e2e suite against a real GitLab to be trusted completely.
//
// Every method is safe for concurrent use; lookups are map based so that
// benchmarks with hundreds of runners stay cheap.
package gitlabtest
