package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	corev1 "k8s.io/api/core/v1"
)

var bundleDir = filepath.Join("..", "..", "..", "bundle")

// runTest runs the command and decodes the TestStatus it prints.
func runTest(t *testing.T, args ...string) scapiv1alpha3.TestResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	var st scapiv1alpha3.TestStatus
	if err := json.Unmarshal(stdout.Bytes(), &st); err != nil {
		t.Fatalf("the output is not a TestStatus: %v\n%s", err, stdout.String())
	}
	if len(st.Results) != 1 {
		t.Fatalf("want one result, got %+v", st)
	}
	return st.Results[0]
}

func TestPrintsATestStatus(t *testing.T) {
	for _, name := range []string{"crd-descriptions", "conditions-contract"} {
		res := runTest(t, "--bundle", bundleDir, name)
		if res.Name != name || res.State != scapiv1alpha3.PassState {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestUnknownTestIsAnError(t *testing.T) {
	res := runTest(t, "--bundle", bundleDir, "nope")
	if res.State != scapiv1alpha3.ErrorState || !strings.Contains(res.Errors[0], "crd-descriptions") {
		t.Fatalf("%+v", res)
	}
}

func TestRunnerLifecycleWithoutAClusterSaysWhatIsMissing(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("HOME", t.TempDir())
	res := runTest(t, "--bundle", bundleDir, "runner-lifecycle")
	if res.State != scapiv1alpha3.ErrorState || len(res.Suggestions) == 0 {
		t.Fatalf("%+v", res)
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "runner-lifecycle") {
		t.Fatalf("no test name: exit %d, %q", code, errOut.String())
	}
}

func TestSettingsFromTheSecret(t *testing.T) {
	s := &corev1.Secret{
		Data:       map[string][]byte{"url": []byte("https://gitlab.example.com"), "token": []byte("glpat-x")},
		StringData: map[string]string{"group-id": "7"},
	}
	got := fromSecret(s)
	if got["url"] != "https://gitlab.example.com" || got["token"] != "glpat-x" || got["group-id"] != "7" {
		t.Fatalf("%v", got)
	}
}
