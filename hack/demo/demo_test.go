package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTour runs the tour that `make demo` shows, so that `make test`
// keeps the README's demo working: the sample Runner registers with the
// simulated GitLab, reaches Running once the simulated pod reports, and is
// de-registered when deleted.
func TestTour(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logPath := filepath.Join(t.TempDir(), "operator.log")
	var out bytes.Buffer
	res, err := runTour(ctx, &out, tourOptions{LogPath: logPath})
	if err != nil {
		t.Fatalf("the tour failed: %v\n--- tour output ---\n%s\n--- operator log ---\n%s", err, out.String(), tail(logPath))
	}
	if res.RunnerID == 0 || !res.Registered {
		t.Errorf("the runner was not registered: %+v", res)
	}
	if !res.Running || res.Managers != 1 {
		t.Errorf("the simulated pod did not bring the Runner to Running with one runner manager: %+v", res)
	}
	if !res.Deregistered {
		t.Errorf("the runner was not de-registered: %+v", res)
	}
	text := out.String()
	for _, want := range []string{
		simulatorLabel,
		"SIMULATED runner pod",
		"registration succeeded",
		"Deregistered",
		"0 runners left",
		"Cleaning up",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the tour output lacks %q:\n%s", want, text)
		}
	}
	// The simulator's access token and the runner token never reach the
	// terminal.
	if strings.Contains(text, demoAccessToken) || strings.Contains(text, "glrt-") {
		t.Errorf("the tour output shows a token:\n%s", text)
	}
	if t.Failed() {
		t.Logf("operator log:\n%s", tail(logPath))
	}
}

// tail returns the end of a file, for failure messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const max = 8 << 10
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return string(data)
}
