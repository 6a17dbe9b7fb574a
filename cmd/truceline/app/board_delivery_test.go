package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/webhook"
)

// downBody is what the unreachable contact's endpoint answers with its 503,
// as a proxy's error page would: markup that must never reach the board,
// neither as HTML nor as text (a destination's answer is not the viewers'
// to read).
const downBody = `<h1 id="from-the-receiver">Down for maintenance</h1>`

// boardNote is what the detail panel shows of one notification.
type boardNote struct {
	State    string `json:"state"`
	Kind     string `json:"kind"`
	Contact  string `json:"contact"`
	Target   string `json:"target"`
	Chip     string `json:"chip"`
	Error    string `json:"error"`
	Fallback string `json:"fallback"`
	Text     string `json:"text"`
}

const notesJS = `Array.from(document.querySelectorAll('[data-testid=detail] [data-testid=notification]'), (n) => ({
	state: n.dataset.state || '',
	kind: n.dataset.kind || '',
	contact: n.dataset.contact || '',
	target: n.dataset.target || '',
	chip: n.querySelector('[data-testid=notification-state]')?.textContent || '',
	error: n.querySelector('[data-testid=notification-error]')?.textContent || '',
	fallback: n.querySelector('[data-testid=fallback]')?.textContent || '',
	text: n.innerText,
}))`

// deliveryBadge is a list row's delivery badge: whether it shows, its text
// and its title.
type deliveryBadge struct {
	Shown bool   `json:"shown"`
	Text  string `json:"text"`
	Title string `json:"title"`
}

// TestBoardDelivery shows what became of an alert's notifications: in the
// detail panel a row per notification with its state (sent to the contact
// that answers, given up on the one that answers 503, with the error as
// text), a loud marker where a schedule had nobody on call and the fallback
// contact was notified instead; and in the list, badges that say so
// without opening the alert.
func TestBoardDelivery(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	cfg := d.config(t)
	cfg.DeliveryAttempts = 2
	cfg.DeliveryBackoff, cfg.DeliveryMaxBackoff = 50*time.Millisecond, 100*time.Millisecond
	a := start(t, cfg)

	up := webhook.NewReceiver(func(*http.Request) (string, bool) { return testSecret, true }, 100)
	var downCalls atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/up", up)
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		downCalls.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(downBody))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.ApplyConfig(ctx, alerting.Config{
		Contacts: []alerting.Contact{
			webhookContact("up", "party-a", srv.URL+"/up"),
			webhookContact("down", "", srv.URL+"/down"),
		},
		// Nobody is on call in the night desk until 2099.
		Schedules: []alerting.Schedule{{ID: "night-desk", Timezone: "UTC", Layers: []alerting.Layer{{
			Name: "later", Participants: []string{"up"}, Shift: alerting.Duration(24 * time.Hour), Start: "2099-01-01T08:00",
		}}}},
		// up is named directly and is the night desk's fallback: it is
		// notified once, and that notification still says nobody was on
		// call in the night desk.
		Policies: []alerting.Policy{{
			ID:       "deliver",
			Name:     "Tell everyone at once",
			Steps:    []alerting.Step{{After: 0, Notify: []string{"board", "up", "down", "night-desk"}}},
			Fallback: "up",
		}},
		Rules: []alerting.Rule{{ID: "all", Policy: "deliver"}},
	})
	if err != nil {
		t.Fatalf("apply the delivery config: %v", err)
	}
	post(t, a, "/api/v1/reports", reportJSON("delivery-1", "aleppo", "shelling"))
	id := onlyAlert(t, a, "aleppo")

	tab := startBrowser(t)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "the alert", hasRow(id))
	b.openDetail(id)

	// Up is reached; down answers 503 twice and is given up on.
	var notes []boardNote
	ok := false
	defer func() {
		if !ok {
			t.Logf("the panel showed notifications %+v", notes)
		}
	}()
	eventuallyIn(t, tab, boardWait, "up sent and down given up in the detail panel", func() bool {
		notes = evaluate[[]boardNote](t, tab, notesJS)
		var sent, gaveUp bool
		for _, n := range notes {
			sent = sent || (n.Contact == "up" && n.State == "sent")
			gaveUp = gaveUp || (n.Contact == "down" && n.State == "gave_up")
		}
		return sent && gaveUp
	})
	ok = true
	if len(notes) != 3 {
		t.Errorf("%d notification rows, want 3: the board, up (once, for itself and as the fallback), down", len(notes))
	}
	for _, n := range notes {
		switch {
		case n.Kind == "board":
			if n.State != "shown" || !strings.Contains(n.Text, "Board") || !strings.Contains(n.Text, "Step 1") {
				t.Errorf("the board's notification shows %+v", n)
			}
		case n.Contact == "up":
			if n.Chip != "Sent" || !strings.Contains(n.Text, "Webhook") || !strings.Contains(n.Text, "1 attempt") || n.Error != "" {
				t.Errorf("up's notification shows %+v, want sent by webhook at the first attempt", n)
			}
			// The night desk had nobody on call: its fallback, up, was told.
			if !strings.Contains(n.Fallback, "NOBODY ON CALL in night-desk") || !strings.Contains(n.Fallback, "sent to fallback up") {
				t.Errorf("the fallback marker says %q, want it to name night-desk and up", n.Fallback)
			}
		case n.Contact == "down":
			if n.Chip != "Gave up" || !strings.Contains(n.Text, "2 attempts") || n.Fallback != "" {
				t.Errorf("down's notification shows %+v, want given up after 2 attempts", n)
			}
			if !strings.Contains(n.Error, "503 Service Unavailable") || strings.Contains(n.Error, "from-the-receiver") || strings.Contains(n.Error, "maintenance") {
				t.Errorf("down's error shows %q, want the 503 and nothing of the answer", n.Error)
			}
		default:
			t.Errorf("unexpected notification %+v", n)
		}
	}
	if got := downCalls.Load(); got != 2 {
		t.Errorf("down was called %d times, want the 2 attempts", got)
	}
	if len(up.Received()) != 1 {
		t.Errorf("up received %d webhooks, want 1", len(up.Received()))
	}
	// The 503's body is text: no element from it, anywhere on the board.
	if evaluate[bool](t, tab, `!!document.querySelector('#from-the-receiver, [data-testid=detail] h1')`) {
		t.Errorf("the receiver's answer was rendered as HTML")
	}
	if got := b.text(`[data-testid=detail] [data-testid=notifications-summary]`); got != "1 gave up · 1 sent" {
		t.Errorf("the notifications summary says %q", got)
	}
	// The timeline has every attempt, the failed first one too.
	eventuallyIn(t, tab, boardWait, "the failed first attempt in the timeline", func() bool {
		return evaluate[bool](t, tab, `[...document.querySelectorAll('[data-testid=detail] .tl-delivery-failed')]
			.some((e) => e.textContent.includes('down/hook: failed, attempt 1'))`)
	})

	// The list says it without opening the alert, the why in the titles.
	badge := func(testid string) deliveryBadge {
		return evaluate[deliveryBadge](t, tab, `(() => {
			const e = document.querySelector('[data-testid=alert][data-alert-id="`+id+`"] [data-testid=`+testid+`]');
			return e ? { shown: !e.hidden && e.offsetParent !== null, text: e.textContent, title: e.title } : { shown: false };
		})()`)
	}
	failed, nobody := badge("delivery-failed"), badge("nobody-on-call")
	if !failed.Shown || !strings.Contains(failed.Text, "delivery failed") || !strings.Contains(failed.Title, "down/hook") || !strings.Contains(failed.Title, "503") {
		t.Errorf("the delivery failed badge: %+v", failed)
	}
	if !nobody.Shown || !strings.Contains(nobody.Text, "nobody on call") || !strings.Contains(nobody.Title, "night-desk") || !strings.Contains(nobody.Title, "fallback up") {
		t.Errorf("the nobody on call badge: %+v", nobody)
	}

	if os.Getenv("TRUCELINE_SCREENSHOTS") == "1" {
		saveDeliveryShot(t, tab)
	}
}

// saveDeliveryShot writes docs/board-delivery.png: the board with the
// detail panel scrolled to the notifications.
func saveDeliveryShot(t *testing.T, tab context.Context) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.querySelector('[data-testid=detail] .detail-notes');
		s.scrollIntoView({ block: 'start' });
	})()`)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkPNG(t, shot, 1280, 900)
	path := filepath.Join("..", "..", "..", "docs", "board-delivery.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
