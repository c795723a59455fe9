package runnerconfig

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// protectedRunnerKeys identify and authenticate the runner in GitLab, or pick
// the executor the operator deploys for. They always come from the operator:
// a template value for them is dropped even when the operator leaves the key
// unset (an unset token_expires_at means "no expiry", not "let the template
// decide").
var protectedRunnerKeys = []string{"executor", "id", "token", "token_expires_at", "token_obtained_at", "url"}

// ProtectedRunnerKeys returns the [[runners]] keys a template can never set:
// executor, id, token, token_expires_at, token_obtained_at and url.
func ProtectedRunnerKeys() []string {
	return slices.Clone(protectedRunnerKeys)
}

// TemplateError reports a user template the operator cannot use. Its text
// starts with "spec.config: config.toml template:" and names the line where
// TOML decoding located the problem, so it can go straight into a condition.
type TemplateError struct {
	// Line is the 1-based line of the problem, 0 when the problem has no
	// single line (or the line is already part of Msg).
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *TemplateError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("spec.config: config.toml template: line %d: %s", e.Line, e.Msg)
	}
	return "spec.config: config.toml template: " + e.Msg
}

// Merge renders base and merges a user's config.toml template into it, and
// returns the resulting config.toml.
//
// Runner settings follow gitlab-runner's "register --template-config": the
// template holds at most one [[runners]] entry, and its keys fill in what the
// operator's runner does not set; where both set a key the operator's value
// wins. Unlike upstream, which ignores everything outside [[runners]], the
// template's global settings (concurrent, check_interval, log_level,
// listen_address, [session_server], ...) are honoured too, under the same
// rule. Tables merge key by key at every depth (feature_flags,
// [runners.kubernetes], [runners.cache.s3], ...); any other value, including
// arrays and arrays of tables such as [[runners.kubernetes.volumes.empty_dir]],
// is taken whole from the operator when it sets it, from the template
// otherwise. Keys this package does not model are preserved.
//
// The template's [[runners]] entry applies to every runner of base (the
// operator renders one); it never adds a runner. The keys listed by
// ProtectedRunnerKeys are dropped from it.
//
// A template that contributes nothing (empty, comments only, or only
// protected keys) yields exactly Render(base). Otherwise the output is
// deterministic too, with keys sorted alphabetically within each table.
// Errors caused by the template are *TemplateError.
func Merge(base *Config, template []byte) ([]byte, error) {
	if base == nil {
		return nil, errors.New("runnerconfig: nil config")
	}
	tmpl, err := decodeTemplate(template)
	if err != nil {
		return nil, err
	}
	tmplRunner, err := takeTemplateRunner(tmpl)
	if err != nil {
		return nil, err
	}
	if len(tmpl) == 0 && len(tmplRunner) == 0 {
		// Nothing to merge: keep Render's field order, so adding an
		// empty template does not rewrite the Secret.
		return Render(base)
	}

	rendered, err := Render(base)
	if err != nil {
		return nil, err
	}
	var merged map[string]any
	if _, err := toml.Decode(string(rendered), &merged); err != nil {
		return nil, fmt.Errorf("runnerconfig: re-reading the rendered config: %w", err)
	}

	mergeTables(merged, tmpl)
	if tmplRunner != nil {
		runners, _ := merged["runners"].([]map[string]any)
		for _, r := range runners {
			mergeTables(r, tmplRunner)
		}
	}

	var buf bytes.Buffer
	buf.WriteString(Header)
	if err := toml.NewEncoder(&buf).Encode(merged); err != nil {
		return nil, &TemplateError{Msg: "cannot be re-encoded: " + strings.TrimPrefix(err.Error(), "toml: ")}
	}
	out := buf.Bytes()
	if !utf8.Valid(out) {
		return nil, ErrInvalidUTF8
	}
	// The result must be a file gitlab-runner can read with the same number
	// of runners the operator asked for, whatever the template contained.
	cfg, err := Parse(out)
	if err != nil {
		return nil, &TemplateError{Msg: "the merged config.toml is not valid: " + strings.TrimPrefix(err.Error(), "runnerconfig: parsing config.toml: toml: ")}
	}
	if len(cfg.Runners) != len(base.Runners) {
		return nil, fmt.Errorf("runnerconfig: the merged config.toml has %d runners, want %d", len(cfg.Runners), len(base.Runners))
	}
	return out, nil
}

// TemplateProtectedKeys lists the protected [[runners]] keys (see
// ProtectedRunnerKeys) a template sets, which Merge ignores, so the operator
// can tell the user instead of dropping them silently. Errors are those of
// Merge.
func TemplateProtectedKeys(template []byte) ([]string, error) {
	tmpl, err := decodeTemplate(template)
	if err != nil {
		return nil, err
	}
	runners, err := templateRunners(tmpl)
	if err != nil || len(runners) == 0 {
		return nil, err
	}
	var found []string
	for _, k := range protectedRunnerKeys {
		if _, ok := runners[0][k]; ok {
			found = append(found, k)
		}
	}
	return found, nil
}

// decodeTemplate parses the template into a generic table and checks that the
// keys this package models have the types gitlab-runner expects, so a type
// error is reported against the template's own lines rather than surfacing
// later in the runner pod.
func decodeTemplate(template []byte) (map[string]any, error) {
	if !utf8.Valid(template) {
		return nil, &TemplateError{Msg: "is not valid UTF-8"}
	}
	var tmpl map[string]any
	if _, err := toml.Decode(string(template), &tmpl); err != nil {
		return nil, templateDecodeError(err)
	}
	if _, err := templateRunners(tmpl); err != nil {
		return nil, err
	}
	var typed Config
	if _, err := toml.Decode(string(template), &typed); err != nil {
		return nil, templateDecodeError(err)
	}
	return tmpl, nil
}

// templateDecodeError turns a TOML error into a TemplateError.
func templateDecodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &TemplateError{Line: pe.Position.Line, Msg: pe.Message}
	}
	// Type errors read "toml: line N (last key "k"): ...": keep the line
	// and key, drop the package prefix.
	return &TemplateError{Msg: strings.TrimPrefix(err.Error(), "toml: ")}
}

// templateRunners returns the template's [[runners]] entries after checking
// their shape: absent, or an array of at most one table.
func templateRunners(tmpl map[string]any) ([]map[string]any, error) {
	v, ok := tmpl["runners"]
	if !ok {
		return nil, nil
	}
	if a, ok := v.([]any); ok && len(a) == 0 {
		return nil, nil // "runners = []": no entry, nothing to merge
	}
	runners, ok := v.([]map[string]any)
	if !ok {
		return nil, &TemplateError{Msg: "runners must be a [[runners]] array of tables"}
	}
	if len(runners) > 1 {
		return nil, &TemplateError{Msg: fmt.Sprintf(
			"has %d [[runners]] entries; at most one is allowed: it fills in the settings of the runner the operator manages", len(runners))}
	}
	return runners, nil
}

// takeTemplateRunner removes [[runners]] from tmpl and returns its entry
// without the protected keys, or nil when the template has none.
func takeTemplateRunner(tmpl map[string]any) (map[string]any, error) {
	runners, err := templateRunners(tmpl)
	if err != nil {
		return nil, err
	}
	delete(tmpl, "runners")
	if len(runners) == 0 {
		return nil, nil
	}
	r := runners[0]
	// gitlab-runner's TOML decoder matches keys case-insensitively, so
	// "Token" or "URL" would override just like "token" and "url".
	for k := range r {
		for _, p := range protectedRunnerKeys {
			if strings.EqualFold(k, p) {
				delete(r, k)
			}
		}
	}
	return r, nil
}

// mergeTables copies into dst every key of src that dst lacks, recursing
// where both hold a table. dst (the operator's values) wins every other
// conflict, including a table on one side and a value on the other.
//
// Keys are compared case-insensitively, as gitlab-runner's decoder reads
// them: a template key that differs from an operator key only in case is a
// conflict the operator wins, not a second value for gitlab-runner to pick.
func mergeTables(dst, src map[string]any) {
	for k, sv := range src {
		dv, ok := dst[k]
		if !ok {
			if fk, found := foldKey(dst, k); found {
				dv, ok = dst[fk], true
			}
		}
		if !ok {
			dst[k] = deepCopy(sv)
			continue
		}
		dm, dOK := dv.(map[string]any)
		sm, sOK := sv.(map[string]any)
		if dOK && sOK {
			mergeTables(dm, sm)
		}
	}
}

// foldKey finds a key of m equal to k under Unicode case folding.
func foldKey(m map[string]any, k string) (string, bool) {
	for mk := range m {
		if strings.EqualFold(mk, k) {
			return mk, true
		}
	}
	return "", false
}

// deepCopy copies the containers of a decoded TOML value, so a template
// table merged into several runners is never shared between them.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []map[string]any:
		s := make([]map[string]any, len(v))
		for i, e := range v {
			s[i], _ = deepCopy(e).(map[string]any)
		}
		return s
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}
