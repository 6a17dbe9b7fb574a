package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
)

func auditStore(t *testing.T) (*redisstore.Store, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	store, err := redisstore.New(redisstore.Options{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	return store, rdb
}

func TestAuditAppendConcurrentlyAndDetectTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, rdb := auditStore(t)

	if seq, hash, err := store.AuditHead(ctx); err != nil || seq != 0 || hash != "" {
		t.Fatalf("empty head: %d %q %v", seq, hash, err)
	}
	if ps, n, err := store.VerifyAudit(ctx); err != nil || len(ps) != 0 || n != 0 {
		t.Fatalf("empty log: %v %d %v", ps, n, err)
	}

	// 50 entries from 4 appenders at once: one chain without gaps.
	const total, writers = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, total)
	appended := make([][]alerting.AuditEntry, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < total; i += writers {
				e, err := store.AppendAudit(ctx, alerting.AuditEntry{At: t0.Add(time.Duration(i) * time.Millisecond),
					Actor: fmt.Sprintf("writer-%d", w), Via: "session", Action: "alert.acknowledge",
					Object: fmt.Sprintf("alert al-%d", i), Zone: "aleppo", Detail: fmt.Sprintf("entry %d", i), Address: "192.0.2.1"})
				if err != nil {
					errs <- err
					return
				}
				appended[w] = append(appended[w], e)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	entries, err := store.AuditEntries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != total {
		t.Fatalf("%d entries, want %d", len(entries), total)
	}
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Fatalf("position %d has seq %d", i+1, e.Seq)
		}
	}
	for w, mine := range appended {
		for i, e := range mine {
			if got := entries[e.Seq-1]; got.Hash != e.Hash || got.ComputeHash() != e.Hash || !got.At.Equal(e.At) || got.Actor != e.Actor {
				t.Fatalf("writer %d's entry %d: stored %+v, returned %+v", w, i, got, e)
			}
			if i > 0 && e.Seq <= mine[i-1].Seq {
				t.Fatalf("writer %d's entries out of order", w)
			}
		}
	}
	seq, hash, err := store.AuditHead(ctx)
	if err != nil || seq != total || hash != entries[total-1].Hash {
		t.Fatalf("head %d %s (%v), want %d %s", seq, hash, err, total, entries[total-1].Hash)
	}
	if ps := alerting.VerifyAudit(entries, seq, hash); len(ps) != 0 {
		t.Fatalf("fresh log: %+v", ps)
	}
	if ps, n, err := store.VerifyAudit(ctx); err != nil || len(ps) != 0 || n != total {
		t.Fatalf("fresh log: %+v, %d checked, %v", ps, n, err)
	}

	// Pages.
	page, err := store.AuditEntries(ctx, 20, 10)
	if err != nil || len(page) != 10 || page[0].Seq != 21 || page[9].Seq != 30 {
		t.Fatalf("page after 20: %v %v", auditSeqs(page), err)
	}
	if page, err := store.AuditEntries(ctx, 45, 10); err != nil || len(page) != 5 || page[0].Seq != 46 {
		t.Fatalf("page after 45: %v %v", auditSeqs(page), err)
	}
	if page, err := store.AuditEntries(ctx, total, 10); err != nil || len(page) != 0 {
		t.Fatalf("page after the end: %v %v", auditSeqs(page), err)
	}

	// Tampering, each on the intact log, each found and named.
	key, headKey := "tl:audit", "tl:audit:head"
	raw, err := rdb.LRange(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	restore := func(t *testing.T) {
		t.Helper()
		if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, key)
			p.RPush(ctx, key, auditAny(raw)...)
			p.HSet(ctx, headKey, "seq", seq, "hash", hash)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(i int) alerting.AuditEntry { return entries[i-1] }
	encode := func(e alerting.AuditEntry) string {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	do := func(t *testing.T, cmd *redis.IntCmd) {
		t.Helper()
		if err := cmd.Err(); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(t *testing.T, wantSeq int64, wantPos int, text string) []alerting.AuditProblem {
		t.Helper()
		ps, _, err := store.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 || ps[0].Seq != wantSeq || ps[0].Position != wantPos || !strings.Contains(ps[0].Problem, text) {
			t.Fatalf("got %+v, want one problem with seq %d, position %d, %q", ps, wantSeq, wantPos, text)
		}
		// What a client checking the API's pages finds is the same.
		all, err := store.AuditEntries(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		hs, hh, err := store.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cps := alerting.VerifyAudit(all, hs, hh); len(cps) != 1 || cps[0].Seq != wantSeq || !strings.Contains(cps[0].Problem, text) {
			t.Fatalf("over the entries: %+v", cps)
		}
		return ps
	}

	t.Run("edited in place", func(t *testing.T) {
		restore(t)
		e := entry(7)
		e.Detail = "nothing happened"
		if err := rdb.LSet(ctx, key, 6, encode(e)).Err(); err != nil {
			t.Fatal(err)
		}
		expect(t, 7, 7, "entry 7 was edited (its hash does not match its content)")
	})
	t.Run("edited and re-hashed", func(t *testing.T) {
		restore(t)
		e := entry(7)
		e.Actor, e.Detail = "mallory", "acknowledged on the phone"
		e.Hash = e.ComputeHash()
		if err := rdb.LSet(ctx, key, 6, encode(e)).Err(); err != nil {
			t.Fatal(err)
		}
		expect(t, 8, 8, "entry 8 does not follow entry 7 (prev hash mismatch)")
	})
	t.Run("removed", func(t *testing.T) {
		restore(t)
		do(t, rdb.LRem(ctx, key, 1, raw[11]))
		expect(t, 12, 12, "entry 12 is missing (11 is followed by 13)")
		// Later pages are read where the entries now are.
		page, err := store.AuditEntries(ctx, 20, 5)
		if err != nil || len(page) != 5 || page[0].Seq != 21 || page[4].Seq != 25 {
			t.Fatalf("page after 20: %v %v", auditSeqs(page), err)
		}
	})
	t.Run("forged entry inserted", func(t *testing.T) {
		restore(t)
		prev := entry(19)
		forged := alerting.Chain(&prev, alerting.AuditEntry{At: entry(20).At, Actor: "mallory", Via: "session",
			Action: "alert.resolve", Object: "alert al-x", Zone: "aleppo"})
		do(t, rdb.LInsertBefore(ctx, key, raw[19], encode(forged)))
		expect(t, 20, 21, "entry at position 21 has seq 20, after 20: entries were reordered or inserted")
		// Pages skip what sits before the point asked for.
		page, err := store.AuditEntries(ctx, 20, 5)
		if err != nil || len(page) != 5 || page[0].Seq != 21 {
			t.Fatalf("page after 20: %v %v", auditSeqs(page), err)
		}
	})
	t.Run("swapped", func(t *testing.T) {
		restore(t)
		if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.LSet(ctx, key, 29, raw[30])
			p.LSet(ctx, key, 30, raw[29])
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		expect(t, 30, 31, "entry at position 31 has seq 30, after 31: entries were reordered or inserted")
	})
	t.Run("tail removed", func(t *testing.T) {
		restore(t)
		if err := rdb.RPop(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		expect(t, 50, 50, "the log ends at 49 but the head says 50: entries were removed from the end")
	})
	t.Run("appended without the head", func(t *testing.T) {
		restore(t)
		last := entry(50)
		do(t, rdb.RPush(ctx, key, encode(alerting.Chain(&last, alerting.AuditEntry{At: t0, Actor: "mallory", Action: "login"}))))
		expect(t, 51, 52, "the log ends at 51 but the head says 50: entries were added without updating the head")
	})
	t.Run("not an entry", func(t *testing.T) {
		restore(t)
		if err := rdb.LSet(ctx, key, 9, "garbage").Err(); err != nil {
			t.Fatal(err)
		}
		ps, _, err := store.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 2 || ps[0].Position != 10 || !strings.Contains(ps[0].Problem, "position 10 is not an audit entry") ||
			ps[1].Seq != 10 || !strings.Contains(ps[1].Problem, "entry 10 is missing (9 is followed by 11)") {
			t.Fatalf("got %+v", ps)
		}
		if _, err := store.AuditEntries(ctx, 0, 1000); alerting.ErrorCode(err) != alerting.EINTERNAL ||
			!strings.Contains(alerting.ErrorMessage(err), "position 10 is not an audit entry") {
			t.Fatalf("entries: %v", err)
		}
	})

	// Appending goes on from the head, whatever happened to the list.
	restore(t)
	next, err := store.AppendAudit(ctx, alerting.AuditEntry{Actor: "engine", Action: "delivery.sent"})
	if err != nil || next.Seq != total+1 || next.Prev != hash || next.At.IsZero() {
		t.Fatalf("append after the test: %+v %v", next, err)
	}
	if ps, n, err := store.VerifyAudit(ctx); err != nil || len(ps) != 0 || n != total+1 {
		t.Fatalf("restored log: %+v, %d checked, %v", ps, n, err)
	}
}

func TestAuditAppendRejectsIncompleteEntries(t *testing.T) {
	t.Parallel()
	store, _ := auditStore(t)
	_, err := store.AppendAudit(context.Background(), alerting.AuditEntry{Detail: "who did what?"})
	if alerting.ErrorCode(err) != alerting.EINVALID || len(alerting.ErrorFields(err)) != 2 {
		t.Fatalf("got %v", err)
	}
	if seq, _, err := store.AuditHead(context.Background()); err != nil || seq != 0 {
		t.Fatalf("head moved: %d %v", seq, err)
	}
}

func TestAuditVerifyReadsPagesOfAThousand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, rdb := auditStore(t)
	// 2,345 entries, chained here and written in one go.
	var prev *alerting.AuditEntry
	texts := make([]any, 0, 2345)
	for i := range 2345 {
		e := alerting.Chain(prev, alerting.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "engine", Action: "delivery.sent"})
		prev = &e
		data, _ := json.Marshal(e)
		texts = append(texts, string(data))
	}
	if err := rdb.RPush(ctx, "tl:audit", texts...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "tl:audit:head", "seq", prev.Seq, "hash", prev.Hash).Err(); err != nil {
		t.Fatal(err)
	}
	if ps, n, err := store.VerifyAudit(ctx); err != nil || len(ps) != 0 || n != 2345 {
		t.Fatalf("%+v, %d checked, %v", ps, n, err)
	}
	// Tampering on the second page is placed right.
	if err := rdb.LRem(ctx, "tl:audit", 1, texts[1499]).Err(); err != nil {
		t.Fatal(err)
	}
	ps, n, err := store.VerifyAudit(ctx)
	if err != nil || n != 2344 || len(ps) != 1 || ps[0].Seq != 1500 || ps[0].Position != 1500 {
		t.Fatalf("%+v, %d checked, %v", ps, n, err)
	}
	if _, err := store.AuditEntries(ctx, 0, 5000); err != nil {
		t.Fatal(err)
	}
	if page, _ := store.AuditEntries(ctx, 0, 5000); len(page) != 1000 {
		t.Fatalf("a page holds %d entries, want at most 1000", len(page))
	}
	if page, _ := store.AuditEntries(ctx, 1600, 3); len(page) != 3 || page[0].Seq != 1601 {
		t.Fatalf("after 1600: %v", auditSeqs(page))
	}
}

func auditSeqs(entries []alerting.AuditEntry) []int64 {
	out := make([]int64, len(entries))
	for i, e := range entries {
		out[i] = e.Seq
	}
	return out
}

func auditAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
