package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBoardInfoRequest: co-chair A asks party-b, the alleged perpetrator,
// for information in the detail panel (party-b offered first); co-chair B's
// board marks the row "Information requested from your party", and B
// answers in its panel; A's panel shows the answer. A request whose
// deadline passes shows "OVERDUE by …" on both boards.
func TestBoardInfoRequest(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	jointPolicy(t, a)
	postReport(t, a, report{ID: "ir-board-1", Zone: "aleppo", Category: "shelling", Weapon: "82mm mortar", AttributedTo: "party-b"}, time.Minute)
	id := onlyAlert(t, a, "aleppo")
	rowSel := fmt.Sprintf(`[data-testid=alert][data-alert-id=%q]`, id)
	marker := rowSel + ` [data-testid=info-requested]`
	shown := func(b *board, sel string) bool {
		return evaluate[bool](t, b.ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && !e.hidden; })()`, sel))
	}

	tab1 := startBrowser(t)
	first := signInBoard(t, tab1, a, coChairA, "")
	tab2 := newProfile(t, tab1, "co-chair B's browser")
	second := signInBoard(t, tab2, a, coChairB, "")
	for _, b := range []*board{first, second} {
		b.waitRows(boardWait, "the alert", hasRow(id))
	}

	// A asks: the alleged perpetrator is offered first.
	first.openDetail(id)
	panel := `[data-testid=detail] `
	if got := evaluate[string](t, tab1, `document.querySelector('[data-testid=detail] [data-testid=ir-ask-party]').value`); got != "party-b" {
		t.Fatalf("the party offered first is %q, want party-b (alleged)", got)
	}
	const question = "Which unit fired the 82mm mortar from the northern ridge, and on whose order?"
	if err := chromedp.Do(tab1,
		chromedp.SendKeys(chromedp.CSS(panel+`[data-testid=ir-ask-question]`), question),
		chromedp.ScrollIntoView(chromedp.CSS(panel+`[data-testid=ir-ask-submit]`)),
	); err != nil {
		t.Fatalf("type the question: %v", err)
	}
	saveArtifact(t, tab1, "inforequest-a-ask.png")
	if err := chromedp.Do(tab1, chromedp.Click(chromedp.CSS(panel+`[data-testid=ir-ask-submit]`))); err != nil {
		t.Fatalf("ask in the detail panel: %v", err)
	}
	item := panel + `[data-testid=info-request][data-id=ir-1]`
	first.eventually(boardWait, "A's panel to list the open request with its countdown", func() bool {
		return first.shown(item) && evaluate[string](t, tab1, fmt.Sprintf(`document.querySelector(%q).dataset.state`, item)) == "open" &&
			strings.HasPrefix(first.text(item+` [data-testid=ir-clock]`), "due in 23 h")
	})
	if got := first.text(item + ` [data-testid=ir-to]`); got != "ir-1 · to Co-chair B" {
		t.Errorf("the request is addressed %q", got)
	}
	if shown(first, marker) {
		t.Error("A's row says information is requested from A's party")
	}

	// B's board marks the row, and B answers in the panel.
	second.eventually(boardWait, "B's row to say information is requested from its party", func() bool {
		return shown(second, marker) && second.text(marker) == "Information requested from your party"
	})
	saveArtifact(t, tab2, "inforequest-b-row.png")
	second.openDetail(id)
	const answer = "A mortar crew of the 4th unit, acting without orders; withdrawn since."
	if err := chromedp.Do(tab2,
		chromedp.SendKeys(chromedp.CSS(panel+`[data-testid=ir-answer-text]`), answer),
		chromedp.SendKeys(chromedp.CSS(panel+`[data-testid=ir-answer-refs]`), "https://party-b.example.org/statements/113 doc:B-2026-113"),
		chromedp.Click(chromedp.CSS(panel+`[data-testid=ir-answer-submit]`)),
	); err != nil {
		t.Fatalf("answer in the detail panel: %v", err)
	}
	answered := func(b *board) func() bool {
		return func() bool {
			return evaluate[string](t, b.ctx, fmt.Sprintf(`document.querySelector(%q)?.dataset.state || ''`, item)) == "answered" &&
				strings.Contains(b.text(item+` [data-testid=ir-answer]`), answer) && b.text(item+` [data-testid=ir-clock]`) == "answered in time"
		}
	}
	second.eventually(boardWait, "B's panel to show its answer", answered(second))
	first.eventually(boardWait, "A's panel to show B's answer", answered(first))
	if got := first.text(item + ` [data-testid=ir-answer]`); !strings.Contains(got, "doc:B-2026-113") || !strings.Contains(got, "Elena Petrov") {
		t.Errorf("A's panel shows the answer as %q", got)
	}
	second.eventually(boardWait, "B's row marker to go once answered", func() bool { return !shown(second, marker) })

	// A second request, asked through the API with a one-second deadline,
	// goes overdue: red on both boards.
	duty := userToken(t, a, dutyOfficer)
	if status, body := call(t, a, duty, "POST", "/api/v1/alerts/"+id+"/info-requests", `{"to":"party-b","question":"Where is the crew now?","within":"1s"}`); status != 200 {
		t.Fatalf("ask: %d %s", status, body)
	}
	overdue := panel + `[data-testid=info-request][data-id=ir-2]`
	first.eventually(boardWait, "A's panel to count the request overdue", func() bool {
		return strings.HasPrefix(first.text(overdue+` [data-testid=ir-clock]`), "OVERDUE by ") &&
			evaluate[string](t, tab1, fmt.Sprintf(`document.querySelector(%q).dataset.state`, overdue)) == "overdue"
	})
	second.eventually(boardWait, "B's row to say its party's answer is overdue", func() bool {
		return shown(second, marker) && second.text(marker) == "Information from your party OVERDUE"
	})
	saveArtifact(t, tab1, "inforequest-a-detail.png")
	saveArtifact(t, tab2, "inforequest-b-detail.png")

	status, body := get(t, a, "/api/v1/alerts/"+id)
	rs, _ := body["info_requests"].([]any)
	if status != 200 || len(rs) != 2 {
		t.Fatalf("the API has %d %v", status, body["info_requests"])
	}
	first0 := fmt.Sprint(rs[0])
	for _, want := range []string{"asked_for:party-a", "asked_by:" + coChairA.FullName, "state:answered", "by:" + coChairB.FullName, "party:party-b"} {
		if !strings.Contains(first0, want) {
			t.Errorf("request ir-1 %s lacks %s", first0, want)
		}
	}
}
