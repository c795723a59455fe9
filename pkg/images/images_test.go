package images

import "testing"

func TestRepository(t *testing.T) {
	cases := map[string]string{
		"docker.io/gitlab/gitlab-ce:18.6.1-ce.0":           "docker.io/gitlab/gitlab-ce",
		"registry.local:5000/gitlab/gitlab-ce":             "registry.local:5000/gitlab/gitlab-ce",
		"registry.local:5000/gitlab/gitlab-ce:18.6.1-ce.0": "registry.local:5000/gitlab/gitlab-ce",
		"quay.io/x/y@sha256:abc":                           "quay.io/x/y",
		"quay.io/x/y:tag@sha256:abc":                       "quay.io/x/y",
	}
	for in, want := range cases {
		if got := Repository(in); got != want {
			t.Errorf("Repository(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("RELATED_IMAGE_GITLAB_RUNNER", "mirror/runner@sha256:1")
	t.Setenv("RELATED_IMAGE_GITLAB_CE", "")
	got := FromEnv()
	if got.Runner != "mirror/runner@sha256:1" || got.GitLabCE != DefaultGitLabCE {
		t.Fatalf("FromEnv() = %+v", got)
	}
}
