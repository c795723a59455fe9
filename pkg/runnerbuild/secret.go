package runnerbuild

import (
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
)

// Keys of the Runner's own Secret. It holds the registration the operator
// obtained (persisted before anything else happens) and the rendered
// config.toml, which embeds the token and therefore never goes into a
// ConfigMap.
const (
	KeyConfigTOML = "config.toml"
	KeyToken      = "token"
	KeyRunnerID   = "runner-id"
	KeyExpiresAt  = "token-expires-at"
	KeyObtainedAt = "token-obtained-at"
)

// Annotations of the Runner's own Secret.
const (
	// AnnotationOrigin says who created the runner in GitLab: "operator"
	// (the operator registered it and deletes it on de-registration) or
	// "user" (a glrt- token handed over; only this operator's runner
	// managers are removed).
	AnnotationOrigin = "gitlab.com/runner-origin"
	// AnnotationFingerprint identifies the GitLab URL and credential the
	// registration belongs to; a change means re-registration.
	AnnotationFingerprint = "gitlab.com/credential-fingerprint"
	// AnnotationURL is the GitLab URL the registration belongs to, so a
	// runner registered with a previous URL can still be removed there.
	AnnotationURL = "gitlab.com/gitlab-url"
	// AnnotationSettings is the hash of the server-side settings last
	// applied in GitLab, so a spec change is applied once.
	AnnotationSettings = "gitlab.com/settings-hash"
)

// Origins of a registration.
const (
	OriginOperator = "operator"
	OriginUser     = "user"
)

// Registration is what GitLab gave the operator for a Runner.
type Registration struct {
	ID          int64
	Token       string
	ExpiresAt   *time.Time
	ObtainedAt  time.Time
	Origin      string
	Fingerprint string
	URL         string
	// SettingsHash identifies the server-side settings applied in GitLab.
	SettingsHash string
}

// ConfigSecret holds the registration and the rendered config.toml
// (configTOML may be nil when rendering failed: the token is persisted
// anyway so it is never lost).
func ConfigSecret(r *gitlabv1beta1.Runner, reg Registration, configTOML []byte) *corev1.Secret {
	data := map[string][]byte{
		KeyToken:      []byte(reg.Token),
		KeyRunnerID:   []byte(strconv.FormatInt(reg.ID, 10)),
		KeyObtainedAt: []byte(reg.ObtainedAt.UTC().Format(time.RFC3339)),
	}
	if reg.ExpiresAt != nil && !reg.ExpiresAt.IsZero() {
		data[KeyExpiresAt] = []byte(reg.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if configTOML != nil {
		data[KeyConfigTOML] = configTOML
	}
	m := meta(r, ConfigSecretName(r), r.Namespace)
	m.Annotations = map[string]string{
		AnnotationOrigin:      reg.Origin,
		AnnotationFingerprint: reg.Fingerprint,
		AnnotationURL:         reg.URL,
		AnnotationSettings:    reg.SettingsHash,
	}
	return &corev1.Secret{ObjectMeta: m, Type: corev1.SecretTypeOpaque, Data: data}
}

// RegistrationFromSecret reads a registration back; ok is false when the
// Secret holds no token.
func RegistrationFromSecret(s *corev1.Secret) (Registration, bool) {
	if s == nil || len(s.Data[KeyToken]) == 0 {
		return Registration{}, false
	}
	reg := Registration{
		Token:        string(s.Data[KeyToken]),
		Origin:       s.Annotations[AnnotationOrigin],
		Fingerprint:  s.Annotations[AnnotationFingerprint],
		URL:          s.Annotations[AnnotationURL],
		SettingsHash: s.Annotations[AnnotationSettings],
	}
	reg.ID, _ = strconv.ParseInt(string(s.Data[KeyRunnerID]), 10, 64)
	if t, err := time.Parse(time.RFC3339, string(s.Data[KeyExpiresAt])); err == nil {
		reg.ExpiresAt = &t
	}
	if t, err := time.Parse(time.RFC3339, string(s.Data[KeyObtainedAt])); err == nil {
		reg.ObtainedAt = t
	}
	return reg, true
}
