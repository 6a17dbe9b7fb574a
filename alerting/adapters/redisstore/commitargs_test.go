package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
)

var update = flag.Bool("update", false, "rewrite "+goldenArgs+" from what commitArgs writes")

const goldenArgs = "testdata/commit-args.golden.json"

// TestCommitArgsEncoding pins the commit script's arguments, version 2
// (docs/REDIS.md): the header commitArgs writes for representativeCommits
// is the golden file's, byte for byte once the file's indentation is
// taken out, and every index in it names the blob it stands for. A change
// of the encoding needs a new version, which the script checks, the
// golden file rewritten (go test -run TestCommitArgsEncoding -update) and
// docs/REDIS.md brought along (it names every field).
func TestCommitArgsEncoding(t *testing.T) {
	t.Parallel()
	store := unconnectedStore(t)
	cs := representativeCommits(t)
	args, err := store.CommitArgs(cs)
	if err != nil {
		t.Fatal(err)
	}
	header, _ := args[2].([]byte)
	var indented bytes.Buffer
	if err := json.Indent(&indented, header, "", "  "); err != nil {
		t.Fatalf("the header is not JSON: %v\n%s", err, header)
	}
	indented.WriteByte('\n')
	if *update {
		if err := os.WriteFile(goldenArgs, indented.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(goldenArgs)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, golden); err != nil {
		t.Fatalf("%s: %v", goldenArgs, err)
	}
	if !bytes.Equal(compact.Bytes(), header) {
		t.Errorf("commitArgs writes another header than %s (run with -update if the change is meant, and give it a new version):\n%s", goldenArgs, indented.Bytes())
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "REDIS.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "\n## The commit script's arguments\n")
	section, _, _ = strings.Cut(section, "\n## ")
	described := map[string]bool{}
	for _, m := range regexp.MustCompile(`"([a-z_]+)":`).FindAllStringSubmatch(string(golden), -1) {
		if m[1] == "aleppo" { // a zone id: a key of zones
			continue
		}
		if field := "`" + m[1] + "`"; !described[field] && !strings.Contains(section, field) {
			t.Errorf("docs/REDIS.md's \"The commit script's arguments\" does not describe the header's field %s", field)
			described[field] = true
		}
	}

	// Each blob is named once, by the index of the argument that holds it.
	var h struct {
		Commits []struct {
			Report *struct{ JSON, Classification, Records int }
			Alerts []struct {
				Body    int
				AlertAt int `json:"alert_at"`
			}
			Deliveries []struct{ Job int }
		}
	}
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	named := map[int]string{}
	name := func(what string, i int) {
		if i < 4 || i > len(args) || named[i] != "" {
			t.Errorf("%s names ARGV[%d] (of %d; already: %q)", what, i, len(args), named[i])
			return
		}
		named[i] = what
	}
	blob := func(i int) string { b, _ := args[i-1].([]byte); return string(b) }
	for n, c := range h.Commits {
		if r := c.Report; r != nil {
			name(fmt.Sprintf("commit %d's report", n), r.JSON)
			name(fmt.Sprintf("commit %d's classification", n), r.Classification)
			if r.Records != 0 {
				name(fmt.Sprintf("commit %d's records", n), r.Records)
			}
			if want := string(mustJSON(t, cs[n].Report)); blob(r.JSON) != want {
				t.Errorf("commit %d's report is %s, want %s", n, blob(r.JSON), want)
			}
		}
		for m, a := range c.Alerts {
			name(fmt.Sprintf("commit %d's alert %d", n, m), a.Body)
			if want := string(mustJSON(t, cs[n].Alerts[m].Alert)); blob(a.Body)[a.AlertAt:len(blob(a.Body))-1] != want {
				t.Errorf("commit %d's alert %d: the body at alert_at is not the alert: %s", n, m, blob(a.Body))
			}
		}
		for m, d := range c.Deliveries {
			if d.Job != 0 {
				name(fmt.Sprintf("commit %d's delivery %d", n, m), d.Job)
			}
		}
	}
	if len(named) != len(args)-3 {
		t.Errorf("%d blobs, %d of them named", len(args)-3, len(named))
	}
}

// TestTheCommitScriptRunsOnRedisAndInMemory applies representativeCommits
// on a redis-server and on the in-memory server truceline falls back to
// without one (miniredis, whose Lua has its own cjson): both answer and end
// up holding the same keys, the ones the commits describe. The second
// alert's deliveries are queued before.
func TestTheCommitScriptRunsOnRedisAndInMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem, err := redisstore.StartMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Shutdown(ctx) })
	servers := map[string]redis.UniversalClient{"redis-server": redistest.Start(t).Client(t), "in memory": connect(t, mem.URL())}
	dumps := map[string]string{}
	for name, rdb := range servers {
		store, err := redisstore.New(redisstore.Options{Client: rdb})
		if err != nil {
			t.Fatal(err)
		}
		urgent, duty := queuedDeliveries()
		for lane, d := range map[string]alerting.Delivery{"tl:deliveries:urgent": urgent, "tl:deliveries:normal": duty} {
			rdb.HSet(ctx, "tl:deliveries", d.Key, mustJSON(t, d))
			rdb.ZAdd(ctx, lane, redis.Z{Score: 1, Member: d.Key})
		}
		cs := representativeCommits(t)
		changes, err := store.CommitAll(ctx, cs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var seqs []int64
		for _, cc := range changes {
			for _, c := range cc {
				seqs = append(seqs, c.Seq)
			}
		}
		if !slices.Equal(seqs, []int64{1, 2, 3, 4}) {
			t.Errorf("%s: seqs %v, want 1 to 4", name, seqs)
		}
		if redone := changes[2][0]; string(redone.Frame) != string(cs[2].Alerts[0].Frame) {
			t.Errorf("%s: the redone change's frame is %s, want it as redone", name, redone.Frame)
		}
		frames, _, ok, err := store.ChangesSince(ctx, "aleppo", 0)
		if err != nil || !ok || len(frames) != 4 {
			t.Fatalf("%s: ChangesSince = %d frames, %v, %v", name, len(frames), ok, err)
		}
		for i, c := range slices.Concat(changes...) {
			if string(frames[i]) != string(c.Frame) {
				t.Errorf("%s: the history's frame %d is %s, want %s", name, i+1, frames[i], c.Frame)
			}
		}
		if _, err := store.CommitAll(ctx, cs[:1]); !errors.Is(err, alerting.ErrDuplicate) {
			t.Errorf("%s: the report committed again: %v, want ErrDuplicate", name, err)
		}

		before := dump(t, rdb)
		args, err := store.CommitArgs(cs[1:2])
		if err != nil {
			t.Fatal(err)
		}
		header, _ := args[2].([]byte)
		args[2] = bytes.Replace(header, []byte(`{"v":2,`), []byte(`{"v":3,`), 1)
		_, err = store.RunCommitScript(ctx, args)
		if err == nil || !strings.Contains(err.Error(), "version 2, not 3") {
			t.Errorf("%s: a header of version 3: %v, want an error naming both versions", name, err)
		}
		if after := dump(t, rdb); after != before {
			t.Errorf("%s: a refused header changed Redis", name)
		}
		dumps[name] = before
	}
	if dumps["redis-server"] != dumps["in memory"] {
		t.Errorf("the in-memory server holds\n%s\nredis-server holds\n%s", dumps["in memory"], dumps["redis-server"])
	}
	for _, want := range []string{
		"tl:alert:al-1 hash json=" + string(mustJSON(t, representativeCommits(t)[0].Alerts[0].Alert)) + " v=1 zone=aleppo",
		"tl:alert:al-1:reports list r0~a1b2 r1~a1b2",
		"tl:alert:al-2 hash json=", " v=2 zone=aleppo",
		"tl:deliveries hash al-1/0/0/duty={\"key\":\"al-1/0/0/duty\",\"alert\":\"al-1\",\"zone\":\"aleppo\"}",
		"tl:deliveries hash al-1/0/0/duty={\"key\":\"al-1/0/0/duty\",\"alert\":\"al-1\",\"zone\":\"aleppo\"} al-2/0/0/co-chairs=",
		"tl:deliveries:normal zset al-1/0/0/duty=1795435200000\n",
		"tl:deliveries:urgent zset al-2/0/0/co-chairs=1795435230000\n",
		"tl:group:shelling:aleppo:shelling string (ttl) al-1",
		"tl:pending:" + weaponGroup + " zset (ttl) r1~a1b2 moderate 1 0 0 1795435140000000000=1795435140000",
		"tl:report:r1~a1b2 hash changes=aleppo 1,aleppo 2 classification={\"regime\":\"aleppo-truce\",\"rules\":[\"shelling\",\"any\"]}",
		"tl:report:r9~c3d4 hash changes=aleppo 3,aleppo 4 ",
		"tl:timers zset al-1=1795435500000",
		"tl:zone:aleppo:active set al-1 al-2 al-3",
		"tl:zone:aleppo:changes zset 1 \"event\":\"opened\",\"report_id\":\"r1~a1b2\",\"alert\":{",
		"tl:zone:aleppo:reports zset r1~a1b2=1795435140000 r9~c3d4=1795435200000",
		"tl:zone:aleppo:seq string 4",
	} {
		if !strings.Contains(dumps["redis-server"], want) {
			t.Errorf("Redis holds no %q:\n%s", want, dumps["redis-server"])
		}
	}
	for _, absent := range []string{"tl:pending:shelling:aleppo:shelling", "al-2/0/0/duty"} {
		if strings.Contains(dumps["redis-server"], absent) {
			t.Errorf("Redis holds %s", absent)
		}
	}
}

// unconnectedStore is a store for what needs no Redis.
func unconnectedStore(t testing.TB) *redisstore.Store {
	t.Helper()
	store, err := redisstore.New(redisstore.Options{Client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// dump lists every key of rdb with its type, whether it expires and its
// contents, one key a line, in order.
func dump(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	var out strings.Builder
	for _, k := range keys {
		typ := rdb.Type(ctx, k).Val()
		fmt.Fprintf(&out, "%s %s", k, typ)
		if rdb.PTTL(ctx, k).Val() > 0 {
			out.WriteString(" (ttl)")
		}
		var items []string
		switch typ {
		case "string":
			items = []string{rdb.Get(ctx, k).Val()}
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				items = append(items, f+"="+v)
			}
			slices.Sort(items)
		case "list":
			items = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			items = rdb.SMembers(ctx, k).Val()
			slices.Sort(items)
		case "zset":
			for _, z := range rdb.ZRangeWithScores(ctx, k, 0, -1).Val() {
				items = append(items, fmt.Sprintf("%s=%.0f", z.Member, z.Score))
			}
		}
		fmt.Fprintf(&out, " %s\n", strings.Join(items, " "))
	}
	return out.String()
}

// representativeCommits is one call's worth of commits that uses every
// part of the commit script's arguments, and applies on an empty Redis:
//
//  1. a report (with its classification and records) that opens an alert
//     from a threshold count (which it clears; another group's count gets a
//     report) binding its group, with a timer and a delivery to queue, and
//     updates a second alert whose claimed delivery is retried later;
//  2. a delivery outcome that takes another of its deliveries off the queue;
//  3. a redo of a report's second change, read back from ALERTS.
func representativeCommits(t testing.TB) []alerting.Commit {
	t.Helper()
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	next := at.Add(5 * time.Minute)
	retry := at.Add(30 * time.Second)
	r1 := &alerting.Report{ID: "r1~a1b2", Zone: "aleppo", Category: alerting.CategoryShelling, ObservedAt: at.Add(-time.Minute), ReportedBy: "unmo"}
	opened := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: "shelling", GroupKey: "shelling:aleppo:shelling", Policy: "p"}, r1, at)
	opened.Escalation = &alerting.Escalation{PassStart: at, NextAt: &next}
	updated := alerting.OpenAlert(alerting.Opening{ID: "al-2", ZoneName: "Aleppo", Rule: "any"}, r1, at)
	outcome := *updated
	outcome.Version = 2
	webhook := alerting.Delivery{Key: "al-1/0/0/duty", Alert: "al-1", Zone: "aleppo"}
	urgent, duty := queuedDeliveries()

	r9 := &alerting.Report{ID: "r9~c3d4", Zone: "aleppo", Category: alerting.CategoryAirstrike, ObservedAt: at, ReportedBy: "unmo"}
	redone := alerting.OpenAlert(alerting.Opening{ID: "al-3", ZoneName: "Aleppo", Rule: "air"}, r9, at)
	redoneJSON := mustJSON(t, redone)
	body, _ := alerting.ChangeBody(alerting.EventOpened, r9.ID, redoneJSON)

	return []alerting.Commit{
		{
			Report: r1, ReceivedAt: at, Classification: alerting.Classification{Regime: "aleppo-truce", Rules: []string{"shelling", "any"}},
			Alerts: []alerting.AlertChange{
				{Alert: opened, Event: alerting.EventOpened, ReportIDs: []string{"r0~a1b2", "r1~a1b2"}, GroupKey: "shelling:aleppo:shelling",
					GroupTTL: 25 * time.Hour, Enqueue: []alerting.Delivery{webhook}},
				{Alert: updated, Event: alerting.EventOpened, ReportIDs: []string{"r1~a1b2"},
					Settle: &alerting.Settle{Delivery: urgent, RetryAt: &retry}},
			},
			Pending: []alerting.PendingChange{
				{GroupKey: "shelling:aleppo:shelling", Expect: 0, Clear: true, TTL: 2 * time.Hour},
				{GroupKey: weaponGroup, Expect: 0, Add: &alerting.PendingReport{ID: "r1~a1b2", ObservedAt: r1.ObservedAt,
					Severity: alerting.SeverityModerate, Killed: 1}, TTL: 2 * time.Hour},
			},
		},
		{Alerts: []alerting.AlertChange{{Alert: &outcome, Event: alerting.EventUpdated, Settle: &alerting.Settle{Delivery: duty}}}},
		{
			Redo: true, ReportChanges: 2, Report: r9, ReceivedAt: at, Classification: alerting.Classification{Rules: []string{"air"}},
			Alerts: []alerting.AlertChange{{Alert: redone, Event: alerting.EventOpened, ReportIDs: []string{r9.ID}, Seq: 4,
				Frame: alerting.ChangeFrame("aleppo", 4, body)}},
		},
	}
}

// weaponGroup is a group key that holds a report's free text, which the
// header escapes and the script must unescape to the same key.
const weaponGroup = `small_arms:aleppo:AK-47 "<7.62 mm>" & Ä`

// queuedDeliveries are the second alert's deliveries, in the queue before
// representativeCommits: an urgent one to retry, and one to take off.
func queuedDeliveries() (urgent, duty alerting.Delivery) {
	return alerting.Delivery{Key: "al-2/0/0/co-chairs", Alert: "al-2", Zone: "aleppo", Urgent: true},
		alerting.Delivery{Key: "al-2/0/0/duty", Alert: "al-2", Zone: "aleppo"}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
