// Command run is what `make run` starts: the operator against the current
// kubeconfig, or, when no cluster is reachable, against a local control
// plane (kube-apiserver and etcd from bin/) that it starts, prints how to
// use, and stops on interrupt.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
)

func main() {
	local := flag.Bool("local", false, "Always start a local control plane, even when a cluster is reachable.")
	zapOpts := zap.Options{Development: true}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(*local); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(forceLocal bool) error {
	ctx := ctrl.SetupSignalHandler()
	cfg, err := reachableCluster()
	if forceLocal || err != nil {
		if err != nil {
			fmt.Printf("No reachable cluster (%v).\nStarting a local control plane (kube-apiserver and etcd from bin/; no kubelet, so pods are not run).\n", err)
		}
		cp, err := controlplane.Start(controlplane.Options{})
		if err != nil {
			return err
		}
		defer func() {
			fmt.Println("Stopping the local control plane.")
			_ = cp.Stop()
		}()
		kubeconfig := filepath.Join(cp.Root, "bin", "run", "kubeconfig")
		if err := cp.WriteKubeconfig(kubeconfig); err != nil {
			return err
		}
		cfg = cp.Config
		fmt.Printf(`
Local control plane is up, with the Runner and GitLab CRDs installed.
Use it with:

  export KUBECONFIG=%s
  kubectl apply -f config/samples/
  kubectl get runners,gitlabs -o wide
  kubectl get runner example -o yaml

Press Ctrl-C to stop the operator and the control plane.

`, kubeconfig)
	} else {
		fmt.Printf("Using the cluster at %s; installing the CRDs.\n", cfg.Host)
		root, err := controlplane.RepoRoot()
		if err != nil {
			return err
		}
		if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{filepath.Join(root, "config", "crd", "bases")}}); err != nil {
			return fmt.Errorf("installing the CRDs: %w", err)
		}
	}
	opts := operator.Options{
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
		Namespaces:             operator.NamespacesFromEnv(),
	}
	opts.Runner.Images = images.FromEnv()
	opts.GitLab.Images = opts.Runner.Images
	mgr, err := operator.New(cfg, opts)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// reachableCluster returns the current kubeconfig's cluster if it answers.
func reachableCluster() (*rest.Config, error) {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, err
	}
	c := rest.CopyConfig(cfg)
	c.Timeout = 3 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(c)
	if err != nil {
		return nil, err
	}
	if _, err := dc.ServerVersion(); err != nil {
		return nil, fmt.Errorf("cluster at %s does not answer", cfg.Host)
	}
	return cfg, nil
}
