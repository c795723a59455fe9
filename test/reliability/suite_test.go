package reliability_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
	"github.com/gitlab-operator/gitlab-operator/test/secrets"
)

// The package shares one control plane; every test starts its own
// managers (scoped to its namespaces) and its own fake GitLab.
var (
	env        *envtest.Environment
	restConfig *rest.Config
	k8s        client.Client
	ctx        = context.Background()
	// logs captures every manager's log at every verbosity, for the
	// secrets-hygiene scan.
	logs = &secrets.Buffer{}
)

// defaultParallel is how many parallel subtests run at once unless
// -test.parallel says otherwise. The tests mostly wait (on backoff, on
// windows in which GitLab calls are counted), so this is well above
// GOMAXPROCS on purpose: at the default of GOMAXPROCS the fault matrix alone
// would take around ten minutes on two cores.
const defaultParallel = "6"

// apiServerStopTimeout is how long kube-apiserver gets to stop gracefully.
const apiServerStopTimeout = 5 * time.Second

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", defaultParallel); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	var human io.Writer
	if os.Getenv("TEST_VERBOSE") != "" {
		human = os.Stderr
	}
	ctrl.SetLogger(secrets.NewLogger(logs, human, 1))

	root, err := controlplane.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The kube-apiserver keeps its serving certificate in a directory of our
	// own, so TestAPIServerRestart can stop and start it and every client
	// still trusts it (envtest generates a new CA when it owns the
	// directory).
	certDir, err := os.MkdirTemp("", "reliability-apiserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(certDir) }()
	env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: controlplane.AssetsDir(root),
	}
	// kube-apiserver drains long-running requests (every manager's watches)
	// on SIGTERM for longer than envtest's default 20 s stop timeout; after
	// apiServerStopTimeout envtest kills it, which is a fair restart too.
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir, StopTimeout: apiServerStopTimeout}
	restConfig, err = env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane (run 'make envtest-assets' first):", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s, err = client.New(restConfig, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
