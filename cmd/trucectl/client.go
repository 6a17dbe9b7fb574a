package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
)

// apiClient calls truceline's HTTP API.
type apiClient struct {
	base  string
	token string
	csrf  string // a session's CSRF token (trucectl login)
	http  *http.Client
}

func newClient(cmd *cli.Command) *apiClient {
	return &apiClient{base: strings.TrimRight(cmd.Root().String("server"), "/"), token: cmd.Root().String("token"),
		http: &http.Client{Timeout: 30 * time.Second}}
}

// apiError is the API's error body, printed with every field problem.
type apiError struct {
	Status int
	Body   struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Fields  []struct {
				Field   string `json:"field"`
				Problem string `json:"problem"`
			} `json:"fields"`
		} `json:"error"`
	}
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", e.Status, e.Body.Error.Code, e.Body.Error.Message)
	for _, f := range e.Body.Error.Fields {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Problem)
	}
	return b.String()
}

// do sends a request and decodes a JSON answer into out.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("truceline at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(data, &e.Body) != nil || e.Body.Error.Code == "" {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// emit prints v as JSON with --output json, else the text.
func emit(cmd *cli.Command, v any, format string, args ...any) error {
	if cmd.Root().String("output") == "json" {
		return printJSON(cmd.Root().Writer, v)
	}
	_, err := fmt.Fprintf(cmd.Root().Writer, format, args...)
	return err
}

// authHeader carries an API token, when there is one.
func authHeader(token string) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}
