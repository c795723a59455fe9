package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// cpuTimes are CPU seconds (user + system) of the processes that do the
// work: the API server and etcd (children of this process, started by
// envtest) and this process (the manager, the fake GitLab and the bench).
type cpuTimes struct {
	APIServer, Etcd, Self float64
}

func readCPUTimes() cpuTimes {
	var t cpuTimes
	t.Self = procCPU("self")
	me := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid := filepath.Base(d)
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		comm, fields, ok := parseStat(string(stat))
		if !ok || len(fields) < 2 || fields[1] != me {
			continue
		}
		switch {
		case strings.HasPrefix(comm, "kube-apiserver"):
			t.APIServer += procCPU(pid)
		case strings.HasPrefix(comm, "etcd"):
			t.Etcd += procCPU(pid)
		}
	}
	return t
}

func (t cpuTimes) since(old cpuTimes) cpuTimes {
	return cpuTimes{APIServer: t.APIServer - old.APIServer, Etcd: t.Etcd - old.Etcd, Self: t.Self - old.Self}
}

func (t cpuTimes) String() string {
	return fmt.Sprintf("kube-apiserver %.1f s, etcd %.1f s, this process (manager, fake GitLab, bench) %.1f s",
		t.APIServer, t.Etcd, t.Self)
}

// procCPU returns utime+stime of a process in seconds.
func procCPU(pid string) float64 {
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0
	}
	_, fields, ok := parseStat(string(stat))
	// fields[0] is the state; utime and stime are fields 14 and 15 of
	// stat(5), so 11 and 12 here.
	if !ok || len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / clockTicks
}

// parseStat splits /proc/<pid>/stat into the command name and the fields
// after it (the name is in parentheses and may contain spaces).
func parseStat(s string) (comm string, fields []string, ok bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", nil, false
	}
	return s[open+1 : end], strings.Fields(s[end+1:]), true
}

// loadAverage is the 1-minute load average: above the number of CPUs, other
// work on the machine competes with the benchmark and times are noisy.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
