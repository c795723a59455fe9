package outcome

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestResult(t *testing.T) {
	cause := errors.New("boom")
	cases := []struct {
		name      string
		err       error
		wantErr   bool
		wantAfter time.Duration
	}{
		{"nil", nil, false, 0},
		{"stalled waits for the user", Stalled("SecretNotFound", "create it"), false, StalledRecheck},
		{"waiting requeues", Waiting("WaitingForGitLab", "starting", 30*time.Second), false, 30 * time.Second},
		{"transient backs off", Transient("GitLabUnreachable", "down", cause), true, 0},
		{"rate limited honours Retry-After", &Error{Kind: KindTransient, Reason: "RateLimited", RetryAfter: time.Minute}, false, time.Minute},
		{"wrapped outcome", fmt.Errorf("phase: %w", Stalled("X", "y")), false, StalledRecheck},
		{"plain error backs off", cause, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Result(tc.err)
			if (err != nil) != tc.wantErr || res.RequeueAfter != tc.wantAfter {
				t.Fatalf("got (%v, %v), want err=%v after=%v", res, err, tc.wantErr, tc.wantAfter)
			}
		})
	}
}

func TestErrorKeepsCauseForUnwrapOnly(t *testing.T) {
	cause := errors.New("dial tcp: refused")
	e := Transient("GitLabUnreachable", "GitLab is down", cause)
	if !errors.Is(e, cause) {
		t.Fatal("cause not unwrapped")
	}
	if e.Error() != "GitLabUnreachable: GitLab is down" {
		t.Fatalf("Error() = %q", e.Error())
	}
}
