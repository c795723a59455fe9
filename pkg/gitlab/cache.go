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

package gitlab

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// DefaultCacheSize is the number of clients a zero Cache keeps.
const DefaultCacheSize = 64

// Cache shares Clients between reconciles so that connections (and TLS
// sessions) to a GitLab are reused. The zero value is ready to use and safe
// for concurrent use by many reconcilers.
//
// Entries are keyed by a SHA-256 fingerprint of everything that shapes a
// client: URL, access token, CA bundle, InsecureSkipVerify, timeout, user
// agent and retry policy. The key is a hash, so no secret is stored as a map
// key or printed with the cache. When a token, CA or URL changes, the new
// Config has a new key and gets a fresh client at once: a stale client is
// never returned for a changed Config. The old client is dropped when it
// becomes the least recently used entry beyond MaxEntries; its idle
// connections are closed then (in-flight calls finish normally).
type Cache struct {
	// MaxEntries bounds the number of cached clients; 0 means
	// DefaultCacheSize. Each client holds its own connection pool, so keep
	// it above the number of distinct credentials used concurrently.
	MaxEntries int
	// New builds a client; nil means NewClient. Tests can count or fake
	// client construction with it.
	New func(Config) (Client, error)

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*cacheEntry
	tick    uint64
}

type cacheEntry struct {
	client   Client
	lastUsed uint64
}

// Get returns the cached client for cfg, building it on first use. Errors
// from building (KindInvalidConfig) are returned and not cached.
func (c *Cache) Get(cfg Config) (Client, error) {
	key := fingerprint(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick++
	if e, ok := c.entries[key]; ok {
		e.lastUsed = c.tick
		return e.client, nil
	}
	build := c.New
	if build == nil {
		build = NewClient
	}
	cl, err := build(cfg)
	if err != nil {
		return nil, err
	}
	if c.entries == nil {
		c.entries = map[[sha256.Size]byte]*cacheEntry{}
	}
	c.entries[key] = &cacheEntry{client: cl, lastUsed: c.tick}
	c.evictLocked()
	return cl, nil
}

// Len returns the number of cached clients.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Purge drops every cached client and closes their idle connections.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		closeIdle(e.client)
		delete(c.entries, k)
	}
}

func (c *Cache) evictLocked() {
	limit := c.MaxEntries
	if limit <= 0 {
		limit = DefaultCacheSize
	}
	for len(c.entries) > limit {
		var oldestKey [sha256.Size]byte
		var oldest *cacheEntry
		for k, e := range c.entries {
			if oldest == nil || e.lastUsed < oldest.lastUsed {
				oldestKey, oldest = k, e
			}
		}
		closeIdle(oldest.client)
		delete(c.entries, oldestKey)
	}
}

func closeIdle(cl Client) {
	if ci, ok := cl.(interface{ closeIdleConnections() }); ok {
		ci.closeIdleConnections()
	}
}

// fingerprint hashes every field of cfg, each length-prefixed so that
// different field splits cannot collide.
func fingerprint(cfg Config) [sha256.Size]byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	num := func(v int64) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	field([]byte(cfg.URL))
	field([]byte(cfg.AccessToken))
	field(cfg.CABundle)
	if cfg.InsecureSkipVerify {
		num(1)
	} else {
		num(0)
	}
	num(int64(cfg.Timeout))
	field([]byte(cfg.UserAgent))
	num(int64(cfg.Retry.MaxRetries))
	for _, d := range []time.Duration{cfg.Retry.MinBackoff, cfg.Retry.MaxBackoff, cfg.Retry.MaxRetryAfter} {
		num(int64(d))
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}
