package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestComposeFileIsHonest checks what can be checked of compose.yaml
// without Docker: it parses, its images are pinned names, the files it
// mounts and builds from exist, and every TRUCELINE_ variable it sets is an
// option truceline knows.
func TestComposeFileIsHonest(t *testing.T) {
	root := filepath.Join("..", "..")
	data, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"nats", "redis", "truceline"} {
		if _, ok := compose.Services[name]; !ok {
			t.Errorf("compose.yaml has no service %s", name)
		}
	}
	image := regexp.MustCompile(`^[a-z0-9./-]+:[0-9][a-z0-9.-]*$`)
	known := map[string]bool{"TRUCELINE_CONFIG": true}
	for _, o := range options() {
		known["TRUCELINE_"+strings.ToUpper(strings.ReplaceAll(o.flag.Names()[0], "-", "_"))] = true
	}
	for name, s := range compose.Services {
		if s.Build == "" && !image.MatchString(s.Image) {
			t.Errorf("service %s: image %q is not a name with a version tag", name, s.Image)
		}
		if len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no health check", name)
		}
		if s.Build != "" {
			if _, err := os.Stat(filepath.Join(root, s.Build, "Dockerfile")); err != nil {
				t.Errorf("service %s builds from %s: %v", name, s.Build, err)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			} else if _, ok := compose.Volumes[src]; !ok {
				t.Errorf("service %s uses volume %s, which is not declared", name, src)
			}
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "TRUCELINE_") && !known[k] {
				t.Errorf("service %s sets %s, which truceline does not read", name, k)
			}
		}
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"USER nonroot", "HEALTHCHECK", "COPY configs/truceline.yaml /etc/truceline/truceline.yaml"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
