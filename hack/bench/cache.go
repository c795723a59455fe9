package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitlab-operator/gitlab-operator/pkg/operator"
	"github.com/gitlab-operator/gitlab-operator/test/harness"
)

// payloadSize is the data each unrelated object carries.
const payloadSize = 1024

// heapResult is what the cache phase measured.
type heapResult struct {
	objects        int
	payloadBytes   int64
	unrelatedBytes int64
	before, after  uint64
	growth         int64
	samplesBefore  []uint64
	samplesAfter   []uint64
	create         time.Duration
	selectors      []string
}

// cacheGrowth measures the manager's heap before and after unrelated
// Secrets and ConfigMaps (no operator labels) appear in another namespace.
// Everything runs in one process, so the heap is sampled carefully: the
// bench's watchers are stopped, the objects are created by the bench's
// long-lived client (its fixed cost is in both samples) and not kept, and
// each figure is the minimum of several samples taken right after a forced
// GC.
func cacheGrowth(ctx context.Context, o options, bc client.Client, base *rest.Config, cnt *counter) (*heapResult, error) {
	res := &heapResult{objects: o.unrelated}
	if o.cacheAll {
		// Validation of the instrument: a cache of every Secret and
		// ConfigMap in the cluster, as an operator without label-scoped
		// caching would hold, in this same process. Its growth must show.
		stop, err := startCacheAll(ctx, base)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	step("cache: waiting for the manager to go quiet, then sampling the heap")
	_, _ = waitQuiet(ctx, cnt, 3*time.Second, time.Minute)
	ns, err := harness.Namespace(ctx, bc, "unrelated", nil)
	if err != nil {
		return nil, err
	}
	// Touch both kinds once so the bench client's REST mapping for them
	// exists before the first sample.
	_ = bc.List(ctx, &corev1.SecretList{}, client.InNamespace(ns))
	_ = bc.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns))
	res.samplesBefore = heapSamples(5)
	res.before = minOf(res.samplesBefore)

	step(fmt.Sprintf("cache: creating %d unrelated Secrets and ConfigMaps (%d B payload each) in %s", o.unrelated, payloadSize, ns))
	var total, payload atomic.Int64
	start := time.Now()
	err = parallel(ctx, o.workers, o.unrelated, func(i int) error {
		var obj client.Object
		if i%2 == 0 {
			obj = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-secret-%05d", i), Namespace: ns, Labels: map[string]string{"app": "unrelated"}},
				Data:       map[string][]byte{"blob": filler(i, payloadSize)},
			}
		} else {
			obj = &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-config-%05d", i), Namespace: ns, Labels: map[string]string{"app": "unrelated"}},
				Data:       map[string]string{"blob": string(filler(i, payloadSize))},
			}
		}
		if err := bc.Create(ctx, obj); err != nil {
			return err
		}
		// The size the API server serves the object at (JSON, with its
		// metadata), which is what a cache holding it would have to
		// download and decode.
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		total.Add(int64(len(b)))
		payload.Add(payloadSize)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating unrelated objects: %w", err)
	}
	res.create = time.Since(start)
	res.unrelatedBytes, res.payloadBytes = total.Load(), payload.Load()

	step(fmt.Sprintf("cache: letting the manager run for %s, then sampling the heap", o.settle))
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	_, _ = waitQuiet(ctx, cnt, 2*time.Second, time.Minute)
	res.samplesAfter = heapSamples(5)
	res.after = minOf(res.samplesAfter)
	res.growth = int64(res.after) - int64(res.before)
	for _, s := range cnt.selectorLines() {
		if strings.Contains(s, "secrets") || strings.Contains(s, "configmaps") {
			res.selectors = append(res.selectors, s)
		}
	}
	return res, nil
}

// startCacheAll starts an unscoped cache of Secrets and ConfigMaps
// (-x-cache-all).
func startCacheAll(ctx context.Context, base *rest.Config) (func(), error) {
	c, err := cache.New(base, cache.Options{Scheme: operator.Scheme()})
	if err != nil {
		return nil, err
	}
	for _, obj := range []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return nil, err
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { _ = c.Start(cctx) }()
	if !c.WaitForCacheSync(cctx) {
		cancel()
		return nil, fmt.Errorf("the unscoped cache did not sync")
	}
	step("cache: -x-cache-all: an unscoped Secret and ConfigMap cache is running in this process")
	return cancel, nil
}

// filler returns n printable bytes that differ per object (so nothing can
// share or compress them).
func filler(seed, n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = alphabet[x%uint32(len(alphabet))]
	}
	return b
}

// heapSamples returns n readings of the live heap, each right after two
// forced collections (the second one sweeps what finalizers released).
func heapSamples(n int) []uint64 {
	out := make([]uint64, 0, n)
	for i := 0; i < n; i++ {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		out = append(out, ms.HeapAlloc)
		time.Sleep(200 * time.Millisecond)
	}
	return out
}

func minOf(s []uint64) uint64 {
	m := s[0]
	for _, v := range s[1:] {
		m = min(m, v)
	}
	return m
}
