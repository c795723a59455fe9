package runnerlog_test

import (
	"fmt"

	"github.com/gitlab-operator/gitlab-operator/pkg/runnerlog"
)

func ExampleParseLine() {
	ev, ok := runnerlog.ParseLine("\x1b[31;1mERROR: Checking for jobs... forbidden             \x1b[0;m  " +
		"\x1b[31;1mrunner\x1b[0;m=xyz123abc \x1b[31;1mstatus\x1b[0;m=POST https://gitlab.example.com/api/v4/jobs/request: 403 Forbidden")
	fmt.Println(ok, ev.State, ev.Reason, ev.Level, ev.Detail)
	fmt.Println(ev.Describe())
	// Output:
	// true TokenRejected TokenRejected error 403 Forbidden
	// GitLab rejected the runner authentication token while checking for jobs (403 Forbidden): the runner was deleted in GitLab or its token was rotated or revoked.
}

func ExampleSummarize() {
	// Two reads of a pod log; the first ends in the middle of a line.
	log := []byte("Configuration loaded                                builds=0 max_builds=10\n" +
		"ERROR: Checking for jobs... forbidden               runner=xyz123abc status=POST https://gitlab.example.com/api/v4/jobs/request: 403 Forbidden\n" +
		"Checking for jobs... received                       job=4242 runner=xyz123abc\n")
	first := log[:100]

	s := runnerlog.Summarize(first, runnerlog.Summary{})
	fmt.Println(s.State, s.Consumed)

	// Resume where the summary stopped.
	s = runnerlog.Summarize(log[s.Consumed:], s)
	fmt.Println(s.State, s.Reason, s.TokenRejected)
	fmt.Println(s.Message)
	// Output:
	// ConfigLoaded 75
	// ReceivingJobs ReceivingJobs false
	// gitlab-runner is receiving jobs from GitLab.
}
