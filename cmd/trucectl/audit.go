package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

// auditMaxPage is the most entries the API returns at once.
const auditMaxPage = 1000

// auditHead is the seq and hash of the last entry, as the server recorded it.
type auditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// auditAnswer is the answer of GET /api/v1/audit.
type auditAnswer struct {
	Entries []alerting.AuditEntry `json:"entries"`
	Head    auditHead             `json:"head"`
}

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "list and verify the tamper-evident audit log",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list audit entries, oldest first",
				Flags: []cli.Flag{
					&cli.Int64Flag{Name: "after", Usage: "only entries with a seq above this"},
					&cli.IntFlag{Name: "limit", Value: 100, Usage: "most entries to list, 1 to 1000"},
				},
				Action: listAudit,
			},
			{
				Name: "verify",
				Usage: "read the whole audit log and check its hash chain against its head; " +
					"exit 1 and name every problem when it was tampered with",
				Action: verifyAudit,
			},
		},
	}
}

func fetchAudit(ctx context.Context, c *apiClient, after int64, limit int) (*auditAnswer, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	var a auditAnswer
	if err := c.do(ctx, "GET", "/api/v1/audit?"+q.Encode(), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func listAudit(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() > 0 {
		return usageError{errors.New("audit list takes no arguments")}
	}
	after, limit := cmd.Int64("after"), cmd.Int("limit")
	if after < 0 {
		return usageError{fmt.Errorf("--after must be 0 or more, not %d", after)}
	}
	if limit < 1 || limit > auditMaxPage {
		return usageError{fmt.Errorf("--limit must be 1 to %d, not %d", auditMaxPage, limit)}
	}
	a, err := fetchAudit(ctx, newClient(cmd), after, limit)
	if err != nil {
		return err
	}
	if a.Entries == nil {
		a.Entries = []alerting.AuditEntry{}
	}
	if cmd.Root().String("output") == "json" {
		return printJSON(cmd.Root().Writer, a)
	}
	return printAudit(cmd.Root().Writer, a.Entries)
}

func printAudit(w io.Writer, entries []alerting.AuditEntry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tAT\tACTOR\tVIA\tACTION\tOBJECT\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.UTC().Format("2006-01-02 15:04:05Z"),
			auditCell(e.Actor), auditCell(e.Via), auditCell(e.Action), auditCell(e.Object), auditCell(e.Detail))
	}
	return tw.Flush()
}

// auditCell makes recorded text safe for a table on a terminal: control
// characters (tabs, new lines, escape sequences) become spaces.
func auditCell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// auditVerdict is audit verify's answer with -o json.
type auditVerdict struct {
	OK       bool                    `json:"ok"`
	Entries  int                     `json:"entries"`
	Head     auditHead               `json:"head"`
	Problems []alerting.AuditProblem `json:"problems"`
}

// auditSettle is how often audit verify asks again when the log's end and
// the head disagree, which an append while it read explains.
const auditSettle = 3

func verifyAudit(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() > 0 {
		return usageError{errors.New("audit verify takes no arguments")}
	}
	c := newClient(cmd)
	var entries []alerting.AuditEntry
	var after int64
	var head auditHead
	for settle := 0; ; {
		a, err := fetchAudit(ctx, c, after, auditMaxPage)
		if err != nil {
			return err
		}
		head = a.Head
		if len(a.Entries) > 0 {
			// The next page starts after the highest seq seen: the last
			// entry's, unless entries were reordered.
			next := after
			for _, e := range a.Entries {
				next = max(next, e.Seq)
			}
			if next <= after {
				return fmt.Errorf("the server answered after=%d with entries up to seq %d only: cannot page through the audit log", after, next)
			}
			entries, after = append(entries, a.Entries...), next
			continue
		}
		// The end. The server reads the entries and the head one after the
		// other, so an append in between makes them disagree: ask again.
		if head.Seq == after || settle == auditSettle {
			break
		}
		settle++
	}
	problems := alerting.VerifyAudit(entries, head.Seq, head.Hash)
	w := cmd.Root().Writer
	if cmd.Root().String("output") == "json" {
		v := auditVerdict{OK: len(problems) == 0, Entries: len(entries), Head: head, Problems: problems}
		if v.Problems == nil {
			v.Problems = []alerting.AuditProblem{}
		}
		if err := printJSON(w, v); err != nil {
			return err
		}
	} else if len(problems) == 0 {
		hash := head.Hash
		if len(hash) > 12 {
			hash = hash[:12]
		} else if hash == "" {
			hash = "-"
		}
		fmt.Fprintf(w, "audit log OK: %d entries, head %d %s\n", len(entries), head.Seq, hash)
	} else {
		for _, p := range problems {
			fmt.Fprintln(w, p.Problem)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the audit log failed verification: %d problem(s) in %d entries", len(problems), len(entries))
	}
	return nil
}
