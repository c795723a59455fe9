package runnerbuild

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerconfig"
)

func sample() *gitlabv1beta1.Runner {
	return &gitlabv1beta1.Runner{
		ObjectMeta: metav1.ObjectMeta{Name: "r1", Namespace: "ci", UID: "uid-1"},
		Spec: gitlabv1beta1.RunnerSpec{
			GitLab: gitlabv1beta1.GitLabReference{URL: "https://gitlab.example.com"},
			Token:  "tok", Tags: " a , b,, c ", Concurrent: 7, Interval: 15,
		},
	}
}

func TestConfigRoundTripsTheSpec(t *testing.T) {
	r := sample()
	r.Spec.JobNamespace = "jobs"
	r.Spec.BuildImage = "alpine:3.20"
	r.Spec.HelperImage = "helper:1"
	r.Spec.Privileged = true
	r.Spec.JobServiceAccount = "job-sa"
	r.Spec.JobPullPolicy = corev1.PullAlways
	r.Spec.PollTimeout = ptr.To[int32](300)
	r.Spec.CloneURL = "https://clone.example.com"
	r.Spec.RequestConcurrency = ptr.To[int32](3)
	r.Spec.OutputLimit = ptr.To[int32](8192)
	r.Spec.LogLevel, r.Spec.LogFormat = "warn", "json"
	r.Spec.ShutdownTimeout = ptr.To[int32](45)
	r.Spec.ConnectionMaxAge = &metav1.Duration{Duration: 10 * time.Minute}
	r.Spec.JobNodeSelector = map[string]string{"pool": "ci"}
	r.Spec.JobTolerations = []corev1.Toleration{{Key: "ci", Value: "yes", Effect: corev1.TaintEffectNoSchedule}}
	r.Spec.JobResources = &gitlabv1beta1.JobResources{Build: &corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}}
	r.Spec.Cache = &gitlabv1beta1.CacheSpec{Type: "gcs", Path: "p", Shared: true,
		GCS: &gitlabv1beta1.GCSCache{Bucket: "b", Credentials: "gcs", CredentialsFile: true}}
	reg := Registration{ID: 42, Token: "glrt-abc", ObtainedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	out, err := ConfigTOML(r, reg, ConfigInputs{URL: "https://gitlab.example.com", HasCA: true,
		ProxyEnv: []corev1.EnvVar{{Name: "HTTPS_PROXY", Value: "http://proxy:3128"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := runnerconfig.Parse(out)
	if err != nil {
		t.Fatalf("rendered config does not parse: %v\n%s", err, out)
	}
	if cfg.Concurrent != 7 || cfg.CheckInterval != 15 || cfg.LogLevel != "warn" || cfg.LogFormat != "json" ||
		cfg.ShutdownTimeout != 45 || cfg.ConnectionMaxAge != "10m0s" || cfg.ListenAddress != ":9252" {
		t.Errorf("globals: %+v", cfg)
	}
	if len(cfg.Runners) != 1 {
		t.Fatalf("want one runner, got %d", len(cfg.Runners))
	}
	run := cfg.Runners[0]
	if run.ID != 42 || run.Token != "glrt-abc" || run.URL != "https://gitlab.example.com" || run.Executor != "kubernetes" ||
		run.CloneURL != "https://clone.example.com" || run.RequestConcurrency != 3 || run.OutputLimit != 8192 ||
		run.Name != "ci/r1" || run.TLSCAFile != CAMountDir+"/"+CAFileName {
		t.Errorf("runner: %+v", run)
	}
	if !run.TokenExpiresAt.IsZero() {
		t.Error("token_expires_at must stay unset so gitlab-runner never rotates the token itself")
	}
	if !slices.Contains(run.Environment, "HTTPS_PROXY=http://proxy:3128") {
		t.Errorf("proxy not passed to jobs: %v", run.Environment)
	}
	k := run.Kubernetes
	if k.Namespace != "jobs" || k.Image != "alpine:3.20" || k.HelperImage != "helper:1" || !*k.Privileged ||
		k.ServiceAccount != "job-sa" || !slices.Equal(k.PullPolicy, []string{"always"}) || k.PollTimeout != 300 ||
		k.NodeSelector["pool"] != "ci" || k.NodeTolerations["ci=yes"] != "NoSchedule" || k.CPURequest != "500m" || k.MemoryLimit != "1Gi" {
		t.Errorf("kubernetes: %+v", k)
	}
	if c := run.Cache; c.Type != "gcs" || c.Path != "p" || !c.Shared || c.GCS.BucketName != "b" || c.GCS.CredentialsFile == "" {
		t.Errorf("cache: %+v", c)
	}
}

func TestConfigDefaultsAndHostileInput(t *testing.T) {
	r := sample()
	r.Spec.Concurrent, r.Spec.Interval = 0, 0
	r.Spec.Description = "evil\"\n[[runners]]\ntoken = \"x\"\n$(rm -rf /)"
	out, err := ConfigTOML(r, Registration{Token: "t"}, ConfigInputs{URL: "https://g"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := runnerconfig.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Concurrent != 10 || cfg.CheckInterval != 30 {
		t.Errorf("defaults: concurrent %d interval %d", cfg.Concurrent, cfg.CheckInterval)
	}
	if len(cfg.Runners) != 1 || cfg.Runners[0].Name != r.Spec.Description || cfg.Runners[0].Token != "t" {
		t.Fatalf("the description escaped its string: %+v", cfg.Runners)
	}
}

func TestTemplateErrorsNameTheField(t *testing.T) {
	_, err := ConfigTOML(sample(), Registration{Token: "t"}, ConfigInputs{URL: "https://g", Template: []byte("[[runners]\nbroken")})
	if err == nil || !strings.Contains(err.Error(), "spec.config") {
		t.Fatalf("want an error naming spec.config, got %v", err)
	}
}

func TestTags(t *testing.T) {
	if got := Tags(sample()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("got %v", got)
	}
}

func TestSystemIDIsStableAndValid(t *testing.T) {
	r := sample()
	id := SystemID(r)
	if id != SystemID(sample()) {
		t.Fatal("system id is not stable")
	}
	if len(id) != 14 || !strings.HasPrefix(id, "s_") {
		t.Fatalf("system id %q does not match ^[sr]_[0-9a-zA-Z]{12}$", id)
	}
	r.UID = "uid-2"
	if SystemID(r) == id {
		t.Fatal("different Runners share a system id")
	}
}

func TestDeploymentIsRestrictedAndLabelled(t *testing.T) {
	r := sample()
	r.Spec.EnvConfigMap = "proxy"
	d := Deployment(r, Inputs{Images: images.Images{Runner: "runner:1"}, CAKey: "ca.crt"})
	c := d.Spec.Template.Spec.Containers[0]
	sc := c.SecurityContext
	if *sc.AllowPrivilegeEscalation || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || sc.Capabilities.Drop[0] != "ALL" ||
		sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || *sc.RunAsUser != 999 {
		t.Errorf("security context is not restricted: %+v", sc)
	}
	if c.Image != "runner:1" || *d.Spec.Template.Spec.TerminationGracePeriodSeconds != 3600 {
		t.Errorf("image %q grace %d", c.Image, *d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	}
	if d.Spec.Template.Labels[labels.ManagedByKey] != labels.ManagedByValue || d.Labels[labels.InstanceKey] != "r1" {
		t.Error("missing labels")
	}
	if c.Lifecycle == nil || !strings.Contains(strings.Join(c.Lifecycle.PreStop.Exec.Command, " "), "kill -QUIT 1") {
		t.Error("without a SIGQUIT preStop hook a rollout aborts running jobs")
	}
	if c.EnvFrom[0].ConfigMapRef.Name != "proxy" {
		t.Error("env ConfigMap not wired")
	}
	var sysID string
	for _, e := range c.Env {
		if e.Name == "RUNNER_SYSTEM_ID" {
			sysID = e.Value
		}
		if strings.Contains(strings.ToLower(e.Name), "token") {
			t.Errorf("a token-like env var %s in the pod spec", e.Name)
		}
	}
	if sysID != SystemID(r) {
		t.Errorf("single replica must use the Runner's system id, got %q", sysID)
	}
	os := Deployment(r, Inputs{Images: images.Images{Runner: "runner:1"}, OpenShift: true})
	if os.Spec.Template.Spec.Containers[0].SecurityContext.RunAsUser != nil {
		t.Error("on OpenShift the SCC assigns the UID")
	}
	r.Spec.Replicas = ptr.To[int32](3)
	for _, e := range Deployment(r, Inputs{}).Spec.Template.Spec.Containers[0].Env {
		if e.Name == "RUNNER_SYSTEM_ID" && e.Value != "" {
			t.Error("replicas must derive their own system ids")
		}
	}
	r.Spec.Replicas = nil
	r.Spec.Env = []corev1.EnvVar{{Name: "RUNNER_SYSTEM_ID", Value: "s_000000000000"}}
	env := Deployment(r, Inputs{}).Spec.Template.Spec.Containers[0].Env
	if last := env[len(env)-1]; last.Name != "RUNNER_SYSTEM_ID" || last.Value != SystemID(r) {
		t.Errorf("spec.env must not override the system id: last entry %+v", last)
	}
}

func TestRoleIsLeastPrivilege(t *testing.T) {
	r := sample()
	r.Spec.JobNamespace = "jobs"
	role := Role(r)
	if role.Namespace != "jobs" {
		t.Fatalf("role in %s, want the job namespace", role.Namespace)
	}
	for _, rule := range role.Rules {
		for _, v := range append(append(rule.Verbs, rule.Resources...), rule.APIGroups...) {
			if v == "*" {
				t.Fatalf("wildcard in %+v", rule)
			}
		}
		if slices.Contains(rule.Resources, "secrets") && slices.Contains(rule.Verbs, "list") {
			t.Error("the runner must not list secrets")
		}
	}
	rb := RoleBinding(r)
	if rb.Subjects[0].Namespace != "ci" || rb.Subjects[0].Name != ServiceAccountName(r) {
		t.Errorf("binding subject %+v", rb.Subjects[0])
	}
}

func TestRegistrationSecretRoundTrip(t *testing.T) {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	reg := Registration{ID: 5, Token: "glrt-x", ExpiresAt: &exp, ObtainedAt: exp.Add(-time.Hour), Origin: OriginUser,
		Fingerprint: "fp", URL: "https://g", SettingsHash: "sh"}
	sec := ConfigSecret(sample(), reg, []byte("concurrent = 1\n"))
	got, ok := RegistrationFromSecret(sec)
	if !ok || got.ID != 5 || got.Token != "glrt-x" || !got.ExpiresAt.Equal(exp) || got.Origin != OriginUser ||
		got.Fingerprint != "fp" || got.URL != "https://g" || got.SettingsHash != "sh" || !got.ObtainedAt.Equal(reg.ObtainedAt) {
		t.Fatalf("round trip lost data: %+v", got)
	}
	if _, ok := RegistrationFromSecret(&corev1.Secret{}); ok {
		t.Fatal("an empty Secret must not count as a registration")
	}
}
