package alerting

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// AuditGenesis is the Prev of the first audit entry: 64 zero hex digits.
const AuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditEntry is one recorded change. Seq counts from 1 without gaps; Prev is
// the Hash of the entry before (AuditGenesis for the first); Hash =
// hex(SHA-256(Prev + "\n" + canonical JSON of the entry without Hash)), so
// each entry seals its own content and the whole log before it.
type AuditEntry struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`             // user name, "engine", "delivery", "anonymous"
	Via     string    `json:"via,omitempty"`     // "session", "token <id>", "ack link", "nats"...
	Action  string    `json:"action"`            // e.g. "alert.ack", "config.apply", "login", "token.create", "user.create", "delivery.sent" (docs/AUDIT.md lists them)
	Object  string    `json:"object,omitempty"`  // what it acted on: "alert al-…", "rules/r1", "user alice"
	Zone    string    `json:"zone,omitempty"`    // the zone concerned, if one
	Detail  string    `json:"detail,omitempty"`  // short free text; NEVER secrets
	Address string    `json:"address,omitempty"` // client IP when known
	Prev    string    `json:"prev"`
	Hash    string    `json:"hash"`
}

// CanonicalJSON is what an entry's hash covers: the entry as JSON in field
// order with "hash" empty, At in UTC with nanoseconds (RFC 3339), no HTML
// escaping, no insignificant white space.
func (e AuditEntry) CanonicalJSON() ([]byte, error) {
	e.Hash = ""
	e.At = e.At.UTC()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode audit entry %d: %w", e.Seq, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ComputeHash returns the hash the entry should carry given its content and
// Prev: hex(SHA-256(Prev + "\n" + CanonicalJSON)). It is "" for an entry
// that cannot be encoded (a time outside the years 0 to 9999).
func (e AuditEntry) ComputeHash() string {
	data, err := e.CanonicalJSON()
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(e.Prev))
	h.Write([]byte("\n"))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// Chain fills Seq, Prev and Hash of e as the entry after prev (nil for the
// first), with At in UTC.
func Chain(prev *AuditEntry, e AuditEntry) AuditEntry {
	e.At = e.At.UTC()
	if prev == nil {
		e.Seq, e.Prev = 1, AuditGenesis
	} else {
		e.Seq, e.Prev = prev.Seq+1, prev.Hash
	}
	e.Hash = e.ComputeHash()
	return e
}

// AuditProblem is one thing wrong with an audit log. Seq is the entry it
// concerns (for a missing run, the first missing one); Position counts the
// log's entries from 1 (len+1 for a problem at the end, 0 when none applies).
type AuditProblem struct {
	Seq      int64  `json:"seq"`
	Position int    `json:"position"`
	Problem  string `json:"problem"`
}

// VerifyAudit checks a whole log in order, plus the head the store recorded
// (seq and hash of the last entry), and returns every problem found, in the
// order of the log; none for an intact log. A headSeq below 0 skips the head
// check (a log exported without its head).
//
// It finds entries whose content no longer matches their hash (edited),
// seqs that are absent (removed), out of order or repeated (reordered or
// inserted), entries whose Prev is not the hash of the entry before (edited
// and re-hashed, or replaced), and a log that ends before or after its head,
// or at an entry that is not the one the head names.
func VerifyAudit(entries []AuditEntry, headSeq int64, headHash string) []AuditProblem {
	var out []AuditProblem
	add := func(seq int64, pos int, format string, args ...any) {
		out = append(out, AuditProblem{Seq: seq, Position: pos, Problem: fmt.Sprintf(format, args...)})
	}
	firstPos := make(map[int64]int, len(entries)) // seq -> position of its first entry
	for i, e := range entries {
		pos := i + 1
		if e.Seq < 1 {
			add(e.Seq, pos, "entry at position %d has seq %d: seqs count from 1, so it was forged", pos, e.Seq)
			continue
		}
		if _, seen := firstPos[e.Seq]; !seen {
			firstPos[e.Seq] = pos
		}
		if e.ComputeHash() != e.Hash {
			add(e.Seq, pos, "entry %d was edited (its hash does not match its content)", e.Seq)
		}
		var prevSeq int64
		if i > 0 {
			prevSeq = entries[i-1].Seq
		}
		switch {
		case e.Seq == prevSeq+1 && i == 0:
			if e.Prev != AuditGenesis {
				add(e.Seq, pos, "entry 1 does not start the chain (its prev is not 64 zeros)")
			}
		case e.Seq == prevSeq+1:
			if e.Prev != entries[i-1].Hash {
				add(e.Seq, pos, "entry %d does not follow entry %d (prev hash mismatch)", e.Seq, prevSeq)
			}
		case e.Seq <= prevSeq:
			add(e.Seq, pos, "entry at position %d has seq %d, after %d: entries were reordered or inserted", pos, e.Seq, prevSeq)
		}
		// A seq that jumps ahead is either a gap (found below) or an entry
		// out of order, reported where the displaced one appears.
	}
	// Seqs absent from the whole log: each run is reported where the entry
	// after it is.
	seqs := make([]int64, 0, len(firstPos))
	for seq := range firstPos {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	var upTo int64
	for _, seq := range seqs {
		if seq > upTo+1 {
			from, to, pos := upTo+1, seq-1, firstPos[seq]
			what := fmt.Sprintf("entry %d is missing", from)
			if to > from {
				what = fmt.Sprintf("entries %d to %d are missing", from, to)
			}
			switch {
			case pos == 1:
				what += fmt.Sprintf(" (the log starts at %d)", seq)
			case entries[pos-2].Seq == from-1:
				what += fmt.Sprintf(" (%d is followed by %d)", from-1, seq)
			}
			add(from, pos, "%s", what)
		}
		upTo = seq
	}
	slices.SortStableFunc(out, func(a, b AuditProblem) int { return cmp.Compare(a.Position, b.Position) })
	if headSeq < 0 {
		return out
	}
	end := len(entries) + 1
	if len(entries) == 0 {
		if headSeq > 0 {
			add(1, end, "the log is empty but the head says %d: entries were removed", headSeq)
		}
		return out
	}
	last := entries[len(entries)-1]
	switch {
	case headSeq == 0 && headHash == "":
		add(last.Seq, end-1, "the log ends at %d but there is no head: the head was removed", last.Seq)
	case last.Seq < headSeq:
		add(last.Seq+1, end, "the log ends at %d but the head says %d: entries were removed from the end", last.Seq, headSeq)
	case last.Seq > headSeq:
		add(headSeq+1, end, "the log ends at %d but the head says %d: entries were added without updating the head", last.Seq, headSeq)
	case last.Hash != headHash:
		add(last.Seq, end-1, "entry %d is not the one the head names (hash %s, head %s): the last entry was replaced", last.Seq, auditShort(last.Hash), auditShort(headHash))
	}
	return out
}

func auditShort(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	if hash == "" {
		return `""`
	}
	return hash
}
