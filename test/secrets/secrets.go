// Package secrets is the secrets-hygiene check the envtest suites share.
//
// The operator handles runner authentication tokens, access tokens and
// registration tokens. They belong in exactly one place: the data of a
// Secret. Scan fails a test when any of them shows up anywhere else a user,
// an auditor or a log pipeline can see: the manager's log, Events (core and
// events.k8s.io), the whole Runner and GitLab objects (spec, status,
// annotations), ConfigMaps, the metadata of Secrets, and the workload
// objects the operator writes (Deployments, StatefulSets, Pods, Services,
// ServiceAccounts, Roles, RoleBindings), where a token in an env var or a
// container argument would be readable by anyone with "get" on them.
//
// Each token is looked for as written, base64-encoded (ConfigMap binaryData,
// a careless "encode it" fix) and without its well-known prefix (glrt-,
// glpat-, GR1348941, ...), so a log that strips the prefix still counts.
// Hits are reported with the token masked.
//
// Typical use, at the end of a test:
//
//	secrets.Scan(t, ctx, k8s, logBuffer.Bytes(), append(fake.IssuedTokens(), userToken))
//
// and capture the manager's log with:
//
//	buf := &secrets.Buffer{}
//	ctrl.SetLogger(secrets.NewLogger(buf, os.Stderr, 2))
package secrets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	uzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// MinTokenLength is the shortest token Scan looks for; shorter strings
// would match by accident.
const MinTokenLength = 8

// knownPrefixes are stripped to form a second needle, longest first.
var knownPrefixes = []string{
	"glrt-t1_", "glrt-t2_", "glrt-t3_", "glrtr-", "glrt-",
	"glpat-", "glgat-", "glptt-", "gloas-", "gldt-", "glft-", "glimt-",
	"GR1348941",
}

// Hit is one place a token was found.
type Hit struct {
	// Token is the token, masked.
	Token string
	// Where names the object or log line, e.g. `Event ns/name .note`.
	Where string
}

func (h Hit) String() string { return h.Token + " in " + h.Where }

// Mask shows a token's prefix and length only.
func Mask(tok string) string {
	shown := 0
	for _, p := range knownPrefixes {
		if strings.HasPrefix(tok, p) {
			shown = len(p)
			break
		}
	}
	if shown == 0 {
		shown = min(3, len(tok)/4)
	}
	return fmt.Sprintf("%s…(%d chars)", tok[:shown], len(tok))
}

type needle struct {
	token string // the original, for masking
	text  string // what is searched
	form  string // "", "base64", "without prefix"
}

func needles(tokens []string) []needle {
	seen := map[string]bool{}
	var out []needle
	add := func(tok, text, form string) {
		if len(text) < MinTokenLength || seen[text] {
			return
		}
		seen[text] = true
		out = append(out, needle{token: tok, text: text, form: form})
	}
	for _, tok := range tokens {
		tok = strings.TrimSpace(tok)
		if len(tok) < MinTokenLength {
			continue
		}
		add(tok, tok, "")
		add(tok, base64.StdEncoding.EncodeToString([]byte(tok)), "base64")
		add(tok, base64.URLEncoding.EncodeToString([]byte(tok)), "base64")
		for _, p := range knownPrefixes {
			if body, ok := strings.CutPrefix(tok, p); ok && len(body) >= 12 {
				add(tok, body, "without prefix")
				break
			}
		}
	}
	return out
}

// match returns the first needle in text. Needles of one token are
// consecutive, the token as written first, so a full match is reported as
// such and not again as its prefix-less form.
func match(text string, ns []needle) (needle, bool) {
	for _, n := range ns {
		if strings.Contains(text, n.text) {
			return n, true
		}
	}
	return needle{}, false
}

func (n needle) hit(where string) Hit {
	h := Hit{Token: Mask(n.token), Where: where}
	if n.form != "" {
		h.Where += " (" + n.form + ")"
	}
	return h
}

// scanned lists what Find reads; Secrets are special-cased to metadata.
var scanned = []schema.GroupVersionKind{
	{Version: "v1", Kind: "EventList"},
	{Group: "events.k8s.io", Version: "v1", Kind: "EventList"},
	{Group: "gitlab.com", Version: "v1beta1", Kind: "RunnerList"},
	{Group: "gitlab.com", Version: "v1beta1", Kind: "GitLabList"},
	{Version: "v1", Kind: "ConfigMapList"},
	{Version: "v1", Kind: "SecretList"},
	{Group: "apps", Version: "v1", Kind: "DeploymentList"},
	{Group: "apps", Version: "v1", Kind: "StatefulSetList"},
	{Version: "v1", Kind: "PodList"},
	{Version: "v1", Kind: "ServiceList"},
	{Version: "v1", Kind: "ServiceAccountList"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleList"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBindingList"},
}

// Find returns every place outside Secret data where one of tokens occurs:
// the log, then the objects of the namespaces (all namespaces when none is
// given). Kinds the API server does not serve are skipped.
func Find(ctx context.Context, c client.Reader, logs []byte, tokens []string, namespaces ...string) ([]Hit, error) {
	ns := needles(tokens)
	if len(ns) == 0 {
		return nil, nil
	}
	hits := findInLog(logs, ns)
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	for _, gvk := range scanned {
		for _, namespace := range namespaces {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk)
			if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
				if meta.IsNoMatchError(err) {
					continue
				}
				return hits, fmt.Errorf("listing %s: %w", gvk.Kind, err)
			}
			kind := strings.TrimSuffix(gvk.Kind, "List")
			for i := range list.Items {
				obj := list.Items[i].Object
				if kind == "Secret" {
					// Secret data is where tokens belong; only metadata
					// (annotations, labels, names) must stay clean.
					obj = map[string]any{"metadata": obj["metadata"], "type": obj["type"]}
				}
				where := kind + " " + list.Items[i].GetNamespace() + "/" + list.Items[i].GetName()
				walk(obj, "", func(path, value string) {
					if n, ok := match(value, ns); ok {
						hits = append(hits, n.hit(where+" "+path))
					}
				})
			}
		}
	}
	return dedupe(hits), nil
}

// findInLog scans a log line by line.
func findInLog(logs []byte, ns []needle) []Hit {
	var hits []Hit
	sc := bufio.NewScanner(bytes.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if n, ok := match(text, ns); ok {
			hits = append(hits, n.hit("manager log line "+strconv.Itoa(line)+": "+logContext(text, n.text)))
		}
	}
	return hits
}

// logContext shows the log message around a hit, with the hit masked, so
// the failure says which log call leaked.
func logContext(line, secret string) string {
	var entry map[string]any
	if json.Unmarshal([]byte(line), &entry) == nil {
		if msg, ok := entry["msg"].(string); ok {
			return fmt.Sprintf("%q (logger %v)", strings.ReplaceAll(msg, secret, "<TOKEN>"), entry["logger"])
		}
	}
	line = strings.ReplaceAll(line, secret, "<TOKEN>")
	if len(line) > 160 {
		line = line[:160] + "…"
	}
	return strconv.Quote(line)
}

// walk calls fn for every string (and every map key) in an unstructured
// object, with its JSON path.
func walk(v any, path string, fn func(path, value string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fn(path+"."+k+"(key)", k)
			walk(x[k], path+"."+k, fn)
		}
	case []any:
		for i, e := range x {
			walk(e, path+"["+strconv.Itoa(i)+"]", fn)
		}
	case string:
		fn(path, x)
	}
}

func dedupe(hits []Hit) []Hit {
	seen := map[Hit]bool{}
	out := hits[:0]
	for _, h := range hits {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// Scan fails t for every token found outside Secret data, in logs and in
// every namespace of the cluster. Tokens shorter than MinTokenLength are
// ignored.
func Scan(t testing.TB, ctx context.Context, c client.Reader, logs []byte, tokens []string) {
	t.Helper()
	ScanNamespaces(t, ctx, c, logs, tokens)
}

// ScanNamespaces is Scan limited to some namespaces (the log is always
// scanned whole).
func ScanNamespaces(t testing.TB, ctx context.Context, c client.Reader, logs []byte, tokens []string, namespaces ...string) {
	t.Helper()
	hits, err := Find(ctx, c, logs, tokens, namespaces...)
	if err != nil {
		t.Errorf("secrets hygiene: %v", err)
	}
	for _, h := range hits {
		t.Errorf("secrets hygiene: token %s", h)
	}
}

// Buffer is a goroutine-safe log sink.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Bytes returns a copy of everything written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// Len returns the number of bytes written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// NewLogger returns a JSON logger that writes every verbosity level into
// buf, so debug-level leaks are caught too, and, when also is not nil,
// copies entries up to verbosity alsoV there (for humans; 0 is Info).
func NewLogger(buf *Buffer, also io.Writer, alsoV int) logr.Logger {
	all := uzap.LevelEnablerFunc(func(zapcore.Level) bool { return true })
	captured := zap.New(zap.WriteTo(buf), zap.Level(all), zap.JSONEncoder())
	if also == nil {
		return captured
	}
	human := zap.New(zap.WriteTo(also), zap.Level(zapcore.Level(-alsoV)), zap.UseDevMode(true))
	return logr.New(&tee{a: captured.GetSink(), b: human.GetSink()})
}

// tee sends every entry to two sinks.
type tee struct{ a, b logr.LogSink }

func (t *tee) Init(info logr.RuntimeInfo) {
	info.CallDepth++
	t.a.Init(info)
	t.b.Init(info)
}
func (t *tee) Enabled(level int) bool { return t.a.Enabled(level) || t.b.Enabled(level) }
func (t *tee) Info(level int, msg string, kv ...any) {
	if t.a.Enabled(level) {
		t.a.Info(level, msg, kv...)
	}
	if t.b.Enabled(level) {
		t.b.Info(level, msg, kv...)
	}
}
func (t *tee) Error(err error, msg string, kv ...any) {
	t.a.Error(err, msg, kv...)
	t.b.Error(err, msg, kv...)
}
func (t *tee) WithValues(kv ...any) logr.LogSink {
	return &tee{a: t.a.WithValues(kv...), b: t.b.WithValues(kv...)}
}
func (t *tee) WithName(name string) logr.LogSink {
	return &tee{a: t.a.WithName(name), b: t.b.WithName(name)}
}
