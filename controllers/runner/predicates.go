package runner

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// deletionPredicate passes updates that start a deletion.
type deletionPredicate struct{ predicate.Funcs }

func (deletionPredicate) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp() == nil && e.ObjectNew.GetDeletionTimestamp() != nil
}

// deploymentAvailabilityPredicate passes Deployment changes that matter to
// the Runner: spec changes (drift) and availability changes. Status churn of
// a rollout (observed generation, updated replicas) does not wake the
// Runner controller.
type deploymentAvailabilityPredicate struct{ predicate.Funcs }

func (deploymentAvailabilityPredicate) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*appsv1.Deployment)
	n, ok2 := e.ObjectNew.(*appsv1.Deployment)
	if !ok1 || !ok2 {
		return true
	}
	return o.Generation != n.Generation || o.Status.AvailableReplicas != n.Status.AvailableReplicas ||
		o.Status.ReadyReplicas != n.Status.ReadyReplicas || n.DeletionTimestamp != nil
}

// podLifecyclePredicate passes pod events that make a log read worthwhile:
// a pod appearing, becoming ready, or restarting.
type podLifecyclePredicate struct{ predicate.Funcs }

func (podLifecyclePredicate) Create(event.CreateEvent) bool { return true }
func (podLifecyclePredicate) Delete(event.DeleteEvent) bool { return true }
func (podLifecyclePredicate) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.Pod)
	n, ok2 := e.ObjectNew.(*corev1.Pod)
	if !ok1 || !ok2 {
		return true
	}
	return podReady(o) != podReady(n) || restarts(o) != restarts(n)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

func serviceMonitorObject() client.Object {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("monitoring.coreos.com/v1")
	u.SetKind("ServiceMonitor")
	return u
}

// ignoreCreate drops create events; the others pass.
var ignoreCreate = predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}
