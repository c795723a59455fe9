// Package reliability holds the operator's reliability and security suites
// (make test-reliability): the GitLab fault matrix, crash consistency at
// every registration and de-registration step, a kube-apiserver restart,
// leader hand-over, the hostile-input catalogue (docs/troubleshooting.md
// is its user-facing twin), least privilege, and a secrets-hygiene scan
// after each of them.
//
// Every suite runs the real manager (pkg/operator) against one envtest
// control plane and its own gitlabtest fake, each manager scoped to its
// test's namespaces, so tests with different options (crash points, clocks,
// timeouts) run side by side without seeing each other's Runners.
package reliability
