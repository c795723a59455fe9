package tests

import (
	"fmt"
	"strings"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
)

// recorder collects what a test found and turns it into a TestResult.
type recorder struct {
	name        string
	log         strings.Builder
	errors      []string
	suggestions []string
	broken      error
}

func newRecorder(name string) *recorder { return &recorder{name: name} }

// logf adds a line to the result's log.
func (r *recorder) logf(format string, args ...any) {
	fmt.Fprintf(&r.log, format, args...)
	r.log.WriteByte('\n')
}

// failf records a failed check.
func (r *recorder) failf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// suggest adds a hint shown with a failure.
func (r *recorder) suggest(s string) {
	for _, have := range r.suggestions {
		if have == s {
			return
		}
	}
	r.suggestions = append(r.suggestions, s)
}

// errorf records that the test could not run at all (state error).
func (r *recorder) errorf(format string, args ...any) {
	r.broken = fmt.Errorf(format, args...)
}

func (r *recorder) result() scapiv1alpha3.TestResult {
	res := scapiv1alpha3.TestResult{Name: r.name, Log: r.log.String(), State: scapiv1alpha3.PassState}
	switch {
	case r.broken != nil:
		res.State = scapiv1alpha3.ErrorState
		res.Errors = append([]string{r.broken.Error()}, r.errors...)
	case len(r.errors) > 0:
		res.State = scapiv1alpha3.FailState
		res.Errors = r.errors
	}
	if res.State != scapiv1alpha3.PassState {
		res.Suggestions = r.suggestions
	}
	return res
}
