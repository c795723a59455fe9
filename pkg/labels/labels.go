// Package labels holds the labels every child object carries. The manager's
// cache only holds objects with ManagedBy, so a child without these labels
// is invisible to the operator.
package labels

const (
	// ManagedByKey and ManagedByValue mark objects this operator owns.
	ManagedByKey = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByKey.
	ManagedByValue = "gitlab-operator"
	// NameKey is the application name.
	NameKey = "app.kubernetes.io/name"
	// InstanceKey is the owning resource's name.
	InstanceKey = "app.kubernetes.io/instance"
	// ComponentKey distinguishes runner and gitlab children.
	ComponentKey = "app.kubernetes.io/component"
	// PartOfKey groups everything of this operator.
	PartOfKey = "app.kubernetes.io/part-of"

	// ComponentRunner labels Runner children.
	ComponentRunner = "runner"
	// ComponentGitLab labels GitLab children.
	ComponentGitLab = "gitlab"
)

// For returns the labels of a child of the named owner.
func For(component, owner string) map[string]string {
	name := "gitlab-runner"
	if component == ComponentGitLab {
		name = "gitlab"
	}
	return map[string]string{
		NameKey:      name,
		InstanceKey:  owner,
		ComponentKey: component,
		PartOfKey:    "gitlab-operator",
		ManagedByKey: ManagedByValue,
	}
}

// Selector returns the labels that select the pods of the named owner.
func Selector(component, owner string) map[string]string {
	return map[string]string{
		InstanceKey:  owner,
		ComponentKey: component,
		ManagedByKey: ManagedByValue,
	}
}
