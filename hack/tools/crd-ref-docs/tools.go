//go:build tools

// Package tools pins crd-ref-docs, which renders docs/api-reference.md from
// the API types in api/v1beta1 (see docs/architecture.md).
package tools

import _ "github.com/elastic/crd-ref-docs"
