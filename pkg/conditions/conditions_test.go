package conditions

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type obj struct {
	gen   int64
	conds []metav1.Condition
}

func (o *obj) GetGeneration() int64               { return o.gen }
func (o *obj) GetConditions() []metav1.Condition  { return o.conds }
func (o *obj) SetConditions(c []metav1.Condition) { o.conds = c }

func TestSetKeepsTransitionTimeWhileStatusHolds(t *testing.T) {
	o := &obj{gen: 3}
	True(o, "Registered", "Registered", "ok")
	first := Get(o, "Registered").LastTransitionTime
	if Get(o, "Registered").ObservedGeneration != 3 {
		t.Fatal("observedGeneration not set")
	}
	time.Sleep(1100 * time.Millisecond)
	True(o, "Registered", "TokenVerified", "still ok")
	if !Get(o, "Registered").LastTransitionTime.Equal(&first) {
		t.Fatal("LastTransitionTime changed although the status did not")
	}
	False(o, "Registered", "TokenRejected", "no")
	if Get(o, "Registered").LastTransitionTime.Equal(&first) {
		t.Fatal("LastTransitionTime did not change with the status")
	}
}

func TestSummarize(t *testing.T) {
	cases := []struct {
		name   string
		set    func(o *obj)
		status metav1.ConditionStatus
		reason string
	}{
		{"all true", func(o *obj) { True(o, "A", "a", ""); True(o, "B", "b", "") }, metav1.ConditionTrue, "Ready"},
		{"first false wins", func(o *obj) { False(o, "A", "Broken", "fix A"); False(o, "B", "AlsoBroken", "") }, metav1.ConditionFalse, "Broken"},
		{"unknown propagates", func(o *obj) { True(o, "A", "a", ""); Unknown(o, "B", "Waiting", "") }, metav1.ConditionUnknown, "Waiting"},
		{"missing is unknown", func(o *obj) { True(o, "A", "a", "") }, metav1.ConditionUnknown, "Reconciling"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := &obj{}
			tc.set(o)
			Summarize(o, "Ready", "Ready", "all good", "A", "B")
			c := Get(o, "Ready")
			if c.Status != tc.status || c.Reason != tc.reason {
				t.Fatalf("got %s/%s, want %s/%s", c.Status, c.Reason, tc.status, tc.reason)
			}
		})
	}
}

func TestSortPutsReadyFirst(t *testing.T) {
	o := &obj{}
	True(o, "Zeta", "z", "")
	True(o, "Alpha", "a", "")
	True(o, "Ready", "r", "")
	Sort(o)
	if o.conds[0].Type != "Ready" || o.conds[1].Type != "Alpha" || o.conds[2].Type != "Zeta" {
		t.Fatalf("order: %v", []string{o.conds[0].Type, o.conds[1].Type, o.conds[2].Type})
	}
	Remove(o, "Alpha")
	if Get(o, "Alpha") != nil || IsTrue(o, "Alpha") {
		t.Fatal("Remove did not remove")
	}
}
