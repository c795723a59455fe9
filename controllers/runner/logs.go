package runner

import (
	"context"
	"io"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerlog"
)

// LogOptions bound one read of a pod's log.
type LogOptions struct {
	// SinceTime, when set, skips lines logged before it.
	SinceTime *time.Time
	// LimitBytes caps the read; the operator never asks for more than
	// runnerlog.MaxChunkSize.
	LimitBytes int64
}

// LogReader reads a container's log with kubelet timestamps. Production
// uses the pods/log subresource; tests feed logs through the same
// interface, since envtest has no kubelet.
type LogReader interface {
	ReadLog(ctx context.Context, namespace, pod, container string, opts LogOptions) ([]byte, error)
}

// PodLogReader reads logs through the pods/log subresource.
type PodLogReader struct{ cs kubernetes.Interface }

// NewPodLogReader returns a LogReader backed by a clientset.
func NewPodLogReader(cs kubernetes.Interface) *PodLogReader { return &PodLogReader{cs: cs} }

// ReadLog implements LogReader.
func (p *PodLogReader) ReadLog(ctx context.Context, namespace, pod, container string, opts LogOptions) ([]byte, error) {
	lo := &corev1.PodLogOptions{Container: container, Timestamps: true, LimitBytes: &opts.LimitBytes}
	if opts.SinceTime != nil {
		t := metav1.NewTime(*opts.SinceTime)
		lo.SinceTime = &t
	}
	rc, err := p.cs.CoreV1().Pods(namespace).GetLogs(pod, lo).Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	return io.ReadAll(io.LimitReader(rc, opts.LimitBytes))
}

// logCursor remembers where the last read of a pod's log ended.
type logCursor struct {
	podUID   types.UID
	restarts int32
	ready    bool
	lastRead time.Time
	summary  runnerlog.Summary
}

// readLogs reads the current runner pod's log when it is worth it: the pod
// is new, became ready, restarted, or the slow cadence is due. Never on
// every reconcile, never the whole log.
func (r *Reconciler) readLogs(ctx context.Context, s *scope) error {
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(s.runner.Namespace),
		client.MatchingLabels(labels.Selector(labels.ComponentRunner, s.runner.Name))); err != nil {
		return nil // logs are advisory; the next event retries
	}
	pod := newestRunningPod(pods.Items)
	if pod == nil {
		return nil
	}
	cur := &s.mem.logs
	fresh := cur.podUID != pod.UID || restarts(pod) != cur.restarts
	if fresh {
		*cur = logCursor{podUID: pod.UID, restarts: restarts(pod)}
	}
	ready := podReady(pod)
	due := fresh || ready != cur.ready || s.now.Sub(cur.lastRead) >= r.Options.LogInterval
	if !due {
		s.health = &cur.summary
		s.requeueIn(cur.lastRead.Add(r.Options.LogInterval).Sub(s.now))
		return nil
	}
	opts := LogOptions{LimitBytes: runnerlog.MaxChunkSize}
	if !cur.summary.LastTimestamp.IsZero() {
		t := cur.summary.LastTimestamp
		opts.SinceTime = &t
	}
	data, err := r.Logs.ReadLog(ctx, pod.Namespace, pod.Name, runnerbuild.ContainerName, opts)
	cur.ready, cur.lastRead = ready, s.now
	s.requeueIn(r.Options.LogInterval)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Reading the runner log failed", "pod", pod.Name, "error", err.Error())
		return nil
	}
	cur.summary = runnerlog.Summarize(data, cur.summary)
	s.health = &cur.summary
	if cur.summary.TokenRejected {
		// The runner says GitLab refused its token: verify through the
		// API now rather than at the next interval.
		s.mem.verifyNow = true
	}
	return nil
}

func newestRunningPod(pods []corev1.Pod) *corev1.Pod {
	var live []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return nil
	}
	sort.Slice(live, func(i, j int) bool { return live[i].CreationTimestamp.After(live[j].CreationTimestamp.Time) })
	return live[0]
}

// healthCondition maps the log summary to the RunnerHealthy condition.
func healthCondition(s *scope) (status bool, known bool, reason, message string) {
	if s.health == nil || s.health.State == runnerlog.StateUnknown || s.health.State == "" {
		return false, false, gitlabv1beta1.ReasonNoLogYet, "the runner pod has not logged its registration state yet"
	}
	switch s.health.State {
	case runnerlog.StateRegistered, runnerlog.StateConfigLoaded, runnerlog.StateReceivingJobs,
		runnerlog.StateTokenRotated, runnerlog.StateTerminating, runnerlog.StateUnregistered:
		return true, true, s.health.Reason, s.health.Message
	}
	return false, true, s.health.Reason, s.health.Message
}
