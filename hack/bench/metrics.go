package main

import (
	"context"
	"time"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// controllerName is the Runner controller's name in controller-runtime's
// metrics (SetupWithManager calls Named("runner")).
const controllerName = "runner"

// reconcileStats reads controller-runtime's in-process metrics for the
// Runner controller: reconciles by result, errors, queue depth and busy
// workers.
type reconcileStats struct {
	Total    int
	ByResult map[string]int
	Errors   int
	Depth    int
	Active   int
}

func readReconcileStats() reconcileStats {
	st := reconcileStats{ByResult: map[string]int{}}
	families, err := metrics.Registry.Gather()
	if err != nil {
		return st
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "controller_runtime_reconcile_total":
				if label(m, "controller") == controllerName {
					n := int(m.GetCounter().GetValue())
					st.ByResult[label(m, "result")] += n
					st.Total += n
				}
			case "controller_runtime_reconcile_errors_total":
				if label(m, "controller") == controllerName {
					st.Errors += int(m.GetCounter().GetValue())
				}
			case "controller_runtime_active_workers":
				if label(m, "controller") == controllerName {
					st.Active += int(m.GetGauge().GetValue())
				}
			case "workqueue_depth":
				if label(m, "name") == controllerName {
					st.Depth += int(m.GetGauge().GetValue())
				}
			}
		}
	}
	return st
}

func (s reconcileStats) since(old reconcileStats) reconcileStats {
	out := reconcileStats{ByResult: map[string]int{}, Total: s.Total - old.Total, Errors: s.Errors - old.Errors, Depth: s.Depth, Active: s.Active}
	for k, v := range s.ByResult {
		if d := v - old.ByResult[k]; d != 0 {
			out.ByResult[k] = d
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// waitQuiet waits until the Runner controller has nothing queued, no busy
// worker and the manager has sent no request for quietFor, or until
// timeout. It reports whether the manager went quiet, and when it was last
// seen busy (to 100 ms).
func waitQuiet(ctx context.Context, cnt *counter, quietFor, timeout time.Duration) (bool, time.Time) {
	deadline := time.Now().Add(timeout)
	last := cnt.snapshot()
	lastChange := time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return false, lastChange
		case <-time.After(100 * time.Millisecond):
		}
		cur := cnt.snapshot()
		st := readReconcileStats()
		if len(cur.since(last)) > 0 || st.Depth > 0 || st.Active > 0 {
			last, lastChange = cur, time.Now()
			continue
		}
		if time.Since(lastChange) >= quietFor {
			return true, lastChange
		}
	}
	return false, lastChange
}
