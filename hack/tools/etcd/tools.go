//go:build tools

// Package tools pins etcd for the envtest control plane; package main of
// go.etcd.io/etcd/server/v3 is the etcd server itself.
package tools

import _ "go.etcd.io/etcd/server/v3"
