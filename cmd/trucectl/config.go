package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/configs"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "add or replace configuration objects from YAML files, all in one transaction",
		Description: "Each file may hold any of zones, parties, regimes, policies and rules (see configs/demo/).\n" +
			"Every problem is printed as FILE:LINE:COLUMN: message, and nothing is stored unless all is valid.\n\n" +
			"   trucectl apply -f configs/demo/\n" +
			"   trucectl apply -f rules.yaml --dry-run",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "YAML file or directory (repeatable)", Required: true},
			&cli.BoolFlag{Name: "dry-run", Usage: "only validate, against what the server holds"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			files, err := readConfigFiles(cmd.StringSlice("file"))
			if err != nil {
				return err
			}
			merged, origins, err := mergeFiles(files)
			if err != nil {
				return err
			}
			body, err := json.Marshal(merged)
			if err != nil {
				return err
			}
			path := "/api/v1/config"
			if cmd.Bool("dry-run") {
				path += "?dry_run=true"
			}
			var out struct {
				Version  int64              `json:"version"`
				Applied  map[string]int     `json:"applied"`
				Warnings []alerting.Problem `json:"warnings,omitempty"`
			}
			err = newClient(cmd).do(ctx, "POST", path, body, &out)
			var ae *apiError
			if errors.As(err, &ae) && ae.Body.Error.Code == alerting.EINVALID && len(ae.Body.Error.Fields) > 0 {
				for _, f := range ae.Body.Error.Fields {
					p := locate(origins, alerting.Problem{Path: f.Field, Message: f.Problem})
					fmt.Fprintln(cmd.Root().ErrWriter, p.String())
				}
				return fmt.Errorf("%d problem(s); nothing was stored", len(ae.Body.Error.Fields))
			}
			if err != nil {
				return err
			}
			local := merged.Warnings() // the same, with columns inside conditions
			for _, w := range out.Warnings {
				for _, l := range local {
					if l.Path == w.Path && l.Message == w.Message {
						w.Offset = l.Offset
					}
				}
				w = locate(origins, w)
				w.Message = "warning: " + w.Message
				fmt.Fprintln(cmd.Root().ErrWriter, w.String())
			}
			verb := "applied"
			if cmd.Bool("dry-run") {
				verb = "valid (dry run, nothing stored)"
			}
			var parts []string
			for _, k := range alerting.Kinds {
				if n := out.Applied[k]; n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", n, k))
				}
			}
			return emit(cmd, out, "%s: %s (configuration version %d)\n", verb, strings.Join(parts, ", "), out.Version)
		},
	}
}

// readConfigFiles parses every file, and every .yaml or .yml file of every
// directory, and reports all parse errors at once.
func readConfigFiles(paths []string) ([]*configs.File, error) {
	var names []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			names = append(names, p)
			continue
		}
		for _, pattern := range []string{"*.yaml", "*.yml"} {
			found, _ := filepath.Glob(filepath.Join(p, pattern))
			names = append(names, found...)
		}
	}
	slices.Sort(names)
	var files []*configs.File
	var problems []string
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := configs.Parse(name, data)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		files = append(files, f)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	if len(files) == 0 {
		return nil, usageError{fmt.Errorf("no YAML files in %v", paths)}
	}
	return files, nil
}

// origin is where an object of the merged configuration came from.
type origin struct {
	file  *configs.File
	index int
}

// mergeFiles joins the files' objects and remembers, per kind, the file and
// index of each.
func mergeFiles(files []*configs.File) (alerting.Config, map[string][]origin, error) {
	var merged alerting.Config
	origins := map[string][]origin{}
	for _, f := range files {
		objs, _ := f.Config.Objects()
		counts := map[string]int{}
		for _, o := range objs {
			origins[o.Kind] = append(origins[o.Kind], origin{f, counts[o.Kind]})
			counts[o.Kind]++
		}
		if err := configs.Merge(&merged, f.Config); err != nil {
			return merged, nil, err
		}
	}
	return merged, origins, nil
}

var pathHead = regexp.MustCompile(`^\$\.([a-z]+)\[(\d+)\](.*)$`)

// locate points a problem of the merged configuration at its file and line.
func locate(origins map[string][]origin, p alerting.Problem) alerting.Problem {
	m := pathHead.FindStringSubmatch(p.Path)
	if m == nil {
		return p
	}
	i, _ := strconv.Atoi(m[2])
	if i >= len(origins[m[1]]) {
		return p
	}
	o := origins[m[1]][i]
	p.Path = fmt.Sprintf("$.%s[%d]%s", m[1], o.index, m[3])
	return o.file.Locate(p)
}

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "list configuration objects of a kind, or show one",
		ArgsUsage: strings.Join(alerting.Kinds, "|") + " [ID]",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			kind := cmd.Args().First()
			if !slices.Contains(alerting.Kinds, kind) || cmd.Args().Len() > 2 {
				return usageError{fmt.Errorf("get takes a kind (%s) and optionally an id", strings.Join(alerting.Kinds, ", "))}
			}
			w := cmd.Root().Writer
			if id := cmd.Args().Get(1); id != "" {
				var obj map[string]any
				if err := newClient(cmd).do(ctx, "GET", "/api/v1/"+kind+"/"+url.PathEscape(id), nil, &obj); err != nil {
					return err
				}
				return printJSON(w, obj)
			}
			var list map[string]json.RawMessage
			if err := newClient(cmd).do(ctx, "GET", "/api/v1/"+kind, nil, &list); err != nil {
				return err
			}
			var items []map[string]any
			if err := json.Unmarshal(list[kind], &items); err != nil {
				return err
			}
			if cmd.Root().String("output") == "json" {
				return printJSON(w, items)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME")
			for _, it := range items {
				fmt.Fprintf(tw, "%v\t%v\n", it["id"], it["name"])
			}
			return tw.Flush()
		},
	}
}

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a configuration object (refused while others use it)",
		ArgsUsage: strings.Join(alerting.Kinds, "|") + " ID",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			kind, id := cmd.Args().Get(0), cmd.Args().Get(1)
			if !slices.Contains(alerting.Kinds, kind) || id == "" || cmd.Args().Len() != 2 {
				return usageError{fmt.Errorf("delete takes a kind (%s) and an id", strings.Join(alerting.Kinds, ", "))}
			}
			if err := newClient(cmd).do(ctx, "DELETE", "/api/v1/"+kind+"/"+url.PathEscape(id), nil, nil); err != nil {
				return err
			}
			err := emit(cmd, map[string]string{"deleted": kind + "/" + id}, "deleted %s %s\n", kind, id)
			return err
		},
	}
}
