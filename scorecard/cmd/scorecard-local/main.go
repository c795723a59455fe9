// Command scorecard-local runs the operator's custom scorecard tests the
// way `operator-sdk scorecard` would, without a cluster: it reads the tests
// from the bundle's scorecard configuration, starts the local control plane
// (test/controlplane), the fake GitLab (pkg/gitlab/gitlabtest) and the
// operator in process (test/harness), runs every test whose image is the
// custom test image through the same functions the image runs, prints the
// results in scorecard's text format (or JSON with -o json) and exits 1
// when a test did not pass. `make scorecard-local` runs it.
//
// The basic and OLM suites live in operator-sdk's scorecard-test image and
// need a cluster with OLM; they are listed as not run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/gitlab-operator/gitlab-operator/test/secrets"
	"os"
	"path/filepath"
	"time"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/scorecard/tests"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// customEntrypoint is the custom test image's command (config/scorecard).
const customEntrypoint = "gitlab-operator-scorecard"

// adminToken is the fake GitLab's administrator token the test hands over.
const adminToken = "glpat-sc-local-fake"

func main() {
	bundle := flag.String("bundle", "bundle", "bundle directory")
	output := flag.String("o", "text", "output format: text or json")
	timeout := flag.Duration("timeout", 60*time.Second, "how long runner-lifecycle waits for each step")
	flag.Parse()
	os.Exit(run(*bundle, *output, *timeout))
}

func run(bundleDir, output string, timeout time.Duration) int {
	cfgPath := filepath.Join(bundleDir, "tests", "scorecard", "config.yaml")
	scCfg, err := readConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var custom []scapiv1alpha3.TestConfiguration
	for _, stage := range scCfg.Stages {
		for _, t := range stage.Tests {
			if len(t.Entrypoint) == 2 && t.Entrypoint[0] == customEntrypoint {
				custom = append(custom, t)
			} else {
				fmt.Fprintf(os.Stderr, "not run locally (needs operator-sdk scorecard on a cluster): %v\n", t.Entrypoint)
			}
		}
	}
	if len(custom) == 0 {
		fmt.Fprintf(os.Stderr, "%s names no %s tests\n", cfgPath, customEntrypoint)
		return 1
	}

	// The operator logs into a buffer, printed only when a test fails.
	opLog := &secrets.Buffer{}
	ctrl.SetLogger(zap.New(zap.WriteTo(opLog), zap.UseDevMode(true)))

	env, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.stop()

	ctx := context.Background()
	var list scapiv1alpha3.TestList
	list.APIVersion, list.Kind = scapiv1alpha3.GroupVersion.String(), "TestList"
	failed := false
	for _, t := range custom {
		status := tests.Run(ctx, t.Entrypoint[1], tests.Options{
			BundleDir: bundleDir,
			Lifecycle: func(ctx context.Context) (tests.LifecycleConfig, error) {
				ns, err := harness.Namespace(ctx, env.k8s, "scorecard", nil)
				if err != nil {
					return tests.LifecycleConfig{}, err
				}
				return tests.LifecycleConfig{
					RestConfig: env.cp.Config, Namespace: ns,
					GitLabURL: env.fake.URL(), Token: adminToken, Timeout: timeout,
				}, nil
			},
		})
		if !tests.Passed(status) {
			failed = true
		}
		list.Items = append(list.Items, scapiv1alpha3.Test{
			TypeMeta: list.TypeMeta, Spec: t, Status: status,
		})
		list.Items[len(list.Items)-1].Kind = "Test"
	}

	if output == "json" {
		out, _ := json.MarshalIndent(list, "", "  ")
		fmt.Println(string(out))
	} else {
		for _, t := range list.Items {
			fmt.Print(t.MarshalText())
		}
	}
	fmt.Fprintln(os.Stderr)
	for _, t := range list.Items {
		for _, r := range t.Status.Results {
			fmt.Fprintln(os.Stderr, tests.Summary(r))
		}
	}
	if failed {
		fmt.Fprintf(os.Stderr, "\noperator log:\n%s\n", opLog.Bytes())
		return 1
	}
	return 0
}

func readConfig(path string) (*scapiv1alpha3.Configuration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the scorecard configuration: %w", err)
	}
	cfg := &scapiv1alpha3.Configuration{}
	if err := yaml.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// env is the local stand-in for a cluster with the operator installed.
type env struct {
	cp   *controlplane.ControlPlane
	fake *gitlabtest.Server
	mgr  *harness.Manager
	k8s  client.Client
}

func start() (*env, error) {
	cp, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		return nil, err
	}
	e := &env{cp: cp}
	e.fake = gitlabtest.NewServer()
	e.fake.AddAccessToken(adminToken, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true})
	if e.k8s, err = client.New(cp.Config, client.Options{Scheme: operator.Scheme()}); err != nil {
		e.stop()
		return nil, err
	}
	if e.mgr, err = harness.StartManager(cp.Config, operator.Options{LogReader: harness.NewLogs()}); err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *env) stop() {
	if e.mgr != nil {
		_ = e.mgr.Stop()
	}
	if e.fake != nil {
		e.fake.Close()
	}
	_ = e.cp.Stop()
}
