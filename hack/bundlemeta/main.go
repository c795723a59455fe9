// Command bundlemeta does the OLM packaging steps operator-sdk and opm leave
// undone, reproducibly (running it twice changes nothing).
//
// "bundlemeta bundle" runs after `operator-sdk generate bundle`:
//
//   - the CSV's createdAt is copied from the CSV base (operator-sdk stamps
//     the current time, which would make every run a diff);
//   - the CSV's containerImage is set to the manager container's image;
//   - com.redhat.openshift.versions is added to bundle/metadata/annotations.yaml
//     and as a label to bundle.Dockerfile.
//
// "bundlemeta catalog" turns `opm render <bundle dir>` output into the
// file-based catalog (see catalog.go).
//
// YAML is edited through kyaml, which keeps comments, key order and styles
// of everything it does not touch.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const versionsKey = "com.redhat.openshift.versions"

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: bundlemeta bundle|catalog [flags]"))
	}
	var err error
	switch os.Args[1] {
	case "bundle":
		err = bundleCmd(os.Args[2:])
	case "catalog":
		err = catalogCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want bundle or catalog", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func bundleCmd(args []string) error {
	fs := flag.NewFlagSet("bundle", flag.ExitOnError)
	bundleDir := fs.String("bundle", "bundle", "bundle directory (manifests/ and metadata/)")
	dockerfile := fs.String("dockerfile", "bundle.Dockerfile", "bundle image Dockerfile")
	base := fs.String("base", "config/manifests/bases/gitlab-operator.clusterserviceversion.yaml", "CSV base holding the release's createdAt")
	versions := fs.String("openshift-versions", "", "OpenShift version range, for example v4.15-v4.20")
	_ = fs.Parse(args)
	if *versions == "" {
		return errors.New("-openshift-versions is required")
	}
	return run(*bundleDir, *dockerfile, *base, *versions)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bundlemeta:", err)
	os.Exit(1)
}

func run(bundleDir, dockerfile, base, versions string) error {
	createdAt, err := baseCreatedAt(base)
	if err != nil {
		return err
	}
	csvs, err := filepath.Glob(filepath.Join(bundleDir, "manifests", "*.clusterserviceversion.yaml"))
	if err != nil {
		return err
	}
	if len(csvs) != 1 {
		return fmt.Errorf("want exactly one CSV in %s/manifests, found %d", bundleDir, len(csvs))
	}
	if err := editYAML(csvs[0], func(csv *yaml.RNode) error { return fixCSV(csv, createdAt) }); err != nil {
		return err
	}
	annotations := filepath.Join(bundleDir, "metadata", "annotations.yaml")
	if err := editYAML(annotations, func(doc *yaml.RNode) error { return setVersionsAnnotation(doc, versions) }); err != nil {
		return err
	}
	return labelDockerfile(dockerfile, versions)
}

// setVersionsAnnotation puts the OpenShift range right after the core
// bundle annotations, where it sits in the Dockerfile too.
func setVersionsAnnotation(doc *yaml.RNode, versions string) error {
	ann, err := doc.Pipe(yaml.LookupCreate(yaml.MappingNode, "annotations"))
	if err != nil {
		return err
	}
	if err := ann.PipeE(yaml.Clear(versionsKey)); err != nil {
		return err
	}
	content := ann.YNode().Content
	at := len(content)
	for i := 0; i+1 < len(content); i += 2 {
		k := content[i].Value
		if strings.HasPrefix(k, "operators.operatorframework.io.") && !strings.Contains(k, ".test.") {
			at = i + 2
		}
	}
	key := yaml.NewScalarRNode(versionsKey).YNode()
	key.HeadComment = "OpenShift versions."
	val := yaml.NewStringRNode(versions).YNode()
	ann.YNode().Content = append(content[:at], append([]*yaml.Node{key, val}, content[at:]...)...)
	return nil
}

// baseCreatedAt reads metadata.annotations.createdAt from the CSV base.
func baseCreatedAt(path string) (string, error) {
	node, err := yaml.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := node.GetAnnotations()["createdAt"]
	if v == "" {
		return "", fmt.Errorf("%s has no metadata.annotations.createdAt", path)
	}
	return v, nil
}

// fixCSV sets createdAt and containerImage.
func fixCSV(csv *yaml.RNode, createdAt string) error {
	deployments, err := csv.Pipe(yaml.Lookup("spec", "install", "spec", "deployments"))
	if err != nil || deployments == nil {
		return fmt.Errorf("CSV has no spec.install.spec.deployments: %v", err)
	}
	image := ""
	for _, d := range deployments.Content() {
		containers, err := yaml.NewRNode(d).Pipe(yaml.Lookup("spec", "template", "spec", "containers"))
		if err != nil || containers == nil {
			continue
		}
		c, err := containers.Pipe(yaml.MatchElement("name", "manager"))
		if err != nil || c == nil {
			continue
		}
		if img := yaml.GetValue(c.Field("image").Value); img != "" {
			image = img
		}
	}
	if image == "" {
		return errors.New("CSV has no deployment with a container named manager")
	}
	return csv.PipeE(yaml.LookupCreate(yaml.MappingNode, "metadata", "annotations"),
		yaml.Tee(yaml.SetField("createdAt", yaml.NewStringRNode(createdAt))),
		yaml.SetField("containerImage", yaml.NewStringRNode(image)))
}

func editYAML(path string, edit func(*yaml.RNode) error) error {
	node, err := yaml.ReadFile(path)
	if err != nil {
		return err
	}
	if err := edit(node); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	out, err := node.String()
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// labelDockerfile puts the versions label right after the core bundle
// labels (replacing an earlier one).
func labelDockerfile(path, versions string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if strings.HasPrefix(l, "LABEL "+versionsKey+"=") || l == "# OpenShift versions." {
			continue
		}
		lines = append(lines, l)
	}
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "LABEL operators.operatorframework.io.") && !strings.Contains(l, ".test.") {
			last = i
		}
	}
	if last < 0 {
		return fmt.Errorf("%s has no operator-framework labels", path)
	}
	add := []string{"", "# OpenShift versions.", fmt.Sprintf("LABEL %s=%q", versionsKey, versions)}
	lines = append(lines[:last+1], append(add, lines[last+1:]...)...)
	var buf bytes.Buffer
	buf.WriteString(strings.Join(lines, "\n"))
	buf.WriteString("\n")
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
