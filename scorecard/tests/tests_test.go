package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// bundleDir is the repository's generated bundle.
const bundleDir = "../../bundle"

func loadRepoBundle(t *testing.T) *Bundle {
	t.Helper()
	b, err := LoadBundle(bundleDir)
	if err != nil {
		t.Fatalf("loading the repository's bundle (run make bundle): %v", err)
	}
	return b
}

func expectState(t *testing.T, res scapiv1alpha3.TestResult, want scapiv1alpha3.State) {
	t.Helper()
	if res.State != want {
		t.Fatalf("%s: state %s, want %s\nerrors: %s\nlog:\n%s", res.Name, res.State, want, strings.Join(res.Errors, "\n"), res.Log)
	}
}

func TestBundleHasBothKinds(t *testing.T) {
	b := loadRepoBundle(t)
	kinds := map[string]bool{}
	for _, o := range b.CSV.Spec.CustomResourceDefinitions.Owned {
		kinds[o.Kind] = true
	}
	if !kinds["Runner"] || !kinds["GitLab"] || len(b.CRDs) != 2 {
		t.Fatalf("want the CSV to own Runner and GitLab and the bundle to hold their CRDs; owned %v, %d CRDs", kinds, len(b.CRDs))
	}
}

func TestStaticTestsPassOnTheBundle(t *testing.T) {
	b := loadRepoBundle(t)
	expectState(t, CRDDescriptions(b), scapiv1alpha3.PassState)
	expectState(t, ConditionsContract(b), scapiv1alpha3.PassState)
}

func TestRunByNameWrapsTheResult(t *testing.T) {
	for _, name := range []string{CRDDescriptionsName, ConditionsContractName} {
		st := Run(context.Background(), name, Options{BundleDir: bundleDir})
		if len(st.Results) != 1 || st.Results[0].Name != name || !Passed(st) || st.Results[0].CreationTimestamp.IsZero() {
			t.Fatalf("Run(%s) = %+v", name, st)
		}
	}
	st := Run(context.Background(), "no-such-test", Options{BundleDir: bundleDir})
	if Passed(st) || st.Results[0].State != scapiv1alpha3.ErrorState {
		t.Fatalf("an unknown test must be an error: %+v", st)
	}
	st = Run(context.Background(), CRDDescriptionsName, Options{BundleDir: t.TempDir()})
	if st.Results[0].State != scapiv1alpha3.ErrorState {
		t.Fatalf("an empty bundle must be an error: %+v", st)
	}
	st = Run(context.Background(), RunnerLifecycleName, Options{BundleDir: bundleDir})
	if st.Results[0].State != scapiv1alpha3.ErrorState || len(st.Results[0].Suggestions) == 0 {
		t.Fatalf("runner-lifecycle without a GitLab must be an error with a suggestion: %+v", st)
	}
}

func TestLoadBundleAcceptsTheManifestsFolder(t *testing.T) {
	b, err := LoadBundle(filepath.Join(bundleDir, "manifests"))
	if err != nil || b.CSV == nil || len(b.CRDs) == 0 {
		t.Fatalf("LoadBundle(manifests) = %v, %v", b, err)
	}
}

func TestCRDDescriptionsFailsOnAnUndocumentedField(t *testing.T) {
	dir := copyBundle(t)
	editCRD(t, dir, "gitlab.com_runners.yaml", func(crd *apiextensionsv1.CustomResourceDefinition) {
		root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
		spec := root.Properties["spec"]
		tags := spec.Properties["tags"]
		tags.Description = ""
		spec.Properties["tags"] = tags
		// A field inside a list item.
		tol := spec.Properties["tolerations"]
		eff := tol.Items.Schema.Properties["effect"]
		eff.Description = " "
		tol.Items.Schema.Properties["effect"] = eff
		spec.Properties["tolerations"] = tol
		root.Properties["spec"] = spec
	})
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := CRDDescriptions(b)
	expectState(t, res, scapiv1alpha3.FailState)
	joined := strings.Join(res.Errors, "\n")
	for _, want := range []string{"runners.gitlab.com v1beta1: .spec.tags has no description", ".spec.tolerations[].effect has no description"} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors do not mention %q:\n%s", want, joined)
		}
	}
	if len(res.Errors) != 2 || len(res.Suggestions) == 0 {
		t.Errorf("want exactly the two fields and a suggestion: %+v", res)
	}
}

func TestCRDDescriptionsFailsOnAStrippedCRD(t *testing.T) {
	dir := copyBundle(t)
	editCRD(t, dir, "gitlab.com_gitlabs.yaml", func(crd *apiextensionsv1.CustomResourceDefinition) {
		stripDescriptions(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
	})
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := CRDDescriptions(b)
	expectState(t, res, scapiv1alpha3.FailState)
	if len(res.Errors) < 50 {
		t.Fatalf("want every field of the stripped CRD reported, got %d", len(res.Errors))
	}
	for _, e := range res.Errors {
		if !strings.HasPrefix(e, "gitlabs.gitlab.com ") {
			t.Fatalf("the untouched Runner CRD was reported: %s", e)
		}
	}
}

func TestConditionsContractFailures(t *testing.T) {
	cases := map[string]struct {
		crd  func(*apiextensionsv1.CustomResourceDefinition)
		csv  func(*operatorsv1alpha1.ClusterServiceVersion)
		want string
	}{
		"list type atomic": {
			crd: func(crd *apiextensionsv1.CustomResourceDefinition) {
				editConditions(crd, func(c *apiextensionsv1.JSONSchemaProps) { atomic := "atomic"; c.XListType = &atomic })
			},
			want: "x-kubernetes-list-type map",
		},
		"no map key": {
			crd: func(crd *apiextensionsv1.CustomResourceDefinition) {
				editConditions(crd, func(c *apiextensionsv1.JSONSchemaProps) { c.XListMapKeys = nil })
			},
			want: "keyed by type",
		},
		"not a metav1.Condition": {
			crd: func(crd *apiextensionsv1.CustomResourceDefinition) {
				editConditions(crd, func(c *apiextensionsv1.JSONSchemaProps) { c.Items.Schema.Required = []string{"type", "status"} })
			},
			want: "status.conditions[].reason is not required",
		},
		"no conditions": {
			crd: func(crd *apiextensionsv1.CustomResourceDefinition) {
				status := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"]
				delete(status.Properties, "conditions")
			},
			want: "no status.conditions",
		},
		"no status subresource": {
			crd:  func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Versions[0].Subresources = nil },
			want: "no status subresource",
		},
		"no descriptor": {
			csv: func(csv *operatorsv1alpha1.ClusterServiceVersion) {
				owned := csv.Spec.CustomResourceDefinitions.Owned
				for i := range owned {
					if owned[i].Kind != "Runner" {
						continue
					}
					var keep []operatorsv1alpha1.StatusDescriptor
					for _, sd := range owned[i].StatusDescriptors {
						if sd.Path != "conditions" {
							keep = append(keep, sd)
						}
					}
					owned[i].StatusDescriptors = keep
				}
			},
			want: "Runner (runners.gitlab.com v1beta1): the CSV has no status descriptor for conditions",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := copyBundle(t)
			if tc.crd != nil {
				editCRD(t, dir, "gitlab.com_runners.yaml", tc.crd)
			}
			if tc.csv != nil {
				editCSV(t, dir, tc.csv)
			}
			b, err := LoadBundle(dir)
			if err != nil {
				t.Fatal(err)
			}
			res := ConditionsContract(b)
			expectState(t, res, scapiv1alpha3.FailState)
			if joined := strings.Join(res.Errors, "\n"); !strings.Contains(joined, tc.want) {
				t.Fatalf("errors do not mention %q:\n%s", tc.want, joined)
			}
		})
	}
}

// copyBundle copies the repository's bundle manifests to a temporary folder.
func copyBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(bundleDir, "manifests")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "manifests"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "manifests", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func editCRD(t *testing.T, dir, file string, edit func(*apiextensionsv1.CustomResourceDefinition)) {
	t.Helper()
	path := filepath.Join(dir, "manifests", file)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	editYAML(t, path, crd, func() { edit(crd) })
}

func editCSV(t *testing.T, dir string, edit func(*operatorsv1alpha1.ClusterServiceVersion)) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "manifests", "*.clusterserviceversion.yaml"))
	if len(matches) != 1 {
		t.Fatalf("want one CSV, found %v", matches)
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	editYAML(t, matches[0], csv, func() { edit(csv) })
}

func editYAML(t *testing.T, path string, obj any, edit func()) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, obj); err != nil {
		t.Fatal(err)
	}
	edit()
	if b, err = yaml.Marshal(obj); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editConditions(crd *apiextensionsv1.CustomResourceDefinition, edit func(*apiextensionsv1.JSONSchemaProps)) {
	root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	status := root.Properties["status"]
	conds := status.Properties["conditions"]
	edit(&conds)
	status.Properties["conditions"] = conds
	root.Properties["status"] = status
}

func stripDescriptions(s *apiextensionsv1.JSONSchemaProps) {
	s.Description = ""
	for k, p := range s.Properties {
		stripDescriptions(&p)
		s.Properties[k] = p
	}
	if s.Items != nil && s.Items.Schema != nil {
		stripDescriptions(s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		stripDescriptions(s.AdditionalProperties.Schema)
	}
}
