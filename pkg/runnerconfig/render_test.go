package runnerconfig

import (
	"bytes"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func ptr[T any](v T) *T { return &v }

// fullConfig sets every modelled key, so round trips cover all of them.
func fullConfig() *Config {
	return &Config{
		Concurrent:       10,
		CheckInterval:    3,
		LogLevel:         "info",
		LogFormat:        "json",
		ListenAddress:    ":9252",
		ShutdownTimeout:  30,
		ConnectionMaxAge: "15m",
		SentryDSN:        "https://sentry.example.com/1",
		SessionServer:    &SessionServer{ListenAddress: "0.0.0.0:8093", AdvertiseAddress: "runner-xyz.ci.svc:8093", SessionTimeout: 1800},
		Runners: []Runner{{
			Name:                   "k8s-runner",
			URL:                    "https://gitlab.example.com/",
			ID:                     12345,
			Token:                  "glrt-t2_TESTTOKENTESTTOKEN",
			TokenObtainedAt:        time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC),
			TokenExpiresAt:         time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
			TLSCAFile:              "/etc/gitlab-runner/certs/gitlab.example.com.crt",
			TLSCertFile:            "/etc/gitlab-runner/certs/client.crt",
			TLSKeyFile:             "/etc/gitlab-runner/certs/client.key",
			Executor:               "kubernetes",
			CloneURL:               "https://gitlab.example.com",
			Limit:                  4,
			RequestConcurrency:     2,
			OutputLimit:            8192,
			Environment:            []string{"FOO=bar", "EMPTY="},
			BuildsDir:              "/builds",
			CacheDir:               "/cache",
			Shell:                  "bash",
			UnhealthyRequestsLimit: 5,
			UnhealthyInterval:      "30m",
			FeatureFlags:           map[string]bool{"FF_USE_ADAPTIVE_REQUEST_CONCURRENCY": true, "FF_DISABLE_AUTOMATIC_TOKEN_ROTATION": false},
			Kubernetes: &Kubernetes{
				Host:                           "https://kubernetes.default.svc",
				Namespace:                      "ci-jobs",
				NamespaceOverwriteAllowed:      "ci-.*",
				NamespacePerJob:                ptr(false),
				Image:                          "alpine:3.20",
				HelperImage:                    "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v19.3.0",
				HelperImageFlavor:              "ubi-fips",
				ServiceAccount:                 "ci-job",
				ServiceAccountOverwriteAllowed: "ci-.*",
				PullPolicy:                     StringList{"if-not-present", "always"},
				AllowedPullPolicies:            StringList{"if-not-present"},
				ImagePullSecrets:               []string{"regcred"},
				Privileged:                     ptr(false),
				CPULimit:                       "2", CPURequest: "500m", MemoryLimit: "2Gi", MemoryRequest: "512Mi",
				HelperCPULimit: "500m", HelperCPURequest: "100m", HelperMemoryLimit: "256Mi", HelperMemoryRequest: "64Mi",
				ServiceCPULimit: "1", ServiceCPURequest: "100m", ServiceMemoryLimit: "1Gi", ServiceMemoryRequest: "128Mi",
				PollTimeout:               600,
				PollInterval:              5,
				CleanupGracePeriodSeconds: ptr(int64(0)),
				NodeSelector:              map[string]string{"kubernetes.io/os": "linux"},
				NodeTolerations:           map[string]string{"ci=true": "NoSchedule"},
				PodLabels:                 map[string]string{"app.kubernetes.io/managed-by": "gitlab-operator"},
				PodAnnotations:            map[string]string{"example.com/owner": "team-a"},
				PodSecurityContext: &PodSecurityContext{
					FSGroup: ptr(int64(1000)), RunAsGroup: ptr(int64(1000)), RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000)),
					SupplementalGroups: []int64{2000}, SELinuxType: "spc_t",
				},
				BuildContainerSecurityContext: &ContainerSecurityContext{
					Capabilities: &Capabilities{Add: []string{"NET_BIND_SERVICE"}, Drop: []string{"ALL"}},
					Privileged:   ptr(false), RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(1000)), RunAsNonRoot: ptr(true),
					ReadOnlyRootFilesystem: ptr(false), AllowPrivilegeEscalation: ptr(false), SELinuxType: "container_t", ProcMount: "default",
				},
				HelperContainerSecurityContext:          &ContainerSecurityContext{AllowPrivilegeEscalation: ptr(false)},
				ServiceContainerSecurityContext:         &ContainerSecurityContext{RunAsNonRoot: ptr(true)},
				InitPermissionsContainerSecurityContext: &ContainerSecurityContext{Capabilities: &Capabilities{Drop: []string{"ALL"}}},
			},
			Cache: &Cache{
				Type: "s3", Path: "runner", Shared: true, MaxUploadedArchiveSize: 1 << 30,
				S3: &CacheS3{
					ServerAddress: "minio.ci.svc:9000", BucketName: "runner-cache", BucketLocation: "us-east-1", Insecure: true,
					AuthenticationType: "access-key", ServerSideEncryption: "KMS", ServerSideEncryptionKeyID: "alias/key",
					DualStack: ptr(false), PathStyle: ptr(true), Accelerate: true, RoleARN: "arn:aws:iam::1:role/r", UploadRoleARN: "arn:aws:iam::1:role/u",
				},
				GCS:   &CacheGCS{CredentialsFile: "/secrets/gcs.json", BucketName: "b", UniverseDomain: "googleapis.com"},
				Azure: &CacheAzure{ContainerName: "c", StorageDomain: "blob.core.windows.net"},
			},
		}},
	}
}

// minimalConfig is what the operator renders for a plain Runner.
func minimalConfig() *Config {
	return &Config{
		Concurrent: 1,
		Runners: []Runner{{
			Name:       "example",
			URL:        "https://gitlab.com/",
			ID:         7,
			Token:      "glrt-OPERATORTOKEN",
			Executor:   "kubernetes",
			Kubernetes: &Kubernetes{Namespace: "operators"},
		}},
	}
}

func TestRenderGolden(t *testing.T) {
	cfg := minimalConfig()
	cfg.Runners[0].TokenObtainedAt = time.Date(2026, 8, 22, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	cfg.Runners[0].Kubernetes.Privileged = ptr(false)
	cfg.Runners[0].Kubernetes.PodLabels = map[string]string{"b": "2", "a": "1"}
	cfg.Runners[0].Cache = &Cache{Type: "s3", Shared: true, S3: &CacheS3{BucketName: "cache"}}
	got, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := Header + `concurrent = 1

[[runners]]
  name = "example"
  url = "https://gitlab.com/"
  id = 7
  token = "glrt-OPERATORTOKEN"
  token_obtained_at = 2026-08-22T10:00:00Z
  executor = "kubernetes"
  [runners.kubernetes]
    namespace = "operators"
    privileged = false
    [runners.kubernetes.pod_labels]
      a = "1"
      b = "2"
  [runners.cache]
    Type = "s3"
    Shared = true
    [runners.cache.s3]
      BucketName = "cache"
`
	if string(got) != want {
		t.Errorf("Render:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderOmitsUnset(t *testing.T) {
	got, err := Render(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != Header {
		t.Errorf("empty config rendered as %q", got)
	}
	got, err = Render(&Config{Runners: []Runner{{Kubernetes: &Kubernetes{}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"token_expires_at", "token_obtained_at", "id =", "limit", "privileged", "Shared", "cache"} {
		if bytes.Contains(got, []byte(key)) {
			t.Errorf("unset %q rendered:\n%s", key, got)
		}
	}
}

func TestRenderNil(t *testing.T) {
	if _, err := Render(nil); err == nil {
		t.Error("Render(nil) succeeded")
	}
	if _, err := Merge(nil, nil); err == nil {
		t.Error("Merge(nil) succeeded")
	}
}

func TestRenderInvalidUTF8(t *testing.T) {
	for _, cfg := range []*Config{
		{Runners: []Runner{{Name: "bad\xff"}}},
		{Runners: []Runner{{Kubernetes: &Kubernetes{PodLabels: map[string]string{"k\xc3": "v"}}}}},
		{LogLevel: "\xed\xa0\x80"}, // a UTF-16 surrogate half
	} {
		if _, err := Render(cfg); !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("Render(%+v) error = %v, want ErrInvalidUTF8", cfg, err)
		}
	}
}

// decodeStrict parses rendered output and fails on any key the structs do not
// model: a string that escaped its quotes would show up here.
func decodeStrict(t testing.TB, data []byte) *Config {
	t.Helper()
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		t.Fatalf("decoding rendered output: %v\n%s", err, data)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Fatalf("rendered output has keys the structs do not model: %v\n%s", u, data)
	}
	return &c
}

func TestRenderRoundTrip(t *testing.T) {
	for name, cfg := range map[string]*Config{
		"full":    fullConfig(),
		"minimal": minimalConfig(),
		"empty":   {},
		"two runners": {Concurrent: 2, Runners: []Runner{
			{Name: "a", Token: "glrt-A"}, {Name: "b", Token: "glrt-B", FeatureFlags: map[string]bool{"FF_X": false}},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeStrict(t, out)
			if !reflect.DeepEqual(got, cfg) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v\n%s", got, cfg, out)
			}
			parsed, err := Parse(out)
			if err != nil || !reflect.DeepEqual(parsed, got) {
				t.Errorf("Parse = %+v, %v", parsed, err)
			}
			again, err := Render(parsed)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("re-rendering the parsed config changed the bytes:\n%s\n%s", out, again)
			}
		})
	}
}

func TestRenderTimesInAnyZone(t *testing.T) {
	a, b := minimalConfig(), minimalConfig()
	instant := time.Date(2026, 8, 22, 10, 0, 0, 123, time.UTC)
	a.Runners[0].TokenExpiresAt = instant
	b.Runners[0].TokenExpiresAt = instant.In(time.FixedZone("X", -7*3600))
	ra, _ := Render(a)
	rb, _ := Render(b)
	if !bytes.Equal(ra, rb) {
		t.Errorf("the same instant renders differently:\n%s\n%s", ra, rb)
	}
	if b.Runners[0].TokenExpiresAt.Location().String() != "X" {
		t.Error("Render modified its input")
	}
	parsed, err := Parse(ra)
	if err != nil || !parsed.Runners[0].TokenExpiresAt.Equal(instant) {
		t.Errorf("token_expires_at = %v, %v", parsed.Runners[0].TokenExpiresAt, err)
	}
}

func TestRenderDeterministic(t *testing.T) {
	cfg := fullConfig()
	k := cfg.Runners[0].Kubernetes
	for i := range 50 {
		k.PodLabels[strings.Repeat("k", i%7)+string(rune('a'+i%26))+strings.Repeat("z", i)] = "v"
		cfg.Runners[0].FeatureFlags["FF_"+string(rune('A'+i%26))+strings.Repeat("X", i)] = i%2 == 0
	}
	first, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := Render(cfg)
		if err != nil || !bytes.Equal(first, again) {
			t.Fatalf("Render is not deterministic")
		}
	}
}

// hostile strings are user input a text template would have turned into new
// keys, tables or runners.
var hostile = []string{
	`plain`,
	`quote " inside`,
	`single ' quote`,
	"new\nline = \"injected\"",
	"carriage\rreturn",
	"]]\n[[runners]]\ntoken = \"glrt-EVIL\"",
	`[[runners]]`,
	`[runners.kubernetes]`,
	`"""`,
	`'''`,
	`"""multi` + "\n" + `line"""`,
	`\`,
	`\u0000 \n \"`,
	"nul\x00byte",
	"del\x7fbyte",
	"tab\there",
	`$(rm -rf /); echo ${HOME} ` + "`id`",
	`a=b`,
	`# not a comment`,
	`key = "value"`,
	"ünïcödé 日本語 🚀",
	"\u2028line separator\u2029",
	"\ufeffBOM",
	"",
	" ",
	strings.Repeat("x", 10000),
}

func TestRenderHostileStrings(t *testing.T) {
	for _, s := range hostile {
		cfg := hostileConfig(s, s, s, s, s)
		out, err := Render(cfg)
		if err != nil {
			t.Fatalf("Render(%q): %v", s, err)
		}
		got := decodeStrict(t, out)
		if len(got.Runners) != 1 {
			t.Fatalf("%q produced %d runners:\n%s", s, len(got.Runners), out)
		}
		if !reflect.DeepEqual(got, cfg) {
			t.Errorf("%q did not round-trip:\n got %+v\nwant %+v\n%s", s, got, cfg, out)
		}
		if got.Runners[0].Token != "glrt-OPERATOR" {
			t.Errorf("%q changed the token to %q", s, got.Runners[0].Token)
		}
		checkTopLevel(t, out)
	}
}

// hostileConfig puts user-controlled strings in every place a Runner spec can
// reach: names, URLs, environment, labels and annotations (keys and values),
// node selectors, images, tags-as-labels.
func hostileConfig(name, url, description, env, tag string) *Config {
	kv := map[string]string{tag: description, "description": description}
	return &Config{
		Concurrent: 1,
		Runners: []Runner{{
			Name:        name,
			URL:         url,
			Token:       "glrt-OPERATOR",
			Executor:    "kubernetes",
			Environment: []string{env, "DESCRIPTION=" + description, "TAGS=" + tag},
			BuildsDir:   description,
			FeatureFlags: map[string]bool{
				tag: true,
			},
			Kubernetes: &Kubernetes{
				Namespace:      name,
				Image:          tag,
				PullPolicy:     StringList{tag},
				NodeSelector:   kv,
				PodLabels:      map[string]string{tag: name},
				PodAnnotations: map[string]string{description: env, "tags": tag},
			},
			Cache: &Cache{Path: description},
		}},
	}
}

// checkTopLevel verifies the generic shape: the only top-level keys are the
// ones the config sets, and there is exactly one runner.
func checkTopLevel(t testing.TB, out []byte) {
	t.Helper()
	var m map[string]any
	if _, err := toml.Decode(string(out), &m); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(m))
	if !slices.Equal(keys, []string{"concurrent", "runners"}) {
		t.Fatalf("top-level keys %v:\n%s", keys, out)
	}
	if rs, ok := m["runners"].([]map[string]any); !ok || len(rs) != 1 {
		t.Fatalf("runners = %#v", m["runners"])
	}
}

func TestParseUpstreamExample(t *testing.T) {
	// The example of gitlab-api.md section 5.1, as gitlab-runner writes it
	// (including the zero token_expires_at that means "never").
	const example = `concurrent = 10
check_interval = 3
log_level = "info"
log_format = "json"
listen_address = ":9252"
shutdown_timeout = 30

[session_server]
  listen_address = "0.0.0.0:8093"
  advertise_address = "runner-xyz.ci.svc:8093"
  session_timeout = 1800

[[runners]]
  name = "k8s-runner"
  url = "https://gitlab.example.com/"
  id = 12345
  token = "glrt-t2_zQ3yW3HgGhJ9eX4vGcUp"
  token_obtained_at = 2026-08-22T10:00:00Z
  token_expires_at = 0001-01-01T00:00:00Z
  tls-ca-file = "/etc/gitlab-runner/certs/gitlab.example.com.crt"
  executor = "kubernetes"
  clone_url = "https://gitlab.example.com"
  request_concurrency = 2
  [runners.kubernetes]
    namespace = "ci-jobs"
    image = "alpine:3.20"
    pull_policy = "if-not-present"
    [[runners.kubernetes.volumes.empty_dir]]
      name = "scratch"
      mount_path = "/scratch"
  [runners.cache]
    Type = "s3"
    Shared = true
    [runners.cache.s3]
      BucketName = "runner-cache"
      AccessKey = "unmodelled, ignored"
`
	cfg, err := Parse([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Runners[0]
	switch {
	case cfg.Concurrent != 10 || cfg.LogFormat != "json" || cfg.SessionServer.SessionTimeout != 1800:
		t.Errorf("globals: %+v", cfg)
	case r.ID != 12345 || r.TLSCAFile == "" || r.RequestConcurrency != 2:
		t.Errorf("runner: %+v", r)
	case !r.TokenExpiresAt.IsZero():
		t.Errorf("token_expires_at = %v, want zero", r.TokenExpiresAt)
	case !slices.Equal(r.Kubernetes.PullPolicy, StringList{"if-not-present"}):
		t.Errorf("pull_policy = %v", r.Kubernetes.PullPolicy)
	case r.Cache.S3.BucketName != "runner-cache":
		t.Errorf("cache: %+v", r.Cache.S3)
	}
	out, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("token_expires_at")) {
		t.Errorf("a zero expiry must be omitted:\n%s", out)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"concurrent = ",
		`concurrent = "ten"`,
		"[runners]\nname = \"x\"",
		"[[runners]]\n[runners.kubernetes]\npull_policy = [1]",
		"[[runners]]\nunhealthy_interval = true",
		"[[runners]]\nunhealthy_interval = \"soon\"",
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
	cfg, err := Parse([]byte("connection_max_age = 900000000000\n"))
	if err != nil || cfg.ConnectionMaxAge != "15m0s" {
		t.Errorf("integer duration: %+v, %v", cfg, err)
	}
}

func TestDecodeErrorsNameTOMLTypes(t *testing.T) {
	tests := map[string]string{
		"[[runners]]\n[runners.kubernetes]\npull_policy = true\n":                 "found a boolean",
		"[[runners]]\n[runners.kubernetes]\npull_policy = [1.5]\n":                "array holding a float",
		"[[runners]]\n[runners.kubernetes]\npull_policy = [[1]]\n":                "array holding an array",
		"[[runners]]\n[runners.kubernetes.pull_policy]\na = 1\n":                  "found a table",
		"[[runners]]\nunhealthy_interval = 2026-01-01T00:00:00Z\n":                "found a datetime",
		"connection_max_age = [\"15m\"]\n":                                        "found an array",
		"connection_max_age = 1.5\n":                                              "found a float",
		"[[runners]]\n[runners.kubernetes]\nallowed_pull_policies = [\"a\", 2]\n": "array holding an integer",
	}
	for in, want := range tests {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", in, err, want)
		}
	}
}
