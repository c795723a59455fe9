package apply

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestEnsureWritesOnlyOnChange(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	writes := 0
	c := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			writes++
			return c.Create(ctx, o, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			writes++
			return c.Update(ctx, o, opts...)
		},
	}).Build()
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "ns", UID: "u1"}}
	desired := func(v string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Data: map[string][]byte{"k": []byte(v)}}
	}
	ctx := context.Background()
	steps := []struct {
		value string
		want  Result
	}{{"a", Created}, {"a", Unchanged}, {"a", Unchanged}, {"b", Updated}, {"b", Unchanged}}
	for i, st := range steps {
		got, err := Ensure(ctx, c, scheme, owner, desired(st.value))
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Fatalf("step %d: got %s, want %s", i, got, st.want)
		}
	}
	if writes != 2 {
		t.Fatalf("want 2 writes (create, update), got %d", writes)
	}
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "s"}, s); err != nil {
		t.Fatal(err)
	}
	if string(s.Data["k"]) != "b" || s.OwnerReferences[0].UID != "u1" || s.Annotations[AnnotationHash] == "" {
		t.Fatalf("stored object: %+v", s)
	}
}
