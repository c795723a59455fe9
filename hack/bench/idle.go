package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
)

// annotationResync is the annotation the bench changes on every Runner to
// force a reconcile (the Runner controller passes annotation changes).
const annotationResync = "bench.gitlab.com/resync"

// idleResult is what the idle phase measured.
type idleResult struct {
	// window is from the last resync write to the end of the window.
	window time.Duration
	// resync is how long the bench took to touch every Runner.
	resync time.Duration
	// writes and requests are the manager's, from the first resync write
	// to the end of the window.
	writes      int
	requests    snapshot
	gitlabCalls int
	gitlabRoute map[string]int
	reconciles  reconcileStats
}

// idleWindow forces a reconcile of every Runner by changing an annotation
// from the bench's client (the manager's counter never sees the bench's
// writes), then watches the manager for the window. The counts start
// before the first resync write, so every request the resync's reconciles
// send is counted; the window itself runs from the last resync write.
func idleWindow(ctx context.Context, o options, bc client.Client, fake *gitlabtest.Server, cnt *counter, conv *convergeResult) (*idleResult, error) {
	step(fmt.Sprintf("idle: forcing a resync of all %d Runners (annotation change), then watching for %s", len(conv.runners), o.idleWindow))
	fake.ResetCalls()
	snap0 := cnt.snapshot()
	rs0 := readReconcileStats()
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	start := time.Now()
	err := parallel(ctx, o.workers, len(conv.runners), func(i int) error {
		r := &gitlabv1beta1.Runner{}
		r.Namespace, r.Name = conv.ns, conv.runners[i].name
		patch := client.RawPatch("application/merge-patch+json",
			[]byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, annotationResync, stamp)))
		return bc.Patch(ctx, r, patch)
	})
	if err != nil {
		return nil, fmt.Errorf("touching Runners: %w", err)
	}
	windowStart := time.Now()
	res := &idleResult{resync: windowStart.Sub(start)}
	timer := time.NewTimer(o.idleWindow)
	defer timer.Stop()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-timer.C:
			break loop
		case <-tick.C:
			fmt.Printf("    %s: %d manager writes, %d GitLab calls, %d reconciles so far\n",
				time.Since(windowStart).Round(time.Second), cnt.snapshot().since(snap0).writes(),
				fake.CallCount(gitlabtest.AnyRoute), readReconcileStats().since(rs0).Total)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	res.window = time.Since(windowStart)
	res.requests = cnt.snapshot().since(snap0)
	res.writes = res.requests.writes()
	res.reconciles = readReconcileStats().since(rs0)
	res.gitlabRoute = map[string]int{}
	for _, c := range fake.Calls() {
		res.gitlabCalls++
		res.gitlabRoute[c.Route]++
	}
	return res, nil
}
