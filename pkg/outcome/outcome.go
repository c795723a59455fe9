// Package outcome holds the typed errors reconcile phases return. The type
// decides what the controller does next, and carries the condition reason
// and message the user sees:
//
//   - Stalled: the user must change something (a missing Secret, a rejected
//     token). No retry with backoff: the controller waits for a watch event,
//     or re-checks on a slow cadence.
//   - Waiting: a dependency is not ready yet (a managed GitLab starting up).
//     Requeue after a fixed delay; not an error.
//   - Transient: something failed that may work next time (GitLab down, 5xx,
//     429). Returned as an error, so controller-runtime backs off
//     exponentially, unless RetryAfter says when to come back.
package outcome

import (
	"errors"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Kind classifies a phase outcome.
type Kind int

const (
	// KindTransient retries with backoff.
	KindTransient Kind = iota
	// KindWaiting requeues after a delay without counting as a failure.
	KindWaiting
	// KindStalled waits for the user to fix the input.
	KindStalled
)

// Error is a phase failure with the condition it should produce.
type Error struct {
	Kind Kind
	// Reason is a CamelCase condition reason.
	Reason string
	// Message tells the user what is wrong and what to do. It never holds
	// secrets or volatile text.
	Message string
	// RetryAfter, when set, is when to try again (waiting, rate limits).
	RetryAfter time.Duration
	// Err is the underlying error, for logs.
	Err error
}

// Error returns the reason and message; the message already says what the
// cause means for the user, so the cause is not repeated (Unwrap has it).
func (e *Error) Error() string {
	return e.Reason + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Stalled returns an error that waits for the user.
func Stalled(reason, message string) *Error {
	return &Error{Kind: KindStalled, Reason: reason, Message: message}
}

// Waiting returns an error that requeues after d.
func Waiting(reason, message string, d time.Duration) *Error {
	return &Error{Kind: KindWaiting, Reason: reason, Message: message, RetryAfter: d}
}

// Transient returns an error retried with backoff.
func Transient(reason, message string, err error) *Error {
	return &Error{Kind: KindTransient, Reason: reason, Message: message, Err: err}
}

// As extracts an *Error from err.
func As(err error) (*Error, bool) {
	var oe *Error
	if errors.As(err, &oe) {
		return oe, true
	}
	return nil, false
}

// StalledRecheck is how often a stalled resource is looked at again even
// without a watch event: referenced Secrets and ConfigMaps are not watched
// cluster-wide (that would cache every Secret), so a fix to one is noticed
// at the latest after this delay.
const StalledRecheck = 5 * time.Minute

// Result turns the error of a reconcile into what controller-runtime
// expects. Stalled and waiting outcomes are not returned as errors, so they
// neither spin in backoff nor spam logs; transient ones are.
func Result(err error) (ctrl.Result, error) {
	if err == nil {
		return ctrl.Result{}, nil
	}
	oe, ok := As(err)
	if !ok {
		return ctrl.Result{}, err
	}
	switch oe.Kind {
	case KindStalled:
		return ctrl.Result{RequeueAfter: StalledRecheck}, nil
	case KindWaiting:
		return ctrl.Result{RequeueAfter: oe.RetryAfter}, nil
	default:
		if oe.RetryAfter > 0 {
			return ctrl.Result{RequeueAfter: oe.RetryAfter}, nil
		}
		return ctrl.Result{}, err
	}
}
