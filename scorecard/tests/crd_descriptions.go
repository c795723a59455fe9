package tests

import (
	"sort"
	"strings"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// CRDDescriptionsName names the test.
const CRDDescriptionsName = "crd-descriptions"

// CRDDescriptions checks that every property of every served version of
// every CRD in the bundle has a description, at any depth: object
// properties, the item schemas of arrays and the value schemas of maps.
// Only metadata at the root is exempt (the API server owns its schema).
func CRDDescriptions(b *Bundle) scapiv1alpha3.TestResult {
	r := newRecorder(CRDDescriptionsName)
	if len(b.CRDs) == 0 {
		r.errorf("the bundle has no CRDs")
		return r.result()
	}
	for _, crd := range b.CRDs {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				r.failf("%s %s has no schema", crd.Name, v.Name)
				continue
			}
			var missing []string
			root := v.Schema.OpenAPIV3Schema
			if strings.TrimSpace(root.Description) == "" {
				missing = append(missing, "(root)")
			}
			for name, prop := range root.Properties {
				if name == "metadata" {
					continue
				}
				walkDescriptions("."+name, &prop, &missing)
			}
			sort.Strings(missing)
			for _, path := range missing {
				r.failf("%s %s: %s has no description", crd.Name, v.Name, path)
			}
			r.logf("%s %s: %d fields without a description", crd.Name, v.Name, len(missing))
		}
	}
	if len(r.errors) > 0 {
		r.suggest("Document the Go field with a comment: controller-gen turns it into the CRD field's description.")
	}
	return r.result()
}

// walkDescriptions records path when s has no description, then descends.
// Item and additionalProperties schemas describe the elements of their
// parent, so their own description is optional; their properties are not.
func walkDescriptions(path string, s *apiextensionsv1.JSONSchemaProps, missing *[]string) {
	if strings.TrimSpace(s.Description) == "" {
		*missing = append(*missing, path)
	}
	descend(path, s, missing)
}

func descend(path string, s *apiextensionsv1.JSONSchemaProps, missing *[]string) {
	for name, prop := range s.Properties {
		walkDescriptions(path+"."+name, &prop, missing)
	}
	if s.Items != nil {
		if s.Items.Schema != nil {
			descend(path+"[]", s.Items.Schema, missing)
		}
		for i := range s.Items.JSONSchemas {
			descend(path+"[]", &s.Items.JSONSchemas[i], missing)
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		descend(path+"{}", s.AdditionalProperties.Schema, missing)
	}
	for _, group := range [][]apiextensionsv1.JSONSchemaProps{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range group {
			descend(path, &group[i], missing)
		}
	}
}
