package gitlabbuild

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
)

func newGitLab(mutate ...func(*gitlabv1beta1.GitLab)) *gitlabv1beta1.GitLab {
	gl := &gitlabv1beta1.GitLab{
		ObjectMeta: metav1.ObjectMeta{Name: "gl", Namespace: "team-a"},
		Spec:       gitlabv1beta1.GitLabSpec{URL: "https://gitlab.example.com"},
	}
	for _, m := range mutate {
		m(gl)
	}
	return gl
}

func secretRef(name, key string) corev1.SecretKeySelector {
	return corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}
}

// fullGitLab uses every option that involves a secret.
func fullGitLab() *gitlabv1beta1.GitLab {
	return newGitLab(func(gl *gitlabv1beta1.GitLab) {
		gl.Spec.RootPassword = ptr.To(secretRef("my-root", "pw"))
		gl.Spec.Database = &gitlabv1beta1.ExternalDatabaseSpec{
			Host: "pg.db.svc", Port: 5433, Database: "gitlab", Username: "gl", SSLMode: "require",
			PasswordSecret: secretRef("pg", "password"),
		}
		gl.Spec.Redis = &gitlabv1beta1.ExternalRedisSpec{Host: "redis.db.svc", Port: 6380, TLS: true, PasswordSecret: ptr.To(secretRef("redis", "pass"))}
		gl.Spec.SMTP = &gitlabv1beta1.SMTPSpec{
			Address: "smtp.example.com", Port: 465, Domain: "example.com", Username: "mailer",
			PasswordSecret: ptr.To(secretRef("smtp", "password")), Authentication: "login", TLS: true,
			FromAddress: "gitlab@example.com",
		}
		gl.Spec.ExtraConfig = "extra"
	})
}

func TestOmnibusConfig(t *testing.T) {
	tests := []struct {
		name    string
		gl      *gitlabv1beta1.GitLab
		in      Inputs
		want    []string
		notWant []string
	}{
		{
			name: "minimal",
			gl:   newGitLab(),
			want: []string{
				"external_url 'https://gitlab.example.com'\n",
				"nginx['listen_port'] = 80\n",
				"nginx['listen_https'] = false\n",
				"letsencrypt['enable'] = false\n",
				"gitlab_rails['trusted_proxies'] = ['10.0.0.0/8',",
				"nginx['real_ip_trusted_addresses'] = ['10.0.0.0/8',",
				"gitlab_rails['monitoring_whitelist'] = ['127.0.0.0/8', '::1/128']\n",
				"gitlab_rails['initial_root_password'] = File.read('/etc/gitlab-operator/root/password').strip\n",
				"gitlab_sshd['enable'] = false\n",
				"prometheus_monitoring['enable'] = false\n",
				"puma['worker_processes'] = 2\n",
			},
			notWant: []string{
				"postgresql['enable']", "redis['enable']", "smtp_enable", "gitlab_shell_ssh_port",
				"extra configuration", "db_password", "redis_password",
			},
		},
		{
			name: "trailing slash and relative root",
			gl:   newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = "http://git.example.com/gitlab/" }),
			want: []string{"external_url 'http://git.example.com/gitlab'\n"},
		},
		{
			name: "external database and redis",
			gl:   fullGitLab(),
			want: []string{
				"postgresql['enable'] = false\n",
				"gitlab_rails['db_host'] = 'pg.db.svc'\n",
				"gitlab_rails['db_port'] = 5433\n",
				"gitlab_rails['db_database'] = 'gitlab'\n",
				"gitlab_rails['db_username'] = 'gl'\n",
				"gitlab_rails['db_password'] = File.read('/etc/gitlab-operator/db/password').strip\n",
				"gitlab_rails['db_sslmode'] = 'require'\n",
				"redis['enable'] = false\n",
				"gitlab_rails['redis_host'] = 'redis.db.svc'\n",
				"gitlab_rails['redis_port'] = 6380\n",
				"gitlab_rails['redis_password'] = File.read('/etc/gitlab-operator/redis/password').strip\n",
				"gitlab_rails['redis_ssl'] = true\n",
			},
		},
		{
			name: "external database defaults",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.Database = &gitlabv1beta1.ExternalDatabaseSpec{Host: "pg", PasswordSecret: secretRef("pg", "password")}
				gl.Spec.Redis = &gitlabv1beta1.ExternalRedisSpec{Host: "redis"}
			}),
			want: []string{
				"gitlab_rails['db_port'] = 5432\n",
				"gitlab_rails['db_database'] = 'gitlabhq_production'\n",
				"gitlab_rails['db_username'] = 'gitlab'\n",
				"gitlab_rails['db_sslmode'] = 'prefer'\n",
				"gitlab_rails['redis_port'] = 6379\n",
			},
			notWant: []string{"redis_password", "redis_ssl"},
		},
		{
			name: "smtp",
			gl:   fullGitLab(),
			want: []string{
				"gitlab_rails['smtp_enable'] = true\n",
				"gitlab_rails['smtp_address'] = 'smtp.example.com'\n",
				"gitlab_rails['smtp_port'] = 465\n",
				"gitlab_rails['smtp_domain'] = 'example.com'\n",
				"gitlab_rails['smtp_user_name'] = 'mailer'\n",
				"gitlab_rails['smtp_password'] = File.read('/etc/gitlab-operator/smtp/password').strip\n",
				"gitlab_rails['smtp_authentication'] = 'login'\n",
				"gitlab_rails['smtp_enable_starttls_auto'] = false\n",
				"gitlab_rails['smtp_tls'] = true\n",
				"gitlab_rails['gitlab_email_from'] = 'gitlab@example.com'\n",
			},
		},
		{
			name: "ssh on",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.SSH = &gitlabv1beta1.SSHSpec{Enabled: true, Port: 2222}
			}),
			want:    []string{"gitlab_rails['gitlab_shell_ssh_port'] = 2222\n"},
			notWant: []string{"gitlab_sshd['enable'] = false"},
		},
		{
			name: "puma sized by cpu limit",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3500m")}}
			}),
			want: []string{"puma['worker_processes'] = 4\n"},
		},
		{
			name: "puma capped",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")}}
			}),
			want: []string{"puma['worker_processes'] = 8\n"},
		},
		{
			name: "quotes in user input are escaped",
			gl: newGitLab(func(gl *gitlabv1beta1.GitLab) {
				gl.Spec.Database = &gitlabv1beta1.ExternalDatabaseSpec{Host: `pg'; system('x') #\`, PasswordSecret: secretRef("pg", "password")}
			}),
			want: []string{`gitlab_rails['db_host'] = 'pg\'; system(\'x\') #\\'` + "\n"},
		},
		{
			name: "extra config appended last",
			gl:   newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.ExtraConfig = "extra-cm" }),
			in:   Inputs{ExtraConfig: "gitlab_rails['time_zone'] = 'UTC'\nprometheus_monitoring['enable'] = true\n"},
			want: []string{"# ---- extra configuration from ConfigMap extra-cm (spec.extraConfig) ----\ngitlab_rails['time_zone'] = 'UTC'\nprometheus_monitoring['enable'] = true\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := OmnibusConfig(tt.gl, tt.in)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in:\n%s", w, got)
				}
			}
		})
	}
}

func TestOmnibusConfigExtraComesLast(t *testing.T) {
	gl := fullGitLab()
	got := OmnibusConfig(gl, Inputs{ExtraConfig: "MARKER = 1"})
	if !strings.HasSuffix(strings.TrimSpace(got), "MARKER = 1") {
		t.Fatalf("extra configuration is not last:\n%s", got)
	}
	for _, later := range []string{"external_url", "smtp_enable", "db_host", "redis_host"} {
		if strings.Index(got, later) > strings.Index(got, "MARKER") {
			t.Errorf("%s comes after the extra configuration", later)
		}
	}
}

func TestOmnibusConfigReadsEverySecretFromFiles(t *testing.T) {
	got := OmnibusConfig(fullGitLab(), Inputs{})
	for _, setting := range []string{"initial_root_password", "db_password", "redis_password", "smtp_password"} {
		found := false
		for _, l := range strings.Split(got, "\n") {
			if strings.Contains(l, "['"+setting+"']") {
				found = true
				if !strings.Contains(l, "= File.read('"+MountRoot+"/") || !strings.HasSuffix(l, ").strip") {
					t.Errorf("%s is not read from a mounted file: %s", setting, l)
				}
			}
		}
		if !found {
			t.Errorf("%s not rendered", setting)
		}
	}
	if strings.Contains(got, "ENV[") {
		t.Error("gitlab.rb reads the environment")
	}
}

func TestBootstrapScript(t *testing.T) {
	s := BootstrapScript()
	for _, w := range []string{
		"File.read('/etc/gitlab-operator/token/token').strip",
		"File.read('/etc/gitlab-operator/token/expires-at').strip",
		"['create_runner', 'manage_runner', 'read_api'] & available",
		"scopes |= ['api'] unless available.include?('manage_runner')",
		"pat.set_token(value)",
		"expires_at: expires_at",
		"rescue StandardError => e",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("bootstrap.rb lacks %q", w)
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if (strings.Contains(l, "puts") || strings.Contains(l, "warn")) &&
			(strings.Contains(l, "#{value") || strings.Contains(l, "puts value") || strings.Contains(l, "warn value") || strings.Contains(l, "inspect")) {
			t.Errorf("bootstrap.rb may print the token: %s", l)
		}
	}
	post := PostReconfigureScript()
	if !strings.HasPrefix(post, "/opt/gitlab/bin/gitlab-rails runner /etc/gitlab-operator/config/bootstrap.rb || ") {
		t.Errorf("post-reconfigure script %q does not run bootstrap.rb with a fallback", post)
	}
}

func TestConfigMapAndHash(t *testing.T) {
	gl := newGitLab()
	cm := ConfigMap(gl, Inputs{})
	if cm.Name != "gl-omnibus" || cm.Namespace != "team-a" {
		t.Fatalf("ConfigMap %s/%s", cm.Namespace, cm.Name)
	}
	if cm.Data[ConfigKeyGitLabRB] != OmnibusConfig(gl, Inputs{}) || cm.Data[ConfigKeyBootstrap] != BootstrapScript() {
		t.Error("ConfigMap does not hold gitlab.rb and bootstrap.rb")
	}
	base := ConfigHash(gl, Inputs{TokenRevision: "a"})
	if base != ConfigHash(gl, Inputs{TokenRevision: "a"}) {
		t.Error("hash is not stable")
	}
	if base == ConfigHash(gl, Inputs{TokenRevision: "b"}) {
		t.Error("a new admin token does not change the hash")
	}
	if base == ConfigHash(gl, Inputs{TokenRevision: "a", ExtraConfig: "x = 1"}) {
		t.Error("extra configuration does not change the hash")
	}
	other := newGitLab(func(gl *gitlabv1beta1.GitLab) { gl.Spec.URL = "https://other.example.com" })
	if base == ConfigHash(other, Inputs{TokenRevision: "a"}) {
		t.Error("a new URL does not change the hash")
	}
}
