// Package harness runs the operator in process against the local control
// plane and the fake GitLab, for the envtest suites, the demo and the
// benchmark: a real kube-apiserver and etcd, gitlabtest standing in for
// GitLab, and the same manager main.go builds.
package harness

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitlab-operator/gitlab-operator/controllers/runner"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
)

// Manager is an operator manager running in a goroutine.
type Manager struct {
	Manager manager.Manager
	cancel  context.CancelFunc
	done    chan error
}

// StartManager builds the operator's manager with opts and starts it.
// Metrics and probes are off so several managers can run side by side.
func StartManager(cfg *rest.Config, opts operator.Options) (*Manager, error) {
	if opts.MetricsBindAddress == "" {
		opts.MetricsBindAddress = "0"
	}
	if opts.HealthProbeBindAddress == "" {
		opts.HealthProbeBindAddress = "0"
	}
	opts.AllowDuplicateControllers = true
	mgr, err := operator.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{Manager: mgr, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	return m, nil
}

// Stop stops the manager and waits for it.
func (m *Manager) Stop() error {
	m.cancel()
	select {
	case err := <-m.done:
		return err
	case <-time.After(60 * time.Second):
		return fmt.Errorf("manager did not stop within 60s")
	}
}

// Namespace creates a namespace with a random suffix.
func Namespace(ctx context.Context, c client.Client, prefix string, lbls map[string]string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + rand.String(5), Labels: lbls}}
	if err := c.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// Logs is a runner.LogReader fed by tests: envtest has no kubelet, so
// tests put what the runner pod "logged" here.
type Logs struct {
	mu    sync.Mutex
	data  map[string][]byte
	reads []int64
}

// NewLogs returns an empty log store.
func NewLogs() *Logs { return &Logs{data: map[string][]byte{}} }

// Append adds lines to a pod's log, each with a kubelet timestamp.
func (l *Logs) Append(namespace, pod string, lines ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := namespace + "/" + pod
	for _, line := range lines {
		l.data[key] = append(l.data[key], []byte(time.Now().UTC().Format(time.RFC3339Nano)+" "+line+"\n")...)
	}
}

// ReadLog implements runner.LogReader with the same semantics as pods/log:
// lines at or after SinceTime, at most LimitBytes.
func (l *Logs) ReadLog(_ context.Context, namespace, pod, _ string, opts runner.LogOptions) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := l.data[namespace+"/"+pod]
	var out []byte
	for len(all) > 0 {
		i := 0
		for i < len(all) && all[i] != '\n' {
			i++
		}
		line := all[:min(i+1, len(all))]
		all = all[min(i+1, len(all)):]
		if opts.SinceTime != nil {
			if ts, err := time.Parse(time.RFC3339Nano, string(line[:min(len(line), 30)])[:indexSpace(line)]); err == nil && ts.Before(*opts.SinceTime) {
				continue
			}
		}
		out = append(out, line...)
	}
	if opts.LimitBytes > 0 && int64(len(out)) > opts.LimitBytes {
		out = out[:opts.LimitBytes]
	}
	l.reads = append(l.reads, int64(len(out)))
	return out, nil
}

// Reads returns the size of every read so far.
func (l *Logs) Reads() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.reads...)
}

func indexSpace(b []byte) int {
	for i, c := range b {
		if c == ' ' {
			return i
		}
	}
	return len(b)
}
