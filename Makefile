# GitLab operator: build, test and package.
#
# Every tool this Makefile needs is built from the Go module proxy at a pinned
# version into bin/ and rebuilt only when missing. Nothing is downloaded from a
# release page.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# Image and bundle coordinates.
VERSION ?= 0.1.0
IMAGE_TAG_BASE ?= quay.io/gitlab-operator/gitlab-operator
IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)
BUNDLE_IMG ?= $(IMAGE_TAG_BASE)-bundle:v$(VERSION)
CATALOG_IMG ?= $(IMAGE_TAG_BASE)-catalog:v$(VERSION)
CHANNELS ?= stable
DEFAULT_CHANNEL ?= stable
BUNDLE_METADATA_OPTS ?= --channels=$(CHANNELS) --default-channel=$(DEFAULT_CHANNEL)
CONTAINER_TOOL ?= docker

# Pinned tool versions.
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= v3.6.17
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
OPERATOR_SDK_VERSION ?= v1.42.2
OPM_VERSION ?= v1.73.0
GOLANGCI_LINT_VERSION ?= v2.15.0

LOCALBIN ?= $(CURDIR)/bin
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s/$(K8S_VERSION)
KUBE_APISERVER ?= $(ENVTEST_ASSETS)/kube-apiserver
ETCD ?= $(ENVTEST_ASSETS)/etcd
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
OPERATOR_SDK ?= $(LOCALBIN)/operator-sdk-$(OPERATOR_SDK_VERSION)
OPM ?= $(LOCALBIN)/opm-$(OPM_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

export KUBEBUILDER_ASSETS := $(ENVTEST_ASSETS)
# The tests never reach a cluster other than the one they start themselves.
GO_TEST_FLAGS ?= -count=1

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the API types and controller markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:allowDangerousTypes=false paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: test
test: manifests generate envtest-assets ## Run unit and envtest suites (builds kube-apiserver and etcd on first use).
	go test $(GO_TEST_FLAGS) ./...

.PHONY: verify
verify: manifests generate ## Fail when generated files are out of date.
	@git diff --exit-code -- api config || { echo "generated files are stale: run 'make generate manifests' and commit"; exit 1; }

.PHONY: test-reliability
test-reliability: manifests generate envtest-assets ## Fault matrix, crash consistency, restarts, hostile input, race detector.
	go test $(GO_TEST_FLAGS) -timeout 30m ./test/reliability/...
	go test $(GO_TEST_FLAGS) -race ./pkg/... 

FUZZTIME ?= 15s
.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each.
	@for target in FuzzParseLine:./pkg/runnerlog FuzzSummarize:./pkg/runnerlog FuzzRenderRoundTrip:./pkg/runnerconfig FuzzMerge:./pkg/runnerconfig; do \
		name=$${target%%:*}; pkg=$${target#*:}; \
		echo "fuzzing $$name in $$pkg for $(FUZZTIME)"; \
		go test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

.PHONY: bench
bench: manifests envtest-assets ## Benchmark: converge, idle, cache and GitLab-call figures into bin/bench/results.json.
	go run ./hack/bench $(BENCH_FLAGS)

.PHONY: demo
demo: manifests envtest-assets ## A short tour: local control plane, simulated GitLab, a Runner registered and de-registered.
	go run ./hack/demo

##@ Build

.PHONY: build
build: generate ## Build the manager binary.
	go build -o $(LOCALBIN)/manager .

.PHONY: run
run: manifests generate envtest-assets ## Run the operator against the current kubeconfig, or a local control plane when none is reachable.
	go run ./hack/run

.PHONY: docker-build
docker-build: ## Build the operator image (needs a container engine such as docker or podman).
	$(CONTAINER_TOOL) build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRDs into the current cluster.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests $(KUSTOMIZE) ## Remove the CRDs from the current cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator to the current cluster.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator from the current cluster.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found -f -

##@ Dependencies

.PHONY: envtest-assets
envtest-assets: $(KUBE_APISERVER) $(ETCD) ## Build kube-apiserver and etcd for the test control plane.

.PHONY: tools
tools: envtest-assets $(CONTROLLER_GEN) $(KUSTOMIZE) $(OPERATOR_SDK) $(OPM) $(GOLANGCI_LINT) ## Build every pinned tool.

K8S_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=v$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION))) \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=v$(K8S_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION)))

$(KUBE_APISERVER):
	@mkdir -p $(ENVTEST_ASSETS)
	cd hack/tools/kube-apiserver && CGO_ENABLED=0 go build -trimpath -ldflags "$(K8S_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(ETCD):
	@mkdir -p $(ENVTEST_ASSETS)
	cd hack/tools/etcd && CGO_ENABLED=0 go build -trimpath -o $@ go.etcd.io/etcd/server/v3

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN)/.gobin go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/.gobin/controller-gen $@

$(KUSTOMIZE):
	GOBIN=$(LOCALBIN)/.gobin go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/.gobin/kustomize $@

$(GOLANGCI_LINT):
	GOBIN=$(LOCALBIN)/.gobin go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/.gobin/golangci-lint $@

OSDK_VERSION_PKG := github.com/operator-framework/operator-sdk/internal/version
$(OPERATOR_SDK):
	cd hack/tools/operator-sdk && CGO_ENABLED=0 go build -tags containers_image_openpgp -trimpath \
		-ldflags "-s -w -X $(OSDK_VERSION_PKG).Version=$(OPERATOR_SDK_VERSION) -X $(OSDK_VERSION_PKG).GitVersion=$(OPERATOR_SDK_VERSION) -X $(OSDK_VERSION_PKG).ImageVersion=$(OPERATOR_SDK_VERSION) -X $(OSDK_VERSION_PKG).KubernetesVersion=v1.33.9" \
		-o $@ github.com/operator-framework/operator-sdk/cmd/operator-sdk

$(OPM):
	cd hack/tools/opm && go build -tags json1,containers_image_openpgp -trimpath \
		-ldflags "-s -w -X github.com/operator-framework/operator-registry/cmd/opm/version.opmVersion=$(OPM_VERSION)" \
		-o $@ github.com/operator-framework/operator-registry/cmd/opm

##@ Bundle

# OpenShift releases the bundle declares (bundle metadata and image label).
# 4.15 is the first OpenShift on Kubernetes 1.28, the CSV's minKubeVersion.
OPENSHIFT_VERSIONS ?= v4.15-v4.20
# The custom scorecard tests (scorecard/Dockerfile).
SCORECARD_IMG ?= $(IMAGE_TAG_BASE)-scorecard:v$(VERSION)
PACKAGE_NAME ?= gitlab-operator
OPM_BASE_IMAGE ?= quay.io/operator-framework/opm:$(OPM_VERSION)
CSV_BASE := config/manifests/bases/$(PACKAGE_NAME).clusterserviceversion.yaml
# Post-processing of bundle/ and catalog/ (its own module: kyaml stays out of go.mod).
BUNDLEMETA := cd hack/bundlemeta && go run .

.PHONY: bundle
bundle: manifests $(OPERATOR_SDK) $(KUSTOMIZE) ## Regenerate bundle/ and bundle.Dockerfile from config/, then validate them.
	$(OPERATOR_SDK) generate kustomize manifests -q --interactive=false
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	cd config/scorecard && $(KUSTOMIZE) edit set image gitlab-operator-scorecard=$(SCORECARD_IMG)
	rm -rf bundle/manifests bundle/metadata bundle/tests
	$(KUSTOMIZE) build config/manifests | $(OPERATOR_SDK) generate bundle -q --overwrite --version $(VERSION) $(BUNDLE_METADATA_OPTS)
	$(BUNDLEMETA) bundle -bundle $(CURDIR)/bundle -dockerfile $(CURDIR)/bundle.Dockerfile \
		-base $(CURDIR)/$(CSV_BASE) -openshift-versions $(OPENSHIFT_VERSIONS)
	$(MAKE) --no-print-directory bundle-validate

.PHONY: bundle-validate
bundle-validate: $(OPERATOR_SDK) ## Validate bundle/ with the operatorframework suite; a warning fails too.
	@out="$$($(OPERATOR_SDK) bundle validate ./bundle --select-optional suite=operatorframework 2>&1)"; \
	echo "$$out"; \
	if echo "$$out" | grep -qE 'level=(warning|error|fatal)'; then echo "bundle validation reported problems"; exit 1; fi

.PHONY: bundle-verify
bundle-verify: bundle catalog ## Fail when bundle/, catalog/ or their inputs change on regeneration (CI).
	@test -z "$$(git status --porcelain -- bundle bundle.Dockerfile catalog catalog.Dockerfile config)" || \
		{ git status --porcelain -- bundle bundle.Dockerfile catalog catalog.Dockerfile config; \
		  git diff --stat -- bundle bundle.Dockerfile catalog catalog.Dockerfile config; \
		  echo "the bundle or catalog is stale: run 'make bundle catalog' and commit"; exit 1; }

.PHONY: bundle-build
bundle-build: ## Build the bundle image (needs a container engine).
	$(CONTAINER_TOOL) build -f bundle.Dockerfile -t $(BUNDLE_IMG) .

.PHONY: bundle-push
bundle-push: ## Push the bundle image.
	$(CONTAINER_TOOL) push $(BUNDLE_IMG)

.PHONY: catalog
catalog: bundle-validate $(OPM) ## Render the file-based catalog from bundle/ (bundle image BUNDLE_IMG) and validate it.
	$(OPM) render ./bundle -o yaml | ($(BUNDLEMETA) catalog -image $(BUNDLE_IMG) \
		-csv $(CURDIR)/bundle/manifests/$(PACKAGE_NAME).clusterserviceversion.yaml \
		-channels $(CHANNELS) -default-channel $(DEFAULT_CHANNEL) \
		-out $(CURDIR)/catalog/$(PACKAGE_NAME)/index.yaml)
	rm -f catalog.Dockerfile
	$(OPM) generate dockerfile catalog -i $(OPM_BASE_IMAGE) -b $(OPM_BASE_IMAGE)
	$(OPM) validate catalog

.PHONY: catalog-build
catalog-build: ## Build the catalog image (needs a container engine).
	$(CONTAINER_TOOL) build -f catalog.Dockerfile -t $(CATALOG_IMG) .

.PHONY: catalog-push
catalog-push: ## Push the catalog image.
	$(CONTAINER_TOOL) push $(CATALOG_IMG)

.PHONY: scorecard-build
scorecard-build: ## Build the custom scorecard test image (needs a container engine).
	$(CONTAINER_TOOL) build -f scorecard/Dockerfile -t $(SCORECARD_IMG) .

.PHONY: scorecard-push
scorecard-push: ## Push the custom scorecard test image.
	$(CONTAINER_TOOL) push $(SCORECARD_IMG)

.PHONY: scorecard
scorecard: $(OPERATOR_SDK) ## Run every scorecard suite against the current cluster (operator installed, see docs/install.md).
	$(OPERATOR_SDK) scorecard ./bundle --wait-time=300s

.PHONY: scorecard-local
scorecard-local: envtest-assets ## Run the custom scorecard tests against the local control plane, the fake GitLab and the in-process operator.
	go run ./scorecard/cmd/scorecard-local -bundle $(CURDIR)/bundle

.PHONY: test-rbac
test-rbac: envtest-assets ## Prove the CSV's permissions suffice: run the operator as its ServiceAccount through a Runner and GitLab lifecycle.
	go test $(GO_TEST_FLAGS) -v ./test/rbac/...
