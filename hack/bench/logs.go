package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// logChunk is how much log the bench feeds a pod between two reads: more
// than the operator's 64 KiB bound, so an unbounded read would show.
const logChunk = 96 << 10

// Healthy runner log lines (gitlab-runner's text format, from
// reference/runner-logs), repeated to fill a chunk.
var logLines = []string{
	"Configuration loaded                                builds=0 max_builds=10",
	"Checking for jobs... received                       correlation_id=01J9ZK3Q4Y6ZP0Q2M7N8R5T6VW job=4242 repo_url=https://gitlab.example.com/group/project.git runner=xyz123abc runner_name=k8s-runner",
	"Job succeeded                                       duration_s=12.345 gitlab_user_id=2 job=4242 job-status=success namespace_id=5 project=17 runner=xyz123abc runner_name=k8s-runner",
	"Checking for jobs...no content                      correlation_id=01J9ZK3Q4Y6ZP0Q2M7N8R5T6VW runner=xyz123abc runner_name=k8s-runner status=204 No Content",
}

// logResult is what the log phase measured.
type logResult struct {
	pods   int
	reads  int
	max    int64
	total  int64
	capped int
	fed    int64
}

// logReads gives a subset of Runners a running pod (labelled like the
// Deployment's pods, since envtest has no kubelet) and a log larger than
// one read, then drives the pod through the events that make the operator
// read: ready, not ready (a read since the last position), ready again,
// and a container restart (a fresh read). Every read goes through
// harness.Logs, which records its size.
func logReads(ctx context.Context, o options, bc client.Client, logs *harness.Logs, conv *convergeResult) (*logResult, error) {
	k := min(o.logRunners, len(conv.runners))
	res := &logResult{pods: k}
	if k == 0 {
		return res, nil
	}
	step(fmt.Sprintf("logs: %d runner pods, %d KiB of log fed before each of 4 read triggers", k, logChunk>>10))
	pods := make([]*corev1.Pod, k)
	for i := 0; i < k; i++ {
		r := conv.runners[i]
		dep := &appsv1.Deployment{}
		if err := bc.Get(ctx, client.ObjectKey{Namespace: conv.ns, Name: r.name + "-runner"}, dep); err != nil {
			return nil, err
		}
		lbls := map[string]string{}
		for key, v := range dep.Spec.Template.Labels {
			lbls[key] = v
		}
		for key, v := range labels.Selector(labels.ComponentRunner, r.name) {
			lbls[key] = v
		}
		pods[i] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: r.name + "-runner-bench", Namespace: conv.ns, Labels: lbls},
			Spec:       dep.Spec.Template.Spec,
		}
	}
	feed := func() {
		for _, p := range pods {
			var lines []string
			n := 0
			for n < logChunk {
				l := logLines[len(lines)%len(logLines)]
				lines = append(lines, l)
				n += len(l) + 32 // the timestamp and newline Append adds
			}
			logs.Append(p.Namespace, p.Name, lines...)
			res.fed += int64(n)
		}
	}
	setStatus := func(p *corev1.Pod, ready bool, restarts int32) error {
		cond := corev1.ConditionFalse
		if ready {
			cond = corev1.ConditionTrue
		}
		now := metav1.Now()
		p.Status = corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: cond, LastTransitionTime: now},
				{Type: corev1.ContainersReady, Status: cond, LastTransitionTime: now},
			},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: runnerbuild.ContainerName, Ready: ready, RestartCount: restarts,
				Image: p.Spec.Containers[0].Image, ImageID: "bench://runner",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			}},
			StartTime: &now,
		}
		return bc.Status().Update(ctx, p)
	}
	expect := len(logs.Reads())
	round := func(name string, fn func(p *corev1.Pod) error) error {
		feed()
		if err := parallel(ctx, o.workers, k, func(i int) error { return fn(pods[i]) }); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		expect += k
		deadline := time.Now().Add(30 * time.Second)
		for len(logs.Reads()) < expect {
			if time.Now().After(deadline) {
				// Reported, not fatal: the figures show how many reads
				// there were.
				fmt.Printf("    warning: %s: the operator read %d of %d pod logs within 30s\n", name, len(logs.Reads())-(expect-k), k)
				expect = len(logs.Reads())
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	}
	if err := round("pod becomes ready", func(p *corev1.Pod) error {
		if err := bc.Create(ctx, p); err != nil {
			return err
		}
		return setStatus(p, true, 0)
	}); err != nil {
		return nil, err
	}
	if err := round("pod becomes not ready", func(p *corev1.Pod) error { return setStatus(p, false, 0) }); err != nil {
		return nil, err
	}
	if err := round("pod ready again", func(p *corev1.Pod) error { return setStatus(p, true, 0) }); err != nil {
		return nil, err
	}
	if err := round("container restarts", func(p *corev1.Pod) error { return setStatus(p, true, 1) }); err != nil {
		return nil, err
	}
	for _, n := range logs.Reads() {
		res.reads++
		res.total += n
		res.max = max(res.max, n)
		if n >= 64<<10 {
			res.capped++
		}
	}
	return res, nil
}

func kib(n int64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", float64(n)/1024), "0"), ".") + " KiB"
}
