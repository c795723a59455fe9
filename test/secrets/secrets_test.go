package secrets_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/test/secrets"
)

const (
	runnerTok = "glrt-t1_AbCdEfGhIjKlMnOpQrStUv"
	patTok    = "glpat-ZyXwVuTsRqPoNmLkJiHg"
	regTok    = "GR1348941aBcDeFgHiJkLmNoPq"
	cleanTok  = "glrt-NeverWrittenAnywhere000"
)

func objects() []client.Object {
	ns := "scan"
	return []client.Object{
		// Where tokens belong: never a hit.
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ok", Namespace: ns},
			Data: map[string][]byte{"token": []byte(runnerTok), "access-token": []byte(patTok)}},
		// Leaks.
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "annotated", Namespace: ns,
			Annotations: map[string]string{"debug/last-token": runnerTok}}},
		&eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "ev", Namespace: ns},
			Note: "registered with token " + strings.TrimPrefix(patTok, "glpat-"), Reason: "Registered", Action: "Registered",
			Type: corev1.EventTypeNormal, EventTime: metav1.NewMicroTime(metav1.Now().Time), ReportingController: "x", ReportingInstance: "y"},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: ns},
			BinaryData: map[string][]byte{"blob": []byte(regTok)}},
		&gitlabv1beta1.Runner{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: ns},
			Status: gitlabv1beta1.RunnerStatus{Conditions: []metav1.Condition{{
				Type: "Registered", Status: metav1.ConditionFalse, Reason: "TokenRejected", Message: "token " + runnerTok + " rejected",
			}}}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: ns},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "runner", Args: []string{"--token", patTok},
			}}}}}},
	}
}

func TestFindReportsEveryLeakAndNothingElse(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(operator.Scheme()).WithObjects(objects()...).
		WithStatusSubresource(&gitlabv1beta1.Runner{}).Build()
	log := []byte(`{"level":"info","msg":"Registered","token":"` + runnerTok + "\"}\n" + `{"level":"info","msg":"clean line"}` + "\n")
	hits, err := secrets.Find(context.Background(), c, log, []string{runnerTok, patTok, regTok, cleanTok, "short"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"manager log line 1",
		"Secret scan/annotated .metadata.annotations.debug/last-token",
		"Event scan/ev .note (without prefix)",
		"ConfigMap scan/cm .binaryData.blob (base64)",
		"Runner scan/r .status.conditions[0].message",
		"Deployment scan/d .spec.template.spec.containers[0].args[1]",
	}
	got := make([]string, 0, len(hits))
	for _, h := range hits {
		got = append(got, h.String())
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing a hit at %q; got:\n%s", w, all)
		}
	}
	// Secret data is fine, core Events listing sees the events.k8s.io one
	// too on a real API server, but the fake keeps them apart: exactly the
	// six leaks above.
	if len(hits) != len(want) {
		t.Errorf("want %d hits, got %d:\n%s", len(want), len(hits), all)
	}
	for _, tok := range []string{runnerTok, patTok, regTok, strings.TrimPrefix(patTok, "glpat-"), base64.StdEncoding.EncodeToString([]byte(regTok))} {
		if strings.Contains(all, tok) {
			t.Fatalf("a hit report prints the token it found")
		}
	}
}

func TestFindLimitsToNamespaces(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(operator.Scheme()).WithObjects(objects()...).Build()
	hits, err := secrets.Find(context.Background(), c, nil, []string{runnerTok, patTok, regTok}, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 0 {
		t.Fatalf("want no hits outside the scanned namespace, got %v", hits)
	}
}

func TestMaskNeverShowsTheSecretPart(t *testing.T) {
	for _, tok := range []string{runnerTok, patTok, regTok, "plainsecretvalue1234"} {
		m := secrets.Mask(tok)
		if strings.Contains(m, tok[len(tok)-8:]) {
			t.Errorf("Mask(%s…) shows the token's tail: %s", tok[:3], m)
		}
	}
}

func TestLoggerCapturesDebugLevels(t *testing.T) {
	buf := &secrets.Buffer{}
	var human bytes.Buffer
	log := secrets.NewLogger(buf, &human, 0)
	log.V(5).Info("debug detail", "token", cleanTok)
	log.Info("info line")
	if !bytes.Contains(buf.Bytes(), []byte(cleanTok)) || !bytes.Contains(buf.Bytes(), []byte("info line")) {
		t.Fatalf("the captured log misses entries: %s", buf.Bytes())
	}
	if bytes.Contains(human.Bytes(), []byte("debug detail")) || !bytes.Contains(human.Bytes(), []byte("info line")) {
		t.Fatalf("the human copy should hold Info only: %s", human.Bytes())
	}
	ctrl.SetLogger(log) // usable as the global logger
}
