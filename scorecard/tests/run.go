package tests

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Options are what Run needs: the bundle for the static tests, the
// lifecycle configuration (built lazily: only runner-lifecycle needs a
// cluster and a GitLab) for the others.
type Options struct {
	// BundleDir is the bundle root, /bundle in a scorecard pod.
	BundleDir string
	// Lifecycle returns the runner-lifecycle configuration.
	Lifecycle func(ctx context.Context) (LifecycleConfig, error)
}

// Names lists the tests, in the order Run knows them.
func Names() []string {
	names := []string{CRDDescriptionsName, ConditionsContractName, RunnerLifecycleName}
	sort.Strings(names)
	return names
}

// Run runs one test by name and wraps its result in a TestStatus, the
// JSON a scorecard test prints.
func Run(ctx context.Context, name string, opts Options) scapiv1alpha3.TestStatus {
	started := metav1.NewTime(time.Now().UTC())
	res := run(ctx, name, opts)
	res.CreationTimestamp = started
	return scapiv1alpha3.TestStatus{Results: []scapiv1alpha3.TestResult{res}}
}

func run(ctx context.Context, name string, opts Options) scapiv1alpha3.TestResult {
	switch name {
	case CRDDescriptionsName, ConditionsContractName:
		b, err := LoadBundle(opts.BundleDir)
		if err != nil {
			r := newRecorder(name)
			r.errorf("loading the bundle: %v", err)
			return r.result()
		}
		if name == CRDDescriptionsName {
			return CRDDescriptions(b)
		}
		return ConditionsContract(b)
	case RunnerLifecycleName:
		if opts.Lifecycle == nil {
			return notConfigured(errors.New("no cluster and GitLab configured"))
		}
		cfg, err := opts.Lifecycle(ctx)
		if err != nil {
			return notConfigured(err)
		}
		return RunnerLifecycle(ctx, cfg)
	}
	r := newRecorder(name)
	r.errorf("unknown test %q (known: %v)", name, Names())
	return r.result()
}

// Passed reports whether every result in s passed.
func Passed(s scapiv1alpha3.TestStatus) bool {
	for _, r := range s.Results {
		if r.State != scapiv1alpha3.PassState {
			return false
		}
	}
	return len(s.Results) > 0
}

// Summary is a one-line description of a result.
func Summary(r scapiv1alpha3.TestResult) string {
	s := fmt.Sprintf("%-20s %s", r.Name, r.State)
	if n := len(r.Errors); n > 0 {
		s += fmt.Sprintf(" (%d problems)", n)
	}
	return s
}

// configHint tells how to point runner-lifecycle at a GitLab.
const configHint = "Configure the GitLab to test against: the Secret gitlab-operator-scorecard in the scorecard namespace with keys url and token (optionally ca.crt and group-id); see docs/install.md. Leave the test out with --selector='test!=runner-lifecycle'."

func notConfigured(err error) scapiv1alpha3.TestResult {
	r := newRecorder(RunnerLifecycleName)
	r.errorf("%v", err)
	r.suggest(configHint)
	return r.result()
}
