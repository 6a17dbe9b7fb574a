package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// auditServer serves GET /api/v1/audit as the API contract says, from a log
// held in memory, at most page entries at a time.
type auditServer struct {
	mu       sync.Mutex
	entries  []alerting.AuditEntry
	headSeq  int64
	headHash string
	page     int
	requests int
	token    string
	// onEnd runs when a request reaches the end of the log, after the
	// entries were read and before the head is: an append in between.
	onEnd func(s *auditServer)
}

func newAuditServer(t *testing.T, n int) (*auditServer, string) {
	t.Helper()
	s := &auditServer{page: 7}
	for range n {
		s.append("alice", "alert.acknowledge")
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func (s *auditServer) append(actor, action string) {
	var prev *alerting.AuditEntry
	if len(s.entries) > 0 {
		prev = &s.entries[len(s.entries)-1]
	}
	n := len(s.entries)
	e := alerting.Chain(prev, alerting.AuditEntry{At: time.Date(2026, 11, 23, 12, 0, n, 0, time.UTC), Actor: actor, Via: "session",
		Action: action, Object: fmt.Sprintf("alert al-%d", n), Zone: "aleppo", Detail: "as party un", Address: "192.0.2.1"})
	s.entries = append(s.entries, e)
	s.headSeq, s.headHash = e.Seq, e.Hash
}

func (s *auditServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
	}
	if r.Method != "GET" || r.URL.Path != "/api/v1/audit" {
		fail(http.StatusNotFound, "not_found", "no such route")
		return
	}
	if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
		fail(http.StatusUnauthorized, "unauthorized", "a token is required")
		return
	}
	after, err1 := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, err2 := strconv.Atoi(r.URL.Query().Get("limit"))
	if err1 != nil || err2 != nil || after < 0 || limit < 1 || limit > 1000 {
		fail(http.StatusBadRequest, "invalid", "bad after or limit")
		return
	}
	out := []alerting.AuditEntry{}
	for _, e := range s.entries {
		if e.Seq > after && len(out) < min(limit, s.page) {
			out = append(out, e)
		}
	}
	if len(out) == 0 && s.onEnd != nil {
		end := s.onEnd
		s.onEnd = nil
		end(s)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"entries": out, "head": map[string]any{"seq": s.headSeq, "hash": s.headHash}})
}

func TestAuditVerifyClean(t *testing.T) {
	t.Parallel()
	s, url := newAuditServer(t, 25)
	s.token = "sekrit"
	code, out, errOut := trucectl(t, "", "--server", url, "--token", "sekrit", "audit", "verify")
	want := fmt.Sprintf("audit log OK: 25 entries, head 25 %s\n", s.headHash[:12])
	if code != 0 || out != want {
		t.Fatalf("exit %d, %q %q; want %q", code, out, errOut, want)
	}
	if s.requests != 5 { // 4 pages of at most 7, and the empty end
		t.Errorf("%d requests", s.requests)
	}

	code, out, errOut = trucectl(t, "", "--server", url, "--token", "sekrit", "-o", "json", "audit", "verify")
	var v auditVerdict
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.OK || v.Entries != 25 || v.Head.Seq != 25 || len(v.Problems) != 0 {
		t.Fatalf("json: exit %d, %q %q", code, out, errOut)
	}

	// Without the token, the server's refusal is an error.
	if code, _, errOut := trucectl(t, "", "--server", url, "audit", "verify"); code != 1 || !strings.Contains(errOut, "401 unauthorized") {
		t.Fatalf("without a token: exit %d, %q", code, errOut)
	}
}

func TestAuditVerifyEmpty(t *testing.T) {
	t.Parallel()
	_, url := newAuditServer(t, 0)
	if code, out, errOut := trucectl(t, "", "--server", url, "audit", "verify"); code != 0 || out != "audit log OK: 0 entries, head 0 -\n" {
		t.Fatalf("exit %d, %q %q", code, out, errOut)
	}
}

func TestAuditVerifyTampered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(s *auditServer)
		want   []string
	}{
		{"edited", func(s *auditServer) { s.entries[11].Detail = "as party x" },
			[]string{"entry 12 was edited (its hash does not match its content)"}},
		{"edited and re-hashed", func(s *auditServer) {
			s.entries[11].Actor = "mallory"
			s.entries[11].Hash = s.entries[11].ComputeHash()
		}, []string{"entry 13 does not follow entry 12 (prev hash mismatch)"}},
		{"removed", func(s *auditServer) { s.entries = append(s.entries[:6:6], s.entries[7:]...) },
			[]string{"entry 7 is missing (6 is followed by 8)"}},
		{"swapped", func(s *auditServer) { s.entries[3], s.entries[4] = s.entries[4], s.entries[3] },
			[]string{"entry at position 5 has seq 4, after 5: entries were reordered or inserted"}},
		{"tail removed", func(s *auditServer) { s.entries = s.entries[:22] },
			[]string{"the log ends at 22 but the head says 25: entries were removed from the end"}},
		{"two problems", func(s *auditServer) {
			s.entries[1].Detail = "x"
			s.entries[20].Zone = "idlib"
		}, []string{"entry 2 was edited", "entry 21 was edited"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, url := newAuditServer(t, 25)
			tc.tamper(s)
			code, out, errOut := trucectl(t, "", "--server", url, "audit", "verify")
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if code != 1 || len(lines) != len(tc.want) || !strings.Contains(errOut, "failed verification") {
				t.Fatalf("exit %d, %q %q", code, out, errOut)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d: %q, want %q", i+1, lines[i], w)
				}
			}

			code, out, _ = trucectl(t, "", "--server", url, "-o", "json", "audit", "verify")
			var v auditVerdict
			if code != 1 || json.Unmarshal([]byte(out), &v) != nil || v.OK || len(v.Problems) != len(tc.want) {
				t.Fatalf("json: exit %d, %q", code, out)
			}
		})
	}
}

// An entry appended between the server reading the entries and the head is
// not mistaken for tampering: verify asks again.
func TestAuditVerifyAppendWhileReading(t *testing.T) {
	t.Parallel()
	s, url := newAuditServer(t, 10)
	s.onEnd = func(s *auditServer) { s.append("engine", "delivery.sent") }
	code, out, errOut := trucectl(t, "", "--server", url, "audit", "verify")
	if code != 0 || !strings.HasPrefix(out, "audit log OK: 11 entries, head 11 ") {
		t.Fatalf("exit %d, %q %q", code, out, errOut)
	}
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	s, url := newAuditServer(t, 12)
	s.entries[4].Detail = "line one\nline\ttwo \x1b[31mred"
	code, out, errOut := trucectl(t, "", "--server", url, "audit", "list", "--after", "3", "--limit", "5")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 6 {
		t.Fatalf("exit %d, %q %q", code, out, errOut)
	}
	for _, col := range []string{"SEQ", "AT", "ACTOR", "VIA", "ACTION", "OBJECT", "DETAIL"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %s", lines[0], col)
		}
	}
	if f := strings.Fields(lines[1]); f[0] != "4" || f[1] != "2026-11-23" || f[2] != "12:00:03Z" || f[3] != "alice" || f[4] != "session" || f[5] != "alert.acknowledge" {
		t.Errorf("row %q", lines[1])
	}
	if !strings.Contains(lines[2], "line one line two  [31mred") || strings.ContainsRune(out, '\x1b') {
		t.Errorf("control characters reach the terminal: %q", lines[2])
	}

	code, out, errOut = trucectl(t, "", "--server", url, "-o", "json", "audit", "list", "--after", "10")
	var a auditAnswer
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || len(a.Entries) != 2 || a.Entries[0].Seq != 11 || a.Head.Seq != 12 || a.Head.Hash != s.headHash {
		t.Fatalf("json: exit %d, %q %q", code, out, errOut)
	}

	for _, args := range [][]string{{"--limit", "0"}, {"--limit", "1001"}, {"--after", "-1"}, {"extra"}} {
		if code, _, _ := trucectl(t, "", append([]string{"--server", url, "audit", "list"}, args...)...); code != 2 {
			t.Errorf("audit list %v: exit %d, want 2", args, code)
		}
	}
}
