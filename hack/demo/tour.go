package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerconfig"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// The label that says, wherever the simulator is involved, what it is.
const simulatorLabel = "SIMULATED GitLab (gitlabtest, a test double — not a real GitLab)"

const (
	demoNamespace = "demo"
	// demoAccessToken is a personal access token that only the simulator
	// knows. It is never printed.
	demoAccessToken = "glpat-demo-fake"
	// runnerVersion is what the simulated runner pod reports to GitLab.
	runnerVersion = "18.6.0"
)

// tourOptions configure runTour.
type tourOptions struct {
	// Root is the repository root (samples and CRDs); found from the
	// working directory when empty.
	Root string
	// LogPath receives the operator's log.
	LogPath string
}

// tourResult is what the tour observed; the test checks it.
type tourResult struct {
	// RunnerID is the runner's id in the simulated GitLab.
	RunnerID int64
	// Registered: status.registration reached succeeded and the simulator
	// held a runner with that id and the Runner's description and tags.
	Registered bool
	// Running: after the simulated pod, phase Running and RunnerHealthy True.
	Running bool
	// Managers is the number of runner managers the simulator saw.
	Managers int
	// Deregistered: the Runner is gone from Kubernetes and its runner from
	// the simulator.
	Deregistered bool
}

// tour prints the steps.
type tour struct {
	w     io.Writer
	start time.Time
	step  int
	steps int
}

// printf writes to the tour's output. Output is best effort: a closed
// terminal must not stop the tour half-way, with things left running.
func (t *tour) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(t.w, format, args...)
}

func (t *tour) header(title string) {
	t.step++
	t.printf("\n[%d/%d] %s\n", t.step, t.steps, title)
}

// say prints an indented paragraph.
func (t *tour) say(format string, args ...any) {
	for _, line := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		if line == "" {
			t.printf("\n")
			continue
		}
		t.printf("      %s\n", line)
	}
}

// block prints text indented further, for YAML and tables.
func (t *tour) block(text string) {
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		t.printf("          %s\n", line)
	}
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

// runTour runs the whole tour and cleans up after itself, also when it
// fails or ctx ends.
func runTour(ctx context.Context, w io.Writer, opts tourOptions) (res *tourResult, err error) {
	res = &tourResult{}
	if opts.Root == "" {
		if opts.Root, err = controlplane.RepoRoot(); err != nil {
			return res, err
		}
	}
	logFile, err := openLog(opts.LogPath)
	if err != nil {
		return res, err
	}
	defer func() { _ = logFile.Close() }()

	t := &tour{w: w, start: time.Now(), steps: 7}
	t.printf("GitLab operator: a short tour\n")
	t.printf("=============================\n")
	t.printf("Everything runs in this process: a real kube-apiserver and etcd, a simulated\n")
	t.printf("GitLab, and the operator itself. No cluster and no GitLab are touched.\n")
	t.printf("The operator's own log goes to %s.\n", displayPath(opts.Root, opts.LogPath))

	// 1. Control plane.
	t.header("Starting a local Kubernetes control plane")
	began := time.Now()
	cp, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		return res, err
	}
	// Everything started is stopped in reverse order, also on failure.
	var cleanups []func() error
	defer func() {
		t.printf("\nCleaning up: stopping the operator, the simulated GitLab and the control plane.\n")
		for i := len(cleanups) - 1; i >= 0; i-- {
			if stopErr := cleanups[i](); stopErr != nil && err == nil {
				err = stopErr
			}
		}
		if err == nil {
			t.printf("Done: the tour took %s.\n", since(t.start))
		}
	}()
	cleanups = append(cleanups, func() error {
		if err := cp.Stop(); err != nil {
			return fmt.Errorf("stopping the control plane: %w", err)
		}
		return nil
	})
	t.say("kube-apiserver %s and etcd from %s, with the Runner and GitLab CRDs installed,",
		controlplane.K8sVersion, displayPath(opts.Root, controlplane.AssetsDir(opts.Root)))
	t.say("up in %s at %s.", since(began), cp.Config.Host)
	t.say("There is no kubelet and no controller manager: pods never start, and nothing")
	t.say("is garbage-collected. The tour plays their part where it matters, and says so.")
	k8s, err := client.New(cp.Config, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return res, err
	}

	// 2. The simulated GitLab.
	t.header("Starting a " + simulatorLabel)
	fake := gitlabtest.NewServer()
	cleanups = append(cleanups, func() error { fake.Close(); return nil })
	fake.SetVersion("18.6.1", "demo")
	fake.AddAccessToken(demoAccessToken, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeCreateRunner}, Admin: true})
	t.say("URL: %s", fake.URL())
	t.say("An in-memory fake of the runner API that the operator and gitlab-runner use")
	t.say("(create, verify, delete, rotate, list, jobs/request), with GitLab's status codes")
	t.say("and token formats. It holds one administrator's personal access token with the")
	t.say("create_runner scope, and no runners yet.")

	// 3. The operator.
	t.header("Starting the operator in this process")
	logs := harness.NewLogs()
	mgr, err := harness.StartManager(cp.Config, operator.Options{LogReader: logs})
	if err != nil {
		return res, err
	}
	cleanups = append(cleanups, func() error {
		if err := mgr.Stop(); err != nil {
			return fmt.Errorf("stopping the operator: %w", err)
		}
		return nil
	})
	t.say("The same manager main.go builds (pkg/operator): the Runner and GitLab controllers,")
	t.say("with a cache that holds only the operator's own labelled objects. Runner pod logs")
	t.say("are read through the same interface as the pods/log subresource; here the tour")
	t.say("feeds them.")

	// 4. Secret and Runner from the samples.
	t.header("Creating the sample Secret and Runner in namespace " + demoNamespace)
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}); err != nil {
		return res, err
	}
	sec, runner, err := loadSamples(opts.Root, fake.URL())
	if err != nil {
		return res, err
	}
	t.say("config/samples/gitlab_v1beta1_runner_secret.yaml, with an access-token instead of the")
	t.say("runner-token, so the operator creates the runner in GitLab itself:")
	t.block(secretYAML(sec))
	if err := k8s.Create(ctx, sec); err != nil {
		return res, err
	}
	t.say("config/samples/gitlab_v1beta1_runner.yaml, with spec.gitlab.url set to the simulator:")
	t.block(mustYAML(runnerForDisplay(runner)))
	if err := k8s.Create(ctx, runner); err != nil {
		return res, err
	}
	created := time.Now()

	// 5. Registration.
	t.header("The operator registers the runner with the simulated GitLab")
	key := client.ObjectKeyFromObject(runner)
	got, err := waitRunner(ctx, k8s, key, func(r *gitlabv1beta1.Runner) bool {
		return r.Status.Registration == gitlabv1beta1.RegistrationSucceeded && cond(r, gitlabv1beta1.ConditionDeployed) != nil
	})
	if err != nil {
		return res, fmt.Errorf("waiting for the registration: %w", err)
	}
	res.RunnerID = got.Status.RunnerID
	t.say("Registered %s after the Runner was created. What `kubectl get runner -n %s` shows:", since(created), demoNamespace)
	t.block(printerColumns(got))
	t.block(conditionTable(got))
	children, err := listChildren(ctx, k8s, got)
	if err != nil {
		return res, err
	}
	t.say("Objects created for it, each labelled app.kubernetes.io/managed-by=gitlab-operator")
	t.say("and owned by the Runner (the Secret holds the runner token and config.toml):")
	t.block(strings.Join(children, "\n"))
	gl, ok := fake.Runner(res.RunnerID)
	if !ok {
		return res, fmt.Errorf("status.runnerID is %d but the simulated GitLab has no such runner", res.RunnerID)
	}
	res.Registered = gl.Description == runnerbuild.Description(got) && slices.Equal(gl.Tags, runnerbuild.Tags(got))
	if !res.Registered {
		return res, fmt.Errorf("the simulated GitLab holds runner %d with description %q and tags %v, not what the Runner asked for", gl.ID, gl.Description, gl.Tags)
	}
	t.say("The runner as the %s sees it:", "simulated GitLab")
	t.block(gitlabView(gl))
	t.say("Phase is Initializing: the Deployment exists, but this control plane has no kubelet,")
	t.say("so no runner pod starts. Deployed stays False and RunnerHealthy Unknown until one does.")

	// 6. The simulated runner pod.
	t.header("SIMULATED runner pod: the tour plays the kubelet and gitlab-runner")
	simulated, err := simulatePod(ctx, k8s, fake, logs, got)
	if err != nil {
		return res, fmt.Errorf("simulating the runner pod: %w", err)
	}
	t.say("Created Pod %s", simulated.pod)
	t.say("from the Deployment's template, marked it Running and Ready, and marked the")
	t.say("Deployment available: what the kubelet and the Deployment controller would do.")
	t.say("Then, as gitlab-runner would, it asked the simulated GitLab for jobs with the token")
	t.say("from config.toml and the pod's system id, and wrote these lines to the pod's log:")
	t.block(strings.Join(simulated.lines, "\n"))
	got, err = waitRunner(ctx, k8s, key, func(r *gitlabv1beta1.Runner) bool {
		return r.Status.Phase == gitlabv1beta1.PhaseRunning && isTrue(r, gitlabv1beta1.ConditionRunnerHealthy)
	})
	if err != nil {
		return res, fmt.Errorf("waiting for phase Running: %w", err)
	}
	res.Running = true
	t.say("The operator read the log (one bounded read) and derived RunnerHealthy from it:")
	t.block(printerColumns(got))
	t.block(conditionTable(got))
	gl, _ = fake.Runner(res.RunnerID)
	res.Managers = len(gl.Managers)
	t.say("The simulated GitLab now lists the pod as the runner's manager:")
	t.block(gitlabView(gl))

	// 7. Deletion.
	t.header("Deleting the Runner")
	t.say("The finalizer %s keeps the Runner until its runner is removed from GitLab.", gitlabv1beta1.FinalizerDeregister)
	deleted := time.Now()
	if err := k8s.Delete(ctx, got); err != nil {
		return res, err
	}
	if err := waitGone(ctx, k8s, key); err != nil {
		return res, fmt.Errorf("waiting for the Runner to go: %w", err)
	}
	_, still := fake.Runner(res.RunnerID)
	res.Deregistered = !still
	if still {
		return res, fmt.Errorf("the Runner is gone but runner %d is still registered in the simulated GitLab", res.RunnerID)
	}
	t.say("The Runner was gone from Kubernetes %s later, and runner %d from the simulated", since(deleted), res.RunnerID)
	t.say("GitLab with it (DELETE /api/v4/runners with its token): %d runners left there.", len(fake.Runners()))
	t.say("On a cluster, the garbage collector then removes the Deployment, Secret and the rest")
	t.say("through their owner references; this control plane has none and is stopped next.")
	if evs := runnerEvents(ctx, k8s, runner.Name); len(evs) > 0 {
		t.say("Events the operator recorded on the Runner:")
		t.block(evs)
	}
	t.say("")
	t.say("Next: `make run` runs the operator against your cluster (or a local control plane);")
	t.say("docs/runner.md describes every field, docs/status.md every condition.")
	return res, nil
}

// openLog sends the operator's (controller-runtime's and client-go's) logs
// to path.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	logger := zap.New(zap.WriteTo(f), zap.UseDevMode(true), zap.Level(zapcore.InfoLevel))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	return f, nil
}

func displayPath(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

// loadSamples reads the sample Secret and Runner, puts an access token in
// the Secret and the simulator's URL in the Runner.
func loadSamples(root, url string) (*corev1.Secret, *gitlabv1beta1.Runner, error) {
	sec := &corev1.Secret{}
	if err := readYAML(filepath.Join(root, "config", "samples", "gitlab_v1beta1_runner_secret.yaml"), sec); err != nil {
		return nil, nil, err
	}
	sec.Namespace = demoNamespace
	sec.StringData = map[string]string{gitlabv1beta1.SecretKeyAccessToken: demoAccessToken}
	runner := &gitlabv1beta1.Runner{}
	if err := readYAML(filepath.Join(root, "config", "samples", "gitlab_v1beta1_runner.yaml"), runner); err != nil {
		return nil, nil, err
	}
	runner.Namespace = demoNamespace
	runner.Spec.GitLab.URL = url
	if runner.Spec.Token != sec.Name {
		return nil, nil, fmt.Errorf("the sample Runner names Secret %q, the sample Secret is %q", runner.Spec.Token, sec.Name)
	}
	return sec, runner, nil
}

func readYAML(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func mustYAML(v any) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(out)
}

// secretYAML renders the Secret with its value hidden.
func secretYAML(sec *corev1.Secret) string {
	shown := map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": sec.Name, "namespace": sec.Namespace},
		"type":       string(sec.Type),
		"stringData": map[string]string{gitlabv1beta1.SecretKeyAccessToken: "glpat-... (hidden; known to the simulator only)"},
	}
	return mustYAML(shown)
}

func runnerForDisplay(r *gitlabv1beta1.Runner) map[string]any {
	return map[string]any{
		"apiVersion": "gitlab.com/v1beta1",
		"kind":       "Runner",
		"metadata":   map[string]any{"name": r.Name, "namespace": r.Namespace},
		"spec":       map[string]any{"gitlab": map[string]any{"url": r.Spec.GitLab.URL}, "token": r.Spec.Token, "tags": r.Spec.Tags},
	}
}

// waitRunner polls the Runner until ok says so.
func waitRunner(ctx context.Context, c client.Client, key client.ObjectKey, ok func(*gitlabv1beta1.Runner) bool) (*gitlabv1beta1.Runner, error) {
	r := &gitlabv1beta1.Runner{}
	for {
		err := c.Get(ctx, key, r)
		if err == nil && ok(r) {
			return r, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w; last status: phase %q, registration %q\n%s", ctx.Err(), r.Status.Phase, r.Status.Registration, conditionTable(r))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitGone(ctx context.Context, c client.Client, key client.ObjectKey) error {
	for {
		err := c.Get(ctx, key, &gitlabv1beta1.Runner{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func cond(r *gitlabv1beta1.Runner, typ string) *metav1.Condition {
	for i := range r.Status.Conditions {
		if r.Status.Conditions[i].Type == typ {
			return &r.Status.Conditions[i]
		}
	}
	return nil
}

func isTrue(r *gitlabv1beta1.Runner, typ string) bool {
	c := cond(r, typ)
	return c != nil && c.Status == metav1.ConditionTrue
}

// table aligns rows in columns, the way kubectl prints them.
func table(rows [][]string) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		_, _ = fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	return b.String()
}

// printerColumns renders what `kubectl get runner` prints.
func printerColumns(r *gitlabv1beta1.Runner) string {
	return table([][]string{
		{"NAME", "URL", "PHASE", "REGISTRATION"},
		{r.Name, r.Status.URL, r.Status.Phase, r.Status.Registration},
	}) + fmt.Sprintf("status.runnerID: %d\n", r.Status.RunnerID)
}

// conditionTable renders status.conditions.
func conditionTable(r *gitlabv1beta1.Runner) string {
	rows := [][]string{{"CONDITION", "STATUS", "REASON", "MESSAGE"}}
	for _, c := range r.Status.Conditions {
		rows = append(rows, []string{c.Type, string(c.Status), c.Reason, c.Message})
	}
	return table(rows)
}

// listChildren names the objects the operator created for the Runner.
func listChildren(ctx context.Context, c client.Client, r *gitlabv1beta1.Runner) ([]string, error) {
	sel := client.MatchingLabels{"app.kubernetes.io/managed-by": "gitlab-operator", "app.kubernetes.io/instance": r.Name}
	var out []string
	lists := []struct {
		kind string
		list client.ObjectList
	}{
		{"Secret", &corev1.SecretList{}},
		{"ServiceAccount", &corev1.ServiceAccountList{}},
		{"Role", &rbacv1.RoleList{}},
		{"RoleBinding", &rbacv1.RoleBindingList{}},
		{"Deployment", &appsv1.DeploymentList{}},
		{"Service", &corev1.ServiceList{}},
	}
	for _, l := range lists {
		if err := c.List(ctx, l.list, client.InNamespace(r.Namespace), sel); err != nil {
			return nil, err
		}
		items, err := apimeta.ExtractList(l.list)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			if o, ok := item.(client.Object); ok {
				out = append(out, l.kind+"/"+o.GetName())
			}
		}
	}
	return out, nil
}

// gitlabView renders a runner as GitLab holds it.
func gitlabView(r gitlabtest.RunnerState) string {
	rows := [][]string{
		{"id:", strconv.FormatInt(r.ID, 10)},
		{"description:", r.Description},
		{"type:", r.Type},
		{"tags:", strings.Join(r.Tags, ", ")},
		{"run untagged:", strconv.FormatBool(r.RunUntagged)},
		{"paused:", strconv.FormatBool(r.Paused)},
		{"created by:", createdBy(r)},
	}
	if len(r.Managers) == 0 {
		rows = append(rows, []string{"managers:", "none yet (no gitlab-runner process has contacted GitLab)"})
	}
	ids := make([]string, 0, len(r.Managers))
	for id := range r.Managers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		m := r.Managers[id]
		label := ""
		if i == 0 {
			label = "managers:"
		}
		rows = append(rows, []string{label, fmt.Sprintf("system_id %s, gitlab-runner %s, %s/%s", m.SystemID, m.Version, m.Platform, m.Architecture)})
	}
	return table(rows)
}

func createdBy(r gitlabtest.RunnerState) string {
	if r.RegistrationType == gitlabtest.AuthenticatedUser {
		return "the operator, with the access token (POST /api/v4/user/runners)"
	}
	return "a registration token (POST /api/v4/runners)"
}

// simulation is what simulatePod did.
type simulation struct {
	pod   string
	lines []string
}

// simulatePod plays the kubelet, the Deployment controller and
// gitlab-runner: it creates a runner pod from the Deployment's template,
// feeds its log, polls the simulated GitLab for jobs as the runner would,
// and marks the pod Running and Ready and the Deployment available.
func simulatePod(ctx context.Context, c client.Client, fake *gitlabtest.Server, logs *harness.Logs, r *gitlabv1beta1.Runner) (*simulation, error) {
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: runnerbuild.DeploymentName(r)}, dep); err != nil {
		return nil, err
	}
	tmpl := dep.Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("%s-%s-%s", dep.Name, rand.String(10), rand.String(5)),
			Namespace:   r.Namespace,
			Labels:      tmpl.Labels,
			Annotations: tmpl.Annotations,
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
	container := pod.Spec.Containers[0]
	systemID := ""
	for _, e := range container.Env {
		if e.Name == "RUNNER_SYSTEM_ID" {
			systemID = e.Value
		}
	}
	if systemID == "" {
		systemID = runnerbuild.PodSystemID(pod.Name)
	}

	// gitlab-runner reads config.toml (from the operator's Secret) and asks
	// GitLab for jobs with the token in it.
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: runnerbuild.ConfigSecretName(r)}, sec); err != nil {
		return nil, err
	}
	cfg, err := runnerconfig.Parse(sec.Data[runnerbuild.KeyConfigTOML])
	if err != nil {
		return nil, err
	}
	if len(cfg.Runners) != 1 {
		return nil, fmt.Errorf("config.toml holds %d runners, want 1", len(cfg.Runners))
	}
	status, err := requestJobs(ctx, fake.URL(), cfg.Runners[0].Token, systemID)
	if err != nil {
		return nil, err
	}
	if status != http.StatusNoContent {
		return nil, fmt.Errorf("the simulated GitLab answered %d to the job request", status)
	}

	lines := []string{
		fmt.Sprintf("Runtime platform                                    arch=amd64 os=linux pid=7 revision=demo version=%s", runnerVersion),
		"Starting multi-runner from /etc/gitlab-runner/config.toml...  builds=0 max_builds=0",
		"Configuration loaded                                builds=0 max_builds=10",
		"Metrics server listening                            address=:9252 builds=0 max_builds=10",
		fmt.Sprintf("Checking for jobs...no content                      runner_name=%s status=204 No Content", cfg.Runners[0].Name),
	}
	logs.Append(pod.Namespace, pod.Name, lines...)

	if err := c.Create(ctx, pod); err != nil {
		return nil, err
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		StartTime: &now,
		PodIP:     "10.128.0.42",
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name:    container.Name,
			Image:   container.Image,
			ImageID: container.Image,
			Ready:   true,
			Started: ptr.To(true),
			State:   corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
	if err := c.Status().Update(ctx, pod); err != nil {
		return nil, err
	}

	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation,
		Replicas:           1,
		UpdatedReplicas:    1,
		ReadyReplicas:      1,
		AvailableReplicas:  1,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			Message: "Deployment has minimum availability.", LastUpdateTime: now, LastTransitionTime: now,
		}},
	}
	if err := c.Status().Update(ctx, dep); err != nil {
		return nil, err
	}
	return &simulation{pod: pod.Name, lines: lines}, nil
}

// requestJobs is gitlab-runner's POST /api/v4/jobs/request.
func requestJobs(ctx context.Context, url, token, systemID string) (int, error) {
	body, err := json.Marshal(map[string]any{
		"token":     token,
		"system_id": systemID,
		"info": map[string]string{
			"name": "gitlab-runner", "version": runnerVersion, "revision": "demo",
			"platform": "linux", "architecture": "amd64", "executor": "kubernetes",
		},
	})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(url, "/")+"/api/v4/jobs/request", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// runnerEvents lists the events recorded on the Runner, oldest first. The
// recorder sends them asynchronously, so it waits a moment for the last one.
func runnerEvents(ctx context.Context, c client.Client, name string) string {
	deadline := time.Now().Add(3 * time.Second)
	var evs corev1.EventList
	for {
		evs = corev1.EventList{}
		if err := c.List(ctx, &evs, client.InNamespace(demoNamespace)); err != nil {
			return ""
		}
		done := slices.ContainsFunc(evs.Items, func(e corev1.Event) bool { return e.Reason == "Deregistered" })
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	items := slices.DeleteFunc(evs.Items, func(e corev1.Event) bool {
		return e.InvolvedObject.Kind != "Runner" || e.InvolvedObject.Name != name
	})
	sort.SliceStable(items, func(i, j int) bool { return eventTime(items[i]).Before(eventTime(items[j])) })
	if len(items) == 0 {
		return ""
	}
	rows := [][]string{{"TYPE", "REASON", "MESSAGE"}}
	for _, e := range items {
		rows = append(rows, []string{e.Type, e.Reason, e.Message})
	}
	return table(rows)
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
