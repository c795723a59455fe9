// Package apply writes desired child objects with compare-before-write: a
// child whose desired state has not changed since the operator last wrote
// it costs no API request at all. That is what keeps a resync of hundreds of
// Runners free of writes (a server-side apply, even a no-op one, is still a
// request the API server has to process).
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// AnnotationHash records the hash of the desired object the operator last
// wrote.
const AnnotationHash = "gitlab.com/desired-hash"

// Result says what Ensure did.
type Result string

const (
	// Unchanged: the object already matched; nothing was sent.
	Unchanged Result = "unchanged"
	// Created: the object did not exist.
	Created Result = "created"
	// Updated: the object was replaced with the desired state.
	Updated Result = "updated"
)

// Hash returns the hash of obj's desired content.
func Hash(obj client.Object) (string, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:20], nil
}

// Ensure makes the object exist as desired. owner, when not nil, becomes
// the controller reference (it must be in the same namespace). The existing
// object is read through c (the cache); when the cache lags behind and the
// create finds the object already there, live (an uncached reader, may be
// nil) supplies it. On update the desired object replaces the existing one,
// keeping fields the API server allocated.
func Ensure(ctx context.Context, c client.Client, live client.Reader, scheme *runtime.Scheme, owner client.Object, desired client.Object) (Result, error) {
	if owner != nil {
		if err := controllerutil.SetControllerReference(owner, desired, scheme); err != nil {
			return Unchanged, err
		}
	}
	hash, err := Hash(desired)
	if err != nil {
		return Unchanged, fmt.Errorf("hashing %T %s: %w", desired, desired.GetName(), err)
	}
	ann := desired.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationHash] = hash
	desired.SetAnnotations(ann)

	existing, ok := desired.DeepCopyObject().(client.Object)
	if !ok {
		return Unchanged, fmt.Errorf("%T is not a client.Object", desired)
	}
	err = c.Get(ctx, client.ObjectKeyFromObject(desired), existing)
	switch {
	case apierrors.IsNotFound(err):
		err := c.Create(ctx, desired)
		if err == nil {
			return Created, nil
		}
		if !apierrors.IsAlreadyExists(err) || live == nil {
			return Unchanged, err
		}
		// The cache has not seen the object yet: compare with the API
		// server's copy instead, so a write is never silently dropped.
		if err := live.Get(ctx, client.ObjectKeyFromObject(desired), existing); err != nil {
			return Unchanged, err
		}
	case err != nil:
		return Unchanged, err
	}
	if existing.GetAnnotations()[AnnotationHash] == hash && existing.GetDeletionTimestamp() == nil {
		return Unchanged, nil
	}
	desired.SetResourceVersion(existing.GetResourceVersion())
	desired.SetFinalizers(existing.GetFinalizers())
	if err := c.Update(ctx, desired); err != nil {
		return Unchanged, err
	}
	return Updated, nil
}
