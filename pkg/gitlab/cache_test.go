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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

func TestCache(t *testing.T) {
	SetWarningHandler(func(string, ...any) {})
	defer SetWarningHandler(nil)
	f := newFixture(t)
	var built atomic.Int32
	cache := &Cache{MaxEntries: 3, New: func(cfg Config) (Client, error) {
		built.Add(1)
		return NewClient(cfg)
	}}
	base := Config{URL: f.srv.URL(), AccessToken: adminPAT, Retry: fastRetry()}

	// Concurrent reconcilers asking for the same GitLab share one client.
	var wg sync.WaitGroup
	clients := make([]Client, 50)
	for i := range clients {
		wg.Go(func() {
			c, err := cache.Get(base)
			if err != nil {
				t.Error(err)
			}
			clients[i] = c
		})
	}
	wg.Wait()
	for _, c := range clients {
		if c != clients[0] {
			t.Fatal("different clients for one Config")
		}
	}
	if built.Load() != 1 || cache.Len() != 1 {
		t.Fatalf("built %d clients, cached %d", built.Load(), cache.Len())
	}

	// Any change of URL, token, CA or insecure flag gives a fresh client.
	changes := []func(*Config){
		func(c *Config) { c.AccessToken = ownerPAT },
		func(c *Config) { c.URL += "/" },
		func(c *Config) { c.CABundle = f.srv.CAPEM(); c.InsecureSkipVerify = true },
		func(c *Config) { c.Timeout = time.Second },
	}
	for i, change := range changes {
		cfg := base
		change(&cfg)
		c, err := cache.Get(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c == clients[0] {
			t.Fatalf("change %d returned the old client", i)
		}
	}
	if cache.Len() != 3 {
		t.Fatalf("LRU bound not kept: %d", cache.Len())
	}
	// The first client was the least recently used and was evicted: asking
	// for it again builds a new one.
	before := built.Load()
	if _, err := cache.Get(base); err != nil {
		t.Fatal(err)
	}
	if built.Load() != before+1 {
		t.Fatal("evicted entry was not rebuilt")
	}

	// Build errors are returned and not cached.
	if _, err := cache.Get(Config{URL: "ftp://x"}); KindOf(err) != KindInvalidConfig {
		t.Fatalf("err %v", err)
	}
	cache.Purge()
	if cache.Len() != 0 {
		t.Fatal("purge")
	}

	// The zero Cache works and builds real clients.
	var zero Cache
	c, err := zero.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindRunners(context.Background(), FindOptions{}); err != nil {
		t.Fatal(err)
	}
	if zero.Len() != 1 {
		t.Fatal("zero cache")
	}
	// The key is a hash: the cache holds no token outside the clients.
	if s := fmt.Sprintf("%v", zero.entries); strings.Contains(s, adminPAT) {
		t.Fatal("token in cache keys")
	}
}

func TestFingerprintCoversEveryField(t *testing.T) {
	base := Config{URL: "https://g", AccessToken: "t", CABundle: []byte("ca"), Timeout: time.Second, UserAgent: "ua", Retry: fastRetry()}
	seen := map[[32]byte]string{fingerprint(base): "base"}
	for name, change := range map[string]func(*Config){
		"url": func(c *Config) { c.URL = "https://h" }, "token": func(c *Config) { c.AccessToken = "u" },
		"ca": func(c *Config) { c.CABundle = []byte("cb") }, "insecure": func(c *Config) { c.InsecureSkipVerify = true },
		"timeout": func(c *Config) { c.Timeout = 2 * time.Second }, "ua": func(c *Config) { c.UserAgent = "x" },
		"retries": func(c *Config) { c.Retry.MaxRetries = 5 }, "backoff": func(c *Config) { c.Retry.MaxBackoff = time.Hour },
		// Moving a byte from one field to the next must not collide.
		"split": func(c *Config) { c.URL, c.AccessToken = "https://gt", "" },
	} {
		cfg := base
		change(&cfg)
		fp := fingerprint(cfg)
		if other, dup := seen[fp]; dup {
			t.Fatalf("%s collides with %s", name, other)
		}
		seen[fp] = name
	}
}

func TestCredentialsNeverPrintToken(t *testing.T) {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	c := Credentials{ID: 9, Token: "glrt-t1_PrintMeNotPrintMe", ExpiresAt: &exp}
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x", c, c, c, c, c, c), fmt.Sprintf("%v %+v %#v", &c, &c, &c),
		fmt.Sprintf("%v", []Credentials{c}), fmt.Sprintf("%+v", struct{ C *Credentials }{&c}), fmt.Sprint(c.MarshalLog()),
	} {
		if strings.Contains(s, "PrintMeNot") {
			t.Fatalf("token printed: %s", s)
		}
		if !strings.Contains(s, "9") {
			t.Fatalf("id missing: %s", s)
		}
	}
	if s := fmt.Sprintf("%#v", c); !strings.HasPrefix(s, "gitlab.Credentials{ID:9 Token:[REDACTED] ExpiresAt:2027-01-01T00:00:00Z}") {
		t.Fatalf("GoString %s", s)
	}
	if s := (Credentials{}).String(); s != "{ID:0 Token:<empty> ExpiresAt:never}" {
		t.Fatalf("empty %s", s)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("registered", "credentials", c)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || strings.Contains(buf.String(), "PrintMeNot") || !strings.Contains(buf.String(), `"token":"[REDACTED]"`) {
		t.Fatalf("slog output %s (%v)", buf.String(), err)
	}
	if m := (Credentials{ID: 1}).MarshalLog().(map[string]any); m["token"] != "" {
		t.Fatalf("empty token marshals as %v", m["token"])
	}
}

func TestTokenHelpers(t *testing.T) {
	for tok, want := range map[string][2]bool{
		"glrt-t1_abc":       {true, false},
		"glrt-abc":          {true, false},
		"glrtr-abc":         {false, false},
		"GR1348941abc":      {false, true},
		"glpat-abc":         {false, false},
		"":                  {false, false},
		"6337ff461c94fd3fa": {false, false},
	} {
		if IsRunnerAuthToken(tok) != want[0] || IsRegistrationToken(tok) != want[1] {
			t.Fatalf("%q: got %v %v", tok, IsRunnerAuthToken(tok), IsRegistrationToken(tok))
		}
	}
}

func TestWarningDefaultHandler(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	SetWarningHandler(nil)
	if _, err := NewClient(Config{URL: "https://gitlab.example.com", InsecureSkipVerify: true, AccessToken: adminPAT}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "level=WARN") || strings.Contains(buf.String(), adminPAT) {
		t.Fatalf("default warning %q", buf.String())
	}
}

// TestConcurrentClients exercises one client from many goroutines against
// the fake (run with -race): creates, verifies and deletes do not interfere.
func TestConcurrentClients(t *testing.T) {
	f := newFixture(t, gitlabtest.WithoutCallRecording())
	var cache Cache
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			c, err := cache.Get(Config{URL: f.srv.URL(), AccessToken: adminPAT, Retry: fastRetry()})
			if err != nil {
				errs <- err
				return
			}
			creds, err := c.CreateRunner(ctx, CreateOptions{RunnerType: InstanceType, RunnerOptions: RunnerOptions{Description: fmt.Sprint("r", i)}})
			if err != nil {
				errs <- err
				return
			}
			if _, err := c.Verify(ctx, creds.Token, fmt.Sprintf("s_%012d", i)); err != nil {
				errs <- err
				return
			}
			if i%2 == 0 {
				errs <- c.DeleteByToken(ctx, creds.Token)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.srv.Runners()); n != 32 {
		t.Fatalf("%d runners left, want 32", n)
	}
	if n := f.srv.CallCount(gitlabtest.RouteCreateUserRunner); n != 64 {
		t.Fatalf("creates %d", n)
	}
}
