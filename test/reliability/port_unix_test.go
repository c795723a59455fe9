//go:build unix

package reliability_test

import (
	"net"
	"net/url"
	"strconv"
	"syscall"
	"testing"
)

// holdPort keeps the TCP port of a stopped server (given by URL or
// host:port) bound, without listening, until release is called. Clients
// still get "connection refused", but nothing else in the process (a new
// listener, the local end of an outgoing connection) can take the port in
// the meantime, so the server can come back on the same address. Without
// it a busy test process reuses a freed port now and then, and the restart
// fails with "address already in use".
func holdPort(t *testing.T, addr string) (release func()) {
	t.Helper()
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("holdPort %q: %v", addr, err)
	}
	port, _ := strconv.Atoi(portStr)
	ip := net.ParseIP(host).To4()
	if ip == nil {
		t.Fatalf("holdPort %q: only IPv4 addresses are supported", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("holdPort: %v", err)
	}
	// The stopped server's connections may linger in TIME_WAIT.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		_ = syscall.Close(fd)
		t.Fatalf("holdPort: %v", err)
	}
	sa := &syscall.SockaddrInet4{Port: port}
	copy(sa.Addr[:], ip)
	if err := syscall.Bind(fd, sa); err != nil {
		_ = syscall.Close(fd)
		t.Fatalf("holdPort %s: %v", addr, err)
	}
	released := false
	return func() {
		if !released {
			released = true
			_ = syscall.Close(fd)
		}
	}
}
