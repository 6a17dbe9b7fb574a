package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// TestDocumentedExamplesAreRealAnswers holds every JSON example of
// docs/API.md and docs/WEBSOCKET.md (each ```json block) to what a real
// server answers or sends: request bodies are sent as written (only times
// are made current where the docs say `$(date …)`), answers and frames are
// compared with the real ones by the shape rule below, and examples that can
// be reproduced exactly (error bodies, the error frame, configuration
// objects) are compared value for value.
//
// Each block is named by an HTML comment on the line before it,
// <!-- example: NAME -->, and NAME must be one of docChecks: a new block
// without a marker, or with a marker the test does not know, fails, and so
// does a check whose example is gone. A block that truly cannot be
// reproduced is marked <!-- example: illustrative, not checked: WHY -->.
func TestDocumentedExamplesAreRealAnswers(t *testing.T) {
	t.Parallel()
	examples := readDocExamples(t)
	if t.Failed() {
		return
	}
	e := newDocEnv(t, examples)
	for _, c := range docChecks {
		ex := examples[c.name]
		t.Run(c.sub, func(t *testing.T) {
			t.Logf("%s:%d: %s", ex.file, ex.line, ex.name)
			c.check(t, e, ex)
		})
	}
}

// docCheck checks the example of the marker name against the server.
type docCheck struct {
	name  string // the marker's NAME
	sub   string // the subtest's name
	check func(t *testing.T, e *docEnv, ex docExample)
}

// docChecks run in this order: the ones that take Redis down come last.
var docChecks = []docCheck{
	{"error body", "error-body", checkErrorBody},
	{"POST /api/v1/reports answer", "report-accepted", checkReportAccepted},
	{"POST /api/v1/reports answer: invalid", "report-invalid", checkReportInvalid},
	{"GET /api/v1/reports/{id} answer", "report", checkStoredReport},
	{"the Alert object", "alert", checkAlertObject},
	{"GET /api/v1/alerts answer", "alerts", checkAlertList},
	{"GET /api/v1/alerts/{id}/reports answer", "alert-reports", checkAlertReports},
	{"an answered request for information", "info-request", checkInfoRequest},
	{"POST /api/v1/config bodies: zones, parties", "zones-parties", checkZonesParties},
	{"GET /api/v1/summary answer", "summary", checkSummary},
	{"GET /readyz answer: healing", "readyz-healing", checkReadyzHealing},
	{"client messages: subscribe, subscribe *, unsubscribe", "ws-client", checkClientMessages},
	{"frame snapshot", "ws-snapshot", checkSnapshotFrame},
	{"frame resumed", "ws-resumed", checkResumedFrame},
	{"frame alert", "ws-alert", checkAlertFrame},
	{"frame error", "ws-error", checkErrorFrame},
	{"GET /readyz answers: ready, not ready", "readyz", checkReadyz},
	{"frame heartbeat", "ws-heartbeat", checkHeartbeatFrame},
}

// docRefs are the {…Name…} placeholders of the examples: each stands for
// the example of the marker named here.
var docRefs = map[string]string{"Alert": "the Alert object"}

// docExample is one ```json block.
type docExample struct {
	file string // API.md
	line int    // of the opening fence
	name string // the marker's NAME
	text string // as written
	// values are its JSON documents (one block may hold several, one a
	// line), with the elisions made explicit (see explicit).
	values []any
}

var (
	markerRE = regexp.MustCompile(`^\s*<!--\s*example:\s*(.*?)\s*-->\s*$`)
	fenceRE  = regexp.MustCompile("^\\s*```(\\S*)")
)

// readDocExamples reads every ```json block of the two documents, by its
// marker, and fails on a block without a marker, a marker without a block,
// a name used twice, a name no check knows, and a check without an example.
func readDocExamples(t *testing.T) map[string]docExample {
	t.Helper()
	out := map[string]docExample{}
	known := map[string]bool{}
	for _, c := range docChecks {
		known[c.name] = true
	}
	for _, file := range []string{"API.md", "WEBSOCKET.md"} {
		lines := strings.Split(docText(t, file), "\n")
		inFence, marker, markerLine := false, "", 0
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			if m := fenceRE.FindStringSubmatch(line); m != nil {
				if inFence {
					inFence = false
					continue
				}
				inFence = true
				if m[1] != "json" {
					if marker != "" {
						t.Errorf("%s:%d: the marker %q is before a ```%s block, not a ```json one", file, markerLine, marker, m[1])
						marker = ""
					}
					continue
				}
				end := i + 1
				for end < len(lines) && !fenceRE.MatchString(lines[end]) {
					end++
				}
				ex := docExample{file: file, line: i + 1, name: marker, text: strings.Join(lines[i+1:end], "\n")}
				marker = ""
				switch {
				case ex.name == "":
					t.Errorf("%s:%d: a ```json block without <!-- example: NAME --> on the line before it; name it and add its check to docChecks", file, ex.line)
					continue
				case strings.HasPrefix(ex.name, "illustrative, not checked:"):
					if strings.TrimSpace(strings.TrimPrefix(ex.name, "illustrative, not checked:")) == "" {
						t.Errorf("%s:%d: an illustrative example must say why it is not checked", file, ex.line)
					}
					t.Logf("%s:%d: not checked: %s", file, ex.line, ex.name)
					continue
				case !known[ex.name]:
					t.Errorf("%s:%d: no check knows the example %q; add one to docChecks", file, ex.line, ex.name)
					continue
				case out[ex.name].file != "":
					t.Errorf("%s:%d: the example %q is also at %s:%d", file, ex.line, ex.name, out[ex.name].file, out[ex.name].line)
					continue
				}
				dec := json.NewDecoder(strings.NewReader(explicit(ex.text)))
				for {
					var v any
					err := dec.Decode(&v)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Errorf("%s:%d: the example %q is not JSON (with … as an elision): %v", file, ex.line, ex.name, err)
						break
					}
					ex.values = append(ex.values, v)
				}
				out[ex.name] = ex
				continue
			}
			if inFence {
				continue
			}
			if m := markerRE.FindStringSubmatch(line); m != nil {
				if marker != "" {
					t.Errorf("%s:%d: the marker %q is followed by no ```json block", file, markerLine, marker)
				}
				marker, markerLine = m[1], i+1
				continue
			}
			if marker != "" && strings.TrimSpace(line) != "" {
				t.Errorf("%s:%d: the marker %q is not right before a ```json block", file, markerLine, marker)
				marker = ""
			}
		}
		if marker != "" {
			t.Errorf("%s:%d: the marker %q is followed by no ```json block", file, markerLine, marker)
		}
	}
	for _, c := range docChecks {
		if _, ok := out[c.name]; !ok {
			t.Errorf("docs/API.md and docs/WEBSOCKET.md have no example %q, which docChecks checks; remove the check or restore the marker", c.name)
		}
	}
	return out
}

func docText(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// refRE is a placeholder for another example's object: {…Alert…}.
var refRE = regexp.MustCompile(`^\{…(\w+)…\}`)

// explicit turns the elisions of an example into JSON the shape rule reads:
// {…Name…} becomes {"…": "Name"} (the example named in docRefs), and a …
// outside a string becomes the member "…": "…" in an object (the object
// shows some of its keys: {…} shows none) or the element "…" in an array
// (more elements).
func explicit(block string) string {
	var b strings.Builder
	var stack []rune
	inString, escaped := false, false
	for i := 0; i < len(block); {
		r, size := utf8.DecodeRuneInString(block[i:])
		if inString {
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == '"':
				inString = false
			}
			b.WriteString(block[i : i+size])
			i += size
			continue
		}
		if m := refRE.FindStringSubmatch(block[i:]); m != nil {
			b.WriteString(`{"…":` + strconv.Quote(m[1]) + `}`)
			i += len(m[0])
			continue
		}
		switch r {
		case '"':
			inString = true
		case '{', '[':
			stack = append(stack, r)
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case '…':
			if len(stack) > 0 && stack[len(stack)-1] == '{' {
				b.WriteString(`"…":"…"`)
			} else {
				b.WriteString(`"…"`)
			}
			i += size
			continue
		}
		b.WriteString(block[i : i+size])
		i += size
	}
	return b.String()
}

// The shape rule: an example and a real answer have the same shape when
//
//   - objects: every key the example shows is in the answer, and every key
//     of the answer is in the example, unless the example elides the rest
//     ({"key": 1, …}; {…} shows no key at all). A key the answer may lack in
//     the case reproduced (it is omitted when empty, say) is named in the
//     check's optional paths, and only there;
//   - arrays: each element the example shows is compared with the answer's
//     element at the same index, or with its last one when the answer's
//     array is shorter. An empty array in the answer fails (nothing to
//     compare), unless its path is optional;
//   - values: the same JSON kind (string, number, boolean, null, object,
//     array); a time in the example (RFC 3339) is a time in the answer; and
//     the values of fixed vocabularies (the keys of vocabularyKeys: frame
//     types, events, states, codes, …) are equal, except inside a
//     {…Name…}, which shows another case (the Alert object in a frame).
//
// So a field renamed, removed or added on either side fails, as does a
// vocabulary word that changed, while ids, times, counts and free text may
// differ. Paths are written key.key[].key from the top.
var vocabularyKeys = map[string]bool{
	"type": true, "event": true, "state": true, "code": true, "verification": true, "severity": true,
	"category": true, "status": true, "via": true, "reason": true, "action": true, "source_type": true,
	"certainty": true, "ready": true,
}

type shape struct {
	optional map[string]bool // paths the answer may lack, or hold as an empty array
	refs     map[string]any  // {…Name…} → the example it stands for
	// inRef: comparing with another example ({…Name…}), which shows
	// another case: its vocabulary values are not this one's.
	inRef    bool
	problems []string
}

func (s *shape) diff(path string, doc, real any) {
	if m, ok := doc.(map[string]any); ok {
		if name, ok := m["…"].(string); ok && name != "…" {
			ref, ok := s.refs[name]
			if !ok {
				s.problems = append(s.problems, fmt.Sprintf("%s: {…%s…} names no example (docRefs)", show(path), name))
				return
			}
			inRef := s.inRef
			s.inRef = true
			s.diff(path, ref, real)
			s.inRef = inRef
			return
		}
	}
	if kind(doc) != kind(real) {
		s.problems = append(s.problems, fmt.Sprintf("%s: %s in the docs, %s in the answer (%s)", show(path), kind(doc), kind(real), brief(real)))
		return
	}
	switch d := doc.(type) {
	case map[string]any:
		r := real.(map[string]any)
		_, open := d["…"]
		for _, k := range sortedKeys(d) {
			if k == "…" {
				continue
			}
			p := join(path, k)
			rv, ok := r[k]
			if !ok {
				if !s.optional[p] {
					s.problems = append(s.problems, fmt.Sprintf("%s: in the docs, not in the answer", show(p)))
				}
				continue
			}
			s.diff(p, d[k], rv)
		}
		if !open {
			for _, k := range sortedKeys(r) {
				if _, ok := d[k]; !ok {
					s.problems = append(s.problems, fmt.Sprintf("%s: in the answer (%s), not in the docs", show(join(path, k)), brief(r[k])))
				}
			}
		}
	case []any:
		r := real.([]any)
		var shown []any
		for _, v := range d {
			if v != "…" {
				shown = append(shown, v)
			}
		}
		if len(r) == 0 {
			if len(shown) > 0 && !s.optional[path] {
				s.problems = append(s.problems, fmt.Sprintf("%s: the answer's array is empty, so the example's elements cannot be checked", show(path)))
			}
			return
		}
		for i, v := range shown {
			s.diff(path+"[]", v, r[min(i, len(r)-1)])
		}
	case string:
		if _, err := time.Parse(time.RFC3339Nano, d); err == nil {
			if _, err := time.Parse(time.RFC3339Nano, real.(string)); err != nil {
				s.problems = append(s.problems, fmt.Sprintf("%s: a time in the docs (%s), %q in the answer", show(path), d, real))
			}
		}
		if vocabularyKeys[lastKey(path)] && !s.inRef && d != real {
			s.problems = append(s.problems, fmt.Sprintf("%s: %q in the docs, %q in the answer", show(path), d, real))
		}
	case bool:
		if vocabularyKeys[lastKey(path)] && !s.inRef && d != real {
			s.problems = append(s.problems, fmt.Sprintf("%s: %v in the docs, %v in the answer", show(path), d, real))
		}
	}
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func show(path string) string {
	if path == "" {
		return "(the whole answer)"
	}
	return path
}

func lastKey(path string) string {
	path = strings.TrimSuffix(path, "[]")
	return path[strings.LastIndexByte(path, '.')+1:]
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// brief is a value as JSON, cut short.
func brief(v any) string {
	data, _ := json.Marshal(v)
	if len(data) > 120 {
		return string(data[:120]) + "…"
	}
	return string(data)
}

// sameShape fails unless real has the shape of the documented doc.
func (e *docEnv) sameShape(t *testing.T, what string, doc, real any, optional ...string) {
	t.Helper()
	if problems := e.shapeDiff(doc, real, optional...); len(problems) > 0 {
		t.Errorf("%s differs from the docs:\n\t%s\nthe answer: %s", what, strings.Join(problems, "\n\t"), brief(real))
	}
}

func (e *docEnv) shapeDiff(doc, real any, optional ...string) []string {
	s := &shape{optional: map[string]bool{}, refs: e.refs}
	for _, p := range optional {
		s.optional[p] = true
	}
	s.diff("", doc, real)
	return s.problems
}

// lookup is the value at path (object keys, array indexes) in v, if any.
func lookup(v any, path ...any) (any, bool) {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[p]; !ok {
				return nil, false
			}
		case int:
			a, ok := v.([]any)
			if !ok || p >= len(a) {
				return nil, false
			}
			v = a[p]
		}
	}
	return v, true
}

// must is the value at path in v (an example, or an answer), failing the
// test when v has no T there.
func must[T any](t *testing.T, what string, v any, path ...any) T {
	t.Helper()
	x, _ := lookup(v, path...)
	out, ok := x.(T)
	if !ok {
		t.Fatalf("%s has no %T at %v: %s", what, out, path, brief(v))
	}
	return out
}

// sameValue fails unless real is, as JSON, exactly the documented doc.
func sameValue(t *testing.T, what string, doc, real any) {
	t.Helper()
	if !reflect.DeepEqual(doc, real) {
		t.Errorf("%s differs from the docs:\nthe docs:   %s\nthe answer: %s", what, brief(doc), brief(real))
	}
}

// docEnv is the server the examples are held to, with the users and the
// alerts they need.
type docEnv struct {
	d        *deps
	a        *app.App
	refs     map[string]any
	admin    string // the test admin's token
	reporter string // unmo-north's, a reporter of aleppo
	duty     string // Duty officer Rahman's, of party-a

	acceptedKey string // the documented report, as the server keeps it
	alertID     string // the Alert object's alert
}

func newDocEnv(t *testing.T, examples map[string]docExample) *docEnv {
	t.Helper()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.WSHeartbeat = 200 * time.Millisecond
	// The examples' reports are of 23 November 2026, days before the tests
	// run: none is late here, so that they open the alerts they document.
	cfg.LateAfter = 0
	a := start(t, cfg)
	admin, _ := tokens.Load(a.HTTPAddr())
	e := &docEnv{d: d, a: a, refs: map[string]any{}, admin: admin.(string)}
	for ref, name := range docRefs {
		if ex, ok := examples[name]; ok && len(ex.values) == 1 {
			e.refs[ref] = ex.values[0]
		}
	}
	e.reporter = userToken(t, a, alerting.User{Name: "unmo-north", FullName: "UN monitoring team north", Role: alerting.RoleReporter, Zones: []string{"aleppo"}})
	e.duty = userToken(t, a, alerting.User{Name: "duty-rahman", FullName: "Duty officer Rahman", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	return e
}

// do makes one request and decodes its JSON answer (nil for none).
func (e *docEnv) do(t *testing.T, token, method, path, body string) (int, any) {
	t.Helper()
	status, text := call(t, e.a, token, method, path, body)
	var v any
	if text != "" {
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %v: %s", method, path, status, err, text)
		}
	}
	return status, v
}

// expect is do, failing unless the status is want.
func (e *docEnv) expect(t *testing.T, want int, token, method, path, body string) any {
	t.Helper()
	status, v := e.do(t, token, method, path, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, brief(v), want)
	}
	return v
}

// stored waits until the engine has processed the report kept as key.
func (e *docEnv) stored(t *testing.T, key string) {
	t.Helper()
	alertingtest.Eventually(t, 10*time.Second, "report "+key+" to be processed", func() bool {
		status, _ := call(t, e.a, e.admin, "GET", "/api/v1/reports/"+key, "")
		return status == http.StatusOK
	})
}

// report sends a report as token and returns the id the server keeps it under.
func (e *docEnv) report(t *testing.T, token string, fields map[string]any) string {
	t.Helper()
	body, _ := json.Marshal(fields)
	v := e.expect(t, http.StatusAccepted, token, "POST", "/api/v1/reports", string(body))
	return must[string](t, "the 202", v, "id")
}

// redisDown runs f with Redis killed, and brings Redis back after it.
func (e *docEnv) redisDown(t *testing.T, f func()) {
	t.Helper()
	e.d.redis.Kill(t)
	defer func() {
		e.d.redis.Restart(t)
		waitReady(t, e.a, 30*time.Second, http.StatusOK, true, true)
	}()
	f()
}

// curlBody is the body (-d '…') of the nth curl command after the text
// after, with the shell's $(date …) made the current time.
func curlBody(t *testing.T, doc, after string, n int) string {
	t.Helper()
	i := strings.Index(doc, after)
	if i < 0 {
		t.Fatalf("the docs no longer say %q", after)
	}
	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	text := regexp.MustCompile(`'"\$\(date [^)]*\)"'`).ReplaceAllString(doc[i:], now)
	bodies := regexp.MustCompile(`(?s)-d '(\{.*?\})'`).FindAllStringSubmatch(text, n+1)
	if len(bodies) <= n {
		t.Fatalf("no curl -d body %d after %q", n, after)
	}
	return bodies[n][1]
}

// reportKeyRE is the id the server keeps a report under: <sent id>~<tag>.
var reportKeyRE = regexp.MustCompile(`^(.+)~[0-9a-f]{12}$`)

func checkErrorBody(t *testing.T, e *docEnv, ex docExample) {
	// The example is an unknown zone and a time in the future.
	body := fmt.Sprintf(`{"zone":"kyiv","category":"shelling","observed_at":%q,"reported_by":"test"}`,
		time.Now().UTC().Add(time.Hour).Format(time.RFC3339))
	got := e.expect(t, http.StatusBadRequest, e.admin, "POST", "/api/v1/reports", body)
	sameValue(t, "the error body", ex.values[0], got)
}

func checkReportAccepted(t *testing.T, e *docEnv, ex docExample) {
	doc := docText(t, "API.md")
	body := curlBody(t, doc, "## POST /api/v1/reports", 0)
	got := e.expect(t, http.StatusAccepted, e.reporter, "POST", "/api/v1/reports", body)
	e.sameShape(t, "the 202", ex.values[0], got)
	documented, real := must[map[string]any](t, "the example", ex.values[0]), must[map[string]any](t, "the 202", got)
	for _, v := range []map[string]any{documented, real} {
		if m := reportKeyRE.FindStringSubmatch(fmt.Sprint(v["id"])); m == nil || m[1] != v["submitted_id"] {
			t.Errorf("id %v is not submitted_id %v, ~ and a tag", v["id"], v["submitted_id"])
		}
	}
	e.acceptedKey, _ = real["id"].(string)

	// Sent again: the same, and "duplicate": true.
	again := must[map[string]any](t, "the second 202", e.expect(t, http.StatusAccepted, e.reporter, "POST", "/api/v1/reports", body))
	want := map[string]any{"duplicate": true}
	for k, v := range real {
		want[k] = v
	}
	sameValue(t, "the 202 of the same report sent again", want, again)

	// The curl example's comment shows the same answer.
	comment := regexp.MustCompile(`(?m)^# (\{.*\})$`).FindStringSubmatch(doc[strings.Index(doc, "## POST /api/v1/reports"):])
	if comment == nil {
		t.Fatal("the curl example shows no answer (# {…})")
	}
	var shown any
	if err := json.Unmarshal([]byte(comment[1]), &shown); err != nil {
		t.Fatal(err)
	}
	sameValue(t, "the curl example's answer", ex.values[0], shown)
}

func checkReportInvalid(t *testing.T, e *docEnv, ex docExample) {
	body := curlBody(t, docText(t, "API.md"), "An invalid report gets every problem at once:", 0)
	got := e.expect(t, http.StatusBadRequest, e.admin, "POST", "/api/v1/reports", body)
	sameValue(t, "the answer to the invalid report", ex.values[0], got)
}

func checkStoredReport(t *testing.T, e *docEnv, ex docExample) {
	if e.acceptedKey == "" {
		t.Fatal("the documented report was not accepted (report-accepted)")
	}
	e.stored(t, e.acceptedKey)
	got := e.expect(t, http.StatusOK, e.admin, "GET", "/api/v1/reports/"+e.acceptedKey, "")
	e.sameShape(t, "the stored report", ex.values[0], got)
}

// alertFixture makes the Alert object's alert, as the example tells it:
// three reports of heavy weapons in North of Homs, the second of another
// sender adding only a casualty, the third raising the severity; then
// Duty officer Rahman of party-a acknowledges it with the ack example's
// body.
func (e *docEnv) alertFixture(t *testing.T) string {
	t.Helper()
	if e.alertID != "" {
		return e.alertID
	}
	pa := userToken(t, e.a, alerting.User{Name: "pa-homs", Role: alerting.RoleReporter, Zones: []string{"homs-north"}})
	unmo := userToken(t, e.a, alerting.User{Name: "unmo-centre", Role: alerting.RoleReporter, Zones: []string{"homs-north"}})
	at := time.Now().UTC().Add(-3 * time.Minute).Truncate(time.Second)
	reports := []struct {
		token  string
		fields map[string]any
	}{
		{unmo, map[string]any{"id": "unmo-homs-0107", "weapon": "T-72 tanks"}},
		{pa, map[string]any{"id": "pa-homs-0031", "casualties": map[string]any{"injured": 1}, "source_type": "party_allegation"}},
		{unmo, map[string]any{"id": "unmo-homs-0108", "weapon": "towed artillery", "severity": "severe"}},
	}
	for i, r := range reports {
		r.fields["zone"] = "homs-north"
		r.fields["category"] = "heavy_weapons_in_restricted_area"
		r.fields["reported_by"] = "UN monitoring team centre"
		r.fields["observed_at"] = at.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		e.stored(t, e.report(t, r.token, r.fields)) // in order: each folded in before the next
	}
	al := firstAlert(t, e.a, "homs-north")
	ack := curlBody(t, docText(t, "API.md"), "## POST /api/v1/alerts/{id}/ack and /resolve", 0)
	e.expect(t, http.StatusOK, e.duty, "POST", "/api/v1/alerts/"+al.ID+"/ack", ack)
	e.alertID = al.ID
	return al.ID
}

func checkAlertObject(t *testing.T, e *docEnv, ex docExample) {
	id := e.alertFixture(t)
	got := e.expect(t, http.StatusOK, e.admin, "GET", "/api/v1/alerts/"+id, "")
	e.sameShape(t, "the alert", ex.values[0], got)
	// Report ids are those the server keeps reports under (<sent id>~<tag>),
	// in the order folded in, on the list and in the timeline's notes.
	documented, real := must[map[string]any](t, "the example", ex.values[0]), must[map[string]any](t, "the alert", got)
	if untag(documented["report_ids"]) != untag(real["report_ids"]) {
		t.Errorf("report_ids: the docs show %s, the server %s", brief(documented["report_ids"]), brief(real["report_ids"]))
	}
	notes := func(alert map[string]any) []string {
		var out []string
		timeline, _ := alert["timeline"].([]any)
		for _, entry := range timeline {
			if entry, ok := entry.(map[string]any); ok && entry["by"] == "engine" {
				out = append(out, untag(entry["note"]))
			}
		}
		return out
	}
	if d, r := notes(documented), notes(real); !slices.Equal(d, r) {
		t.Errorf("the engine's timeline notes: the docs show %q, the server %q", d, r)
	}
}

// untag is a value as JSON, with the tags of report ids (<sent id>~<tag>)
// made one: they depend on who sent the report.
func untag(v any) string {
	data, _ := json.Marshal(v)
	return regexp.MustCompile(`~[0-9a-f]{12}\b`).ReplaceAllString(string(data), "~TAG")
}

// checkInfoRequest asks as the example's party-a duty officer, with the
// docs' first body, and answers as party-b's, with the second, on an alert
// of its own.
func checkInfoRequest(t *testing.T, e *docEnv, ex docExample) {
	e.stored(t, e.report(t, e.admin, map[string]any{"id": "daraa-ir-1", "zone": "daraa", "category": "shelling", "reported_by": "test",
		"observed_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)}))
	id := firstAlert(t, e.a, "daraa").ID
	doc := docText(t, "API.md")
	chairA := userToken(t, e.a, alerting.User{Name: "jonas", FullName: "Jonas Meyer", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	chairB := userToken(t, e.a, alerting.User{Name: "elena", FullName: "Elena Petrov", Role: alerting.RoleDutyOfficer, Party: "party-b"})
	e.expect(t, http.StatusOK, chairA, "POST", "/api/v1/alerts/"+id+"/info-requests", curlBody(t, doc, "## Requests for information", 0))
	got := e.expect(t, http.StatusOK, chairB, "POST", "/api/v1/alerts/"+id+"/info-requests/ir-1/answer", curlBody(t, doc, "## Requests for information", 1))
	r, ok := lookup(got, "info_requests", 0)
	if !ok {
		t.Fatalf("no info_requests[0] in %s", brief(got))
	}
	e.sameShape(t, "the request", ex.values[0], r)
}

func checkAlertList(t *testing.T, e *docEnv, ex docExample) {
	e.alertFixture(t)
	got := e.expect(t, http.StatusOK, e.admin, "GET", "/api/v1/alerts?zone=homs-north", "")
	e.sameShape(t, "the list", ex.values[0], got)
}

func checkAlertReports(t *testing.T, e *docEnv, ex docExample) {
	id := e.alertFixture(t)
	m := regexp.MustCompile(`\$ALERT/reports(\?[^"]*)"`).FindStringSubmatch(docText(t, "API.md"))
	if m == nil {
		t.Fatal("API.md shows no curl of $ALERT/reports?…")
	}
	got := e.expect(t, http.StatusOK, e.admin, "GET", "/api/v1/alerts/"+id+"/reports"+m[1], "")
	if untag(ex.values[0]) != untag(got) {
		t.Errorf("the page of report ids: the docs show %s, the server %s", brief(ex.values[0]), brief(got))
	}
}

func checkZonesParties(t *testing.T, e *docEnv, ex docExample) {
	for _, v := range ex.values {
		body, _ := json.Marshal(v)
		e.expect(t, http.StatusOK, e.admin, "POST", "/api/v1/config", string(body))
		for kind := range must[map[string]any](t, "the example", v) {
			for _, o := range must[[]any](t, "the example", v, kind) {
				id := must[string](t, "the example", o, "id")
				got := e.expect(t, http.StatusOK, e.admin, "GET", "/api/v1/"+kind+"/"+id, "")
				sameValue(t, kind+"/"+id, o, got)
			}
		}
	}
}

func checkSummary(t *testing.T, e *docEnv, ex docExample) {
	m := regexp.MustCompile("`GET (/api/v1/summary\\?[^`]*)`").FindStringSubmatch(docText(t, "API.md"))
	if m == nil {
		t.Fatal("API.md shows no GET /api/v1/summary?… request")
	}
	// Reports of the documented day (2026-11-23, cut off at 19:00 in Kyiv:
	// 17:00Z) and of the day before, one against an excluded party, one
	// alleging party-b did it.
	for _, r := range []map[string]any{
		{"category": "shelling", "observed_at": "2026-11-23T10:00:00Z", "count": 40, "casualties": map[string]any{"killed": 1}},
		{"category": "explosion", "observed_at": "2026-11-23T12:00:00Z", "severity": "extreme", "count": 3, "attributed_to": "party-b"},
		{"category": "airstrike", "observed_at": "2026-11-23T13:00:00Z", "target": "al-nusra"},
		{"category": "shelling", "observed_at": "2026-11-22T10:00:00Z", "count": 10},
	} {
		r["zone"], r["reported_by"] = "aleppo", "UN monitoring team north"
		e.stored(t, e.report(t, e.admin, r))
	}
	got := e.expect(t, http.StatusOK, e.admin, "GET", m[1], "")
	e.sameShape(t, "the summary", ex.values[0], got)
	documented, _ := lookup(ex.values[0], "day")
	real, _ := lookup(got, "day")
	sameValue(t, "the reporting day", documented, real)
}

func checkReadyzHealing(t *testing.T, e *docEnv, ex docExample) {
	// A zone is healed as long as it takes to redo its changes: mark one
	// healing the way the healer does, and done again after.
	runID, _, err := e.a.Store.Incarnation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.a.Store.OpenFence(runID, []string{"aleppo"})
	defer e.a.Store.ZoneHealed("aleppo")
	got := e.expect(t, http.StatusOK, e.admin, "GET", "/readyz", "")
	e.sameShape(t, "/readyz while a zone heals", ex.values[0], got)
}

func checkReadyz(t *testing.T, e *docEnv, ex docExample) {
	if len(ex.values) != 2 {
		t.Fatalf("the example shows %d answers, want 2 (ready, not ready)", len(ex.values))
	}
	got := e.expect(t, http.StatusOK, e.admin, "GET", "/readyz", "")
	e.sameShape(t, "/readyz when ready", ex.values[0], got)
	e.redisDown(t, func() {
		var last any
		alertingtest.Eventually(t, 10*time.Second, "/readyz to say Redis is down", func() bool {
			var status int
			status, last = e.do(t, e.admin, "GET", "/readyz", "")
			redis, _ := lookup(last, "checks", "redis")
			return status == http.StatusServiceUnavailable && redis != "ok"
		})
		e.sameShape(t, "/readyz when not ready", ex.values[1], last)
	})
}

// wsConn is a raw WebSocket client: every frame, as JSON.
type wsConn struct {
	conn   *websocket.Conn
	frames chan map[string]any
}

func (e *docEnv) dialWS(t *testing.T) *wsConn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"truceline.v1"}}
	conn, _, err := d.Dial("ws://"+e.a.HTTPAddr()+"/ws", http.Header{"Authorization": {"Bearer " + e.admin}})
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	c := &wsConn{conn: conn, frames: make(chan map[string]any, 4096)}
	go func() {
		defer close(c.frames)
		for {
			var f map[string]any
			if err := conn.ReadJSON(&f); err != nil {
				return
			}
			c.frames <- f
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

func (c *wsConn) send(t *testing.T, v any) {
	t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
}

// next is the next frame but heartbeats.
func (c *wsConn) next(t *testing.T, what string) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatalf("the WebSocket closed while waiting for %s", what)
			}
			if f["type"] != "heartbeat" {
				return f
			}
		case <-deadline:
			t.Fatalf("no %s within 10 s", what)
		}
	}
}

// nextOf is the next frame but heartbeats, failing unless it is of the
// type and zone.
func (c *wsConn) nextOf(t *testing.T, typ, zone string) map[string]any {
	t.Helper()
	f := c.next(t, typ+" "+zone)
	if f["type"] != typ || f["zone"] != zone {
		t.Fatalf("got %s, want a %s frame of %s", brief(f), typ, zone)
	}
	return f
}

// seq is a zone's sequence number in Redis.
func (e *docEnv) seq(t *testing.T, zone string) int64 {
	t.Helper()
	seq, err := e.a.Store.StoredSeq(context.Background(), zone)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// atLeastSeq comments on an alert of the zone until the zone's sequence
// is at least n.
func (e *docEnv) atLeastSeq(t *testing.T, zone string, n int64) {
	t.Helper()
	id := firstAlert(t, e.a, zone).ID
	for e.seq(t, zone) < n {
		e.expect(t, http.StatusOK, e.admin, "POST", "/api/v1/alerts/"+id+"/comment", `{"note":"to move the sequence on"}`)
	}
}

func checkClientMessages(t *testing.T, e *docEnv, ex docExample) {
	if len(ex.values) != 3 {
		t.Fatalf("the example shows %d messages, want 3 (subscribe, subscribe *, unsubscribe)", len(ex.values))
	}
	subscribe, all, unsubscribe := ex.values[0], ex.values[1], ex.values[2]
	from := int64(must[float64](t, "the example's subscribe", subscribe, "resume", "aleppo"))
	e.atLeastSeq(t, "aleppo", from)
	seq := e.seq(t, "aleppo")
	c := e.dialWS(t)

	// A resume point it can honour: resumed, the changes after it; then
	// the other zone's snapshot.
	c.send(t, subscribe)
	r := c.nextOf(t, "resumed", "aleppo")
	if r["from"] != float64(from) || r["seq"] != float64(seq) {
		t.Errorf("resumed %s, want from %d to %d", brief(r), from, seq)
	}
	for s := from + 1; s <= seq; s++ {
		if f := c.nextOf(t, "alert", "aleppo"); f["seq"] != float64(s) {
			t.Fatalf("got %s, want seq %d", brief(f), s)
		}
	}
	if f := c.nextOf(t, "snapshot", "latakia"); f["reason"] != nil {
		t.Errorf("a plain subscribe's snapshot has a reason: %s", brief(f))
	}

	// "*": every zone not yet followed, in id order.
	c.send(t, all)
	for _, zone := range []string{"damascus-ghouta", "daraa", "homs-north", "idlib"} {
		c.nextOf(t, "snapshot", zone)
	}

	// After the unsubscribe no change of latakia comes; one of aleppo does,
	// and nothing before it.
	c.send(t, unsubscribe)
	// Messages are handled in order: once a later one is answered, the
	// unsubscribe is done.
	c.send(t, map[string]any{"type": "subscribe", "zones": []string{"kyiv"}})
	if f := c.next(t, "the answer to a later message"); f["code"] != "unknown_zone" {
		t.Fatalf("got %s, want the unknown_zone error", brief(f))
	}
	e.stored(t, e.report(t, e.admin, map[string]any{"zone": "latakia", "category": "shelling", "reported_by": "test",
		"observed_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)}))
	key := e.report(t, e.admin, map[string]any{"zone": "aleppo", "category": "small_arms", "reported_by": "test",
		"observed_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)})
	if f := c.nextOf(t, "alert", "aleppo"); f["report_id"] != key {
		t.Errorf("got %s, want the change of report %s", brief(f), key)
	}
}

func checkSnapshotFrame(t *testing.T, e *docEnv, ex docExample) {
	e.alertFixture(t)
	c := e.dialWS(t)
	c.send(t, map[string]any{"type": "subscribe", "zones": []string{"homs-north"}, "resume": map[string]int64{"homs-north": 999999}})
	f := c.nextOf(t, "snapshot", "homs-north")
	e.sameShape(t, "the snapshot", ex.values[0], f)
}

func checkResumedFrame(t *testing.T, e *docEnv, ex docExample) {
	seq := e.seq(t, "aleppo")
	c := e.dialWS(t)
	c.send(t, map[string]any{"type": "subscribe", "zones": []string{"aleppo"}, "resume": map[string]int64{"aleppo": seq}})
	f := c.nextOf(t, "resumed", "aleppo")
	e.sameShape(t, "the resumed frame", ex.values[0], f)
}

func checkAlertFrame(t *testing.T, e *docEnv, ex docExample) {
	c := e.dialWS(t)
	c.send(t, map[string]any{"type": "subscribe", "zones": []string{"daraa"}})
	c.nextOf(t, "snapshot", "daraa")
	key := e.report(t, e.admin, map[string]any{"zone": "daraa", "category": "drone_strike", "reported_by": "test",
		"observed_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)})
	f := c.nextOf(t, "alert", "daraa")
	if f["report_id"] != key {
		t.Errorf("report_id %v, want %s", f["report_id"], key)
	}
	// A new alert has no acknowledgement yet.
	e.sameShape(t, "the alert frame", ex.values[0], f, "alert.acks")
}

func checkErrorFrame(t *testing.T, e *docEnv, ex docExample) {
	c := e.dialWS(t)
	c.send(t, map[string]any{"type": "subscribe", "zones": []string{"kyiv"}})
	sameValue(t, "the error frame", ex.values[0], c.next(t, "the error frame"))
}

func checkHeartbeatFrame(t *testing.T, e *docEnv, ex docExample) {
	documented := ex.values[0]
	var zones []string
	for z := range must[map[string]any](t, "the example", documented, "seqs") {
		zones = append(zones, z)
	}
	slices.Sort(zones)
	c := e.dialWS(t)
	c.send(t, map[string]any{"type": "subscribe", "zones": zones})
	for range zones {
		c.next(t, "the answers to the subscribe")
	}
	// The example's status: zones healing (marked so as the healer does),
	// Redis down, and so a report the engine cannot process yet. Every
	// zone followed is marked healing: a zone whose feed is busy reading
	// Redis is left out of seqs (as documented), and a healing zone's feed
	// does not read Redis.
	runID, _, err := e.a.Store.Incarnation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.a.Store.OpenFence(runID, zones)
	defer func() {
		for _, z := range zones {
			e.a.Store.ZoneHealed(z)
		}
	}()
	e.redisDown(t, func() {
		e.report(t, e.admin, map[string]any{"zone": "aleppo", "category": "shelling", "reported_by": "test",
			"observed_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)})
		// The status is asked once a heartbeat interval: wait for a
		// heartbeat that shows it all.
		down := time.Now()
		var last map[string]any
		deadline := time.After(20 * alertingtest.Patience * time.Second)
		for {
			select {
			case f, ok := <-c.frames:
				if !ok {
					t.Fatal("the WebSocket closed")
				}
				if f["type"] != "heartbeat" {
					continue
				}
				last = f
				want, _ := lookup(documented, "status", "problems")
				got, _ := lookup(f, "status", "problems")
				// A heartbeat computed as Redis went, on a loaded
				// machine, may still say something else: wait for one
				// that says it all.
				if len(e.shapeDiff(documented, f)) == 0 && reflect.DeepEqual(want, got) {
					t.Logf("a heartbeat of the example's shape %s after Redis went down", time.Since(down).Round(time.Millisecond))
					return
				}
			case <-deadline:
				e.sameShape(t, "the last heartbeat before the deadline", documented, last)
				want, _ := lookup(documented, "status", "problems")
				got, _ := lookup(last, "status", "problems")
				sameValue(t, "the problems", want, got)
				return
			}
		}
	})
}
