// Package v1beta1 contains the API types of the gitlab.com/v1beta1 group:
// Runner (a GitLab Runner deployed and registered by the operator) and
// GitLab (a GitLab instance deployed by the operator).
//
// +kubebuilder:object:generate=true
// +groupName=gitlab.com
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "gitlab.com", Version: "v1beta1"}

	// SchemeBuilder registers the Go types with a runtime.Scheme. The api
	// package depends on apimachinery only, so clients can import it
	// cheaply.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types in this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Runner{}, &RunnerList{}, &GitLab{}, &GitLabList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
