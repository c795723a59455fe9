package apply

import (
	"context"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
		got, err := Ensure(ctx, c, nil, scheme, owner, desired(st.value))
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

func TestEnsureUpdatesWhenTheCacheLags(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	ctx := context.Background()
	old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Data: map[string][]byte{"k": []byte("old")}}
	live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(old).Build()
	// The "cache" has not seen the Secret yet: Get says NotFound.
	lagging := interceptor.NewClient(live, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
			return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
		},
	})
	desired := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Data: map[string][]byte{"k": []byte("new")}}
	if _, err := Ensure(ctx, lagging, nil, scheme, nil, desired.DeepCopy()); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("without a live reader the conflict must surface, got %v", err)
	}
	got, err := Ensure(ctx, lagging, live, scheme, nil, desired.DeepCopy())
	if err != nil || got != Updated {
		t.Fatalf("got %s, %v", got, err)
	}
	s := &corev1.Secret{}
	_ = live.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "s"}, s)
	if string(s.Data["k"]) != "new" {
		t.Fatal("the write was dropped")
	}
}
