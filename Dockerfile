# Builds the operator image: a static manager binary on UBI minimal, running
# as a non-root user. Built with `make docker-build` (needs a container
# engine; none is available in this project's CI, so this file is kept
# correct by review).
FROM registry.access.redhat.com/ubi9/go-toolset:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY main.go main.go
COPY api/ api/
COPY controllers/ controllers/
COPY pkg/ pkg/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w" -o manager .

FROM registry.access.redhat.com/ubi9/ubi-minimal:latest
ARG VERSION=0.1.0
LABEL name="gitlab-operator" \
      vendor="The GitLab Operator Authors" \
      version="${VERSION}" \
      release="1" \
      summary="Runs GitLab Runners and GitLab on OpenShift and Kubernetes" \
      description="An operator that deploys and registers GitLab Runners (Runner) and GitLab instances (GitLab)." \
      io.k8s.display-name="GitLab Operator" \
      io.k8s.description="Deploys and registers GitLab Runners and GitLab instances." \
      io.openshift.tags="gitlab,runner,ci,operator"
WORKDIR /
COPY --from=builder /workspace/manager /manager
COPY LICENSE /licenses/LICENSE
USER 65532:65532
ENTRYPOINT ["/manager"]
