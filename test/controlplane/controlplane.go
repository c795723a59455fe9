// Package controlplane starts the local Kubernetes control plane the tests,
// the demo, the benchmark and `make run` use: a real kube-apiserver and etcd
// built from the Go module proxy into bin/k8s/<version> (see the Makefile),
// driven by controller-runtime's envtest, with the operator's CRDs
// installed. There is no kubelet: pods never run.
package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// K8sVersion is the version of the binaries the Makefile builds.
const K8sVersion = "1.37.2"

// ControlPlane is a running kube-apiserver and etcd.
type ControlPlane struct {
	Env    *envtest.Environment
	Config *rest.Config
	// Root is the repository root.
	Root string
}

// Options tune Start.
type Options struct {
	// ExtraCRDPaths are installed besides the operator's CRDs (for example
	// a Route or ServiceMonitor CRD in tests of the OpenShift path).
	ExtraCRDPaths []string
}

// RepoRoot finds the repository root (the folder with go.mod and PROJECT)
// from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "PROJECT")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (a folder with PROJECT) not found above the working directory")
		}
		dir = parent
	}
}

// AssetsDir is where kube-apiserver and etcd are: $KUBEBUILDER_ASSETS, or
// bin/k8s/<version> under the repository root.
func AssetsDir(root string) string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(root, "bin", "k8s", K8sVersion)
}

// Start starts the control plane and installs the CRDs.
func Start(opts Options) (*ControlPlane, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := AssetsDir(root)
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("kube-apiserver not found in %s: run 'make envtest-assets' first", assets)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     append([]string{filepath.Join(root, "config", "crd", "bases")}, opts.ExtraCRDPaths...),
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	return &ControlPlane{Env: env, Config: cfg, Root: root}, nil
}

// Stop stops the control plane.
func (c *ControlPlane) Stop() error { return c.Env.Stop() }

// WriteKubeconfig writes a kubeconfig for an admin user of the control
// plane to path.
func (c *ControlPlane) WriteKubeconfig(path string) error {
	user, err := c.Env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding a user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, kc, 0o600)
}

// KubeconfigFor renders a kubeconfig for a rest.Config (used by tests that
// need to hand one to a subprocess).
func KubeconfigFor(cfg *rest.Config) ([]byte, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	kc.CurrentContext = "local"
	return clientcmd.Write(*kc)
}
