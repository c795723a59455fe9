package reliability_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/gitlab/gitlabtest"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerbuild"
	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
)

// Least privilege. Runner pods run arbitrary CI jobs, so their service
// account gets exactly what GitLab Runner's Kubernetes executor needs in the
// job namespace and nothing more; the operator's own roles carry no
// wildcards; and the operator can actually run with the ClusterRole it
// ships (Kubernetes refuses to let it grant a permission it does not hold
// itself, which envtest's admin credentials would hide).
// (Pod Security "restricted" for runner pods is tested in controllers/runner.)

// executorPermissions is what GitLab Runner's Kubernetes executor uses in
// the job namespace (GitLab docs, "Kubernetes executor: configure runner API
// permissions"), without namespace_per_job (which would need namespaces
// create/delete cluster-wide and is not offered).
var executorPermissions = map[string][]string{
	"events":          {"list", "watch"},
	"pods":            {"create", "delete", "get", "list", "watch"},
	"pods/attach":     {"create", "delete", "get", "patch"},
	"pods/exec":       {"create", "delete", "get", "patch"},
	"pods/log":        {"get", "list"},
	"secrets":         {"create", "delete", "get", "update"},
	"configmaps":      {"create", "delete", "get", "update"},
	"services":        {"create", "delete", "get"},
	"serviceaccounts": {"get"},
}

func sampleRunners() []*gitlabv1beta1.Runner {
	same := urlRunner("ci", "example", "https://gitlab.example.com", "tok")
	other := same.DeepCopy()
	other.Spec.JobNamespace = "ci-jobs"
	return []*gitlabv1beta1.Runner{same, other}
}

func TestRunnerRoleIsTheExecutorsMinimum(t *testing.T) {
	t.Parallel()
	for _, r := range sampleRunners() {
		role := runnerbuild.Role(r)
		if role.Namespace != runnerbuild.JobNamespace(r) {
			t.Errorf("the runner's Role is in %q, not the job namespace %q", role.Namespace, runnerbuild.JobNamespace(r))
		}
		for _, rule := range role.Rules {
			if hasWildcard(rule) {
				t.Errorf("wildcard in the runner's Role: %+v", rule)
			}
			if len(rule.ResourceNames) > 0 || len(rule.NonResourceURLs) > 0 {
				t.Errorf("unexpected resourceNames/nonResourceURLs: %+v", rule)
			}
			for _, g := range rule.APIGroups {
				if g != "" {
					t.Errorf("the executor only needs the core API group, the Role grants %q", g)
				}
			}
			for _, res := range rule.Resources {
				allowed, known := executorPermissions[res]
				if !known {
					t.Errorf("the Role grants %s, which the executor does not use", res)
					continue
				}
				for _, v := range rule.Verbs {
					if !slices.Contains(allowed, v) {
						t.Errorf("the Role grants %s on %s, which the executor does not use", v, res)
					}
				}
			}
		}
		// Reading every Secret of the job namespace would expose other
		// jobs' credentials: no list or watch on secrets.
		if allows(role.Rules, "", "secrets", "list") || allows(role.Rules, "", "secrets", "watch") {
			t.Error("the runner's Role can list or watch Secrets")
		}
		rb := runnerbuild.RoleBinding(r)
		if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name || len(rb.Subjects) != 1 ||
			rb.Subjects[0].Name != runnerbuild.ServiceAccountName(r) || rb.Subjects[0].Namespace != r.Namespace {
			t.Errorf("the RoleBinding does not bind exactly the runner's ServiceAccount to its Role: %+v", rb)
		}
	}
}

func TestOperatorRBACHasNoWildcards(t *testing.T) {
	t.Parallel()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "config", "rbac", "*.yaml"))
	bundle, _ := filepath.Glob(filepath.Join(root, "bundle", "manifests", "*.yaml"))
	checked := 0
	for _, f := range append(files, bundle...) {
		for name, rules := range rulesIn(t, f) {
			checked++
			for _, rule := range rules {
				if hasWildcard(rule) {
					t.Errorf("%s: %s has a wildcard rule: %+v", filepath.Base(f), name, rule)
				}
			}
		}
	}
	if checked < 3 {
		t.Fatalf("found only %d roles to check: is config/rbac where it should be?", checked)
	}
}

// TestRunnerRoleIsGrantableByTheOperator: Kubernetes only lets the operator
// create a Role whose every permission it holds itself (RBAC escalation
// prevention). Each (resource, verb) of the runner's Role must therefore be
// in config/rbac/role.yaml.
func TestRunnerRoleIsGrantableByTheOperator(t *testing.T) {
	t.Parallel()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	operator := rulesIn(t, filepath.Join(root, "config", "rbac", "role.yaml"))["ClusterRole/manager-role"]
	if len(operator) == 0 {
		t.Fatal("no ClusterRole manager-role in config/rbac/role.yaml")
	}
	for _, rule := range runnerbuild.Role(sampleRunners()[0]).Rules {
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					if !allows(operator, g, res, v) {
						t.Errorf("the runner's Role grants %q on %q but the operator's ClusterRole lacks it: "+
							"add it to the +kubebuilder:rbac markers in controllers/runner/controller.go, or Kubernetes refuses to create the Role", v, res)
					}
				}
			}
		}
	}
}

// TestOperatorRunsWithItsOwnClusterRole runs the manager as a user that
// holds only config/rbac/role.yaml, and registers and deploys a Runner.
func TestOperatorRunsWithItsOwnClusterRole(t *testing.T) {
	t.Parallel()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "rbac")
	user := "system:serviceaccount:" + ns + ":gitlab-operator"
	suffix := "-" + ns
	rules := rulesIn(t, filepath.Join(root, "config", "rbac", "role.yaml"))["ClusterRole/manager-role"]
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "manager-role" + suffix}, Rules: rules}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "manager-rolebinding" + suffix},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	create(t, cr)
	create(t, crb)
	t.Cleanup(func() { _ = k8s.Delete(ctx, crb); _ = k8s.Delete(ctx, cr) })

	asOperator := rest.CopyConfig(restConfig)
	asOperator.Impersonate = rest.ImpersonationConfig{UserName: user}

	fake, admin := newFake(t, false)
	create(t, secret(ns, "pat", map[string]string{"access-token": admin}))
	// Bindings take a moment to reach the authorizer's cache.
	eventually(t, 10*time.Second, func(g gomega.Gomega) {
		c, err := client.New(asOperator, client.Options{Scheme: k8s.Scheme()})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(c.List(ctx, &gitlabv1beta1.RunnerList{}, client.InNamespace(ns))).To(gomega.Succeed())
	})
	startManager(t, managerConfig{namespaces: []string{ns}, rest: asOperator})
	r := urlRunner(ns, "least", fake.URL(), "pat")
	create(t, r)
	waitRegistered(t, ns, "least", 30*time.Second)
	eventually(t, 30*time.Second, func(g gomega.Gomega) {
		c := condition(getRunner(g, ns, "least"), gitlabv1beta1.ConditionDeployed)
		g.Expect(c).NotTo(gomega.BeNil())
		// No kubelet: pods never become available, so "progressing" is as
		// far as a Deployment gets, and it means every child was written.
		g.Expect(c.Reason).To(gomega.Equal(gitlabv1beta1.ReasonDeploymentProgressing), "%s: %s", c.Reason, c.Message)
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: runnerbuild.RoleName(r)}, &rbacv1.Role{})).To(gomega.Succeed())
	})
	deleteRunner(t, ns, "least")
	waitGone(t, ns, "least", 30*time.Second)
	expectNoRunner(t, fake, ns, "least")
	hygiene(t, []*gitlabtest.Server{fake})
}

func hasWildcard(r rbacv1.PolicyRule) bool {
	for _, list := range [][]string{r.Verbs, r.Resources, r.APIGroups, r.NonResourceURLs} {
		if slices.Contains(list, "*") || slices.ContainsFunc(list, func(s string) bool { return strings.HasSuffix(s, "/*") }) {
			return true
		}
	}
	return false
}

// allows reports whether rules grant verb on resource in group (no
// wildcards: the operator's roles have none, see above).
func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) &&
			slices.Contains(r.Verbs, verb) && len(r.ResourceNames) == 0 {
			return true
		}
	}
	return false
}

// rulesIn returns the rules of every Role and ClusterRole in a YAML file,
// and of the permissions and clusterPermissions of a CSV, keyed by
// "Kind/name".
func rulesIn(t *testing.T, path string) map[string][]rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]rbacv1.PolicyRule{}
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil || u.Object == nil {
			continue
		}
		switch u.GetKind() {
		case "Role", "ClusterRole":
			var role rbacv1.ClusterRole
			if err := yaml.Unmarshal(doc, &role); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out[u.GetKind()+"/"+u.GetName()] = role.Rules
		case "ClusterServiceVersion":
			for _, field := range []string{"clusterPermissions", "permissions"} {
				perms, _, _ := unstructured.NestedSlice(u.Object, "spec", "install", "spec", field)
				for i, p := range perms {
					b, _ := yaml.Marshal(p)
					var perm struct {
						ServiceAccountName string              `json:"serviceAccountName"`
						Rules              []rbacv1.PolicyRule `json:"rules"`
					}
					if err := yaml.Unmarshal(b, &perm); err != nil {
						t.Fatalf("%s: %v", path, err)
					}
					out[fmt.Sprintf("CSV %s[%d] (%s)", field, i, perm.ServiceAccountName)] = perm.Rules
				}
			}
		}
	}
	return out
}
