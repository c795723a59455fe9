package tests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
)

// RunnerLifecycleName names the test.
const RunnerLifecycleName = "runner-lifecycle"

// lifecycleTag is the job tag the test's runner gets; the test checks that
// GitLab has it.
const lifecycleTag = "gitlab-operator-scorecard"

// LifecycleConfig says where runner-lifecycle runs.
type LifecycleConfig struct {
	// RestConfig reaches the cluster the operator watches.
	RestConfig *rest.Config
	// Namespace the Secret and Runner are created in; the operator must
	// watch it.
	Namespace string
	// GitLabURL is the GitLab the runner registers with.
	GitLabURL string
	// Token is an access token the operator creates the runner with (the
	// access-token key of the Runner's Secret) and the test reads the
	// runner back with: an administrator's token with the api scope for an
	// instance runner, or a group owner's with GroupID.
	Token string
	// GroupID registers a group runner instead of an instance runner.
	GroupID int64
	// CABundle (PEM) is trusted for GitLab's certificate, by the operator
	// (through a Secret named in spec.ca) and by the test.
	CABundle []byte
	// Timeout bounds each wait (registration, deletion); default 3 minutes.
	Timeout time.Duration
	// CleanupTimeout bounds the wait for a left-over Runner to go after a
	// failure; default 30 seconds.
	CleanupTimeout time.Duration
}

// RunnerLifecycle creates an access-token Secret and a Runner, waits for
// status.registration succeeded and checks the runner in GitLab, deletes
// the Runner, waits until it is gone and checks GitLab no longer has the
// runner. It cleans up what it created in every case.
func RunnerLifecycle(ctx context.Context, cfg LifecycleConfig) scapiv1alpha3.TestResult {
	r := newRecorder(RunnerLifecycleName)
	if err := cfg.validate(); err != nil {
		return notConfigured(err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Minute
	}
	if cfg.CleanupTimeout <= 0 {
		cfg.CleanupTimeout = 30 * time.Second
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		r.errorf("building the scheme: %v", err)
		return r.result()
	}
	if err := gitlabv1beta1.AddToScheme(scheme); err != nil {
		r.errorf("building the scheme: %v", err)
		return r.result()
	}
	k8s, err := client.New(cfg.RestConfig, client.Options{Scheme: scheme})
	if err != nil {
		r.errorf("connecting to the cluster: %v", err)
		return r.result()
	}
	gl, err := gitlab.NewClient(gitlab.Config{URL: cfg.GitLabURL, AccessToken: cfg.Token, CABundle: cfg.CABundle})
	if err != nil {
		r.errorf("building the GitLab client: %v", err)
		return r.result()
	}
	lc := &lifecycle{r: r, k8s: k8s, gl: gl, cfg: cfg, name: "scorecard-" + rand.String(6), start: time.Now()}
	lc.run(ctx)
	lc.cleanup()
	return r.result()
}

func (c LifecycleConfig) validate() error {
	var missing []string
	if c.RestConfig == nil {
		missing = append(missing, "a cluster")
	}
	if c.Namespace == "" {
		missing = append(missing, "a namespace")
	}
	if c.GitLabURL == "" {
		missing = append(missing, "a GitLab URL")
	}
	if c.Token == "" {
		missing = append(missing, "a GitLab access token")
	}
	if len(missing) > 0 {
		return errors.New("runner-lifecycle needs " + strings.Join(missing, ", "))
	}
	return nil
}

type lifecycle struct {
	r       *recorder
	k8s     client.Client
	gl      gitlab.Client
	cfg     LifecycleConfig
	name    string
	start   time.Time
	created []client.Object
}

func (l *lifecycle) step(format string, args ...any) {
	l.r.logf("[%6.1fs] %s", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

func (l *lifecycle) run(ctx context.Context) {
	ns := l.cfg.Namespace
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: l.name + "-token", Namespace: ns},
		StringData: map[string]string{gitlabv1beta1.SecretKeyAccessToken: l.cfg.Token},
	}
	if !l.create(ctx, secret) {
		return
	}
	runner := &gitlabv1beta1.Runner{
		ObjectMeta: metav1.ObjectMeta{Name: l.name, Namespace: ns},
		Spec: gitlabv1beta1.RunnerSpec{
			GitLab: gitlabv1beta1.GitLabReference{URL: l.cfg.GitLabURL},
			Token:  secret.Name,
			Tags:   lifecycleTag,
		},
	}
	if l.cfg.GroupID > 0 {
		runner.Spec.RunnerType = "group_type"
		runner.Spec.GroupID = &l.cfg.GroupID
	}
	if len(l.cfg.CABundle) > 0 {
		ca := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: l.name + "-ca", Namespace: ns},
			Data:       map[string][]byte{gitlabv1beta1.SecretKeyCA: l.cfg.CABundle},
		}
		if !l.create(ctx, ca) {
			return
		}
		runner.Spec.CA = ca.Name
	}
	if !l.create(ctx, runner) {
		return
	}
	l.step("created Runner %s/%s against %s", ns, runner.Name, l.cfg.GitLabURL)

	// Registration.
	var got gitlabv1beta1.Runner
	err := l.poll(ctx, func(ctx context.Context) (bool, error) {
		if err := l.k8s.Get(ctx, client.ObjectKeyFromObject(runner), &got); err != nil {
			return false, err
		}
		return got.Status.Registration == gitlabv1beta1.RegistrationSucceeded && got.Status.RunnerID > 0, nil
	})
	if err != nil {
		l.r.failf("the Runner did not reach registration %q within %s: %v; last status: %s",
			gitlabv1beta1.RegistrationSucceeded, l.cfg.Timeout, err, describeStatus(&got))
		l.r.suggest("Check that the operator watches this namespace and can reach GitLab, and read the Runner's conditions.")
		return
	}
	id := got.Status.RunnerID
	l.step("registration succeeded: runner %d", id)
	if got.Status.ObservedGeneration != got.Generation {
		l.r.failf("status.observedGeneration is %d, want the Runner's generation %d", got.Status.ObservedGeneration, got.Generation)
	}

	// GitLab has the runner, with the Runner's tags.
	inGitLab, err := l.gl.GetRunner(ctx, id)
	if err != nil {
		l.r.failf("runner %d is not readable in GitLab after registration: %v", id, err)
		l.r.suggest("The token must be able to read runners (api scope).")
	} else if !slices.Contains(inGitLab.Tags, lifecycleTag) {
		l.r.failf("runner %d in GitLab has tags %v, want %q", id, inGitLab.Tags, lifecycleTag)
	} else {
		l.step("runner %d is in GitLab with tag %s", id, lifecycleTag)
	}

	// Deletion de-registers.
	if err := l.k8s.Delete(ctx, runner); err != nil {
		l.r.failf("deleting the Runner: %v", err)
		return
	}
	l.step("deleted the Runner")
	err = l.poll(ctx, func(ctx context.Context) (bool, error) {
		err := l.k8s.Get(ctx, client.ObjectKeyFromObject(runner), &got)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		l.r.failf("the Runner was not removed within %s: %v; last status: %s", l.cfg.Timeout, err, describeStatus(&got))
		l.r.suggest("A Runner that stays is held by the de-registration finalizer: read its conditions.")
		return
	}
	l.step("the Runner is gone")
	_, err = l.gl.GetRunner(ctx, id)
	switch {
	case gitlab.IsNotFound(err):
		l.step("runner %d is de-registered from GitLab", id)
	case err == nil:
		l.r.failf("runner %d is still registered in GitLab after the Runner was deleted", id)
	default:
		l.r.failf("checking runner %d in GitLab after deletion: %v", id, err)
	}
}

// create creates obj and remembers it for clean-up.
func (l *lifecycle) create(ctx context.Context, obj client.Object) bool {
	if err := l.k8s.Create(ctx, obj); err != nil {
		l.r.errorf("creating %T %s: %v", obj, obj.GetName(), err)
		if apierrors.IsForbidden(err) {
			l.r.suggest("Give the scorecard ServiceAccount permission to manage Secrets and Runners in the namespace (operator-sdk scorecard --service-account).")
		}
		return false
	}
	l.created = append(l.created, obj)
	return true
}

func (l *lifecycle) poll(ctx context.Context, cond wait.ConditionWithContextFunc) error {
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, l.cfg.Timeout, true, cond)
}

// cleanup deletes what the test created. A Runner left over from a failed
// run gets a while to de-register; one that stays (its finalizer cannot
// reach GitLab) is reported, not forced: forcing could orphan a runner in
// GitLab.
func (l *lifecycle) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CleanupTimeout+10*time.Second)
	defer cancel()
	for i := len(l.created) - 1; i >= 0; i-- {
		obj := l.created[i]
		err := l.k8s.Delete(ctx, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			l.r.logf("clean-up: deleting %s: %v", obj.GetName(), err)
			continue
		}
		if _, ok := obj.(*gitlabv1beta1.Runner); !ok {
			continue
		}
		err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, l.cfg.CleanupTimeout, true, func(ctx context.Context) (bool, error) {
			return apierrors.IsNotFound(l.k8s.Get(ctx, client.ObjectKeyFromObject(obj), &gitlabv1beta1.Runner{})), nil
		})
		if err != nil {
			l.r.logf("clean-up: the Runner %s/%s is still being deleted (its finalizer de-registers it from GitLab); check its conditions, or annotate it %s=true to let it go without GitLab",
				obj.GetNamespace(), obj.GetName(), gitlabv1beta1.AnnotationSkipDeregistration)
		}
	}
}

// describeStatus summarises a Runner's status for a failure message.
func describeStatus(r *gitlabv1beta1.Runner) string {
	parts := []string{fmt.Sprintf("phase=%q registration=%q", r.Status.Phase, r.Status.Registration)}
	for _, c := range r.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, "; ")
}
