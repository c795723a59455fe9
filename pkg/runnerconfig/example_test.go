package runnerconfig_test

import (
	"fmt"

	"github.com/gitlab-operator/gitlab-operator/pkg/runnerconfig"
)

func ExampleRender() {
	cfg := &runnerconfig.Config{
		Concurrent: 1,
		Runners: []runnerconfig.Runner{{
			Name:     `team "a"` + "\n[[runners]]", // user input stays a string
			URL:      "https://gitlab.example.com/",
			Token:    "glrt-EXAMPLE",
			Executor: "kubernetes",
		}},
	}
	out, err := runnerconfig.Render(cfg)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out[len(runnerconfig.Header):]))
	// Output:
	// concurrent = 1
	//
	// [[runners]]
	//   name = "team \"a\"\n[[runners]]"
	//   url = "https://gitlab.example.com/"
	//   token = "glrt-EXAMPLE"
	//   executor = "kubernetes"
}

func ExampleMerge() {
	cfg := &runnerconfig.Config{
		Concurrent: 4,
		Runners: []runnerconfig.Runner{{
			URL: "https://gitlab.example.com/", Token: "glrt-EXAMPLE", Executor: "kubernetes",
			Kubernetes: &runnerconfig.Kubernetes{Namespace: "ci"},
		}},
	}
	template := `
concurrent = 10        # the operator sets concurrent: ignored
check_interval = 5     # honoured, unlike gitlab-runner's --template-config
[[runners]]
  token = "ignored"    # protected
  [runners.kubernetes]
    namespace = "ignored"
    image = "alpine:3.20"
`
	out, err := runnerconfig.Merge(cfg, []byte(template))
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out[len(runnerconfig.Header):]))

	_, err = runnerconfig.Merge(cfg, []byte("[[runners]]\nname = \n"))
	fmt.Println(err)
	// Output:
	// check_interval = 5
	// concurrent = 4
	//
	// [[runners]]
	//   executor = "kubernetes"
	//   token = "glrt-EXAMPLE"
	//   url = "https://gitlab.example.com/"
	//   [runners.kubernetes]
	//     image = "alpine:3.20"
	//     namespace = "ci"
	// spec.config: config.toml template: line 2: expected value but found '\n' instead
}
