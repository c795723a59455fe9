/*
Copyright 2026 The GitLab Operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package gitlabtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Option configures a Server at construction.
type Option func(*options)

type options struct {
	basePath    string
	certHosts   []string
	recordCalls bool
	now         func() time.Time
}

// WithBasePath serves GitLab under a relative URL root, like an Omnibus
// install with external_url https://host/gitlab. The path is added to URL(),
// and requests outside it get the unknown-route 404.
func WithBasePath(p string) Option {
	return func(o *options) {
		p = strings.TrimRight(p, "/")
		if p != "" && !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		o.basePath = p
	}
}

// WithCertificateHosts sets the DNS names and IP addresses in the TLS server
// certificate (default: 127.0.0.1, ::1 and localhost). Give a name that is not
// the listening address to provoke a hostname-mismatch error in clients.
func WithCertificateHosts(hosts ...string) Option {
	return func(o *options) { o.certHosts = append([]string(nil), hosts...) }
}

// WithoutCallRecording stops the server from keeping every request in
// Calls(). Per-route counts (CallCount) are still kept. Use it in benchmarks,
// where the call log would only grow the heap.
func WithoutCallRecording() Option {
	return func(o *options) { o.recordCalls = false }
}

// WithClock replaces time.Now, for token-expiry tests. SetClock changes it
// later.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Server is the fake GitLab. Create it with NewServer or NewTLSServer and
// Close it when done (t.Cleanup(s.Close) is the usual pattern).
type Server struct {
	opts options

	// TLS material; nil for a plain server.
	tlsConfig *tls.Config
	caPEM     []byte

	// life guards the listener lifecycle (Stop/Start/Close).
	life   sync.Mutex
	srv    *httptest.Server
	addr   string
	scheme string
	closed bool
	// closing is closed by Stop so that handlers sleeping in an injected
	// latency return. It is an atomic pointer, not guarded by life, because
	// Stop holds life while it waits for those very handlers.
	closing atomic.Pointer[chan struct{}]

	// mu guards everything below: the GitLab state, faults and call log.
	mu sync.Mutex
	st *state
	fl faults
	cl callLog
}

// NewServer starts a plain HTTP fake GitLab on 127.0.0.1 with a random port.
// It panics if it cannot listen, like httptest.NewServer.
func NewServer(opts ...Option) *Server {
	s := newServer(opts)
	s.scheme = "http"
	s.mustStart()
	return s
}

// NewTLSServer starts an HTTPS fake GitLab whose certificate is signed by a
// private CA generated for this server. Clients must trust CAPEM() (or skip
// verification) to talk to it.
func NewTLSServer(opts ...Option) *Server {
	s := newServer(opts)
	s.scheme = "https"
	caPEM, cert, err := newCertificates(s.opts.certHosts)
	if err != nil {
		panic("gitlabtest: generating certificates: " + err.Error())
	}
	s.caPEM = caPEM
	s.tlsConfig = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only, so that dropped connections can use Hijack.
		NextProtos: []string{"http/1.1"},
	}
	s.mustStart()
	return s
}

func newServer(opts []Option) *Server {
	o := options{
		recordCalls: true,
		now:         time.Now,
		certHosts:   []string{"127.0.0.1", "::1", "localhost"},
	}
	for _, fn := range opts {
		fn(&o)
	}
	s := &Server{opts: o}
	s.st = newState(o.now)
	s.cl.counts = map[string]int{}
	return s
}

func (s *Server) mustStart() {
	if err := s.Start(); err != nil {
		panic("gitlabtest: " + err.Error())
	}
}

// Start (re)starts listening. The first start picks a random port; a restart
// after Stop binds the same address again, so clients configured with URL()
// keep working. It is a no-op if the server is running.
func (s *Server) Start() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return fmt.Errorf("server is closed")
	}
	if s.srv != nil {
		return nil
	}
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	s.addr = l.Addr().String()
	closing := make(chan struct{})
	s.closing.Store(&closing)
	srv := &httptest.Server{
		Listener: l,
		Config: &http.Server{
			Handler:           http.HandlerFunc(s.serveHTTP),
			ReadHeaderTimeout: 10 * time.Second,
			// Clients that reject the certificate make the server log TLS
			// handshake errors; they are expected in tests.
			ErrorLog: log.New(io.Discard, "", 0),
		},
	}
	if s.tlsConfig != nil {
		srv.TLS = s.tlsConfig.Clone()
		srv.StartTLS()
	} else {
		srv.Start()
	}
	s.srv = srv
	return nil
}

// Stop closes the listener and every open connection, so clients get
// "connection refused" until Start is called. Requests that are sleeping in an
// injected latency are aborted.
func (s *Server) Stop() {
	s.life.Lock()
	defer s.life.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.srv == nil {
		return
	}
	close(*s.closing.Load())
	s.srv.CloseClientConnections()
	s.srv.Close()
	s.srv = nil
}

// Close stops the server for good.
func (s *Server) Close() {
	s.life.Lock()
	defer s.life.Unlock()
	s.stopLocked()
	s.closed = true
}

// URL is the GitLab root URL a client is configured with, including the base
// path if any (for example http://127.0.0.1:41234/gitlab). It has no trailing
// slash and stays the same across Stop/Start.
func (s *Server) URL() string {
	s.life.Lock()
	defer s.life.Unlock()
	return s.scheme + "://" + s.addr + s.opts.basePath
}

// CAPEM returns the PEM-encoded certificate of the private CA that signed the
// TLS server's certificate, or nil for a plain server.
func (s *Server) CAPEM() []byte {
	return append([]byte(nil), s.caPEM...)
}

// closingChan returns the channel closed by the next Stop, so that latency
// sleeps can be aborted.
func (s *Server) closingChan() chan struct{} {
	return *s.closing.Load()
}

// newCertificates creates a CA and a server certificate for hosts, signed by
// that CA, both ECDSA P-256 and valid for a day around now.
func newCertificates(hosts []string) (caPEM []byte, cert tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gitlabtest private CA", Organization: []string{"gitlabtest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, cert, err
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "gitlabtest server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leafTmpl.IPAddresses = append(leafTmpl.IPAddresses, ip)
		} else {
			leafTmpl.DNSNames = append(leafTmpl.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	cert = tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, cert, nil
}
