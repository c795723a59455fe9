// Package tests holds the GitLab operator's own scorecard tests. Each test
// returns a scorecard v1alpha3 TestResult; the same functions run in the
// scorecard test image (cmd/gitlab-operator-scorecard, started by
// `operator-sdk scorecard` with the bundle under /bundle) and locally
// against the test control plane (cmd/scorecard-local, `make
// scorecard-local`).
//
// The tests:
//
//   - crd-descriptions: every field of every CRD in the bundle, at any
//     depth, has a description (the console and `kubectl explain` show it);
//   - conditions-contract: every owned CRD exposes status.conditions as a
//     list of metav1.Condition keyed by type (listType map), and the CSV
//     has a conditions status descriptor for it;
//   - runner-lifecycle: against a cluster running the operator and a real
//     (or fake) GitLab, a Runner with an access-token Secret registers
//     (status.registration succeeded, the runner exists in GitLab) and,
//     once deleted, disappears from the cluster and from GitLab.
package tests
