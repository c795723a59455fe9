//go:build !unix

package reliability_test

import "testing"

// holdPort is a no-op where raw sockets are not available: a stopped
// server's port may then, rarely, be taken before it restarts.
func holdPort(*testing.T, string) (release func()) { return func() {} }
