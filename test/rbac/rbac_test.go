// Package rbac proves that the permissions the bundle's CSV asks for are
// enough for the operator, and that none of them is a wildcard.
//
// TestCSVPermissionsAreEnough installs spec.install.spec.clusterPermissions
// and permissions the way OLM does (ClusterRoles and Roles bound to the
// CSV's ServiceAccount), runs the operator impersonating that
// ServiceAccount against the local control plane and the fake GitLab, and
// drives a Runner through its whole life (create, register, update,
// delete, de-register) and a GitLab through a reconcile and deletion. The
// manager's log, client-go's included, must never say "forbidden".
//
// The test reads bundle/ as committed: run `make bundle` after changing
// RBAC markers (TestBundleMatchesConfigRBAC says so when it is stale).
package rbac

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlabbuild"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/scorecard/tests"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

const (
	rbacDir    = "../../config/rbac"
	adminToken = "glpat-rbac-proof-0123456789abcdef"
	waitFor    = 30 * time.Second
)

// bundleDir is the repository's bundle; RBAC_PROOF_BUNDLE points the
// tests at another one (for trying a permission change before regenerating).
func bundleDir() string {
	if d := os.Getenv("RBAC_PROOF_BUNDLE"); d != "" {
		return d
	}
	return "../../bundle"
}

func loadCSV(t *testing.T) *operatorsv1alpha1.ClusterServiceVersion {
	t.Helper()
	b, err := tests.LoadBundle(bundleDir())
	if err != nil {
		t.Fatalf("loading the bundle (run make bundle): %v", err)
	}
	return b.CSV
}

// logBuffer collects everything the manager and client-go log while one
// platform is proven.
type logBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf == nil {
		return len(p), nil
	}
	return l.buf.Write(p)
}

// reset starts a new capture.
func (l *logBuffer) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = &bytes.Buffer{}
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf == nil {
		return ""
	}
	return l.buf.String()
}

var (
	logs       = &logBuffer{}
	loggerOnce sync.Once
)

// captureLogs sends controller-runtime's and client-go's logs to logs.
// client-go (reflectors, leader election) logs through klog: a forbidden
// list or watch shows up only there.
func captureLogs() {
	loggerOnce.Do(func() {
		logger := zap.New(zap.WriteTo(logs), zap.UseDevMode(true))
		ctrl.SetLogger(logger)
		klog.SetLogger(logger)
	})
	logs.reset()
}

// platform is a cluster flavour the proof runs on.
type platform struct {
	name string
	// crds are extra API stand-ins installed before the operator starts.
	crds []string
	// openShift: the operator finds the OpenShift and Prometheus Operator
	// APIs, creates a Route instead of an Ingress, binds the GitLab's
	// ServiceAccount to the anyuid SCC and creates ServiceMonitors.
	openShift bool
}

func TestCSVPermissionsAreEnough(t *testing.T) {
	for _, p := range []platform{
		{name: "kubernetes"},
		{name: "openshift", crds: []string{filepath.Join("testdata", "openshift-crds.yaml")}, openShift: true},
	} {
		t.Run(p.name, func(t *testing.T) { prove(t, p) })
	}
}

func prove(t *testing.T, p platform) {
	csv := loadCSV(t)
	install := csv.Spec.InstallStrategy.StrategySpec
	if len(install.DeploymentSpecs) != 1 {
		t.Fatalf("want one deployment in the CSV, found %d", len(install.DeploymentSpecs))
	}
	sa := install.DeploymentSpecs[0].Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		t.Fatal("the CSV's deployment names no ServiceAccount")
	}
	captureLogs()

	cp, err := controlplane.Start(controlplane.Options{ExtraCRDPaths: p.crds})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Stop() }()
	ctx := context.Background()
	admin, err := client.New(cp.Config, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if p.openShift {
		// What OpenShift ships for the anyuid SCC.
		mustCreate(t, admin, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: gitlabbuild.AnyUIDClusterRole},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{"security.openshift.io"}, Resources: []string{"securitycontextconstraints"},
				ResourceNames: []string{"anyuid"}, Verbs: []string{"use"},
			}},
		})
	}

	// What OLM does at install time, in the operator's namespace.
	opNS := mustNamespace(t, admin, "operators")
	mustCreate(t, admin, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: opNS}})
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: opNS}
	for i, perm := range install.ClusterPermissions {
		if perm.ServiceAccountName != sa {
			t.Fatalf("clusterPermissions[%d] is for %q, the deployment runs as %q", i, perm.ServiceAccountName, sa)
		}
		name := fmt.Sprintf("%s-%s-cluster-%d", opNS, sa, i)
		mustCreate(t, admin, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: perm.Rules})
		mustCreate(t, admin, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{subject},
		})
	}
	for i, perm := range install.Permissions {
		if perm.ServiceAccountName != sa {
			t.Fatalf("permissions[%d] is for %q, the deployment runs as %q", i, perm.ServiceAccountName, sa)
		}
		name := fmt.Sprintf("%s-%d", sa, i)
		mustCreate(t, admin, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: opNS}, Rules: perm.Rules})
		mustCreate(t, admin, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: opNS},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{subject},
		})
	}

	// The operator, as its ServiceAccount: every request it makes is
	// authorized against the roles above only.
	asOperator := rest.CopyConfig(cp.Config)
	asOperator.Impersonate = rest.ImpersonationConfig{UserName: fmt.Sprintf("system:serviceaccount:%s:%s", opNS, sa)}
	fake := gitlabtest.NewServer()
	defer fake.Close()
	fake.AddAccessToken(adminToken, gitlabtest.TokenOptions{Scopes: []string{gitlabtest.ScopeAPI}, Admin: true})
	mgr, err := harness.StartManager(asOperator, operator.Options{
		// Leader election in the operator's namespace exercises the
		// namespaced permissions (leases, events).
		LeaderElection:          true,
		LeaderElectionNamespace: opNS,
		LeaderElectionID:        "rbac-proof.gitlab.com",
		LogReader:               harness.NewLogs(),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			if err := mgr.Stop(); err != nil {
				t.Errorf("stopping the manager: %v", err)
			}
		}
	}
	defer stop()

	ns := mustNamespace(t, admin, "workload")
	operatorClient, err := client.New(asOperator, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("runner manager Role can be granted", func(t *testing.T) { grantRunnerRole(t, ctx, operatorClient, ns) })
	t.Run("runner lifecycle", func(t *testing.T) { runnerLifecycle(t, ctx, admin, fake, ns, p) })
	t.Run("gitlab reconcile", func(t *testing.T) { gitlabReconcile(t, ctx, admin, ns, p) })
	stop()

	out := logs.String()
	if hits := forbiddenLines(out); len(hits) > 0 {
		t.Errorf("the operator was refused %d times as %s; the CSV lacks these permissions:\n%s",
			len(hits), subject.Name, strings.Join(hits, "\n"))
	}
	if !strings.Contains(out, "became leader") {
		t.Errorf("the manager never became leader")
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("manager log:\n%s", out)
	}
}

// grantRunnerRole creates (dry run) the Role the operator gives a runner
// manager, as the operator. The API server refuses to let anyone grant a
// permission they do not hold, and names the missing rules when it does.
func grantRunnerRole(t *testing.T, ctx context.Context, asOperator client.Client, ns string) {
	r := &gitlabv1beta1.Runner{ObjectMeta: metav1.ObjectMeta{Name: "grant", Namespace: ns}}
	role := runnerbuild.Role(r)
	if err := asOperator.Create(ctx, role, client.DryRunAll); err != nil {
		t.Fatalf("the operator may not grant the runner manager's Role %v:\n%v", role.Rules, err)
	}
}

func runnerLifecycle(t *testing.T, ctx context.Context, admin client.Client, fake *gitlabtest.Server, ns string, p platform) {
	mustCreate(t, admin, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns},
		StringData: map[string]string{gitlabv1beta1.SecretKeyAccessToken: adminToken},
	})
	r := &gitlabv1beta1.Runner{
		ObjectMeta: metav1.ObjectMeta{Name: "proof", Namespace: ns},
		Spec: gitlabv1beta1.RunnerSpec{
			GitLab: gitlabv1beta1.GitLabReference{URL: fake.URL()},
			Token:  "token",
			Tags:   "first",
		},
	}
	mustCreate(t, admin, r)
	key := client.ObjectKeyFromObject(r)

	var id int64
	eventually(t, "registration succeeded", func() error {
		got := &gitlabv1beta1.Runner{}
		if err := admin.Get(ctx, key, got); err != nil {
			return err
		}
		if got.Status.Registration != gitlabv1beta1.RegistrationSucceeded || got.Status.RunnerID == 0 {
			return fmt.Errorf("registration %q, conditions %v", got.Status.Registration, got.Status.Conditions)
		}
		id = got.Status.RunnerID
		return nil
	})
	// The workload, its RBAC included: creating the runner manager's Role
	// is allowed only if the operator holds every permission in it.
	eventually(t, "runner workload", func() error {
		owner := &gitlabv1beta1.Runner{}
		if err := admin.Get(ctx, key, owner); err != nil {
			return err
		}
		lists := map[string]client.ObjectList{
			"Deployment": &appsv1.DeploymentList{}, "ServiceAccount": &corev1.ServiceAccountList{},
			"Role": &rbacv1.RoleList{}, "RoleBinding": &rbacv1.RoleBindingList{}, "Secret": &corev1.SecretList{},
			"Service": &corev1.ServiceList{},
		}
		if p.openShift {
			lists["ServiceMonitor"] = unstructuredList("monitoring.coreos.com/v1", "ServiceMonitorList")
		}
		for kind, l := range lists {
			if err := admin.List(ctx, l, client.InNamespace(ns)); err != nil {
				return err
			}
			if ownedBy(l, owner.UID) == 0 {
				return fmt.Errorf("no %s owned by the Runner yet; conditions %v", kind, owner.Status.Conditions)
			}
		}
		return nil
	})

	// An update reaches GitLab.
	got := &gitlabv1beta1.Runner{}
	if err := admin.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	got.Spec.Tags = "first, second"
	if err := admin.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tags applied in GitLab", func() error {
		st, ok := fake.Runner(id)
		if !ok {
			return fmt.Errorf("runner %d not in GitLab", id)
		}
		if !slices.Equal(sorted(st.Tags), []string{"first", "second"}) {
			return fmt.Errorf("tags %v", st.Tags)
		}
		return nil
	})

	// Deletion de-registers.
	if err := admin.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Runner gone and de-registered", func() error {
		if _, ok := fake.Runner(id); ok {
			return fmt.Errorf("runner %d still registered", id)
		}
		if err := admin.Get(ctx, key, &gitlabv1beta1.Runner{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Runner still there (%v)", err)
		}
		return nil
	})
}

func unstructuredList(apiVersion, kind string) *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetAPIVersion(apiVersion)
	l.SetKind(kind)
	return l
}

// ownedBy counts the items of l with an owner reference to uid.
func ownedBy(l client.ObjectList, uid types.UID) int {
	n := 0
	_ = meta.EachListItem(l, func(o runtime.Object) error {
		if obj, ok := o.(client.Object); ok {
			for _, ref := range obj.GetOwnerReferences() {
				if ref.UID == uid {
					n++
				}
			}
		}
		return nil
	})
	return n
}

func gitlabReconcile(t *testing.T, ctx context.Context, admin client.Client, ns string, p platform) {
	gl := &gitlabv1beta1.GitLab{
		ObjectMeta: metav1.ObjectMeta{Name: "proof", Namespace: ns},
		Spec:       gitlabv1beta1.GitLabSpec{URL: "https://gitlab.rbac-proof.example"},
	}
	mustCreate(t, admin, gl)
	key := client.ObjectKeyFromObject(gl)
	eventually(t, "GitLab status written", func() error {
		got := &gitlabv1beta1.GitLab{}
		if err := admin.Get(ctx, key, got); err != nil {
			return err
		}
		if got.Status.ObservedGeneration != got.Generation || len(got.Status.Conditions) == 0 {
			return fmt.Errorf("observedGeneration %d of %d, %d conditions", got.Status.ObservedGeneration, got.Generation, len(got.Status.Conditions))
		}
		return nil
	})
	// The children, exposure and (on OpenShift) the anyuid binding included.
	eventually(t, "GitLab children", func() error {
		owner := &gitlabv1beta1.GitLab{}
		if err := admin.Get(ctx, key, owner); err != nil {
			return err
		}
		lists := map[string]client.ObjectList{
			"StatefulSet": &appsv1.StatefulSetList{}, "Service": &corev1.ServiceList{},
			"ServiceAccount": &corev1.ServiceAccountList{},
		}
		if p.openShift {
			lists["Route"] = unstructuredList("route.openshift.io/v1", "RouteList")
			lists["RoleBinding"] = &rbacv1.RoleBindingList{}
		} else {
			lists["Ingress"] = &networkingv1.IngressList{}
		}
		for kind, l := range lists {
			if err := admin.List(ctx, l, client.InNamespace(ns)); err != nil {
				return err
			}
			if ownedBy(l, owner.UID) == 0 {
				return fmt.Errorf("no %s owned by the GitLab yet; conditions %v", kind, owner.Status.Conditions)
			}
		}
		return nil
	})
	if err := admin.Delete(ctx, gl); err != nil {
		t.Fatal(err)
	}
	eventually(t, "GitLab gone", func() error {
		if err := admin.Get(ctx, key, &gitlabv1beta1.GitLab{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("GitLab still there (%v)", err)
		}
		return nil
	})
}

// forbiddenPattern matches what the API server and client-go say when a
// request is refused, and the Runner controller's own wording for it.
var forbiddenPattern = regexp.MustCompile(`(?i)forbidden|may not create`)

func forbiddenLines(log string) []string {
	var hits []string
	for _, line := range strings.Split(log, "\n") {
		if forbiddenPattern.MatchString(line) {
			hits = append(hits, line)
		}
	}
	return hits
}

func TestNoWildcardRules(t *testing.T) {
	csv := loadCSV(t)
	type source struct {
		name  string
		rules []rbacv1.PolicyRule
	}
	var sources []source
	install := csv.Spec.InstallStrategy.StrategySpec
	for i, p := range install.ClusterPermissions {
		sources = append(sources, source{fmt.Sprintf("CSV clusterPermissions[%d]", i), p.Rules})
	}
	for i, p := range install.Permissions {
		sources = append(sources, source{fmt.Sprintf("CSV permissions[%d]", i), p.Rules})
	}
	for _, r := range configRoles(t) {
		sources = append(sources, source{"config/rbac " + r.kind + " " + r.name, r.rules})
	}
	if len(sources) < 3 {
		t.Fatalf("found only %d rule sets; is the bundle generated?", len(sources))
	}
	for _, s := range sources {
		for i, rule := range s.rules {
			for field, values := range map[string][]string{
				"verbs": rule.Verbs, "resources": rule.Resources, "apiGroups": rule.APIGroups,
				"resourceNames": rule.ResourceNames, "nonResourceURLs": rule.NonResourceURLs,
			} {
				for _, v := range values {
					if strings.Contains(v, "*") {
						t.Errorf("%s rule %d has %q in %s", s.name, i, v, field)
					}
				}
			}
		}
	}
}

// TestBundleMatchesConfigRBAC catches a bundle generated before the last
// change of the RBAC markers: the CSV's permissions must be exactly the
// rules of config/rbac's manager and leader election roles.
func TestBundleMatchesConfigRBAC(t *testing.T) {
	csv := loadCSV(t)
	install := csv.Spec.InstallStrategy.StrategySpec
	want := map[string][]rbacv1.PolicyRule{}
	for _, r := range configRoles(t) {
		switch {
		case r.kind == "ClusterRole" && r.name == "manager-role":
			want["cluster"] = r.rules
		case r.kind == "Role" && r.name == "leader-election-role":
			want["namespace"] = r.rules
		}
	}
	var cluster, namespaced []rbacv1.PolicyRule
	for _, p := range install.ClusterPermissions {
		cluster = append(cluster, p.Rules...)
	}
	for _, p := range install.Permissions {
		namespaced = append(namespaced, p.Rules...)
	}
	stale := "the bundle is stale: run make bundle"
	if !rulesEqual(cluster, want["cluster"]) {
		t.Errorf("CSV clusterPermissions differ from config/rbac/role.yaml; %s", stale)
	}
	if !rulesEqual(namespaced, want["namespace"]) {
		t.Errorf("CSV permissions differ from config/rbac/leader_election_role.yaml; %s", stale)
	}
}

type configRole struct {
	kind, name string
	rules      []rbacv1.PolicyRule
}

// configRoles reads every Role and ClusterRole under config/rbac.
func configRoles(t *testing.T) []configRole {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(rbacDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", rbacDir, err)
	}
	var out []configRole
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			var obj struct {
				Kind     string              `json:"kind"`
				Metadata metav1.ObjectMeta   `json:"metadata"`
				Rules    []rbacv1.PolicyRule `json:"rules"`
			}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if obj.Kind == "Role" || obj.Kind == "ClusterRole" {
				out = append(out, configRole{obj.Kind, obj.Metadata.Name, obj.Rules})
			}
		}
	}
	return out
}

func rulesEqual(a, b []rbacv1.PolicyRule) bool {
	norm := func(rules []rbacv1.PolicyRule) []string {
		var out []string
		for _, r := range rules {
			out = append(out, fmt.Sprint(sorted(r.APIGroups), sorted(r.Resources), sorted(r.ResourceNames), sorted(r.NonResourceURLs), sorted(r.Verbs)))
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	sort.Strings(out)
	return out
}

func mustNamespace(t *testing.T, c client.Client, prefix string) string {
	t.Helper()
	ns, err := harness.Namespace(context.Background(), c, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// eventually polls check until it returns nil or waitFor passes.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, waitFor, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
