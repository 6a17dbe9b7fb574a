// Command truceline is the truceline server: `truceline serve` runs the
// report intake, the alert engine, the WebSocket gateway and the live board.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"
)

func main() { os.Exit(run(os.Args, os.Stderr)) }

// run is the whole program but for the exit, so tests can call it.
func run(args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := &cli.Command{
		Name:      "truceline",
		Usage:     "real-time rapid-response alerting for ceasefire monitoring",
		Writer:    os.Stdout,
		ErrWriter: stderr,
		Commands:  []*cli.Command{serveCommand(stderr), healthCommand()},
	}
	if err := cmd.Run(ctx, args); err != nil {
		fmt.Fprintln(stderr, "truceline:", err)
		return 1
	}
	return 0
}
