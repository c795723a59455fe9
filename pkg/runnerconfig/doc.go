// Package runnerconfig models gitlab-runner's config.toml for a
// Kubernetes-executor runner, renders it with a TOML encoder, and merges a
// user-supplied template into it.
//
// Rendering never uses text templates: names, descriptions, environment
// values and labels are user input, and only an encoder guarantees that a
// quote, newline or "[[runners]]" in them stays inside its string.
//
// The structs cover the keys the operator sets (gitlab-api.md section 5.1;
// struct tags of gitlab-runner's common/config.go and
// cache/cacheconfig/cacheconfig.go). Everything else a user may want goes
// through a template (see Merge), which keeps keys this package does not
// model.
//
// The package is pure: no Kubernetes imports, no I/O.
package runnerconfig
