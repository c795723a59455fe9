// Package images holds the default container images. Each can be
// overridden with a RELATED_IMAGE_* environment variable, which is how OLM
// pins digests for disconnected clusters (the CSV lists the same images in
// relatedImages).
package images

import (
	"os"
	"strings"
)

// Defaults, used when no RELATED_IMAGE_* variable is set.
const (
	DefaultRunner   = "registry.gitlab.com/gitlab-org/gitlab-runner:v18.6.0"
	DefaultGitLabCE = "docker.io/gitlab/gitlab-ce:" + DefaultGitLabVersion + "-ce.0"
	DefaultGitLabEE = "docker.io/gitlab/gitlab-ee:" + DefaultGitLabVersion + "-ee.0"
	// DefaultGitLabVersion is the GitLab version a GitLab without
	// spec.version runs.
	DefaultGitLabVersion = "18.6.1"
)

// Images are the images the operator deploys.
type Images struct {
	// Runner is the gitlab-runner image of runner manager pods.
	Runner string
	// Helper is the default helper image of job pods; empty lets the
	// runner pick the helper matching its own version.
	Helper string
	// GitLabCE is the Omnibus Community Edition image of
	// DefaultGitLabVersion (by tag or digest); other versions use its
	// repository.
	GitLabCE string
	// GitLabEE is the Omnibus Enterprise Edition image of
	// DefaultGitLabVersion.
	GitLabEE string
}

// FromEnv reads RELATED_IMAGE_GITLAB_RUNNER, RELATED_IMAGE_GITLAB_RUNNER_HELPER,
// RELATED_IMAGE_GITLAB_CE and RELATED_IMAGE_GITLAB_EE, falling back to the
// defaults.
func FromEnv() Images {
	return Images{
		Runner:   envOr("RELATED_IMAGE_GITLAB_RUNNER", DefaultRunner),
		Helper:   os.Getenv("RELATED_IMAGE_GITLAB_RUNNER_HELPER"),
		GitLabCE: envOr("RELATED_IMAGE_GITLAB_CE", DefaultGitLabCE),
		GitLabEE: envOr("RELATED_IMAGE_GITLAB_EE", DefaultGitLabEE),
	}
}

// WithDefaults fills empty fields with the defaults.
func (i Images) WithDefaults() Images {
	if i.Runner == "" {
		i.Runner = DefaultRunner
	}
	if i.GitLabCE == "" {
		i.GitLabCE = DefaultGitLabCE
	}
	if i.GitLabEE == "" {
		i.GitLabEE = DefaultGitLabEE
	}
	return i
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Repository strips the tag or digest from an image reference.
func Repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}
