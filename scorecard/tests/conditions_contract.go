package tests

import (
	"slices"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// ConditionsContractName names the test.
const ConditionsContractName = "conditions-contract"

// conditionsXDescriptor makes the OpenShift console render a conditions table.
const conditionsXDescriptor = "urn:alm:descriptor:io.kubernetes.conditions"

// ConditionsContract checks the documented status contract: every CRD the
// CSV owns exists in the bundle, has the status subresource and, in every
// served version, a status.conditions list of metav1.Condition merged by
// type (x-kubernetes-list-type map, key type); and the CSV has a status
// descriptor for conditions with the conditions x-descriptor, so the
// console shows them.
func ConditionsContract(b *Bundle) scapiv1alpha3.TestResult {
	r := newRecorder(ConditionsContractName)
	owned := b.CSV.Spec.CustomResourceDefinitions.Owned
	if len(owned) == 0 {
		r.errorf("the CSV owns no CRDs")
		return r.result()
	}
	for _, desc := range owned {
		id := desc.Kind + " (" + desc.Name + " " + desc.Version + ")"
		hasDescriptor := false
		for _, sd := range desc.StatusDescriptors {
			if sd.Path == "conditions" && slices.Contains(sd.XDescriptors, conditionsXDescriptor) {
				hasDescriptor = true
			}
		}
		if !hasDescriptor {
			r.failf("%s: the CSV has no status descriptor for conditions with %s", id, conditionsXDescriptor)
			r.suggest(`Mark status.conditions with +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Conditions",xDescriptors={"urn:alm:descriptor:io.kubernetes.conditions"} and run make bundle.`)
		}
		crd := b.CRD(desc.Name)
		if crd == nil {
			r.failf("%s: the CSV owns it but the bundle has no such CRD", id)
			continue
		}
		if crd.Spec.Names.Kind != desc.Kind {
			r.failf("%s: the CRD's kind is %s", id, crd.Spec.Names.Kind)
		}
		found := false
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			if v.Name == desc.Version {
				found = true
			}
			checkConditionsSchema(r, crd.Name+" "+v.Name, v)
		}
		if !found {
			r.failf("%s: the CRD serves no version %s", id, desc.Version)
		}
		r.logf("%s: checked", id)
	}
	return r.result()
}

func checkConditionsSchema(r *recorder, id string, v apiextensionsv1.CustomResourceDefinitionVersion) {
	if v.Subresources == nil || v.Subresources.Status == nil {
		r.failf("%s: no status subresource", id)
	}
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		r.failf("%s: no schema", id)
		return
	}
	status, ok := v.Schema.OpenAPIV3Schema.Properties["status"]
	if !ok {
		r.failf("%s: no status in the schema", id)
		return
	}
	conds, ok := status.Properties["conditions"]
	if !ok {
		r.failf("%s: no status.conditions", id)
		return
	}
	if conds.Type != "array" || conds.Items == nil || conds.Items.Schema == nil {
		r.failf("%s: status.conditions is not a list", id)
		return
	}
	if conds.XListType == nil || *conds.XListType != "map" {
		r.failf("%s: status.conditions must have x-kubernetes-list-type map (+listType=map), so that conditions merge by type", id)
	}
	if !slices.Equal(conds.XListMapKeys, []string{"type"}) {
		r.failf("%s: status.conditions must be keyed by type (+listMapKey=type), not %v", id, conds.XListMapKeys)
	}
	item := conds.Items.Schema
	for _, field := range []string{"type", "status", "reason", "message", "lastTransitionTime"} {
		if !slices.Contains(item.Required, field) {
			r.failf("%s: status.conditions[].%s is not required: not a metav1.Condition", id, field)
		}
	}
	if _, ok := item.Properties["observedGeneration"]; !ok {
		r.failf("%s: status.conditions[] has no observedGeneration", id)
	}
	st, ok := item.Properties["status"]
	if !ok {
		return
	}
	var values []string
	for _, e := range st.Enum {
		values = append(values, string(e.Raw))
	}
	slices.Sort(values)
	if !slices.Equal(values, []string{`"False"`, `"True"`, `"Unknown"`}) {
		r.failf("%s: status.conditions[].status must be one of True, False, Unknown, not %v", id, values)
	}
}
