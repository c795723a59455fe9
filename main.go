// Command manager runs the GitLab operator: the Runner and GitLab controllers.
package main

import (
	"flag"
	"os"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
)

func main() {
	var opts operator.Options
	flag.StringVar(&opts.MetricsBindAddress, "metrics-bind-address", ":8080",
		"The address the metrics endpoint binds to. Use 0 to disable it.")
	flag.StringVar(&opts.HealthProbeBindAddress, "health-probe-bind-address", ":8081",
		"The address the health probe endpoint binds to.")
	flag.BoolVar(&opts.LeaderElection, "leader-elect", false,
		"Enable leader election, so that only one manager is active at a time.")
	flag.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", 8,
		"How many resources of each kind are reconciled in parallel.")
	flag.DurationVar(&opts.Runner.VerifyInterval, "verify-interval", 0,
		"How often a registered runner's token is verified with GitLab (default 1h, jittered).")
	zapOpts := zap.Options{Development: false, TimeEncoder: zapcore.ISO8601TimeEncoder}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	opts.Namespaces = operator.NamespacesFromEnv()
	opts.Runner.Images = images.FromEnv()
	opts.GitLab.Images = opts.Runner.Images

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "Unable to load a kubeconfig")
		os.Exit(1)
	}
	mgr, err := operator.New(cfg, opts)
	if err != nil {
		log.Error(err, "Unable to create the manager")
		os.Exit(1)
	}
	log.Info("Starting manager", "namespaces", opts.Namespaces)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}
