package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// printSummary prints the figures, each with its target, and the request
// counts behind them.
func printSummary(o options, machine string, res results, conv *convergeResult, fl *floorResult, idle *idleResult,
	heap *heapResult, calls callStats, lr *logResult) {
	line := strings.Repeat("=", 78)
	fmt.Println(line)
	fmt.Printf("gitlab-operator benchmark: %d Runners\n", res.Runners)
	fmt.Printf("machine: %s\n", machine)
	fmt.Println(line)

	printConverge(o, res.Runners, conv, fl)
	fmt.Println("\n2. Idle (after a forced resync of every Runner)")
	fmt.Printf("   resync: an annotation change on all %d Runners by the bench's client, %.2f s; counting starts before it\n",
		res.Runners, idle.resync.Seconds())
	fmt.Printf("   window: %.1f s after the last resync write; reconciles in it: %d %s\n",
		res.IdleWindowSeconds, idle.reconciles.Total, resultsLine(idle.reconciles.ByResult))
	if idle.reconciles.Total < res.Runners {
		fmt.Printf("   warning: only %d reconciles for %d Runners: the resync did not reach every Runner, so the window proves less\n",
			idle.reconciles.Total, res.Runners)
	}
	fmt.Printf("   API-server writes by the manager: %d   %s\n", res.IdleAPIServerWrites, verdict(res.IdleAPIServerWrites == 0, "target 0"))
	fmt.Printf("   GitLab calls:                     %d   %s\n", res.IdleGitLabCalls, verdict(res.IdleGitLabCalls == 0, "target 0"))
	if len(idle.requests) > 0 {
		fmt.Println("   manager requests in the window (reads are not a target; shown for cost):")
		indent("     ", idle.requests.lines(func(k reqKey) bool { return k.Verb != "watch" }))
	}
	if len(idle.gitlabRoute) > 0 {
		indent("     ", routeLines(idle.gitlabRoute))
	}

	fmt.Println("\n3. Cache (unrelated Secrets and ConfigMaps in another namespace)")
	fmt.Printf("   objects: %d (half Secrets, half ConfigMaps), %d B payload each; %s as served (JSON), created in %.1f s\n",
		heap.objects, payloadSize, mib(heap.unrelatedBytes), heap.create.Seconds())
	fmt.Printf("   heap after GC: before %s, after %s (min of %d samples each)\n",
		mib(int64(heap.before)), mib(int64(heap.after)), len(heap.samplesBefore))
	fmt.Printf("   growth: %s, ratio %.4f   %s\n", signedKiB(heap.growth), res.HeapGrowthRatio, verdict(res.HeapGrowthRatio < 0.05, "target < 0.05"))
	if len(heap.selectors) > 0 {
		fmt.Println("   the manager's lists and watches of Secrets and ConfigMaps (label-scoped cache):")
		indent("     ", heap.selectors)
	}

	fmt.Println("\n4. GitLab calls and log reads")
	fmt.Printf("   GitLab calls during convergence: %d for %d Runners; unattributed %d\n", calls.total, res.Runners, calls.unattributed)
	indent("     ", routeLines(calls.byRoute))
	fmt.Printf("   per Runner: %s\n", calls.histogramLine())
	var kindParts []string
	for _, k := range kinds {
		kindParts = append(kindParts, fmt.Sprintf("%s %d", k, calls.perKindMax[k]))
	}
	fmt.Printf("   max per registration: %d (%s)   %s\n", res.GitLabCallsPerRegistrationMax, strings.Join(kindParts, ", "),
		verdict(res.GitLabCallsPerRegistrationMax <= 2 && calls.unattributed == 0, "target <= 2"))
	fmt.Printf("   log reads: %d reads of %d pods (%s fed per pod per trigger), total %s, %d at the bound\n",
		lr.reads, lr.pods, kib(logChunk), kib(lr.total), lr.capped)
	fmt.Printf("   max bytes per read: %d   %s\n", res.LogReadBytesMax, verdict(res.LogReadBytesMax <= 65536 && lr.reads > 0, "target <= 65536"))
}

func verdict(ok bool, target string) string {
	if ok {
		return "PASS (" + target + ")"
	}
	return "MISS (" + target + ")"
}

func indent(prefix string, lines []string) {
	for _, l := range lines {
		fmt.Println(prefix + l)
	}
}

func routeLines(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k
		if name == "" {
			name = "(unknown route)"
		}
		out = append(out, fmt.Sprintf("%-45s %d", name, m[k]))
	}
	return out
}

func resultsLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

func signedKiB(n int64) string { return fmt.Sprintf("%+.1f KiB", float64(n)/1024) }

// printConverge prints the converge phase and the floor.
func printConverge(o options, runners int, conv *convergeResult, fl *floorResult) {
	n := float64(runners)
	op, base := conv.elapsed.Seconds(), fl.elapsed.Seconds()
	ratio := op / base
	fmt.Println("\n1. Converge")
	fmt.Printf("   operator:  %7.2f s  (first Runner create until every Runner is registered with all 6 children)\n", op)
	fmt.Printf("              per-Runner convergence: p50 %.2f s, p90 %.2f s, max %.2f s; the manager's last request at %.1f s\n",
		pct(conv.perRunner, 50).Seconds(), pct(conv.perRunner, 90).Seconds(), pct(conv.perRunner, 100).Seconds(), conv.lastBusy.Seconds())
	watched := ""
	if fl.watched {
		watched = ", observed by the same watchers"
	}
	fmt.Printf("   floor:     %7.2f s  (bare client, %d workers, no throttling%s: Runner create, finalizer patch, 6 children, status patch)\n",
		base, o.workers, watched)
	var runs []string
	for _, r := range fl.runs {
		runs = append(runs, fmt.Sprintf("%.2f s", r.Seconds()))
	}
	fmt.Printf("              median of %d runs: %s\n", len(fl.runs), strings.Join(runs, ", "))
	fmt.Printf("   ratio:     %7.3f    %s\n", ratio, verdict(ratio <= 1.3, "target <= 1.3"))
	fmt.Printf("   CPU during the operator's run: %s\n", conv.cpu)
	fmt.Printf("   CPU during the floor (median run): %s\n", fl.cpu)
	opCPU, flCPU := conv.cpu.APIServer+conv.cpu.Etcd, fl.cpu.APIServer+fl.cpu.Etcd
	fmt.Printf("   API server + etcd CPU, operator / floor: %.2f (less sensitive to other load on the machine than the times)\n", opCPU/max(flCPU, 0.01))
	fmt.Printf("   load average at the start and end of the operator's run: %s, %s\n", conv.loadStart, conv.loadEnd)
	fmt.Printf("   requests in flight (mean): manager %.1f + bench's Runner creates %.1f, floor %.1f\n",
		conv.trace.inFlight, conv.benchTrace.inFlight, fl.trace.inFlight)
	fmt.Printf("   mean latency: manager writes %.1f ms, reads %.1f ms; floor writes %.1f ms\n",
		ms(conv.trace.writeLatency), ms(conv.trace.readLat), ms(fl.trace.writeLatency))
	fmt.Printf("   manager requests until convergence: %d writes (%.2f per Runner), %d reads (%.2f per Runner); the bench added %d Runner creates\n",
		conv.requests.writes(), float64(conv.requests.writes())/n, conv.requests.reads(), float64(conv.requests.reads())/n, runners)
	indent("     ", conv.requests.lines(func(k reqKey) bool { return k.Verb != "watch" }))
	fmt.Printf("   and in the %.1f s after it, until the manager went quiet: %d writes, %d reads\n",
		conv.quietAfter.Seconds(), conv.trailing.writes(), conv.trailing.reads())
	indent("     ", conv.trailing.lines(func(k reqKey) bool { return k.Verb != "watch" }))
	fmt.Printf("   floor requests: %d writes (%.2f per Runner, Runner create included)\n",
		fl.requests.writes(), float64(fl.requests.writes())/n)
	indent("     ", fl.requests.lines(nil))
	fmt.Printf("   reconciles until quiet: %d (%.2f per Runner) %s, errors %d\n",
		conv.reconciles.Total, float64(conv.reconciles.Total)/n, resultsLine(conv.reconciles.ByResult), conv.reconciles.Errors)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
