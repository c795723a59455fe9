package runnerconfig

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// operatorConfig is a base config as the operator renders it.
func operatorConfig() *Config {
	return &Config{
		Concurrent:    4,
		ListenAddress: ":9252",
		Runners: []Runner{{
			Name:            "example",
			URL:             "https://gitlab.example.com/",
			ID:              42,
			Token:           "glrt-OPERATORTOKEN",
			TokenObtainedAt: time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC),
			Executor:        "kubernetes",
			Environment:     []string{"FROM_OPERATOR=1"},
			FeatureFlags:    map[string]bool{"FF_OPERATOR": true, "FF_SHARED": false},
			Kubernetes: &Kubernetes{
				Namespace:  "ci-jobs",
				Privileged: ptr(false),
				PodLabels:  map[string]string{"app.kubernetes.io/managed-by": "gitlab-operator"},
			},
		}},
	}
}

// userTemplate exercises every merge rule.
const userTemplate = `# A user's template.
concurrent = 99                 # operator sets it: ignored
check_interval = 7              # operator leaves it: honoured
log_level = "debug"
sentry_dsn = "https://sentry.example.com/2"
listen_address = "0.0.0.0:1"    # operator sets it: ignored
unknown_global = "kept"

[session_server]
  session_timeout = 600

[[runners]]
  name = "from-template"        # operator sets it: ignored
  token = "glrt-TEMPLATETOKEN"  # protected
  url = "https://evil.example/" # protected
  id = 1                        # protected
  executor = "docker"           # protected
  token_expires_at = 2027-01-01T00:00:00Z # protected, even though the operator leaves it unset
  token_obtained_at = 2020-01-01T00:00:00Z
  environment = ["FROM_TEMPLATE=1"] # arrays are taken whole: ignored
  output_limit = 16384
  request_concurrency = 3
  [runners.feature_flags]
    FF_SHARED = true            # operator sets it: ignored
    FF_TEMPLATE = true
  [runners.custom_build_dir]
    enabled = true
  [runners.kubernetes]
    namespace = "elsewhere"
    privileged = true           # operator's false wins
    image = "ubuntu:24.04"
    [runners.kubernetes.pod_labels]
      team = "a"
    [runners.kubernetes.pod_security_context]
      run_as_non_root = true
      run_as_user = 1000
    [runners.kubernetes.build_container_security_context]
      allow_privilege_escalation = false
      [runners.kubernetes.build_container_security_context.capabilities]
        drop = ["ALL"]
    [[runners.kubernetes.volumes.empty_dir]]
      name = "scratch"
      mount_path = "/scratch"
      medium = "Memory"
    [[runners.kubernetes.volumes.empty_dir]]
      name = "docker-certs"
      mount_path = "/certs/client"
    [[runners.kubernetes.pod_spec]]
      name = "hostname"
      patch = '''
        hostname: "custom"
      '''
      patch_type = "strategic"
  [runners.cache]
    Type = "s3"
    [runners.cache.s3]
      BucketName = "from-template"
`

func decodeGeneric(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return m
}

// lookup walks a dotted path through decoded tables; "runners" picks the
// first runner.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			var ok bool
			if cur, ok = v[p]; !ok {
				return nil, false
			}
		default:
			return nil, false
		}
		if rs, ok := cur.([]map[string]any); ok && p == "runners" {
			cur = rs[0]
		}
	}
	return cur, true
}

func TestMerge(t *testing.T) {
	base := operatorConfig()
	before, _ := Render(base)
	out, err := Merge(base, []byte(userTemplate))
	if err != nil {
		t.Fatal(err)
	}
	m := decodeGeneric(t, out)

	want := map[string]any{
		// template globals honoured where the operator is silent
		"check_interval":                 int64(7),
		"log_level":                      "debug",
		"sentry_dsn":                     "https://sentry.example.com/2",
		"session_server.session_timeout": int64(600),
		"unknown_global":                 "kept",
		// operator wins
		"concurrent":                      int64(4),
		"listen_address":                  ":9252",
		"runners.name":                    "example",
		"runners.environment":             []any{"FROM_OPERATOR=1"},
		"runners.feature_flags.FF_SHARED": false,
		"runners.kubernetes.namespace":    "ci-jobs",
		"runners.kubernetes.privileged":   false,
		// protected keys come from the operator only
		"runners.token":             "glrt-OPERATORTOKEN",
		"runners.url":               "https://gitlab.example.com/",
		"runners.id":                int64(42),
		"runners.executor":          "kubernetes",
		"runners.token_obtained_at": time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC),
		// template runner keys fill in
		"runners.output_limit":                                                  int64(16384),
		"runners.request_concurrency":                                           int64(3),
		"runners.feature_flags.FF_TEMPLATE":                                     true,
		"runners.feature_flags.FF_OPERATOR":                                     true,
		"runners.kubernetes.image":                                              "ubuntu:24.04",
		"runners.kubernetes.pod_labels.team":                                    "a",
		"runners.kubernetes.pod_security_context.run_as_user":                   int64(1000),
		"runners.kubernetes.build_container_security_context.capabilities.drop": []any{"ALL"},
		"runners.cache.Type":                                                    "s3",
		"runners.cache.s3.BucketName":                                           "from-template",
		"runners.custom_build_dir.enabled":                                      true,
	}
	for path, w := range want {
		got, ok := lookup(m, path)
		if !ok {
			t.Errorf("%s missing", path)
			continue
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
	if got, _ := lookup(m, "runners.kubernetes.pod_labels.app.kubernetes.io/managed-by"); got != nil {
		// dotted label keys are not addressable by lookup; check directly
		t.Fatal("unexpected lookup result")
	}
	labels, _ := lookup(m, "runners.kubernetes.pod_labels")
	if labels.(map[string]any)["app.kubernetes.io/managed-by"] != "gitlab-operator" {
		t.Errorf("operator label lost: %v", labels)
	}
	if _, ok := lookup(m, "runners.token_expires_at"); ok {
		t.Error("template introduced token_expires_at")
	}
	vols, _ := lookup(m, "runners.kubernetes.volumes.empty_dir")
	if v, ok := vols.([]map[string]any); !ok || len(v) != 2 || v[0]["medium"] != "Memory" {
		t.Errorf("empty_dir volumes not preserved: %#v", vols)
	}
	spec, _ := lookup(m, "runners.kubernetes.pod_spec")
	if s, ok := spec.([]map[string]any); !ok || len(s) != 1 || !strings.Contains(s[0]["patch"].(string), `hostname: "custom"`) {
		t.Errorf("pod_spec not preserved: %#v", spec)
	}
	for _, leaked := range []string{"glrt-TEMPLATETOKEN", "evil.example", `executor = "docker"`, `name = "from-template"`, "2027-01-01", "2020-01-01"} {
		if bytes.Contains(out, []byte(leaked)) {
			t.Errorf("output contains %q:\n%s", leaked, out)
		}
	}
	if rs, _ := m["runners"].([]map[string]any); len(rs) != 1 {
		t.Errorf("%d runners", len(rs))
	}
	if !bytes.HasPrefix(out, []byte(Header)) {
		t.Error("missing header")
	}

	// The operator's config is untouched and merging is deterministic.
	after, _ := Render(base)
	if !bytes.Equal(before, after) {
		t.Error("Merge modified its base")
	}
	for range 10 {
		again, err := Merge(base, []byte(userTemplate))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatal("Merge is not deterministic")
		}
	}
	// The typed view agrees.
	cfg, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CheckInterval != 7 || cfg.Runners[0].Kubernetes.PodSecurityContext == nil || *cfg.Runners[0].Kubernetes.Privileged {
		t.Errorf("typed view: %+v", cfg)
	}
}

func TestMergeEmptyTemplateIsRender(t *testing.T) {
	base := operatorConfig()
	want, _ := Render(base)
	for _, tmpl := range []string{"", "\n\n", "# only a comment\n  # another\n", "runners = []\n", "[[runners]]\ntoken = \"glrt-X\"\nurl = \"u\"\n"} {
		got, err := Merge(base, []byte(tmpl))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Merge(%q) = %s, %v; want Render output", tmpl, got, err)
		}
	}
	got, err := Merge(base, nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Merge(nil) = %s, %v", got, err)
	}
}

func TestMergeGlobalsOnly(t *testing.T) {
	out, err := Merge(operatorConfig(), []byte("check_interval = 1\n[session_server]\nlisten_address = \"0.0.0.0:8093\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := decodeStrict(t, out)
	if cfg.CheckInterval != 1 || cfg.SessionServer.ListenAddress != "0.0.0.0:8093" || cfg.Runners[0].Token != "glrt-OPERATORTOKEN" {
		t.Errorf("%+v", cfg)
	}
}

func TestMergeTemplateRunnerAppliesToEveryRunnerWithoutSharing(t *testing.T) {
	base := &Config{Concurrent: 2, Runners: []Runner{{Name: "a", Token: "glrt-A"}, {Name: "b", Token: "glrt-B", Kubernetes: &Kubernetes{Namespace: "nb"}}}}
	out, err := Merge(base, []byte("[[runners]]\n[runners.kubernetes]\nnamespace = \"t\"\nimage = \"i\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := decodeStrict(t, out)
	if len(cfg.Runners) != 2 {
		t.Fatalf("%d runners", len(cfg.Runners))
	}
	a, b := cfg.Runners[0].Kubernetes, cfg.Runners[1].Kubernetes
	if a.Namespace != "t" || a.Image != "i" || b.Namespace != "nb" || b.Image != "i" {
		t.Errorf("a=%+v b=%+v", a, b)
	}
	if cfg.Runners[0].Token != "glrt-A" || cfg.Runners[1].Token != "glrt-B" {
		t.Error("tokens mixed up")
	}

	// With no operator runner the template's runner is not added: it would
	// be a runner without URL and token.
	out, err = Merge(&Config{Concurrent: 1}, []byte("[[runners]]\nname = \"lonely\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("lonely")) {
		t.Errorf("template runner added:\n%s", out)
	}
}

func TestMergeErrors(t *testing.T) {
	tests := []struct {
		name     string
		template string
		line     int    // 0: no line field
		contains string // in the error text
	}{
		{"two runners", "[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"\n", 0, "has 2 [[runners]] entries"},
		{"invalid toml", "concurrent = 1\n[[runners]]\nname = \n", 3, "expected value"},
		{"unterminated string", "log_level = \"debug\n", 1, ""},
		{"duplicate key", "concurrent = 1\nconcurrent = 2\n", 2, "concurrent"},
		{"runners table", "[runners]\nname = \"x\"\n", 0, "[[runners]] array of tables"},
		{"runners scalar", "runners = 3\n", 0, "[[runners]] array of tables"},
		{"wrong type", "check_interval = 1\nconcurrent = \"ten\"\n", 0, `line 2 (last key "concurrent")`},
		{"wrong nested type", "[[runners]]\n[runners.kubernetes]\nprivileged = \"yes\"\n", 0, "privileged"},
		{"bad pull policy", "[[runners]]\n[runners.kubernetes]\npull_policy = 1\n", 3, "string or an array of strings"},
		{"bad duration", "[[runners]]\nunhealthy_interval = \"an hour\"\n", 2, "invalid duration"},
		{"invalid utf-8", "log_level = \"\xff\"\n", 0, "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge(operatorConfig(), []byte(tc.template))
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T), want *TemplateError", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "spec.config: config.toml template: ") {
				t.Errorf("message %q lacks the prefix", msg)
			}
			if tc.line != 0 && te.Line != tc.line {
				t.Errorf("line %d, want %d (%s)", te.Line, tc.line, msg)
			}
			if !strings.Contains(msg, tc.contains) {
				t.Errorf("message %q does not mention %q", msg, tc.contains)
			}
			t.Log(msg)
		})
	}
}

func TestTemplateProtectedKeys(t *testing.T) {
	got, err := TemplateProtectedKeys([]byte(userTemplate))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ProtectedRunnerKeys()) {
		t.Errorf("got %v, want all of %v", got, ProtectedRunnerKeys())
	}
	got, err = TemplateProtectedKeys([]byte("[[runners]]\nname = \"x\"\n"))
	if err != nil || got != nil {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := TemplateProtectedKeys([]byte("[[runners]]\n[[runners]]\n")); err == nil {
		t.Error("two runners accepted")
	}
	// The returned slice is a copy.
	p := ProtectedRunnerKeys()
	p[0] = "changed"
	if ProtectedRunnerKeys()[0] == "changed" {
		t.Error("ProtectedRunnerKeys exposes its backing array")
	}
}

func TestMergeRejectsInvalidBase(t *testing.T) {
	base := operatorConfig()
	base.Runners[0].Name = "bad\xff"
	if _, err := Merge(base, []byte("check_interval = 1\n")); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("err = %v, want ErrInvalidUTF8", err)
	}
}
