// Package v1beta1 contains the API types of the gitlab.com/v1beta1 group:
// Runner (a GitLab Runner deployed and registered by the operator) and
// GitLab (a GitLab instance deployed by the operator).
//
// +kubebuilder:object:generate=true
// +groupName=gitlab.com
package v1beta1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "gitlab.com", Version: "v1beta1"}

	// SchemeBuilder registers the Go types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types in this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
