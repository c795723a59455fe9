package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// Bundle is the part of an OLM bundle directory the tests read.
type Bundle struct {
	// Dir is the bundle root (the folder holding manifests/).
	Dir string
	// CSV is the ClusterServiceVersion.
	CSV *operatorsv1alpha1.ClusterServiceVersion
	// CRDs are the CustomResourceDefinitions, sorted by name.
	CRDs []apiextensionsv1.CustomResourceDefinition
}

// LoadBundle reads dir/manifests (dir may also be the manifests folder
// itself, as in a scorecard pod where /bundle holds the unpacked image).
func LoadBundle(dir string) (*Bundle, error) {
	manifests := filepath.Join(dir, "manifests")
	if st, err := os.Stat(manifests); err != nil || !st.IsDir() {
		manifests = dir
	}
	entries, err := os.ReadDir(manifests)
	if err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	}
	b := &Bundle{Dir: dir}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !isManifest(name) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(manifests, name))
		if err != nil {
			return nil, err
		}
		for _, doc := range splitYAML(data) {
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			switch {
			case meta.Kind == "ClusterServiceVersion" && strings.HasPrefix(meta.APIVersion, "operators.coreos.com/"):
				if b.CSV != nil {
					return nil, fmt.Errorf("%s: a second ClusterServiceVersion", name)
				}
				csv := &operatorsv1alpha1.ClusterServiceVersion{}
				if err := yaml.Unmarshal(doc, csv); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				b.CSV = csv
			case meta.Kind == "CustomResourceDefinition" && meta.APIVersion == "apiextensions.k8s.io/v1":
				crd := apiextensionsv1.CustomResourceDefinition{}
				if err := yaml.Unmarshal(doc, &crd); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				b.CRDs = append(b.CRDs, crd)
			}
		}
	}
	if b.CSV == nil {
		return nil, fmt.Errorf("no ClusterServiceVersion in %s", manifests)
	}
	if len(b.CRDs) == 0 {
		return nil, errors.New("no v1 CustomResourceDefinition in " + manifests)
	}
	sort.Slice(b.CRDs, func(i, j int) bool { return b.CRDs[i].Name < b.CRDs[j].Name })
	return b, nil
}

// CRD returns the bundle's CRD with the given name.
func (b *Bundle) CRD(name string) *apiextensionsv1.CustomResourceDefinition {
	for i := range b.CRDs {
		if b.CRDs[i].Name == name {
			return &b.CRDs[i]
		}
	}
	return nil
}

func isManifest(name string) bool {
	switch filepath.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// splitYAML splits a multi-document YAML file on "---" lines.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if len(bytes.TrimSpace(cur.Bytes())) > 0 {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if t := bytes.TrimRight(line, "\r\n"); bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) {
			flush()
			continue
		}
		cur.Write(line)
	}
	flush()
	return docs
}
