package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/cmd/truceline/app"
	"github.com/truceline/truceline/configs"
)

// TestBadConfigurationStopsStartUp checks that start-up fails with a message
// naming every bad option, from flags, the environment and the file.
func TestBadConfigurationStopsStartUp(t *testing.T) {
	file := filepath.Join(t.TempDir(), "truceline.yaml")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		yaml string
		want []string
	}{
		{name: "bad flags", args: []string{"--http-addr", "nowhere", "--demo-rate", "-1", "--redis-url", "http://x"},
			want: []string{`--http-addr: "nowhere" is not HOST:PORT`, "--demo-rate: -1 is outside", "--redis-url:", "scheme must be one of redis"}},
		{name: "bad environment", env: map[string]string{"TRUCELINE_GROUP_WINDOW": "0s", "TRUCELINE_LOG_FORMAT": "xml"},
			want: []string{"--group-window: 0s is outside", `--log-format: "xml" must be text or json`}},
		{name: "unknown option in the file", yaml: "http_addr: 127.0.0.1:9\nhttp_adr: x\n",
			want: []string{"config file", "http_adr", "[2:1]"}},
		{name: "bad value in the file", yaml: "nats_url: ftp://nats\nnats_prefix: centre1\n",
			want: []string{"--nats-url:", "--nats-prefix: \"centre1\" must end with a dot"}},
		{name: "password never printed", args: []string{"--redis-url", "mongodb://admin:s3cret@db:1"},
			want: []string{"--redis-url:", "admin:xxxxx@db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := append([]string{"truceline", "serve"}, tt.args...)
			if tt.yaml != "" {
				if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", file)
			}
			var stderr bytes.Buffer
			if code := run(args, &stderr); code != 1 {
				t.Fatalf("exit code %d, want 1; stderr: %s", code, stderr.String())
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "s3cret") {
				t.Errorf("a password was printed:\n%s", stderr.String())
			}
		})
	}
}

// TestTakenPortsSayWhatToDo occupies the ports truceline wants and checks
// the advice it prints.
func TestTakenPortsSayWhatToDo(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"embedded NATS port", []string{"--nats-listen", addr},
			[]string{"cannot listen on " + addr, "--nats-listen", "--nats-url nats://" + addr}},
		{"HTTP port", []string{"--http-addr", addr, "--nats-listen", "127.0.0.1:0"},
			[]string{"cannot listen on " + addr, "--http-addr"}},
		{"unreachable Redis", []string{"--redis-url", "redis://127.0.0.1:1", "--nats-listen", "127.0.0.1:0"},
			[]string{"redis at 127.0.0.1:1 does not answer", "--redis-url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"truceline", "serve", "--data-dir", t.TempDir()}, tt.args...)
			if code := run(args, &stderr); code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}

// TestConfigurationLayers checks the precedence: flags over the
// environment over the file over the defaults.
func TestConfigurationLayers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "truceline.yaml")
	yaml := "http_addr: 127.0.0.1:1111\nlog_level: debug\ngroup_window: 5m\ndemo_rate: 7\nallowed_origins: [https://a.example]\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRUCELINE_HTTP_ADDR", "127.0.0.1:2222")
	t.Setenv("TRUCELINE_LOG_LEVEL", "warn")
	var got app.Config
	cmd := serveCommand(io.Discard)
	cmd.Action = func(_ context.Context, c *cli.Command) error {
		var err error
		got, err = loadConfig(c, options())
		return err
	}
	if err := cmd.Run(context.Background(), []string{"serve", "--config", file, "--log-level", "error"}); err != nil {
		t.Fatal(err)
	}
	want := app.DefaultConfig()
	want.HTTPAddr = "127.0.0.1:2222" // environment over file
	want.LogLevel = "error"          // flag over environment
	want.GroupWindow = 5 * time.Minute
	want.DemoRate = 7
	want.AllowedOrigins = []string{"https://a.example"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config =\n%+v\nwant\n%+v", got, want)
	}
}

// TestShippedConfigIsTheDefault keeps configs/truceline.yaml honest: it must
// parse and equal the built-in defaults.
func TestShippedConfigIsTheDefault(t *testing.T) {
	t.Parallel()
	cfg := app.DefaultConfig()
	cfg.DataDir, cfg.LogLevel = "", "" // proves the file sets them
	if err := cfg.LoadFile("configs/truceline.yaml", configs.DefaultServerConfig()); err != nil {
		t.Fatal(err)
	}
	if want := app.DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("configs/truceline.yaml =\n%+v\nbuilt-in defaults =\n%+v", cfg, want)
	}
}
