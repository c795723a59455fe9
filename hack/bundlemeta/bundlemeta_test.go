package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestLessVersion(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"0.1.0", "0.2.0", true}, {"0.10.0", "0.9.0", false}, {"1.0.0-rc.1", "1.0.0", true},
		{"1.0.0", "1.0.0-rc.1", false}, {"1.0.0", "1.0.0", false}, {"1.2.3", "1.2.10", true},
	} {
		if got := lessVersion(c.a, c.b); got != c.less {
			t.Errorf("lessVersion(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestLabelDockerfileIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bundle.Dockerfile")
	in := "FROM scratch\n\n# Core bundle labels.\nLABEL operators.operatorframework.io.bundle.mediatype.v1=registry+v1\nLABEL operators.operatorframework.io.metrics.project_layout=go.kubebuilder.io/v4\n\n# Labels for testing.\nLABEL operators.operatorframework.io.test.config.v1=tests/scorecard/\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := labelDockerfile(path, "v4.15-v4.20"); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	out := string(b)
	if strings.Count(out, versionsKey) != 1 || !strings.Contains(out, `LABEL com.redhat.openshift.versions="v4.15-v4.20"`) {
		t.Fatalf("got:\n%s", out)
	}
	if strings.Index(out, versionsKey) > strings.Index(out, "# Labels for testing.") {
		t.Fatalf("the label belongs with the core labels:\n%s", out)
	}
}

const rendered = `---
image: ""
name: demo.v%[1]s
package: demo
properties:
- type: olm.package
  value:
    packageName: demo
    version: %[1]s
schema: olm.bundle
`

const csv = `apiVersion: operators.coreos.com/v1alpha1
kind: ClusterServiceVersion
metadata:
  name: demo.v0.1.0
  annotations:
    description: A demo.
spec:
  icon:
  - base64data: PHN2Zy8+
    mediatype: image/svg+xml
`

func TestCatalogKeepsEarlierBundlesAndChainsThem(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "csv.yaml")
	out := filepath.Join(dir, "catalog", "demo", "index.yaml")
	if err := os.WriteFile(csvPath, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	release := func(v string) string {
		in := filepath.Join(dir, "rendered-"+v+".yaml")
		if err := os.WriteFile(in, []byte(strings.ReplaceAll(rendered, "%[1]s", v)), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-rendered", in, "-image", "example.com/demo-bundle:v" + v, "-csv", csvPath, "-out", out}
		if err := catalogCmd(args); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(out)
		return string(b)
	}
	first := release("0.1.0")
	if again := release("0.1.0"); again != first {
		t.Fatalf("re-rendering the same bundle changed the catalog:\n%s\n---\n%s", first, again)
	}
	got := release("0.2.0")
	for _, want := range []string{
		"schema: olm.package\nname: demo\ndefaultChannel: stable\ndescription: A demo.\n",
		"- name: demo.v0.1.0\n- name: demo.v0.2.0\n  replaces: demo.v0.1.0\n",
		"image: example.com/demo-bundle:v0.1.0\n", "image: example.com/demo-bundle:v0.2.0\n",
		"base64data: PHN2Zy8+",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("catalog lacks %q:\n%s", want, got)
		}
	}
}

func TestVersionsAnnotationSitsAfterTheCoreAnnotations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "annotations.yaml")
	in := "annotations:\n  # Core bundle annotations.\n  operators.operatorframework.io.bundle.package.v1: demo\n  # Annotations for testing.\n  operators.operatorframework.io.test.config.v1: tests/scorecard/\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := editYAML(path, func(doc *yaml.RNode) error { return setVersionsAnnotation(doc, "v4.15-v4.20") }); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	want := "annotations:\n  # Core bundle annotations.\n  operators.operatorframework.io.bundle.package.v1: demo\n  # OpenShift versions.\n  com.redhat.openshift.versions: v4.15-v4.20\n  # Annotations for testing.\n  operators.operatorframework.io.test.config.v1: tests/scorecard/\n"
	if string(b) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b, want)
	}
}
