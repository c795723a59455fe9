//go:build tools

// Package tools pins opm, used to render and validate the file-based catalog.
package tools

import _ "github.com/operator-framework/operator-registry/cmd/opm"
