//go:build tools

// Package tools pins the operator-sdk CLI in its own module: its Kubernetes
// 0.33 dependencies must not be lifted to the operator's release.
package tools

import _ "github.com/operator-framework/operator-sdk/cmd/operator-sdk"
