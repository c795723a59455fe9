// Package operator assembles the manager: scheme, cache scoped to the
// operator's own children, both reconcilers and health checks. main.go, the
// local runner (hack/run), the demo, the benchmark and the envtest suites all
// build their manager here, so what is tested is what ships.
package operator

import (
	"fmt"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apilabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	gitlabcontroller "github.com/gitlab-operator/gitlab-operator/controllers/gitlab"
	runnercontroller "github.com/gitlab-operator/gitlab-operator/controllers/runner"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlabbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/labels"
	"github.com/operator-framework/operator-lib/proxy"
)

// Options configure the manager.
type Options struct {
	// MetricsBindAddress of the operator's own metrics ("0" disables).
	MetricsBindAddress string
	// HealthProbeBindAddress of /healthz and /readyz ("0" disables).
	HealthProbeBindAddress string
	// LeaderElection enables leader election.
	LeaderElection bool
	// LeaderElectionID names the lease.
	LeaderElectionID string
	// LeaderElectionNamespace holds the lease when running outside a cluster.
	LeaderElectionNamespace string
	// Namespaces to watch; empty watches all.
	Namespaces []string
	// MaxConcurrentReconciles per controller.
	MaxConcurrentReconciles int
	// Runner holds the Runner controller's tunables.
	Runner runnercontroller.Options
	// GitLab holds the GitLab controller's tunables.
	GitLab gitlabcontroller.Options
	// GitLabClients is the shared GitLab client cache; a new one when nil.
	GitLabClients *gitlab.Cache
	// LogReader reads runner pod logs; the pods/log subresource when nil.
	LogReader runnercontroller.LogReader
	// AllowDuplicateControllers lets several managers run in one process
	// (tests of restarts and leader election).
	AllowDuplicateControllers bool
	// SkipDiscovery leaves the OpenShift and Prometheus Operator flags as
	// given instead of asking the API server (tests set them directly).
	SkipDiscovery bool
}

// APIs reports which optional APIs the cluster serves.
type APIs struct {
	// OpenShift: security.openshift.io (SCCs) exists.
	OpenShift bool
	// Route: route.openshift.io/v1 exists.
	Route bool
	// ServiceMonitor: monitoring.coreos.com/v1 ServiceMonitor exists.
	ServiceMonitor bool
}

// DiscoverAPIs asks the API server once, at start, which optional APIs it
// serves; the controllers never ask again per reconcile.
func DiscoverAPIs(cfg *rest.Config) (APIs, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return APIs{}, err
	}
	var apis APIs
	groups, err := dc.ServerGroups()
	if err != nil {
		return apis, err
	}
	for _, g := range groups.Groups {
		switch g.Name {
		case "security.openshift.io":
			apis.OpenShift = true
		case "route.openshift.io":
			apis.Route = true
		case "monitoring.coreos.com":
			if res, err := dc.ServerResourcesForGroupVersion("monitoring.coreos.com/v1"); err == nil {
				for _, r := range res.APIResources {
					if r.Kind == "ServiceMonitor" {
						apis.ServiceMonitor = true
					}
				}
			}
		}
	}
	return apis, nil
}

// Scheme returns the scheme with every type the operator uses.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(gitlabv1beta1.AddToScheme(s))
	return s
}

// NamespacesFromEnv parses WATCH_NAMESPACE (comma separated, empty for all),
// the variable OLM sets from the OperatorGroup's target namespaces.
func NamespacesFromEnv() []string {
	var out []string
	for _, ns := range strings.Split(os.Getenv("WATCH_NAMESPACE"), ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// CacheOptions returns a cache that holds the operator's custom resources
// and only its own labelled children: never every Secret, ConfigMap or Pod
// in the cluster. Referenced user Secrets and ConfigMaps are read through
// the uncached API reader.
func CacheOptions(namespaces []string, apis APIs) cache.Options {
	owned := cache.ByObject{Label: apilabels.SelectorFromSet(apilabels.Set{labels.ManagedByKey: labels.ManagedByValue})}
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                owned,
			&corev1.ConfigMap{}:             owned,
			&corev1.Service{}:               owned,
			&corev1.ServiceAccount{}:        owned,
			&corev1.Pod{}:                   owned,
			&corev1.PersistentVolumeClaim{}: owned,
			&appsv1.Deployment{}:            owned,
			&appsv1.StatefulSet{}:           owned,
			&rbacv1.Role{}:                  owned,
			&rbacv1.RoleBinding{}:           owned,
			&networkingv1.Ingress{}:         owned,
		},
	}
	if apis.Route {
		opts.ByObject[gitlabbuild.EmptyRoute()] = owned
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// New builds a manager with both controllers registered.
func New(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	// Converging hundreds of Runners is bound by API writes; client-side
	// throttling at client-go's default of 5 QPS would dominate it.
	if cfg.QPS == 0 {
		cfg.QPS = 200
	}
	if cfg.Burst == 0 {
		cfg.Burst = 400
	}
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = 8
	}
	if opts.LeaderElectionID == "" {
		opts.LeaderElectionID = "gitlab-operator.gitlab.com"
	}
	var apis APIs
	if !opts.SkipDiscovery {
		var err error
		apis, err = DiscoverAPIs(cfg)
		if err != nil {
			return nil, fmt.Errorf("discovering optional APIs: %w", err)
		}
		opts.Runner.OpenShift = opts.Runner.OpenShift || apis.OpenShift
		opts.Runner.ServiceMonitors = opts.Runner.ServiceMonitors || apis.ServiceMonitor
		opts.GitLab.OpenShift = opts.GitLab.OpenShift || apis.OpenShift
		opts.GitLab.SCCAPI = opts.GitLab.SCCAPI || apis.OpenShift
		opts.GitLab.RouteAPI = opts.GitLab.RouteAPI || apis.Route
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  Scheme(),
		Cache:                   CacheOptions(opts.Namespaces, apis),
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:  opts.HealthProbeBindAddress,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        opts.LeaderElectionID,
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// Release the lease on shutdown so a rolling update hands over fast.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       ptrDuration(30 * time.Second),
		Controller:                    ctrlconfig.Controller{SkipNameValidation: &opts.AllowDuplicateControllers},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if opts.Runner.ProxyEnv == nil {
		// OLM sets the cluster-wide proxy on the operator's pod; runner
		// pods and their jobs inherit it.
		opts.Runner.ProxyEnv = proxy.ReadProxyVarsFromEnv()
	}
	gitlab.SetWarningHandler(ctrl.Log.WithName("gitlab").Info)
	clients := opts.GitLabClients
	if clients == nil {
		clients = &gitlab.Cache{}
	}
	logs := opts.LogReader
	if logs == nil {
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("creating clientset: %w", err)
		}
		logs = runnercontroller.NewPodLogReader(cs)
	}
	runnerOpts := opts.Runner
	runnerOpts.MaxConcurrentReconciles = opts.MaxConcurrentReconciles
	runnerOpts.Namespaces = opts.Namespaces
	if err := (&runnercontroller.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("runner-controller"),
		GitLab:    clients,
		Logs:      logs,
		Options:   runnerOpts,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Runner controller: %w", err)
	}
	gitlabOpts := opts.GitLab
	gitlabOpts.MaxConcurrentReconciles = opts.MaxConcurrentReconciles
	if err := (&gitlabcontroller.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("gitlab-controller"),
		GitLab:    clients,
		Options:   gitlabOpts,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the GitLab controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding ready check: %w", err)
	}
	return mgr, nil
}

func ptrDuration(d time.Duration) *time.Duration { return &d }
