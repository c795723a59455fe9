package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/outcome"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
)

// Crash points, named for tests that stop the manager at each step.
const (
	StepBeforeCreate     = "before-create"
	StepAfterCreate      = "after-create"
	StepAfterPersist     = "after-persist"
	StepBeforeDeregister = "before-deregister"
	StepAfterDeregister  = "after-deregister"
	StepBeforeUnfinalize = "before-unfinalize"
)

func (r *Reconciler) crashPoint(step string) {
	if r.Options.CrashPoint != nil {
		r.Options.CrashPoint(step)
	}
}

// ensureRegistration makes sure the Runner holds a valid runner token:
// it reuses and periodically verifies a stored one, rotates it before it
// expires, and registers only when there is none or GitLab rejected it.
func (r *Reconciler) ensureRegistration(ctx context.Context, s *scope) error {
	t := s.target
	gl, err := r.GitLab.Get(t.clientConfig(r.Options.GitLabTimeout))
	if err != nil {
		return s.fail(gitlabv1beta1.ConditionRegistered, gitlabOutcome("connecting to GitLab", err))
	}
	stored, err := r.loadRegistration(ctx, s.runner)
	var foreign errForeignSecret
	if errors.As(err, &foreign) {
		err = foreign.stalled()
	}
	if err != nil {
		return s.fail(gitlabv1beta1.ConditionRegistered, err)
	}
	if stored != nil && stored.Fingerprint != t.fingerprint {
		// The user pointed the Runner elsewhere (another URL, another
		// pre-created token, another runner type): remove the old runner,
		// best effort, then start over.
		r.releaseStale(ctx, s, stored)
		stored = nil
	}
	if stored != nil {
		s.registration = stored
		s.registeredReason = gitlabv1beta1.ReasonTokenVerified
		if stored.Origin == runnerbuild.OriginOperator {
			s.registeredReason = gitlabv1beta1.ReasonRegistered
		}
		rejected, err := r.verifyIfDue(ctx, s, gl)
		if err != nil {
			return s.fail(gitlabv1beta1.ConditionRegistered, err)
		}
		if !rejected {
			rejected, err = r.rotateIfDue(ctx, s, gl)
			if err != nil {
				return s.fail(gitlabv1beta1.ConditionRegistered, err)
			}
		}
		if !rejected {
			if err := r.applySettings(ctx, s, gl); err != nil {
				return s.fail(gitlabv1beta1.ConditionSettingsApplied, err)
			}
			r.markRegistered(s)
			return nil
		}
		if !t.kind.canCreate() {
			return s.fail(gitlabv1beta1.ConditionRegistered, outcome.Stalled(gitlabv1beta1.ReasonTokenRejected,
				"GitLab rejected the runner token (it was deleted or rotated in GitLab): create a new runner in GitLab and put its token under runner-token in the Secret named in spec.token"))
		}
		// The operator holds the means to register again.
		ctrl.LoggerFrom(ctx).Info("Registering again: GitLab rejected the stored runner token")
		s.registration = nil
	}

	reg, err := r.register(ctx, s, gl)
	if err != nil {
		return s.fail(gitlabv1beta1.ConditionRegistered, err)
	}
	// Persist first: the token goes into the Runner's Secret before
	// anything else happens, so a crash from here on never registers twice.
	s.registration = reg
	if err := r.persistRegistration(ctx, s); err != nil {
		return s.fail(gitlabv1beta1.ConditionRegistered, outcome.Transient(gitlabv1beta1.ReasonReconciling,
			"storing the runner token failed; it will be retried", err))
	}
	r.crashPoint(StepAfterPersist)
	s.mem.nextVerify = s.now.Add(r.jitter(r.Options.VerifyInterval))
	r.markRegistered(s)
	return nil
}

func (r *Reconciler) markRegistered(s *scope) {
	msg := "the runner is registered with GitLab"
	if s.registeredReason == gitlabv1beta1.ReasonTokenVerified {
		msg = "the runner token was verified with GitLab"
	}
	s.setCondition(gitlabv1beta1.ConditionRegistered, true, s.registeredReason, msg)
	s.requeueIn(s.mem.nextVerify.Sub(s.now))
	if exp := s.registration.ExpiresAt; exp != nil {
		s.requeueIn(r.rotationTime(s.registration).Sub(s.now))
	}
	if s.settingsNote != "" {
		s.setCondition(gitlabv1beta1.ConditionSettingsApplied, false, gitlabv1beta1.ReasonSettingsNotApplicable, s.settingsNote)
	} else if s.registration.Origin == runnerbuild.OriginUser {
		if hasServerSettings(s.runner) {
			s.setCondition(gitlabv1beta1.ConditionSettingsApplied, false, gitlabv1beta1.ReasonSettingsNotApplicable,
				"the runner was created in GitLab and handed over as a runner-token: tags, description, run untagged, locked, access level, paused and maximum timeout from the spec cannot be applied; change them in GitLab's runner settings")
		} else {
			s.setCondition(gitlabv1beta1.ConditionSettingsApplied, true, gitlabv1beta1.ReasonSettingsApplied,
				"the runner's settings are managed in GitLab")
		}
	} else {
		s.setCondition(gitlabv1beta1.ConditionSettingsApplied, true, gitlabv1beta1.ReasonSettingsApplied,
			"server-side settings were applied when the runner was registered")
	}
}

// hasServerSettings reports whether the spec asks for server-side settings
// a pre-created token cannot carry.
func hasServerSettings(r *gitlabv1beta1.Runner) bool {
	sp := r.Spec
	return sp.Tags != "" || sp.Description != "" || sp.RunUntagged != nil || sp.Locked != nil ||
		sp.AccessLevel != "" || sp.Paused != nil || sp.MaximumTimeout != nil
}

// verifyIfDue verifies the stored token at most once per interval, or at
// once when the runner's log reported it rejected. rejected is true when
// GitLab no longer knows the token.
func (r *Reconciler) verifyIfDue(ctx context.Context, s *scope, gl gitlab.Client) (rejected bool, err error) {
	if !s.mem.verifyNow && s.now.Before(s.mem.nextVerify) {
		return false, nil
	}
	creds, err := gl.Verify(ctx, s.registration.Token, runnerbuild.SystemID(s.runner))
	if err != nil {
		switch gitlab.KindOf(err) {
		case gitlab.KindForbidden, gitlab.KindNotFound:
			s.mem.verifyNow = false
			return true, nil
		}
		return false, gitlabOutcome("verifying the runner token", err)
	}
	s.mem.verifyNow = false
	s.mem.nextVerify = s.now.Add(r.jitter(r.Options.VerifyInterval))
	changed := false
	if creds.ID != 0 && creds.ID != s.registration.ID {
		s.registration.ID, changed = creds.ID, true
	}
	if !sameTime(creds.ExpiresAt, s.registration.ExpiresAt) {
		s.registration.ExpiresAt, changed = creds.ExpiresAt, true
	}
	if changed {
		if err := r.persistRegistration(ctx, s); err != nil {
			return false, outcome.Transient(gitlabv1beta1.ReasonReconciling, "storing the runner registration failed", err)
		}
	}
	return false, nil
}

// rotationTime is when a token with an expiry gets rotated: a quarter of
// its lifetime before it expires (at least an hour), well before
// gitlab-runner's own 75% mark, which the operator disables by never
// writing token_expires_at into config.toml.
func (r *Reconciler) rotationTime(reg *runnerbuild.Registration) time.Time {
	if reg.ExpiresAt == nil {
		return time.Time{}
	}
	before := r.Options.RotateBefore
	if before <= 0 {
		before = reg.ExpiresAt.Sub(reg.ObtainedAt) / 4
		if before < time.Hour {
			before = time.Hour
		}
	}
	return reg.ExpiresAt.Add(-before)
}

// rotateIfDue resets the token before it expires and stores the new one;
// the runner picks it up through its config reload.
//
// rejected is true when GitLab no longer accepts the token (a rotation whose
// response was lost already replaced it): the caller then recovers the
// runner like any rejected token.
func (r *Reconciler) rotateIfDue(ctx context.Context, s *scope, gl gitlab.Client) (rejected bool, err error) {
	reg := s.registration
	if reg.ExpiresAt == nil || s.now.Before(r.rotationTime(reg)) {
		return false, nil
	}
	ctrl.LoggerFrom(ctx).Info("Rotating the runner token before it expires")
	creds, err := gl.ResetToken(ctx, reg.Token)
	if err != nil {
		if k := gitlab.KindOf(err); k == gitlab.KindForbidden || k == gitlab.KindNotFound {
			return true, nil
		}
		return false, gitlabOutcome("rotating the runner token", err)
	}
	reg.Token, reg.ExpiresAt, reg.ObtainedAt = creds.Token, creds.ExpiresAt, storedTime(s.now)
	if creds.ID != 0 {
		reg.ID = creds.ID
	}
	if err := r.persistRegistration(ctx, s); err != nil {
		return false, outcome.Transient(gitlabv1beta1.ReasonReconciling, "storing the rotated runner token failed", err)
	}
	r.event(s.runner, corev1.EventTypeNormal, "TokenRotated", "The runner token was rotated before it expired")
	return false, nil
}

// register obtains a new runner token according to the credential kind.
func (r *Reconciler) register(ctx context.Context, s *scope, gl gitlab.Client) (*runnerbuild.Registration, error) {
	t := s.target
	reg := &runnerbuild.Registration{ObtainedAt: storedTime(s.now), Fingerprint: t.fingerprint, URL: t.url, Origin: runnerbuild.OriginOperator}
	opts := runnerOptions(s.runner)
	var creds *gitlab.Credentials
	var err error
	switch t.kind {
	case credRunnerToken:
		creds, err = gl.Verify(ctx, t.credential, runnerbuild.SystemID(s.runner))
		if err != nil {
			if k := gitlab.KindOf(err); k == gitlab.KindForbidden || k == gitlab.KindNotFound {
				return nil, outcome.Stalled(gitlabv1beta1.ReasonTokenRejected,
					"GitLab rejected the runner-token in the Secret named in spec.token: it is wrong, revoked or belongs to another GitLab; create a runner in GitLab and store its glrt- token under runner-token")
			}
			return nil, gitlabOutcome("verifying the runner-token", err)
		}
		creds.Token = t.credential
		reg.Origin = runnerbuild.OriginUser
		s.registeredReason = gitlabv1beta1.ReasonTokenVerified
	case credRegistrationToken:
		r.crashPoint(StepBeforeCreate)
		creds, err = gl.RegisterWithToken(ctx, t.credential, opts)
		if err != nil {
			return nil, gitlabOutcome("registering with the registration token", err)
		}
		r.crashPoint(StepAfterCreate)
		s.registeredReason = gitlabv1beta1.ReasonRegistered
	default:
		if s.finalizerWasPresent && t.kind.canFind() {
			// An earlier attempt may have created the runner and lost the
			// response (or the operator stopped before storing it). Adopt
			// that runner instead of creating a second one.
			creds, err = r.adoptOrphan(ctx, s, gl)
			if err != nil {
				return nil, err
			}
		}
		if creds == nil {
			r.crashPoint(StepBeforeCreate)
			creds, err = gl.CreateRunner(ctx, createOptions(s.runner, opts))
			if err != nil {
				return nil, gitlabOutcome("creating the runner", err)
			}
			r.crashPoint(StepAfterCreate)
		}
		s.registeredReason = gitlabv1beta1.ReasonRegistered
	}
	reg.ID, reg.Token, reg.ExpiresAt = creds.ID, creds.Token, creds.ExpiresAt
	if reg.Origin == runnerbuild.OriginOperator {
		reg.SettingsHash = settingsHash(s.runner)
	}
	return reg, nil
}

// settingsHash identifies the server-side settings of the spec.
func settingsHash(r *gitlabv1beta1.Runner) string {
	o := runnerOptions(r)
	b, _ := json.Marshal(o)
	return runnerbuild.Hash(string(b))
}

// applySettings sends changed server-side settings to GitLab, once, when
// the operator created the runner and holds a token that may change it.
func (r *Reconciler) applySettings(ctx context.Context, s *scope, gl gitlab.Client) error {
	reg := s.registration
	if reg.Origin != runnerbuild.OriginOperator {
		return nil
	}
	want := settingsHash(s.runner)
	if reg.SettingsHash == want {
		return nil
	}
	if !s.target.kind.canFind() {
		s.settingsNote = "the server-side settings changed after registration, and a registration token cannot change them: change them in GitLab's runner settings, or use an access-token"
		return nil
	}
	if _, err := gl.UpdateRunner(ctx, reg.ID, runnerOptions(s.runner)); err != nil {
		return gitlabOutcome("applying the runner's settings", err)
	}
	reg.SettingsHash = want
	if err := r.persistRegistration(ctx, s); err != nil {
		return outcome.Transient(gitlabv1beta1.ReasonReconciling, "storing the applied settings failed", err)
	}
	return nil
}

// adoptOrphan looks for a runner an earlier attempt created for this
// Runner (matched by the description and the operator's maintenance note)
// and takes it over by resetting its token. Extra copies are deleted.
func (r *Reconciler) adoptOrphan(ctx context.Context, s *scope, gl gitlab.Client) (*gitlab.Credentials, error) {
	found, err := r.findOwnRunners(ctx, s.runner, gl)
	if err != nil {
		if errors.Is(err, errCannotList) {
			// A token limited to create_runner cannot list runners: the
			// lookup is skipped, and a lost response may leave a duplicate.
			ctrl.LoggerFrom(ctx).Info("The access token cannot list runners (needs read_api); not looking for a runner created earlier")
			return nil, nil
		}
		return nil, err
	}
	if len(found) == 0 {
		return nil, nil
	}
	for _, extra := range found[1:] {
		if err := gl.DeleteByID(ctx, extra); err != nil && gitlab.KindOf(err) != gitlab.KindNotFound {
			return nil, gitlabOutcome("removing a duplicate runner", err)
		}
	}
	creds, err := gl.ResetTokenByID(ctx, found[0])
	if err != nil {
		return nil, gitlabOutcome("taking over the runner created earlier", err)
	}
	if creds.ID == 0 {
		creds.ID = found[0]
	}
	ctrl.LoggerFrom(ctx).Info("Took over a runner an earlier attempt created", "runnerID", found[0])
	return creds, nil
}

// findOwnRunners returns the ids of runners in GitLab that this Runner
// created, oldest first.
func (r *Reconciler) findOwnRunners(ctx context.Context, runner *gitlabv1beta1.Runner, gl gitlab.Client) ([]int64, error) {
	list, err := gl.FindRunners(ctx, gitlab.FindOptions{Description: runnerbuild.Description(runner)})
	if err != nil {
		if gitlab.IsInsufficientScope(err) {
			return nil, errCannotList
		}
		return nil, gitlabOutcome("looking for a runner created earlier", err)
	}
	var ids []int64
	for _, rn := range list {
		if rn.Description != runnerbuild.Description(runner) {
			continue
		}
		full, err := gl.GetRunner(ctx, rn.ID)
		if err != nil {
			if gitlab.KindOf(err) == gitlab.KindNotFound {
				continue
			}
			return nil, gitlabOutcome("looking for a runner created earlier", err)
		}
		if full.MaintenanceNote == maintenanceNote(runner) {
			ids = append(ids, rn.ID)
		}
	}
	return ids, nil
}

// errCannotList: the credential may create runners but not list them.
var errCannotList = errors.New("the access token cannot list runners")

// maintenanceNote marks runners this operator created for one Runner; the
// UID makes it unique across re-created Runners of the same name.
func maintenanceNote(r *gitlabv1beta1.Runner) string {
	return fmt.Sprintf("Managed by gitlab-operator for Runner %s/%s (uid %s). Delete the Runner resource, not this runner.", r.Namespace, r.Name, r.UID)
}

func runnerOptions(r *gitlabv1beta1.Runner) gitlab.RunnerOptions {
	sp := r.Spec
	return gitlab.RunnerOptions{
		Description:     runnerbuild.Description(r),
		Tags:            runnerbuild.Tags(r),
		RunUntagged:     runUntagged(r),
		Locked:          sp.Locked,
		Paused:          sp.Paused,
		AccessLevel:     sp.AccessLevel,
		MaximumTimeout:  sp.MaximumTimeout,
		MaintenanceNote: maintenanceNote(r),
	}
}

// runUntagged defaults to true without tags (GitLab refuses a runner with
// neither tags nor untagged jobs).
func runUntagged(r *gitlabv1beta1.Runner) *bool {
	if r.Spec.RunUntagged != nil {
		return r.Spec.RunUntagged
	}
	return ptr.To(len(runnerbuild.Tags(r)) == 0)
}

func createOptions(r *gitlabv1beta1.Runner, opts gitlab.RunnerOptions) gitlab.CreateOptions {
	co := gitlab.CreateOptions{RunnerOptions: opts, RunnerType: r.Spec.RunnerType}
	if co.RunnerType == "" {
		co.RunnerType = "instance_type"
	}
	if r.Spec.GroupID != nil {
		co.GroupID = *r.Spec.GroupID
	}
	if r.Spec.ProjectID != nil {
		co.ProjectID = *r.Spec.ProjectID
	}
	return co
}

// loadRegistration reads the stored registration. The cache may not have
// seen a Secret written moments ago, so an absent Secret is confirmed with
// an uncached read before the operator concludes there is none.
func (r *Reconciler) loadRegistration(ctx context.Context, runner *gitlabv1beta1.Runner) (*runnerbuild.Registration, error) {
	key := client.ObjectKey{Namespace: runner.Namespace, Name: runnerbuild.ConfigSecretName(runner)}
	sec := &corev1.Secret{}
	err := r.Client.Get(ctx, key, sec)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, sec)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, outcome.Transient(gitlabv1beta1.ReasonReconciling, "reading the runner's Secret failed", err)
	}
	if !ownedBy(sec, runner) {
		return nil, errForeignSecret{name: sec.Name}
	}
	reg, ok := runnerbuild.RegistrationFromSecret(sec)
	if !ok {
		return nil, nil
	}
	return &reg, nil
}

// errForeignSecret: a Secret with the name of the Runner's own Secret
// exists but belongs to someone else. Registration stalls (the operator
// would overwrite it); deletion goes ahead (there is nothing of ours in it).
type errForeignSecret struct{ name string }

func (e errForeignSecret) Error() string {
	return (&outcome.Error{Reason: gitlabv1beta1.ReasonInvalidSpec, Message: e.stalled().Message}).Error()
}

func (e errForeignSecret) stalled() *outcome.Error {
	return outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, fmt.Sprintf(
		"Secret %q exists but does not belong to this Runner: delete or rename it", e.name))
}

func ownedBy(obj client.Object, owner client.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

// releaseStale removes a registration that no longer matches the spec,
// best effort: failures are logged, not fatal, because the new spec must
// be served either way.
func (r *Reconciler) releaseStale(ctx context.Context, s *scope, old *runnerbuild.Registration) {
	cfg := s.target.clientConfig(r.Options.GitLabTimeout)
	cfg.URL = old.URL
	cfg.AccessToken = ""
	gl, err := r.GitLab.Get(cfg)
	if err == nil {
		err = r.deregisterWith(ctx, s.runner, gl, old)
	}
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Could not remove the runner of the previous configuration", "error", err.Error())
		r.event(s.runner, corev1.EventTypeWarning, "StaleRunnerLeft",
			"The runner registered for the previous GitLab URL or token could not be removed; remove it in GitLab")
	}
}

// gitlabOutcome maps a pkg/gitlab error to the reconcile outcome and the
// condition the user sees. The gitlab package's messages are already
// redacted and actionable.
func gitlabOutcome(op string, err error) error {
	var ge *gitlab.Error
	if !errors.As(err, &ge) {
		return outcome.Transient(gitlabv1beta1.ReasonGitLabUnreachable, op+" failed", err)
	}
	msg := op + ": " + ge.Message
	switch ge.Kind {
	case gitlab.KindRegistrationDisallowed:
		return outcome.Stalled(gitlabv1beta1.ReasonRegistrationTokensDisallowed, op+": this GitLab disallows registration tokens (410 Gone); create the runner in GitLab and store its glrt- token under runner-token, or give an access-token with the create_runner scope")
	case gitlab.KindForbidden:
		return outcome.Stalled(gitlabv1beta1.ReasonTokenRejected, msg)
	case gitlab.KindUnauthorized:
		return outcome.Stalled(gitlabv1beta1.ReasonUnauthorized, msg)
	case gitlab.KindTLS:
		return outcome.Stalled(gitlabv1beta1.ReasonTLSError, msg)
	case gitlab.KindBadRequest, gitlab.KindNotFound:
		return outcome.Stalled(gitlabv1beta1.ReasonRejectedByGitLab, msg)
	case gitlab.KindInvalidConfig:
		return outcome.Stalled(gitlabv1beta1.ReasonInvalidSpec, msg)
	case gitlab.KindRateLimited:
		oe := outcome.Transient(gitlabv1beta1.ReasonRateLimited, msg, err)
		oe.RetryAfter = ge.RetryAfter
		return oe
	default:
		return outcome.Transient(gitlabv1beta1.ReasonGitLabUnreachable, msg, err)
	}
}

// storedTime is t as the Secret stores it (RFC 3339, whole seconds), so
// config.toml rendered before and after a round trip through the Secret is
// the same and is not written twice.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
