// Command trucectl is truceline's operator CLI: submit reports, list, tail,
// acknowledge and resolve alerts, and measure a running server.
//
// Exit codes: 0 success, 1 the operation failed (the server refused it or
// could not be reached), 2 the command line was wrong.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"
)

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

// usageError marks command-line mistakes, which exit with 2.
type usageError struct{ error }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := &cli.Command{
		Name:  "trucectl",
		Usage: "operate a truceline server",
		Description: "Authenticate with an API token: TRUCECTL_TOKEN (trucectl login USER prints one) or --token.\n\n" +
			"Exit codes, for scripts: 0 success; 1 the operation failed (the server refused it, could not be\n" +
			"reached, or audit verify found problems); 2 the command line was wrong.",
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Usage: "truceline's HTTP address", Value: "http://127.0.0.1:8080", Sources: cli.EnvVars("TRUCECTL_SERVER")},
			&cli.StringFlag{Name: "token", Usage: "API token (prefer TRUCECTL_TOKEN, which stays out of the shell history)", Sources: cli.EnvVars("TRUCECTL_TOKEN")},
			&cli.StringFlag{Name: "nats", Usage: "NATS URL, for commands that use NATS", Value: "nats://127.0.0.1:14222", Sources: cli.EnvVars("TRUCECTL_NATS")},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "table or json", Value: "table", Sources: cli.EnvVars("TRUCECTL_OUTPUT"),
				Validator: func(s string) error {
					if s != "table" && s != "json" {
						return usageError{fmt.Errorf("--output must be table or json, not %q", s)}
					}
					return nil
				}},
		},
		// "trucectl completion bash|zsh|fish|pwsh" prints a completion
		// script (see docs/OPERATIONS.md).
		EnableShellCompletion: true,
		ConfigureShellCompletionCommand: func(c *cli.Command) {
			c.Hidden = false
			c.Usage = "print a shell completion script: bash, zsh, fish or pwsh"
		},
		Commands: []*cli.Command{reportCommand(), alertsCommand(), applyCommand(), getCommand(), deleteCommand(), onCallCommand(),
			secretCommand(), receiveCommand(), loginCommand(), usersCommand(), tokensCommand(), auditCommand(), healCommand(), parkedCommand(), benchCommand()},
	}
	markUsageErrors(cmd)
	err := cmd.Run(ctx, args)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "trucectl:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "trucectl:", err)
		return 1
	}
}

// markUsageErrors makes every command's flag and argument errors exit 2.
func markUsageErrors(cmd *cli.Command) {
	cmd.OnUsageError = func(_ context.Context, _ *cli.Command, err error, _ bool) error { return usageError{err} }
	for _, sub := range cmd.Commands {
		markUsageErrors(sub)
	}
}
