package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// catalogCmd writes the package's file-based catalog: an olm.package (name,
// default channel, icon and description from the CSV), one olm.channel per
// channel and the olm.bundle blobs. The new bundle comes from `opm render`
// of the bundle directory (its image is empty: nothing can be pulled
// offline) and gets the bundle image name. Bundles of other versions already
// in the catalog are kept, and the channel entries chain them oldest to
// newest with replaces, so a release adds an upgrade edge instead of
// dropping the previous version.
func catalogCmd(args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ExitOnError)
	rendered := fs.String("rendered", "-", "output of `opm render <bundle dir> -o yaml` (- for stdin)")
	image := fs.String("image", "", "bundle image reference")
	csvPath := fs.String("csv", "", "the bundle's CSV (icon and description of the package)")
	channels := fs.String("channels", "stable", "comma separated channels the bundle is in")
	defaultChannel := fs.String("default-channel", "stable", "the package's default channel")
	out := fs.String("out", "", "catalog file to write, for example catalog/gitlab-operator/index.yaml")
	_ = fs.Parse(args)
	if *image == "" || *csvPath == "" || *out == "" {
		return errors.New("-image, -csv and -out are required")
	}
	var in io.Reader = os.Stdin
	if *rendered != "-" {
		f, err := os.Open(*rendered)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		in = f
	}
	newDocs, err := (&kio.ByteReader{Reader: in, OmitReaderAnnotations: true}).Read()
	if err != nil {
		return fmt.Errorf("reading rendered bundle: %w", err)
	}
	var bundle *yaml.RNode
	for _, d := range newDocs {
		if schemaOf(d) == "olm.bundle" {
			if bundle != nil {
				return errors.New("the rendered input holds more than one bundle")
			}
			bundle = d
		}
	}
	if bundle == nil {
		return errors.New("the rendered input holds no olm.bundle")
	}
	if err := bundle.PipeE(yaml.SetField("image", yaml.NewStringRNode(*image))); err != nil {
		return err
	}
	// opm renders the empty image as "", and kyaml keeps that quoting.
	bundle.Field("image").Value.YNode().Style = 0
	pkg := stringField(bundle, "package")
	if pkg == "" {
		return errors.New("the rendered bundle names no package")
	}

	bundles := []*yaml.RNode{bundle}
	if old, err := readCatalog(*out); err != nil {
		return err
	} else {
		for _, d := range old {
			if schemaOf(d) == "olm.bundle" && stringField(d, "name") != stringField(bundle, "name") {
				bundles = append(bundles, d)
			}
		}
	}
	sort.SliceStable(bundles, func(i, j int) bool {
		return lessVersion(bundleVersion(bundles[i]), bundleVersion(bundles[j]))
	})

	pkgDoc, err := packageDoc(pkg, *defaultChannel, *csvPath)
	if err != nil {
		return err
	}
	docs := []*yaml.RNode{pkgDoc}
	for _, ch := range strings.Split(*channels, ",") {
		if ch = strings.TrimSpace(ch); ch != "" {
			docs = append(docs, channelDoc(pkg, ch, bundles))
		}
	}
	docs = append(docs, bundles...)

	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := (kio.ByteWriter{Writer: &buf}).Write(docs); err != nil {
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}

func readCatalog(path string) ([]*yaml.RNode, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return (&kio.ByteReader{Reader: f, OmitReaderAnnotations: true}).Read()
}

func packageDoc(pkg, defaultChannel, csvPath string) (*yaml.RNode, error) {
	csv, err := yaml.ReadFile(csvPath)
	if err != nil {
		return nil, err
	}
	doc := yaml.NewMapRNode(nil)
	fields := []struct {
		key string
		val *yaml.RNode
	}{
		{"schema", yaml.NewStringRNode("olm.package")},
		{"name", yaml.NewStringRNode(pkg)},
		{"defaultChannel", yaml.NewStringRNode(defaultChannel)},
	}
	for _, f := range fields {
		if err := doc.PipeE(yaml.SetField(f.key, f.val)); err != nil {
			return nil, err
		}
	}
	if desc := csv.GetAnnotations()["description"]; desc != "" {
		if err := doc.PipeE(yaml.SetField("description", yaml.NewStringRNode(desc))); err != nil {
			return nil, err
		}
	}
	icons, err := csv.Pipe(yaml.Lookup("spec", "icon"))
	if err != nil {
		return nil, err
	}
	if icons != nil && len(icons.Content()) > 0 {
		icon := yaml.NewRNode(icons.Content()[0]).Copy()
		if err := doc.PipeE(yaml.SetField("icon", icon)); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func channelDoc(pkg, channel string, bundles []*yaml.RNode) *yaml.RNode {
	doc := yaml.NewMapRNode(nil)
	_ = doc.PipeE(yaml.SetField("schema", yaml.NewStringRNode("olm.channel")))
	_ = doc.PipeE(yaml.SetField("package", yaml.NewStringRNode(pkg)))
	_ = doc.PipeE(yaml.SetField("name", yaml.NewStringRNode(channel)))
	entries := yaml.NewListRNode()
	prev := ""
	for _, b := range bundles {
		e := yaml.NewMapRNode(nil)
		name := stringField(b, "name")
		_ = e.PipeE(yaml.SetField("name", yaml.NewStringRNode(name)))
		if prev != "" {
			_ = e.PipeE(yaml.SetField("replaces", yaml.NewStringRNode(prev)))
		}
		_ = entries.PipeE(yaml.Append(e.YNode()))
		prev = name
	}
	_ = doc.PipeE(yaml.SetField("entries", entries))
	return doc
}

func schemaOf(n *yaml.RNode) string { return stringField(n, "schema") }

func stringField(n *yaml.RNode, key string) string {
	f := n.Field(key)
	if f == nil || f.Value == nil {
		return ""
	}
	return yaml.GetValue(f.Value)
}

// bundleVersion is the version in the bundle's olm.package property.
func bundleVersion(b *yaml.RNode) string {
	props, err := b.Pipe(yaml.Lookup("properties"))
	if err != nil || props == nil {
		return ""
	}
	for _, p := range props.Content() {
		pn := yaml.NewRNode(p)
		if stringField(pn, "type") != "olm.package" {
			continue
		}
		v, err := pn.Pipe(yaml.Lookup("value", "version"))
		if err == nil && v != nil {
			return yaml.GetValue(v)
		}
	}
	return ""
}

// lessVersion orders x.y.z versions numerically; a pre-release sorts
// before its release.
func lessVersion(a, b string) bool {
	ac, apre, _ := strings.Cut(a, "-")
	bc, bpre, _ := strings.Cut(b, "-")
	as, bs := strings.Split(ac, "."), strings.Split(bc, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	switch {
	case apre == bpre:
		return false
	case apre == "":
		return false
	case bpre == "":
		return true
	}
	return apre < bpre
}
