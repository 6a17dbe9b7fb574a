package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestComposeFileIsHonest checks what can be checked of compose.yaml
// without Docker: it parses, its images are pinned names, the files it
// mounts and builds from exist, and every TRUCELINE_ variable it sets is an
// option truceline knows.
func TestComposeFileIsHonest(t *testing.T) {
	t.Parallel()
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

// TestComposeRequiresCredentials: compose.yaml's NATS and Redis let in only
// those with the passwords of .env. Its NATS configuration starts (as a
// single server here) and takes truceline's user, with JetStream, and
// nobody without credentials; truceline's URLs carry the credentials; the
// Redis default user is off.
func TestComposeRequiresCredentials(t *testing.T) {
	root := filepath.Join("..", "..")
	compose, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"./configs/compose/nats.conf:/etc/nats/nats.conf:ro",
		"TRUCELINE_NATS_URL: nats://truceline:${NATS_PASSWORD}@nats:4222,",
		"TRUCELINE_REDIS_URL: redis://truceline:${REDIS_PASSWORD}@redis:6379/0",
		`"--user", "default", "off"`,
		`"--user", "truceline", "on", ">${REDIS_PASSWORD:?`,
	} {
		if !strings.Contains(string(compose), want) {
			t.Errorf("compose.yaml lacks %s", want)
		}
	}
	env, err := os.ReadFile(filepath.Join(root, "configs", "compose", "env.example"))
	if err != nil || !strings.Contains(string(env), "NATS_PASSWORD=") || !strings.Contains(string(env), "REDIS_PASSWORD=") {
		t.Errorf("configs/compose/env.example does not name both passwords (%v)", err)
	}

	t.Setenv("NATS_PASSWORD", "compose-test-pw")
	opts, err := server.ProcessConfigFile(filepath.Join(root, "configs", "compose", "nats.conf"))
	if err != nil {
		t.Fatalf("configs/compose/nats.conf: %v", err)
	}
	// One server of the three, on free ports, its store in a temporary
	// directory.
	opts.Port, opts.HTTPPort, opts.StoreDir = -1, 0, t.TempDir()
	opts.Cluster = server.ClusterOpts{}
	opts.Routes = nil
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server of nats.conf does not start")
	}
	if nc, err := nats.Connect(srv.ClientURL()); err == nil {
		nc.Close()
		t.Error("connected without credentials")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("truceline", "compose-test-pw"))
	if err != nil {
		t.Fatalf("truceline's user: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Errorf("truceline's account has no JetStream: %v", err)
	}
}
