package runner

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/conditions"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
)

// credentialKind is how the operator obtains the runner's token.
type credentialKind string

const (
	// credManaged: a GitLab this operator manages; its admin token creates
	// an instance runner.
	credManaged credentialKind = "managed"
	// credRunnerToken: a glrt- token the user created in GitLab.
	credRunnerToken credentialKind = "runner-token"
	// credRegistrationToken: the deprecated registration flow.
	credRegistrationToken credentialKind = "registration-token"
	// credAccessToken: a PAT/group/project token with create_runner.
	credAccessToken credentialKind = "access-token"
)

// canCreate reports whether the operator can create (and so re-create)
// the runner itself.
func (k credentialKind) canCreate() bool { return k != credRunnerToken }

// canFind reports whether the credential can list runners, which is what
// recovering from a lost create response needs.
func (k credentialKind) canFind() bool { return k == credManaged || k == credAccessToken }

// target is where and how a Runner registers, resolved from its spec.
type target struct {
	url        string
	kind       credentialKind
	credential string
	ca         []byte
	caKey      string
	insecure   bool
	// fingerprint changes when the registration must start over: another
	// URL, another kind, another pre-created token, another runner type.
	fingerprint string
}

func (t *target) clientConfig(timeout time.Duration) gitlab.Config {
	cfg := gitlab.Config{URL: t.url, CABundle: t.ca, InsecureSkipVerify: t.insecure, UserAgent: "gitlab-operator", Timeout: timeout}
	if t.kind == credManaged || t.kind == credAccessToken {
		cfg.AccessToken = t.credential
	}
	return cfg
}

// resolveGitLab finds the GitLab URL, credential and CA for the Runner.
func (r *Reconciler) resolveGitLab(ctx context.Context, s *scope) error {
	t, err := r.resolveTarget(ctx, s.runner)
	if err != nil {
		return s.fail(gitlabv1beta1.ConditionRegistered, err)
	}
	s.target = t
	return nil
}

func (r *Reconciler) resolveTarget(ctx context.Context, runner *gitlabv1beta1.Runner) (*target, error) {
	spec := runner.Spec
	if ns := runnerbuild.JobNamespace(runner); len(r.Options.Namespaces) > 0 && !slices.Contains(r.Options.Namespaces, ns) {
		return nil, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
			"spec.jobNamespace %q is not watched by the operator: use a namespace of its OperatorGroup, or add this one to it", ns))
	}
	t := &target{insecure: spec.GitLab.InsecureSkipTLSVerify}
	switch {
	case spec.GitLab.Name != "":
		gl := &gitlabv1beta1.GitLab{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: runner.Namespace, Name: spec.GitLab.Name}, gl); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, outcome.Stalled(gitlabv1beta1.ReasonGitLabNotFound, fmt.Sprintf(
					"no GitLab named %q in namespace %s: create it, or fix spec.gitlab.name (a Runner can only use a GitLab in its own namespace)",
					spec.GitLab.Name, runner.Namespace))
			}
			return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, "reading the GitLab resource failed", err)
		}
		if gl.DeletionTimestamp != nil {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonWaitingForGitLab, fmt.Sprintf("GitLab %q is being deleted", gl.Name))
		}
		if gl.Status.InternalURL == "" || gl.Status.AdminTokenSecret == "" || !conditions.IsTrue(gl, gitlabv1beta1.ConditionAdminTokenReady) {
			return nil, outcome.Waiting(gitlabv1beta1.ReasonWaitingForGitLab, fmt.Sprintf(
				"waiting for GitLab %q to become ready and publish its admin token", gl.Name), 30*time.Second)
		}
		sec := &corev1.Secret{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: runner.Namespace, Name: gl.Status.AdminTokenSecret}, sec); err != nil {
			return nil, outcome.Waiting(gitlabv1beta1.ReasonWaitingForGitLab, fmt.Sprintf(
				"waiting for the admin token Secret of GitLab %q", gl.Name), 30*time.Second)
		}
		tok := string(sec.Data["token"])
		if tok == "" {
			return nil, outcome.Waiting(gitlabv1beta1.ReasonWaitingForGitLab, fmt.Sprintf(
				"waiting for the admin token of GitLab %q", gl.Name), 30*time.Second)
		}
		t.url, t.kind, t.credential = gl.Status.InternalURL, credManaged, tok
		t.fingerprint = runnerbuild.Hash(t.url, string(t.kind), gl.Name, typeKey(runner))
	default:
		sec, err := r.userSecret(ctx, runner.Namespace, spec.Token, "spec.token")
		if err != nil {
			return nil, err
		}
		var found []string
		for _, k := range []string{gitlabv1beta1.SecretKeyRunnerToken, gitlabv1beta1.SecretKeyRegistrationToken, gitlabv1beta1.SecretKeyAccessToken} {
			if len(sec.Data[k]) > 0 {
				found = append(found, k)
			}
		}
		switch len(found) {
		case 0:
			return nil, outcome.Stalled(gitlabv1beta1.ReasonSecretKeyMissing, fmt.Sprintf(
				"Secret %q has none of the keys runner-token, runner-registration-token or access-token (or they are empty): add exactly one", spec.Token))
		case 1:
		default:
			return nil, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
				"Secret %q has more than one credential key (%v): keep exactly one so it is clear how the runner registers", spec.Token, found))
		}
		t.url = spec.GitLab.URL
		// Surrounding whitespace is what `echo token > file` leaves behind;
		// whitespace or control characters inside are never part of a token
		// and would end up in an HTTP header.
		t.credential = strings.TrimSpace(string(sec.Data[found[0]]))
		if t.credential == "" || strings.IndexFunc(t.credential, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0 {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
				"the value under %s in Secret %q contains spaces, line breaks or control characters: store the token alone", found[0], spec.Token))
		}
		switch found[0] {
		case gitlabv1beta1.SecretKeyRunnerToken:
			t.kind = credRunnerToken
			t.fingerprint = runnerbuild.Hash(t.url, string(t.kind), t.credential)
		case gitlabv1beta1.SecretKeyRegistrationToken:
			t.kind = credRegistrationToken
			t.fingerprint = runnerbuild.Hash(t.url, string(t.kind))
		default:
			t.kind = credAccessToken
			t.fingerprint = runnerbuild.Hash(t.url, string(t.kind), typeKey(runner))
		}
	}
	if spec.CA != "" {
		sec, err := r.userSecret(ctx, runner.Namespace, spec.CA, "spec.ca")
		if err != nil {
			return nil, err
		}
		for _, k := range []string{gitlabv1beta1.SecretKeyCA, gitlabv1beta1.SecretKeyTLSCrt} {
			if len(sec.Data[k]) > 0 {
				t.ca, t.caKey = sec.Data[k], k
				break
			}
		}
		if t.caKey == "" {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonSecretKeyMissing, fmt.Sprintf(
				"CA Secret %q has no key ca.crt or tls.crt: add the PEM bundle of GitLab's certificate authority under ca.crt", spec.CA))
		}
	}
	return t, nil
}

// typeKey identifies the runner type and scope for the fingerprint.
func typeKey(runner *gitlabv1beta1.Runner) string {
	k := runner.Spec.RunnerType
	if runner.Spec.GroupID != nil {
		k += "/g" + strconv.FormatInt(*runner.Spec.GroupID, 10)
	}
	if runner.Spec.ProjectID != nil {
		k += "/p" + strconv.FormatInt(*runner.Spec.ProjectID, 10)
	}
	return k
}

// userSecret reads a Secret the user references. It goes through the
// uncached reader: the cache only holds the operator's own children.
func (r *Reconciler) userSecret(ctx context.Context, namespace, name, field string) (*corev1.Secret, error) {
	sec := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonSecretNotFound, fmt.Sprintf(
				"Secret %q named in %s does not exist in namespace %s: create it", name, field, namespace))
		}
		if apierrors.IsForbidden(err) {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
				"the operator may not read Secret %q named in %s: check that the namespace is watched by the operator", name, field))
		}
		return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("reading Secret %q failed", name), err)
	}
	return sec, nil
}

// userConfigMap reads a ConfigMap the user references, uncached.
func (r *Reconciler) userConfigMap(ctx context.Context, namespace, name, field string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, outcome.Stalled(gitlabv1beta1.ReasonConfigMapNotFound, fmt.Sprintf(
				"ConfigMap %q named in %s does not exist in namespace %s: create it", name, field, namespace))
		}
		return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, fmt.Sprintf("reading ConfigMap %q failed", name), err)
	}
	return cm, nil
}
