package runner

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apilabels "k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
)

// LabelWatch, set to "true" on a Secret or ConfigMap a Runner references,
// makes a change to it reach the Runner at once. Without it the change is
// noticed within ReferenceRecheck: the operator does not watch every
// Secret in the cluster, because that would cache them all.
const LabelWatch = "gitlab.com/watch"

// indexReferences indexes Runners by the Secrets and ConfigMaps they name.
const indexReferences = "spec.references"

// references lists "secret/<name>" and "configmap/<name>" for every object
// a Runner's spec names.
func references(r *gitlabv1beta1.Runner) []string {
	sp := r.Spec
	var out []string
	add := func(kind, name string) {
		if name != "" {
			out = append(out, kind+"/"+name)
		}
	}
	add("secret", sp.Token)
	add("secret", sp.CA)
	add("configmap", sp.Config)
	add("configmap", sp.EnvConfigMap)
	if c := sp.Cache; c != nil {
		if c.S3 != nil {
			add("secret", c.S3.Credentials)
		}
		if c.GCS != nil {
			add("secret", c.GCS.Credentials)
		}
		if c.Azure != nil {
			add("secret", c.Azure.Credentials)
		}
	}
	return out
}

// watchReferences adds a small cache holding only Secrets and ConfigMaps
// labelled gitlab.com/watch=true, and maps their changes to the Runners
// that name them.
func (r *Reconciler) watchReferences(mgr ctrl.Manager) ([]source.Source, error) {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &gitlabv1beta1.Runner{}, indexReferences,
		func(o client.Object) []string { return references(o.(*gitlabv1beta1.Runner)) }); err != nil {
		return nil, err
	}
	opts := cache.Options{
		Scheme:               mgr.GetScheme(),
		Mapper:               mgr.GetRESTMapper(),
		DefaultLabelSelector: apilabels.SelectorFromSet(apilabels.Set{LabelWatch: "true"}),
	}
	if len(r.Options.Namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range r.Options.Namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	watched, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(watched); err != nil {
		return nil, err
	}
	return []source.Source{
		source.Kind(watched, client.Object(&corev1.Secret{}), handler.EnqueueRequestsFromMapFunc(r.referencingRunners("secret"))),
		source.Kind(watched, client.Object(&corev1.ConfigMap{}), handler.EnqueueRequestsFromMapFunc(r.referencingRunners("configmap"))),
	}, nil
}

func (r *Reconciler) referencingRunners(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list gitlabv1beta1.RunnerList
		if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()),
			client.MatchingFields{indexReferences: kind + "/" + o.GetName()}); err != nil {
			return nil
		}
		out := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return out
	}
}
