package gitlabbuild

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
)

// Generated secret sizes and the admin token's lifetime.
const (
	// RootPasswordLength of a generated root password (GitLab wants 8+).
	RootPasswordLength = 32
	// AdminTokenLength is what GitLab's documentation asks of a token
	// value seeded with set_token.
	AdminTokenLength = 20
	// AdminTokenLifetime stays below GitLab's default maximum personal
	// access token lifetime of 365 days.
	AdminTokenLifetime = 364 * 24 * time.Hour
	// DefaultRotateBefore is how long before expiry the admin token is
	// replaced. Replacing it restarts the pod, so this leaves weeks to
	// notice and fix a rotation that did not take.
	DefaultRotateBefore = 30 * 24 * time.Hour
)

// AnnotationTokenRevision on the admin token Secret identifies its current
// value without revealing it; it feeds the pod's config hash, so a new value
// rolls the pod and gets seeded.
const AnnotationTokenRevision = "gitlab.com/token-revision"

// expiryLayout is a date: GitLab token expiry has day precision.
const expiryLayout = "2006-01-02"

const alphanumeric = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// RandomString returns n characters from [a-zA-Z0-9] drawn from
// crypto/rand.
func RandomString(n int) (string, error) {
	out := make([]byte, n)
	limit := big.NewInt(int64(len(alphanumeric)))
	for i := range out {
		v, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		out[i] = alphanumeric[v.Int64()]
	}
	return string(out), nil
}

// RootPasswordSecret is the generated root password.
func RootPasswordSecret(gl *gitlabv1beta1.GitLab, password string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: objectMeta(gl, GeneratedRootPasswordSecretName(gl)),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{KeyPassword: []byte(password)},
	}
}

// AdminTokenSecret holds the operator's admin token and its expiry. The
// Runner controller reads key "token" from it; the seed script reads both.
// revision is a random, non-secret id of this value.
func AdminTokenSecret(gl *gitlabv1beta1.GitLab, token string, expiresAt time.Time, revision string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: objectMeta(gl, AdminTokenSecretName(gl)),
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			KeyToken:     []byte(token),
			KeyExpiresAt: []byte(expiresAt.UTC().Format(expiryLayout)),
		},
	}
	s.Annotations = map[string]string{AnnotationTokenRevision: revision}
	return s
}

// NewAdminTokenSecret generates a fresh admin token valid from now.
func NewAdminTokenSecret(gl *gitlabv1beta1.GitLab, now time.Time) (*corev1.Secret, error) {
	tok, err := RandomString(AdminTokenLength)
	if err != nil {
		return nil, err
	}
	rev, err := RandomString(12)
	if err != nil {
		return nil, err
	}
	return AdminTokenSecret(gl, tok, now.Add(AdminTokenLifetime), rev), nil
}

// NewRootPasswordSecret generates a root password.
func NewRootPasswordSecret(gl *gitlabv1beta1.GitLab) (*corev1.Secret, error) {
	pw, err := RandomString(RootPasswordLength)
	if err != nil {
		return nil, err
	}
	return RootPasswordSecret(gl, pw), nil
}

// TokenExpiry reads the admin token's expiry; ok is false when the Secret
// has none or it does not parse.
func TokenExpiry(s *corev1.Secret) (time.Time, bool) {
	t, err := time.Parse(expiryLayout, string(s.Data[KeyExpiresAt]))
	return t, err == nil
}

// AdminTokenUsable reports whether the Secret holds a token the seed script
// can use: a value of the expected length and an expiry date.
func AdminTokenUsable(s *corev1.Secret) bool {
	_, ok := TokenExpiry(s)
	return ok && len(s.Data[KeyToken]) >= AdminTokenLength
}

// NeedsRotation reports whether the admin token must be replaced: it is
// unusable, or expires within before.
func NeedsRotation(s *corev1.Secret, now time.Time, before time.Duration) bool {
	exp, ok := TokenExpiry(s)
	if !ok || !AdminTokenUsable(s) {
		return true
	}
	return !now.Add(before).Before(exp)
}

// TokenRevision identifies the Secret's current token without revealing it.
func TokenRevision(s *corev1.Secret) string {
	if rev := s.Annotations[AnnotationTokenRevision]; rev != "" {
		return rev
	}
	return string(s.Data[KeyExpiresAt])
}
