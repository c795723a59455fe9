// Package runnerlog turns gitlab-runner pod log output into registration
// states the operator can act on.
//
// The operator reads the runner pod's log through the pods/log subresource in
// bounded chunks (at most [MaxChunkSize] bytes since the previous read), and
// folds each chunk into a [Summary] with [Summarize]. [ParseLine] exposes the
// per-line classification on its own.
//
// All four gitlab-runner log formats are understood: the default "runner"
// format (with or without ANSI colours), logrus "text" (logfmt) and "json".
// Lines may carry the kubelet timestamp prefix that pods/log adds with
// timestamps=true.
//
// Nothing this package returns in a message is copied from the log line: every
// Message and Describe text is assembled from constants in this package, HTTP
// status texts and fixed error phrases. That is the guarantee that no runner
// token, registration token, short token (the runner= field), URL, correlation
// id or timestamp ever reaches a Kubernetes condition through this package.
//
// The package is pure: no Kubernetes imports, no I/O, no clock.
package runnerlog
