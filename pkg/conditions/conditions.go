// Package conditions holds pure helpers for metav1.Condition lists: setting a
// condition with the object's generation, keeping LastTransitionTime stable
// while the status does not change, and summarising into Ready.
package conditions

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Object is a resource with conditions in its status.
type Object interface {
	GetGeneration() int64
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// Set records a condition on obj with obj's generation. LastTransitionTime
// only changes when Status changes, so that re-setting an unchanged
// condition leaves status byte-for-byte identical and costs no write.
func Set(obj Object, condType string, status metav1.ConditionStatus, reason, message string) {
	conds := obj.GetConditions()
	meta.SetStatusCondition(&conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conds)
}

// True sets a True condition.
func True(obj Object, condType, reason, message string) {
	Set(obj, condType, metav1.ConditionTrue, reason, message)
}

// False sets a False condition.
func False(obj Object, condType, reason, message string) {
	Set(obj, condType, metav1.ConditionFalse, reason, message)
}

// Unknown sets an Unknown condition.
func Unknown(obj Object, condType, reason, message string) {
	Set(obj, condType, metav1.ConditionUnknown, reason, message)
}

// Get returns the condition of the given type, or nil.
func Get(obj Object, condType string) *metav1.Condition {
	return meta.FindStatusCondition(obj.GetConditions(), condType)
}

// IsTrue reports whether the condition exists and is True.
func IsTrue(obj Object, condType string) bool {
	return meta.IsStatusConditionTrue(obj.GetConditions(), condType)
}

// Remove deletes a condition type.
func Remove(obj Object, condType string) {
	conds := obj.GetConditions()
	meta.RemoveStatusCondition(&conds, condType)
	obj.SetConditions(conds)
}

// Summarize sets summary (usually Ready) from the given conditions, in
// order of importance: the first one that is not True decides the summary's
// reason and message; when all are True the summary is True with
// readyReason and readyMessage. Missing conditions count as Unknown.
func Summarize(obj Object, summary string, readyReason, readyMessage string, from ...string) {
	for _, t := range from {
		c := Get(obj, t)
		if c == nil {
			Unknown(obj, summary, "Reconciling", t+" has not been evaluated yet")
			return
		}
		if c.Status != metav1.ConditionTrue {
			status := metav1.ConditionFalse
			if c.Status == metav1.ConditionUnknown {
				status = metav1.ConditionUnknown
			}
			Set(obj, summary, status, c.Reason, c.Message)
			return
		}
	}
	True(obj, summary, readyReason, readyMessage)
}

// Sort orders conditions with Ready first and the rest by type, so that the
// same set always serialises the same way.
func Sort(obj Object) {
	conds := slices.Clone(obj.GetConditions())
	slices.SortStableFunc(conds, func(a, b metav1.Condition) int {
		switch {
		case a.Type == b.Type:
			return 0
		case a.Type == "Ready":
			return -1
		case b.Type == "Ready":
			return 1
		case a.Type < b.Type:
			return -1
		default:
			return 1
		}
	})
	obj.SetConditions(conds)
}
