// Command demo is what `make demo` runs: a short tour of the operator that
// needs no cluster and no GitLab. It starts the local control plane (a real
// kube-apiserver and etcd from bin/), a simulated GitLab (the gitlabtest
// test double) and the operator, all in this process; creates the sample
// Secret and Runner; shows the Runner's status and the runner as GitLab
// sees it; plays the part of the runner pod that the control plane cannot
// start; deletes the Runner and shows it de-registered; and stops
// everything again.
//
// The operator's own log goes to bin/demo/operator.log, so the terminal
// shows only the tour.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gitlab-operator/gitlab-operator/test/controlplane"
)

func main() {
	timeout := flag.Duration("timeout", 5*time.Minute, "Give up when the tour takes longer than this.")
	logPath := flag.String("log", "", "File for the operator's log (default bin/demo/operator.log).")
	flag.Parse()

	root, err := controlplane.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	if *logPath == "" {
		*logPath = filepath.Join(root, "bin", "demo", "operator.log")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	if _, err := runTour(ctx, os.Stdout, tourOptions{Root: root, LogPath: *logPath}); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\nThe operator's log is in %s.\n", err, *logPath)
		os.Exit(1)
	}
}
