package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/urfave/cli/v3"
)

// healthCommand probes a running server, for container health checks in
// images that have no curl or wget.
func healthCommand() *cli.Command {
	return &cli.Command{
		Name:  "health",
		Usage: "exit 0 when the server at --url answers 200, 1 otherwise",
		Flags: []cli.Flag{&cli.StringFlag{Name: "url", Value: "http://127.0.0.1:8080/readyz", Usage: "URL to probe (/healthz: alive; /readyz: NATS and Redis reachable)"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, cmd.String("url"), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %s", cmd.String("url"), resp.Status)
			}
			return nil
		},
	}
}
