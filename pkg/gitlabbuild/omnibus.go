package gitlabbuild

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
)

// TrustedProxies are the networks whose X-Forwarded-For GitLab believes.
// Ingress controllers and OpenShift routers reach the pod from the pod or
// node network, which the operator cannot know; these are the private
// ranges Kubernetes networks are carved from. Narrow them with extra
// configuration when other workloads in those ranges are not trusted.
var TrustedProxies = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"}

// AdminTokenScopes are the scopes the seed script gives the operator's
// admin token, where the instance knows them: create_runner creates
// instance runners, manage_runner updates and deletes them (GitLab 17.1+)
// and read_api lists runners (to find one whose creation response was
// lost) and reads /api/v4/version. api is added only on instances older
// than manage_runner, where nothing narrower can delete a runner.
var AdminTokenScopes = []string{"create_runner", "manage_runner", "read_api"}

// OmnibusConfig renders the operator's gitlab.rb. It is loaded through
// GITLAB_OMNIBUS_CONFIG=from_file(...) and evaluated as Ruby by Omnibus at
// every container start. Every secret is read from a mounted file with
// File.read, so no secret value is ever part of the rendered text, the pod
// spec or the ConfigMap. The user's extra lines come last, so they win.
func OmnibusConfig(gl *gitlabv1beta1.GitLab, in Inputs) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	spec := gl.Spec

	line("# Rendered by gitlab-operator for GitLab %s/%s.", gl.Namespace, gl.Name)
	line("# Do not edit: the operator rewrites this file. Put extra settings in")
	line("# the ConfigMap named in spec.extraConfig instead.")
	line("")
	line("external_url %s", rubyString(strings.TrimRight(strings.TrimSpace(spec.URL), "/")))
	line("")
	line("# TLS ends at the Ingress or Route: NGINX serves plain HTTP on port %d,", HTTPPort)
	line("# which is also what the operator and Runners use inside the cluster.")
	line("nginx['listen_port'] = %d", HTTPPort)
	line("nginx['listen_https'] = false")
	line("letsencrypt['enable'] = false")
	line("")
	line("# Client addresses come from the Ingress controller or router.")
	proxies := rubyArray(TrustedProxies)
	line("gitlab_rails['trusted_proxies'] = %s", proxies)
	line("nginx['real_ip_trusted_addresses'] = %s", proxies)
	line("nginx['real_ip_header'] = 'X-Forwarded-For'")
	line("nginx['real_ip_recursive'] = 'on'")
	line("")
	line("# Health checks run inside the pod (exec probes against 127.0.0.1), so")
	line("# the monitoring allowlist stays local and /-/readiness is not public.")
	line("gitlab_rails['monitoring_whitelist'] = ['127.0.0.0/8', '::1/128']")
	line("")
	line("# Used by the first database seed only; changing it later has no effect.")
	line("gitlab_rails['initial_root_password'] = %s", fileRead(RootPasswordDir+"/"+PasswordFile))
	line("")

	if sshEnabled(gl) {
		line("# Git over SSH.")
		line("gitlab_rails['gitlab_shell_ssh_port'] = %d", sshPort(gl))
	} else {
		line("# Git over SSH is off (spec.ssh); the image does not start sshd")
		line("# (GITLAB_DISABLE_OPENSSH) and clones use HTTPS.")
		line("gitlab_sshd['enable'] = false")
	}
	line("")

	line("# Memory: a single pod has no swap to fall back on.")
	line("prometheus_monitoring['enable'] = false")
	line("puma['worker_processes'] = %d", pumaWorkers(gl))
	line("")

	if db := spec.Database; db != nil {
		line("# External PostgreSQL; the bundled one is off.")
		line("postgresql['enable'] = false")
		line("gitlab_rails['db_adapter'] = 'postgresql'")
		line("gitlab_rails['db_encoding'] = 'unicode'")
		line("gitlab_rails['db_host'] = %s", rubyString(db.Host))
		line("gitlab_rails['db_port'] = %s", orInt32(db.Port, 5432))
		line("gitlab_rails['db_database'] = %s", rubyString(orString(db.Database, "gitlabhq_production")))
		line("gitlab_rails['db_username'] = %s", rubyString(orString(db.Username, "gitlab")))
		line("gitlab_rails['db_password'] = %s", fileRead(DatabasePasswordDir+"/"+PasswordFile))
		line("gitlab_rails['db_sslmode'] = %s", rubyString(orString(db.SSLMode, "prefer")))
		line("")
	}
	if rd := spec.Redis; rd != nil {
		line("# External Redis; the bundled one is off.")
		line("redis['enable'] = false")
		line("gitlab_rails['redis_host'] = %s", rubyString(rd.Host))
		line("gitlab_rails['redis_port'] = %s", orInt32(rd.Port, 6379))
		if rd.PasswordSecret != nil {
			line("gitlab_rails['redis_password'] = %s", fileRead(RedisPasswordDir+"/"+PasswordFile))
		}
		if rd.TLS {
			line("gitlab_rails['redis_ssl'] = true")
		}
		line("")
	}
	if smtp := spec.SMTP; smtp != nil {
		line("# Outgoing mail.")
		line("gitlab_rails['smtp_enable'] = true")
		line("gitlab_rails['smtp_address'] = %s", rubyString(smtp.Address))
		line("gitlab_rails['smtp_port'] = %s", orInt32(smtp.Port, 587))
		if smtp.Domain != "" {
			line("gitlab_rails['smtp_domain'] = %s", rubyString(smtp.Domain))
		}
		if smtp.Username != "" {
			line("gitlab_rails['smtp_user_name'] = %s", rubyString(smtp.Username))
		}
		if smtp.PasswordSecret != nil {
			line("gitlab_rails['smtp_password'] = %s", fileRead(SMTPPasswordDir+"/"+PasswordFile))
		}
		if smtp.Authentication != "" {
			line("gitlab_rails['smtp_authentication'] = %s", rubyString(smtp.Authentication))
		}
		line("gitlab_rails['smtp_enable_starttls_auto'] = %t", smtp.StartTLS)
		line("gitlab_rails['smtp_tls'] = %t", smtp.TLS)
		if smtp.FromAddress != "" {
			line("gitlab_rails['gitlab_email_from'] = %s", rubyString(smtp.FromAddress))
		}
		line("")
	}

	if extra := strings.TrimSpace(in.ExtraConfig); extra != "" {
		line("# ---- extra configuration from ConfigMap %s (spec.extraConfig) ----", spec.ExtraConfig)
		line("%s", extra)
	}
	return b.String()
}

// BootstrapScript is the Ruby the post-reconfigure hook runs with
// gitlab-rails runner. It makes sure a personal access token whose value
// is the mounted admin token exists on an administrator, with the
// operator's scopes and the expiry from the Secret. It is idempotent (a
// restart with the same token changes nothing), never prints the token,
// and rescues every error so a failed seed never fails the container: the
// operator reports it as AdminTokenReady=False instead.
//
// A token GitLab has revoked or expired is left alone on purpose: an
// administrator may have revoked it because it leaked, and silently
// reinstating it would undo that. Deleting the admin token Secret makes
// the operator generate a new value, which this script then seeds.
func BootstrapScript() string {
	scopes := make([]string, len(AdminTokenScopes))
	for i, s := range AdminTokenScopes {
		scopes[i] = rubyString(s)
	}
	return `# Seeds the gitlab-operator admin token. Run by GITLAB_POST_RECONFIGURE_SCRIPT
# after every reconfigure; idempotent; never prints the token.
begin
  token_name = 'gitlab-operator'
  value = File.read(` + rubyString(AdminTokenDir+"/"+KeyToken) + `).strip
  expires_at = Date.parse(File.read(` + rubyString(AdminTokenDir+"/"+KeyExpiresAt) + `).strip)
  available = Gitlab::Auth.all_available_scopes.map(&:to_s)
  scopes = [` + strings.Join(scopes, ", ") + `] & available
  scopes |= ['api'] unless available.include?('manage_runner')

  admin = User.find_by_username('root')
  admin = User.admins.active.order(:id).first if admin.nil? || !admin.admin? || !admin.active?
  raise 'no active administrator to own the token' if admin.nil?

  pat = PersonalAccessToken.find_by_token(value)
  if pat.nil?
    admin.personal_access_tokens.where(name: token_name).each { |t| t.revoke! if t.active? }
    pat = admin.personal_access_tokens.build(name: token_name, scopes: scopes, expires_at: expires_at)
    pat.set_token(value)
    pat.save!
    puts 'gitlab-operator: admin token created'
  elsif pat.user_id != admin.id || pat.name != token_name
    warn 'gitlab-operator: the admin token value belongs to another token; delete the admin token Secret to get a new one'
  elsif !pat.active?
    warn 'gitlab-operator: the admin token is revoked or expired; delete the admin token Secret to get a new one'
  elsif pat.scopes.map(&:to_s).sort != scopes.sort || pat.expires_at != expires_at
    pat.update!(scopes: scopes, expires_at: expires_at)
    puts 'gitlab-operator: admin token updated'
  else
    puts 'gitlab-operator: admin token active'
  end
rescue StandardError => e
  warn "gitlab-operator: seeding the admin token failed (#{e.class}): #{e.message}"
end
`
}

// PostReconfigureScript is GITLAB_POST_RECONFIGURE_SCRIPT. The image runs
// it under "set -e", so the fallback echo keeps a failing seed (Rails not
// booting, say) from killing the container; the next start retries.
func PostReconfigureScript() string {
	return "/opt/gitlab/bin/gitlab-rails runner " + ConfigDir + "/" + ConfigKeyBootstrap +
		" || echo 'gitlab-operator: seeding the admin token failed; it is retried on the next start'"
}

// ConfigMap holds the rendered gitlab.rb and the seed script. Neither holds
// a secret, which is why they may live in a ConfigMap.
func ConfigMap(gl *gitlabv1beta1.GitLab, in Inputs) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: objectMeta(gl, ConfigMapName(gl)),
		Data: map[string]string{
			ConfigKeyGitLabRB:  OmnibusConfig(gl, in),
			ConfigKeyBootstrap: BootstrapScript(),
		},
	}
}

// ConfigHash identifies everything that only takes effect when the
// container starts: the rendered configuration, the seed script and the
// admin token revision. It goes on the pod template, so a change rolls the
// pod.
func ConfigHash(gl *gitlabv1beta1.GitLab, in Inputs) string {
	return Hash(OmnibusConfig(gl, in), BootstrapScript(), in.TokenRevision)
}

func sshEnabled(gl *gitlabv1beta1.GitLab) bool { return gl.Spec.SSH != nil && gl.Spec.SSH.Enabled }

func sshPort(gl *gitlabv1beta1.GitLab) int32 {
	if gl.Spec.SSH != nil && gl.Spec.SSH.Port > 0 {
		return gl.Spec.SSH.Port
	}
	return 22
}

// pumaWorkers sizes Puma by the CPUs the pod may use. Omnibus would
// otherwise count the node's CPUs, and on a large node start so many
// workers that the pod runs out of memory.
func pumaWorkers(gl *gitlabv1beta1.GitLab) int {
	res := Resources(gl)
	cpu := res.Limits.Cpu()
	if cpu.IsZero() {
		cpu = res.Requests.Cpu()
	}
	n := int(math.Ceil(cpu.AsApproximateFloat64()))
	return min(max(n, 2), 8)
}

// rubyString quotes s as a single-quoted Ruby string literal, in which
// only backslash and single quote are special.
func rubyString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s + "'"
}

func rubyArray(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = rubyString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// fileRead is the Ruby expression reading a mounted secret file.
func fileRead(path string) string {
	return "File.read(" + rubyString(path) + ").strip"
}

func orInt32(v, def int32) string {
	if v > 0 {
		return strconv.Itoa(int(v))
	}
	return strconv.Itoa(int(def))
}

func orString(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
