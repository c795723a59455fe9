//go:build tools

// Package tools pins kube-apiserver for the envtest control plane. It is a
// separate module so Kubernetes' own dependency graph never enters the
// operator's go.mod.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
