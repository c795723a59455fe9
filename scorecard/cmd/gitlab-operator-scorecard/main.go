// Command gitlab-operator-scorecard is the GitLab operator's custom
// scorecard test image entrypoint. `operator-sdk scorecard` starts it in a
// pod with the bundle unpacked under /bundle and the test name as the
// argument (bundle/tests/scorecard/config.yaml); it prints one scorecard
// v1alpha3 TestStatus as JSON, which scorecard reads from the pod log.
//
//	gitlab-operator-scorecard [--bundle DIR] [--namespace NS] [--timeout D] <test>
//
// runner-lifecycle needs a GitLab to register with. It is read from the
// environment (GITLAB_URL, GITLAB_TOKEN, optional GITLAB_CA_FILE and
// GITLAB_GROUP_ID) or, since scorecard cannot set a test pod's environment,
// from the Secret gitlab-operator-scorecard in the test namespace (keys
// url, token, optional ca.crt and group-id).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/gitlab-operator/gitlab-operator/scorecard/tests"
)

// ConfigSecret is the Secret runner-lifecycle reads GitLab's coordinates from.
const ConfigSecret = "gitlab-operator-scorecard"

// serviceAccountNamespace is where a pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs one test and prints its TestStatus to stdout. The
// exit status is 0 whenever a result was printed, failed or not: scorecard
// reads the result from the log.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gitlab-operator-scorecard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bundle := fs.String("bundle", "/bundle", "bundle directory")
	namespace := fs.String("namespace", "", "namespace for runner-lifecycle (default $SCORECARD_NAMESPACE, then the pod's namespace)")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long runner-lifecycle waits for each step")
	ctrlconfig.RegisterFlags(fs) // --kubeconfig
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "usage: gitlab-operator-scorecard [flags] <test>\ntests: %s\n", strings.Join(tests.Names(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	status := tests.Run(ctx, fs.Arg(0), tests.Options{
		BundleDir: *bundle,
		Lifecycle: func(ctx context.Context) (tests.LifecycleConfig, error) {
			return lifecycleConfig(ctx, *namespace, *timeout)
		},
	})
	out, err := json.MarshalIndent(status, "", "  ")
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "encoding the result:", err)
		return 1
	}
	if _, err := fmt.Fprintln(stdout, string(out)); err != nil {
		return 1
	}
	return 0
}

func lifecycleConfig(ctx context.Context, namespace string, timeout time.Duration) (tests.LifecycleConfig, error) {
	cfg := tests.LifecycleConfig{Timeout: timeout}
	rc, err := ctrlconfig.GetConfig()
	if err != nil {
		return cfg, fmt.Errorf("no cluster: %w", err)
	}
	cfg.RestConfig = rc
	cfg.Namespace = firstNonEmpty(namespace, os.Getenv("SCORECARD_NAMESPACE"), podNamespace())
	if cfg.Namespace == "" {
		return cfg, errors.New("no namespace: pass --namespace or set SCORECARD_NAMESPACE")
	}

	settings := map[string]string{
		"url":      os.Getenv("GITLAB_URL"),
		"token":    os.Getenv("GITLAB_TOKEN"),
		"group-id": os.Getenv("GITLAB_GROUP_ID"),
	}
	if f := os.Getenv("GITLAB_CA_FILE"); f != "" {
		ca, err := os.ReadFile(f)
		if err != nil {
			return cfg, fmt.Errorf("reading GITLAB_CA_FILE: %w", err)
		}
		settings["ca.crt"] = string(ca)
	}
	if settings["url"] == "" || settings["token"] == "" {
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return cfg, err
		}
		s, err := cs.CoreV1().Secrets(cfg.Namespace).Get(ctx, ConfigSecret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return cfg, fmt.Errorf("no GitLab configured: set GITLAB_URL and GITLAB_TOKEN, or create the Secret %s in namespace %s with keys url and token", ConfigSecret, cfg.Namespace)
		}
		if err != nil {
			return cfg, fmt.Errorf("reading the Secret %s/%s: %w", cfg.Namespace, ConfigSecret, err)
		}
		settings = fromSecret(s)
	}
	cfg.GitLabURL = strings.TrimSpace(settings["url"])
	cfg.Token = strings.TrimSpace(settings["token"])
	cfg.CABundle = []byte(settings["ca.crt"])
	if g := strings.TrimSpace(settings["group-id"]); g != "" {
		id, err := strconv.ParseInt(g, 10, 64)
		if err != nil || id <= 0 {
			return cfg, fmt.Errorf("group-id %q is not a GitLab group id", g)
		}
		cfg.GroupID = id
	}
	return cfg, nil
}

func fromSecret(s *corev1.Secret) map[string]string {
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

func podNamespace() string {
	b, err := os.ReadFile(serviceAccountNamespace)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
