package gitlab

import (
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// deletionPredicate passes the update that starts a deletion: setting the
// deletion timestamp changes neither generation nor annotations, and the
// finalizer must still run.
type deletionPredicate struct{ predicate.Funcs }

// Update passes updates that set the deletion timestamp.
func (deletionPredicate) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp() == nil && e.ObjectNew.GetDeletionTimestamp() != nil
}
