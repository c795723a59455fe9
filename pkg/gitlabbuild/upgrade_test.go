package gitlabbuild

import (
	"errors"
	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"18.6.1": "18.6.1", "v18.6.1": "18.6.1", "18.6.1-ee": "18.6.1", "18.6.1-ce.0": "18.6.1", "17.11.10": "17.11.10",
	} {
		v, err := ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("%s: %v %v", in, v, err)
		}
	}
	for _, bad := range []string{"", "18", "18.6", "latest", "18.6.x"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if NormalizeVersion("18.3.1-ee") != "18.3.1" || NormalizeVersion("odd") != "odd" {
		t.Error("NormalizeVersion")
	}
}

func TestCheckUpgrade(t *testing.T) {
	tests := []struct {
		from, to string
		kind     UpgradeErrorKind // 0: allowed
		stop     string
	}{
		{"", "18.6.1", 0, ""},
		{"18.6.1", "18.6.1", 0, ""},
		{"18.6.1", "18.6.3", 0, ""},
		{"18.6.1", "18.8.2", 0, ""},
		{"18.2.0", "18.5.4", 0, ""},
		{"18.0.1", "18.2.7", 0, ""},
		{"17.11.4", "18.2.1", 0, ""},
		{"18.11.2", "19.2.0", 0, ""},
		{"16.11.10", "17.1.2", 0, ""},
		{"18.6.1", "18.5.0", UpgradeDowngrade, ""},
		{"18.6.3", "18.6.1", UpgradeDowngrade, ""},
		{"19.0.0", "18.11.0", UpgradeDowngrade, ""},
		{"18.6.1", "18.9.0", UpgradeSkipsStop, "18.8"},
		{"18.0.1", "18.5.0", UpgradeSkipsStop, "18.2"},
		{"17.10.1", "18.0.0", UpgradeSkipsStop, "17.11"},
		{"17.2.0", "17.5.0", UpgradeSkipsStop, "17.3"},
		{"16.5.0", "17.0.0", UpgradeSkipsStop, "16.7"},
		{"15.11.13", "16.4.0", UpgradeSkipsStop, "16.3"},
		{"18.9.0", "19.3.0", UpgradeSkipsStop, "18.11"},
		{"19.0.0", "19.6.0", UpgradeSkipsStop, "19.2"},
		{"18.6.1", "not-a-version", UpgradeInvalidVersion, ""},
	}
	for _, tt := range tests {
		err := CheckUpgrade(tt.from, tt.to)
		if tt.kind == 0 {
			if err != nil {
				t.Errorf("%s -> %s: unexpected %v", tt.from, tt.to, err)
			}
			continue
		}
		var ue *UpgradeError
		if !errors.As(err, &ue) {
			t.Errorf("%s -> %s: got %v, want an UpgradeError", tt.from, tt.to, err)
			continue
		}
		if ue.Kind != tt.kind || ue.Stop != tt.stop {
			t.Errorf("%s -> %s: kind %d stop %q, want %d %q", tt.from, tt.to, ue.Kind, ue.Stop, tt.kind, tt.stop)
		}
		if tt.stop != "" && !strings.Contains(ue.Error(), "required upgrade stop "+tt.stop) {
			t.Errorf("%s -> %s: message does not name the stop: %s", tt.from, tt.to, ue.Error())
		}
		if tt.kind == UpgradeDowngrade && !strings.Contains(ue.Error(), "cannot be downgraded") {
			t.Errorf("downgrade message: %s", ue.Error())
		}
	}
}

func TestRequiredStops(t *testing.T) {
	from, _ := ParseVersion("17.0.0")
	to, _ := ParseVersion("18.9.0")
	var got []string
	for _, s := range RequiredStops(from, to) {
		got = append(got, s.MinorString())
	}
	want := "17.1,17.3,17.5,17.8,17.11,18.2,18.5,18.8"
	if strings.Join(got, ",") != want {
		t.Errorf("stops %v, want %s", got, want)
	}
}

func TestImageUsesTheRelatedImageForTheDefaultVersion(t *testing.T) {
	gl := &gitlabv1beta1.GitLab{}
	imgs := images.Images{GitLabCE: "mirror.local/gitlab-ce@sha256:abc"}
	if got := Image(gl, imgs, images.DefaultGitLabVersion); got != "mirror.local/gitlab-ce@sha256:abc" {
		t.Fatalf("default version: %s", got)
	}
	if got := Image(gl, imgs, "18.8.2"); got != "mirror.local/gitlab-ce:18.8.2-ce.0" {
		t.Fatalf("other version: %s", got)
	}
}
