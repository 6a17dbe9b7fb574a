package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

func usersCommand() *cli.Command {
	userFlags := []cli.Flag{
		&cli.StringFlag{Name: "role", Usage: "admin, duty_officer, liaison, viewer or reporter"},
		&cli.StringFlag{Name: "party", Usage: "the party a liaison (or a seconded duty officer) acts for"},
		&cli.StringSliceFlag{Name: "zones", Usage: "zones of a liaison or a reporter"},
		&cli.StringFlag{Name: "full-name", Usage: "the name shown on the board and the timeline"},
		&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from the first line of standard input"},
	}
	return &cli.Command{
		Name:  "users",
		Usage: "manage users (admins only)",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list users",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					var body struct {
						Users []alerting.User `json:"users"`
					}
					if err := newClient(cmd).do(ctx, "GET", "/api/v1/users", nil, &body); err != nil {
						return err
					}
					if cmd.Root().String("output") == "json" {
						return printJSON(cmd.Root().Writer, body.Users)
					}
					tw := tabwriter.NewWriter(cmd.Root().Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tROLE\tPARTY\tZONES\tFULL NAME\tDISABLED")
					for _, u := range body.Users {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", u.Name, u.Role, dash(u.Party), dash(strings.Join(u.Zones, ",")), u.FullName, u.Disabled)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "add",
				Usage:     "add a user; the password is read with --password-stdin, or generated and printed once",
				ArgsUsage: "NAME",
				Flags:     userFlags,
				Action: func(ctx context.Context, cmd *cli.Command) error {
					name, err := oneArg(cmd)
					if err != nil {
						return err
					}
					if cmd.String("role") == "" {
						return usageError{errors.New("--role is required")}
					}
					password, generated, err := readPassword(cmd, true)
					if err != nil {
						return err
					}
					body := userBody(cmd, alerting.User{Name: name}, password)
					var u alerting.User
					if err := newClient(cmd).do(ctx, "POST", "/api/v1/users", body, &u); err != nil {
						return err
					}
					if cmd.Root().String("output") == "json" {
						out := map[string]any{"user": u}
						if generated {
							out["password"] = password
						}
						return printJSON(cmd.Root().Writer, out)
					}
					fmt.Fprintf(cmd.Root().Writer, "user %s added (%s)\n", u.Name, u.Role)
					if generated {
						fmt.Fprintf(cmd.Root().Writer, "password (shown this once): %s\n", password)
					}
					return nil
				},
			},
			{
				Name:      "set",
				Usage:     "change a user's role, party, zones, name or password, or disable it",
				ArgsUsage: "NAME",
				Flags: append(userFlags,
					&cli.BoolFlag{Name: "disable", Usage: "disable the user (its sessions and tokens stop working)"},
					&cli.BoolFlag{Name: "enable", Usage: "enable the user again"}),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					name, err := oneArg(cmd)
					if err != nil {
						return err
					}
					c := newClient(cmd)
					var u alerting.User
					if err := c.do(ctx, "GET", "/api/v1/users/"+url.PathEscape(name), nil, &u); err != nil {
						return err
					}
					password := ""
					if cmd.Bool("password-stdin") {
						if password, _, err = readPassword(cmd, false); err != nil {
							return err
						}
					}
					if cmd.Bool("disable") {
						u.Disabled = true
					}
					if cmd.Bool("enable") {
						u.Disabled = false
					}
					if err := c.do(ctx, "PUT", "/api/v1/users/"+url.PathEscape(name), userBody(cmd, u, password), &u); err != nil {
						return err
					}
					err = emit(cmd, u, "user %s updated\n", u.Name)
					return err
				},
			},
			{
				Name:      "delete",
				Usage:     "delete a user and revoke its tokens",
				ArgsUsage: "NAME",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					name, err := oneArg(cmd)
					if err != nil {
						return err
					}
					if err := newClient(cmd).do(ctx, "DELETE", "/api/v1/users/"+url.PathEscape(name), nil, nil); err != nil {
						return err
					}
					err = emit(cmd, map[string]string{"deleted": name}, "user %s deleted\n", name)
					return err
				},
			},
		},
	}
}

// userBody is the API's user with the flags given applied.
func userBody(cmd *cli.Command, u alerting.User, password string) []byte {
	if cmd.IsSet("role") {
		u.Role = alerting.Role(cmd.String("role"))
	}
	if cmd.IsSet("party") {
		u.Party = cmd.String("party")
	}
	if cmd.IsSet("zones") {
		u.Zones = cmd.StringSlice("zones")
	}
	if cmd.IsSet("full-name") {
		u.FullName = cmd.String("full-name")
	}
	u.PasswordHash = ""
	body, _ := json.Marshal(struct {
		alerting.User
		Password string `json:"password,omitempty"`
	}{u, password})
	return body
}

// readPassword reads the first line of standard input with
// --password-stdin, or (when generate) makes one.
func readPassword(cmd *cli.Command, generate bool) (string, bool, error) {
	if cmd.Bool("password-stdin") {
		line, err := bufio.NewReader(cmd.Root().Reader).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, err
		}
		if line = strings.TrimRight(line, "\r\n"); line == "" {
			return "", false, usageError{errors.New("--password-stdin: standard input holds no password")}
		}
		return line, false, nil
	}
	if !generate {
		return "", false, nil
	}
	b := make([]byte, 18)
	if _, err := randRead(b); err != nil {
		return "", false, err
	}
	return base64URL(b), true, nil
}

func tokensCommand() *cli.Command {
	return &cli.Command{
		Name:  "tokens",
		Usage: "manage API tokens: your own, or an admin's for anyone (--user)",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list tokens (never their secrets)",
				Flags: []cli.Flag{&cli.StringFlag{Name: "user", Usage: "whose tokens (admins)"}},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					var body struct {
						Tokens []alerting.Token `json:"tokens"`
					}
					q := url.Values{}
					if u := cmd.String("user"); u != "" {
						q.Set("user", u)
					}
					if err := newClient(cmd).do(ctx, "GET", "/api/v1/tokens?"+q.Encode(), nil, &body); err != nil {
						return err
					}
					if cmd.Root().String("output") == "json" {
						return printJSON(cmd.Root().Writer, body.Tokens)
					}
					tw := tabwriter.NewWriter(cmd.Root().Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED\tEXPIRES\tREVOKED")
					for _, t := range body.Tokens {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Name, t.CreatedAt.UTC().Format(time.RFC3339), stamp(t.ExpiresAt), stamp(t.RevokedAt))
					}
					return tw.Flush()
				},
			},
			{
				Name:  "create",
				Usage: "create a token and print it, this once",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Usage: "what the token is for", Required: true},
					&cli.StringFlag{Name: "user", Usage: "for another user (admins)"},
					&cli.DurationFlag{Name: "expires-in", Usage: "expire after this long (default: never, or when the token it is made with does)"},
					&cli.StringFlag{Name: "sign-in", Usage: "make it as `USER`, signed in with the password read from standard input, " +
						"instead of with TRUCECTL_TOKEN: a token made with a token never outlives it"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					body, _ := json.Marshal(map[string]any{"name": cmd.String("name"), "user": cmd.String("user"),
						"expires_in": alerting.Duration(cmd.Duration("expires-in"))})
					var t struct {
						alerting.Token
						Secret string `json:"token"`
					}
					c := newClient(cmd)
					if user := cmd.String("sign-in"); user != "" {
						signOut, err := signIn(ctx, cmd, c, user)
						if err != nil {
							return err
						}
						defer signOut()
					}
					if err := c.do(ctx, "POST", "/api/v1/tokens", body, &t); err != nil {
						return err
					}
					if cmd.Root().String("output") == "json" {
						return printJSON(cmd.Root().Writer, t)
					}
					fmt.Fprintf(cmd.Root().ErrWriter, "token %s for %s (shown this once; keep it like a password):\n", t.ID, t.User)
					_, err := fmt.Fprintln(cmd.Root().Writer, t.Secret)
					return err
				},
			},
			{
				Name:      "revoke",
				Usage:     "revoke a token",
				ArgsUsage: "ID",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					id, err := oneArg(cmd)
					if err != nil {
						return err
					}
					if err := newClient(cmd).do(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(id), nil, nil); err != nil {
						return err
					}
					err = emit(cmd, map[string]string{"revoked": id}, "token %s revoked\n", id)
					return err
				},
			},
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func randRead(b []byte) (int, error) { return rand.Read(b) }

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "sign in with a password (read from standard input) and print an API token for TRUCECTL_TOKEN",
		ArgsUsage: "USER",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Value: "trucectl", Usage: "what the token is for"},
			&cli.DurationFlag{Name: "expires-in", Value: 12 * time.Hour, Usage: "the token's lifetime (0: never)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			user, err := oneArg(cmd)
			if err != nil {
				return err
			}
			c := newClient(cmd)
			signOut, err := signIn(ctx, cmd, c, user)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]any{"name": cmd.String("name"), "expires_in": alerting.Duration(cmd.Duration("expires-in"))})
			var t struct {
				Secret string `json:"token"`
			}
			if err := c.do(ctx, "POST", "/api/v1/tokens", body, &t); err != nil {
				return err
			}
			signOut()
			err = emit(cmd, map[string]string{"token": t.Secret}, "export TRUCECTL_TOKEN=%s\n", t.Secret)
			return err
		},
	}
}

// signIn opens a session as user on c, with the password read from
// standard input, in place of c's token; signOut ends it.
func signIn(ctx context.Context, cmd *cli.Command, c *apiClient, user string) (signOut func(), err error) {
	line, err := bufio.NewReader(cmd.Root().Reader).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return nil, usageError{fmt.Errorf("the password of %s is read from standard input, e.g. < password-file", user)}
	}
	jar, _ := cookiejar.New(nil)
	c.token, c.http.Jar = "", jar
	body, _ := json.Marshal(map[string]string{"user": user, "password": password})
	var session struct {
		CSRF string `json:"csrf"`
	}
	if err := c.do(ctx, "POST", "/api/v1/session", body, &session); err != nil {
		return nil, err
	}
	c.csrf = session.CSRF
	return func() { _ = c.do(ctx, "DELETE", "/api/v1/session", nil, nil) }, nil
}
