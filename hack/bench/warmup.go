package main

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// warmUp sends the API server one round of every request the converge
// phase and the floor send (Runner create, finalizer patch, status patch,
// each child kind) and deletes it all again, before the manager starts.
// Whichever of the operator and the floor ran first would otherwise pay
// for cold paths (first CEL evaluations, first writes of each resource to
// etcd, the bench client's discovery).
func warmUp(ctx context.Context, bc client.Client, workers int) error {
	ns, err := harness.Namespace(ctx, bc, "warmup", nil)
	if err != nil {
		return err
	}
	n := 2 * workers
	return parallel(ctx, workers, n, func(i int) error {
		r := &gitlabv1beta1.Runner{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w%02d", i), Namespace: ns},
			Spec: gitlabv1beta1.RunnerSpec{
				GitLab: gitlabv1beta1.GitLabReference{URL: "http://127.0.0.1:1"},
				Token:  "warmup",
				Tags:   "bench",
			},
		}
		if err := bc.Create(ctx, r); err != nil {
			return err
		}
		before := r.DeepCopy()
		controllerutil.AddFinalizer(r, gitlabv1beta1.FinalizerDeregister)
		if err := bc.Patch(ctx, r, client.MergeFrom(before)); err != nil {
			return err
		}
		reg := runnerbuild.Registration{ID: int64(i + 1), Token: "glrt-warmup", Origin: runnerbuild.OriginOperator}
		children := []client.Object{
			runnerbuild.ConfigSecret(r, reg, []byte("concurrent = 10\n")),
			runnerbuild.ServiceAccount(r),
			runnerbuild.Role(r),
			runnerbuild.RoleBinding(r),
			runnerbuild.MetricsService(r),
			runnerbuild.Deployment(r, runnerbuild.Inputs{Images: images.Images{}.WithDefaults()}),
		}
		for _, c := range children {
			if err := bc.Create(ctx, c); err != nil {
				return fmt.Errorf("%T: %w", c, err)
			}
		}
		before = r.DeepCopy()
		r.Status.Phase = gitlabv1beta1.PhaseInitializing
		r.Status.Registration = gitlabv1beta1.RegistrationSucceeded
		if err := bc.Status().Patch(ctx, r, client.MergeFrom(before)); err != nil {
			return err
		}
		for _, c := range children {
			if err := bc.Delete(ctx, c); err != nil {
				return err
			}
		}
		before = r.DeepCopy()
		controllerutil.RemoveFinalizer(r, gitlabv1beta1.FinalizerDeregister)
		if err := bc.Patch(ctx, r, client.MergeFrom(before)); err != nil {
			return err
		}
		return bc.Delete(ctx, r)
	})
}

// probeManager registers one Runner through the running manager and
// deletes it again, before the clock starts. It waits until the Runner
// controller is actually running (it starts its workers only once every
// watch it needs has synced, which takes about a second after the
// manager's cache is ready) and pays the manager's one-time costs: the
// first REST client per kind, the event broadcaster, the first GitLab
// client. A long-running operator paid those long ago; the floor's
// client is warmed up the same way.
func probeManager(ctx context.Context, bc client.Client, gitlabURL string, cnt *counter) error {
	ns, err := harness.Namespace(ctx, bc, "probe", nil)
	if err != nil {
		return err
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "probe-token", Namespace: ns},
		StringData: map[string]string{gitlabv1beta1.SecretKeyRegistrationToken: benchRegistrationToken},
	}
	if err := bc.Create(ctx, sec); err != nil {
		return err
	}
	r := &gitlabv1beta1.Runner{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Spec: gitlabv1beta1.RunnerSpec{
			GitLab: gitlabv1beta1.GitLabReference{URL: gitlabURL},
			Token:  sec.Name,
		},
	}
	if err := bc.Create(ctx, r); err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(r)
	if err := poll(ctx, 2*time.Minute, func() (bool, error) {
		got := &gitlabv1beta1.Runner{}
		if err := bc.Get(ctx, key, got); err != nil {
			return false, err
		}
		if got.Status.Registration != gitlabv1beta1.RegistrationSucceeded {
			return false, nil
		}
		err := bc.Get(ctx, client.ObjectKey{Namespace: ns, Name: r.Name + "-runner"}, &appsv1.Deployment{})
		return err == nil, client.IgnoreNotFound(err)
	}); err != nil {
		return fmt.Errorf("the manager did not register a probe Runner: %w", err)
	}
	if err := bc.Delete(ctx, r); err != nil {
		return err
	}
	if err := poll(ctx, 2*time.Minute, func() (bool, error) {
		err := bc.Get(ctx, key, &gitlabv1beta1.Runner{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}); err != nil {
		return fmt.Errorf("the manager did not delete the probe Runner: %w", err)
	}
	// No garbage collector runs in envtest: remove the children by hand.
	name := r.Name + "-runner"
	for _, obj := range []client.Object{&corev1.Secret{}, &corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}, &appsv1.Deployment{}, &corev1.Service{}} {
		obj.SetNamespace(ns)
		obj.SetName(name)
		if _, ok := obj.(*corev1.Service); ok {
			obj.SetName(r.Name + "-runner-metrics")
		}
		if err := client.IgnoreNotFound(bc.Delete(ctx, obj)); err != nil {
			return err
		}
	}
	_, _ = waitQuiet(ctx, cnt, 2*time.Second, time.Minute)
	return nil
}

// poll calls cond every 50 ms until it is done, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := cond()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
