package runnerconfig

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzRenderRoundTrip puts arbitrary strings wherever a Runner spec reaches
// config.toml and checks that rendering and parsing gives back exactly the
// same values, one runner, and no key the structs do not model.
func FuzzRenderRoundTrip(f *testing.F) {
	for i, s := range hostile {
		f.Add(s, "https://gitlab.example.com/", hostile[(i+1)%len(hostile)], "A="+s, s)
	}
	f.Add("", "", "", "", "")
	f.Add("n", "u", "d", "e", "\xff")
	f.Fuzz(func(t *testing.T, name, url, description, env, tag string) {
		cfg := hostileConfig(name, url, description, env, tag)
		out, err := Render(cfg)
		valid := utf8.ValidString(name) && utf8.ValidString(url) && utf8.ValidString(description) &&
			utf8.ValidString(env) && utf8.ValidString(tag)
		if !valid {
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("invalid UTF-8 input: err = %v, want ErrInvalidUTF8", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		got := decodeStrict(t, out)
		if len(got.Runners) != 1 {
			t.Fatalf("%d runners:\n%s", len(got.Runners), out)
		}
		if !reflect.DeepEqual(got, cfg) {
			t.Fatalf("round trip differs:\n got %#v\nwant %#v\n%s", got.Runners[0], cfg.Runners[0], out)
		}
		checkTopLevel(t, out)
		again, err := Render(cfg)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatal("Render is not deterministic")
		}
	})
}

// FuzzMerge feeds arbitrary templates to Merge. It must never panic; when it
// succeeds the result parses, keeps exactly the operator's runners and their
// protected keys, and is deterministic; when it fails the error is a
// *TemplateError a user can act on.
func FuzzMerge(f *testing.F) {
	f.Add([]byte(userTemplate))
	f.Add([]byte(""))
	f.Add([]byte("[[runners]]\n[[runners]]\n"))
	f.Add([]byte("concurrent = \"x\"\n"))
	f.Add([]byte("runners = 3\n"))
	f.Add([]byte("[[runners]]\n[runners.kubernetes]\npull_policy = \"always\"\n"))
	f.Add([]byte("[[runners]]\nkubernetes = 5\n"))
	f.Add([]byte("[[runners]]\n[runners.kubernetes.volumes]\nempty_dir = [{name = \"x\"}]\n"))
	f.Add([]byte("a = [[{b = 1}], 2, {c = [1.5, nan, inf]}]\nt = 1979-05-27T07:32:00\nd = 1979-05-27\nlt = 07:32:00\n"))
	f.Add([]byte("[session_server]\nsession_timeout = 1\n[[runners]]\ntoken_expires_at = 2027-01-01T00:00:00Z\n"))
	f.Add([]byte("\"\" = 1\n[\"a.b\".\"c\\nd\"]\ne = '''x'''\n"))
	f.Fuzz(func(t *testing.T, template []byte) {
		base := operatorConfig()
		out, err := Merge(base, template)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T) is not a *TemplateError", err, err)
			}
			return
		}
		cfg, err := Parse(out)
		if err != nil {
			t.Fatalf("merged output does not parse: %v\n%s", err, out)
		}
		if len(cfg.Runners) != 1 {
			t.Fatalf("%d runners:\n%s", len(cfg.Runners), out)
		}
		r, want := cfg.Runners[0], base.Runners[0]
		if r.Token != want.Token || r.URL != want.URL || r.ID != want.ID || r.Executor != want.Executor ||
			!r.TokenObtainedAt.Equal(want.TokenObtainedAt) || !r.TokenExpiresAt.IsZero() {
			t.Fatalf("protected keys changed: %+v", r)
		}
		if cfg.Concurrent != base.Concurrent || cfg.ListenAddress != base.ListenAddress {
			t.Fatalf("operator globals changed: %+v", cfg)
		}
		again, err := Merge(base, template)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Merge is not deterministic")
		}
	})
}
