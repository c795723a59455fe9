package runnerbuild

import (
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	gitlabv1beta1 "github.com/gitlab-operator/gitlab-operator/api/v1beta1"
	"github.com/gitlab-operator/gitlab-operator/pkg/images"
	"github.com/gitlab-operator/gitlab-operator/pkg/runnerconfig"
)

// ConfigInputs are what config.toml needs besides the Runner and its
// registration.
type ConfigInputs struct {
	// URL is the resolved GitLab URL.
	URL string
	// HasCA mounts the CA bundle and points tls-ca-file at it.
	HasCA bool
	// Images are the default images.
	Images images.Images
	// Template is the user's config.toml template, if any.
	Template []byte
	// ProxyEnv is passed to jobs through [[runners]] environment, so that
	// clones and cache uploads go through the cluster proxy.
	ProxyEnv []corev1.EnvVar
}

// Config maps the Runner's spec to gitlab-runner's configuration model.
// token_expires_at is deliberately left out: with it, gitlab-runner rotates
// the token itself and writes config.toml, which would desynchronise the
// operator's stored copy. The operator rotates instead.
func Config(r *gitlabv1beta1.Runner, reg Registration, in ConfigInputs) *runnerconfig.Config {
	sp := r.Spec
	concurrent := int(sp.Concurrent)
	if concurrent <= 0 {
		concurrent = 10
	}
	interval := int(sp.Interval)
	if interval <= 0 {
		interval = 30
	}
	k := &runnerconfig.Kubernetes{
		Namespace:      JobNamespace(r),
		Image:          sp.BuildImage,
		HelperImage:    sp.HelperImage,
		ServiceAccount: sp.JobServiceAccount,
		Privileged:     ptr.To(sp.Privileged),
		NodeSelector:   maps.Clone(sp.JobNodeSelector),
	}
	if k.HelperImage == "" {
		k.HelperImage = in.Images.Helper
	}
	if sp.JobPullPolicy != "" {
		k.PullPolicy = runnerconfig.StringList{pullPolicy(sp.JobPullPolicy)}
	}
	if sp.PollTimeout != nil {
		k.PollTimeout = int(*sp.PollTimeout)
	}
	if len(sp.JobTolerations) > 0 {
		k.NodeTolerations = map[string]string{}
		for _, t := range sp.JobTolerations {
			key := t.Key
			if t.Value != "" {
				key += "=" + t.Value
			}
			k.NodeTolerations[key] = string(t.Effect)
		}
	}
	if jr := sp.JobResources; jr != nil {
		k.CPURequest, k.CPULimit, k.MemoryRequest, k.MemoryLimit = quantities(jr.Build)
		k.HelperCPURequest, k.HelperCPULimit, k.HelperMemoryRequest, k.HelperMemoryLimit = quantities(jr.Helper)
		k.ServiceCPURequest, k.ServiceCPULimit, k.ServiceMemoryRequest, k.ServiceMemoryLimit = quantities(jr.Service)
	}
	run := runnerconfig.Runner{
		Name:       Description(r),
		URL:        in.URL,
		ID:         reg.ID,
		Token:      reg.Token,
		Executor:   "kubernetes",
		CloneURL:   sp.CloneURL,
		Kubernetes: k,
		Cache:      cacheConfig(sp.Cache),
	}
	if !reg.ObtainedAt.IsZero() {
		run.TokenObtainedAt = reg.ObtainedAt.UTC()
	}
	for _, e := range in.ProxyEnv {
		if e.Value != "" {
			run.Environment = append(run.Environment, e.Name+"="+e.Value)
		}
	}
	if in.HasCA {
		run.TLSCAFile = CAMountDir + "/" + CAFileName
	}
	if sp.RequestConcurrency != nil {
		run.RequestConcurrency = int(*sp.RequestConcurrency)
	}
	if sp.OutputLimit != nil {
		run.OutputLimit = int(*sp.OutputLimit)
	}
	cfg := &runnerconfig.Config{
		Concurrent:    concurrent,
		CheckInterval: interval,
		LogLevel:      sp.LogLevel,
		LogFormat:     sp.LogFormat,
		ListenAddress: fmt.Sprintf(":%d", MetricsPort),
		Runners:       []runnerconfig.Runner{run},
	}
	if sp.ShutdownTimeout != nil {
		cfg.ShutdownTimeout = int(*sp.ShutdownTimeout)
	}
	if sp.ConnectionMaxAge != nil {
		cfg.ConnectionMaxAge = runnerconfig.Duration(sp.ConnectionMaxAge.Duration.String())
	}
	return cfg
}

// ConfigTOML renders config.toml, merged with the template when there is
// one. Errors name the field to fix.
func ConfigTOML(r *gitlabv1beta1.Runner, reg Registration, in ConfigInputs) ([]byte, error) {
	cfg := Config(r, reg, in)
	if len(strings.TrimSpace(string(in.Template))) == 0 {
		out, err := runnerconfig.Render(cfg)
		if err != nil {
			return nil, fmt.Errorf("rendering config.toml: %w", err)
		}
		return out, nil
	}
	out, err := runnerconfig.Merge(cfg, in.Template)
	if err != nil {
		return nil, fmt.Errorf("spec.config: the config.toml template cannot be merged: %w", err)
	}
	return out, nil
}

func pullPolicy(p corev1.PullPolicy) string {
	switch p {
	case corev1.PullAlways:
		return "always"
	case corev1.PullNever:
		return "never"
	default:
		return "if-not-present"
	}
}

func quantities(rr *corev1.ResourceRequirements) (cpuReq, cpuLim, memReq, memLim string) {
	if rr == nil {
		return
	}
	q := func(l corev1.ResourceList, n corev1.ResourceName) string {
		if v, ok := l[n]; ok {
			return v.String()
		}
		return ""
	}
	return q(rr.Requests, corev1.ResourceCPU), q(rr.Limits, corev1.ResourceCPU),
		q(rr.Requests, corev1.ResourceMemory), q(rr.Limits, corev1.ResourceMemory)
}

func cacheConfig(c *gitlabv1beta1.CacheSpec) *runnerconfig.Cache {
	if c == nil {
		return nil
	}
	out := &runnerconfig.Cache{Type: c.Type, Path: c.Path, Shared: c.Shared}
	switch {
	case c.Type == "s3" && c.S3 != nil:
		auth := "access-key"
		if c.S3.Credentials == "" {
			auth = "iam"
		}
		out.S3 = &runnerconfig.CacheS3{ServerAddress: c.S3.Server, BucketName: c.S3.Bucket,
			BucketLocation: c.S3.Location, Insecure: c.S3.Insecure, AuthenticationType: auth}
	case c.Type == "gcs" && c.GCS != nil:
		out.GCS = &runnerconfig.CacheGCS{BucketName: c.GCS.Bucket}
		if c.GCS.CredentialsFile {
			out.GCS.CredentialsFile = gcsMountDir + "/keys.json"
		}
	case c.Type == "azure" && c.Azure != nil:
		out.Azure = &runnerconfig.CacheAzure{ContainerName: c.Azure.Container, StorageDomain: c.Azure.StorageDomain}
	}
	return out
}
