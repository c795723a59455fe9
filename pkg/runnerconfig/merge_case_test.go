package runnerconfig

import (
	"strings"
	"testing"
)

// gitlab-runner reads keys case-insensitively, so a template must not be
// able to override the operator's values by changing their case.
func TestMergeIgnoresCaseVariantsOfOperatorKeys(t *testing.T) {
	f := false
	base := &Config{Concurrent: 1, Runners: []Runner{{URL: "https://gitlab", Token: "t", Executor: "kubernetes",
		Kubernetes: &Kubernetes{Privileged: &f}}}}
	tpl := "Concurrent = 50\n[[runners]]\n  URL = \"https://evil\"\n  Token = \"x\"\n  EXECUTOR = \"shell\"\n  [runners.kubernetes]\n    Privileged = true\n    cpu_limit = \"2\"\n"
	out, err := Merge(base, []byte(tpl))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, bad := range []string{"evil", `Token = "x"`, "shell", "Privileged = true", "Concurrent = 50"} {
		if strings.Contains(s, bad) {
			t.Errorf("the template's %q survived:\n%s", bad, s)
		}
	}
	if !strings.Contains(s, `cpu_limit = "2"`) {
		t.Errorf("a key the operator does not set was dropped:\n%s", s)
	}
}
