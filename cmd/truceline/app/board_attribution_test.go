package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fillDetailForm chooses values in selects of the detail panel (by test
// id), types the reason and submits with the button.
func (b *board) fillDetailForm(selects map[string]string, reasonID, reason, submitID string) {
	b.t.Helper()
	var js strings.Builder
	for id, v := range selects {
		fmt.Fprintf(&js, `{ const s = document.querySelector('[data-testid=detail] [data-testid=%s]'); s.value = %q; s.dispatchEvent(new Event('input', { bubbles: true })); }`, id, v)
	}
	if err := chromedp.Do(b.ctx,
		chromedp.Evaluate[chromedp.Void](js.String()),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=detail] [data-testid=`+reasonID+`]`), reason),
		chromedp.Click(chromedp.CSS(`[data-testid=detail] [data-testid=`+submitID+`]`)),
	); err != nil {
		b.t.Fatalf("submit %s in the detail panel: %v", submitID, err)
	}
}

// TestBoardVerificationAndAttribution: co-chair A confirms an alert and
// co-chair B cannot confirm it, each on their own board; both panels show
// the two verifications side by side under the sentence "Registered by
// Co-chair A; not confirmed by Co-chair B.", never "disputed". Then each
// records its judgement of the party the report alleges did it, and both
// panels show the two judgements side by side under that party, with its
// report count.
func TestBoardVerificationAndAttribution(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	jointPolicy(t, a)
	postReport(t, a, report{ID: "attr-1", Zone: "aleppo", Category: "shelling", AttributedTo: "gov-forces"}, time.Minute)
	id := onlyAlert(t, a, "aleppo")

	tab1 := startBrowser(t)
	tab2 := newProfile(t, tab1, "co-chair B's browser")
	first := signInBoard(t, tab1, a, coChairA, "")
	second := signInBoard(t, tab2, a, coChairB, "")
	boards := []*board{first, second}
	for _, b := range boards {
		b.waitRows(boardWait, "the open alert", hasRow(id))
		b.openDetail(id)
	}

	// The verification controls offer "Cannot confirm".
	options := evaluate[string](t, tab2, `[...document.querySelectorAll('[data-testid=detail] [data-testid=verify-status] option')].map((o) => o.value).join(' ')`)
	if options != " confirmed cannot_confirm disputed not_applicable" {
		t.Errorf("verification options %q", options)
	}
	first.fillDetailForm(map[string]string{"verify-status": "confirmed"}, "verify-reason", "Our post at the citadel counted six impacts", "verify-submit")
	second.fillDetailForm(map[string]string{"verify-status": "cannot_confirm"}, "verify-reason", "No observation post of ours covers that sector", "verify-submit")

	const sentence = "Registered by Co-chair A; not confirmed by Co-chair B."
	for _, b := range boards {
		b.eventually(boardWait, "both verifications and the sentence", func() bool {
			return evaluate[bool](t, b.ctx, fmt.Sprintf(`(() => {
				const d = document.querySelector('[data-testid=detail]');
				const s = d.querySelector('[data-testid=verification-summary]');
				const a = d.querySelector('[data-testid=verification][data-party=party-a]');
				const b = d.querySelector('[data-testid=verification][data-party=party-b]');
				return !!s && s.textContent === %q && !s.hidden && !!a && !!b &&
					a.dataset.status === 'confirmed' && b.dataset.status === 'cannot_confirm' &&
					b.textContent.includes('Cannot confirm') && b.textContent.includes('No observation post');
			})()`, sentence))
		})
		if pill := b.text(`[data-testid=detail] .detail-verif .head-pill`); pill != "Partly confirmed" {
			t.Errorf("the verification pill says %q, want Partly confirmed", pill)
		}
		if !sideBySide(t, b, `[data-testid=detail] [data-testid=verification]`) {
			t.Errorf("the two verifications are not side by side")
		}
	}
	first.eventually(boardWait, "the row to say Partly confirmed", func() bool {
		return first.text(fmt.Sprintf(`[data-testid=alert][data-alert-id=%q] .cell-verif`, id)) == "Partly confirmed"
	})

	// Attribution: the alleged party, with its report count; each co-chair
	// records its judgement.
	for _, b := range boards {
		b.eventually(boardWait, "the alleged party in the Attribution section", func() bool {
			return strings.Contains(b.text(`[data-testid=detail] [data-testid=attribution-group][data-alleged=gov-forces] .attr-head`), "Government forces — alleged by 1 report")
		})
	}
	first.fillDetailForm(map[string]string{"attr-alleged": "gov-forces", "attr-status": "substantiated"}, "attr-reason", "Crater analysis points to their battery at the ridge", "attr-submit")
	second.fillDetailForm(map[string]string{"attr-alleged": "gov-forces", "attr-status": "undetermined"}, "attr-reason", "We have no data on who fired", "attr-submit")
	for _, b := range boards {
		b.eventually(boardWait, "both judgements of Government forces", func() bool {
			return evaluate[bool](t, b.ctx, `(() => {
				const g = document.querySelector('[data-testid=detail] [data-testid=attribution-group][data-alleged=gov-forces]');
				if (!g) return false;
				const a = g.querySelector('[data-testid=attribution-judgement][data-party=party-a]');
				const b = g.querySelector('[data-testid=attribution-judgement][data-party=party-b]');
				return !!a && !!b && a.dataset.status === 'substantiated' && b.dataset.status === 'undetermined' &&
					a.textContent.includes('Substantiated') && a.textContent.includes('Crater analysis') && a.textContent.includes('Jonas Meyer') &&
					b.textContent.includes('Undetermined') && b.textContent.includes('We have no data') && b.textContent.includes('Elena Petrov');
			})()`)
		})
		if !sideBySide(t, b, `[data-testid=detail] [data-testid=attribution-group][data-alleged=gov-forces] [data-testid=attribution-judgement]`) {
			t.Errorf("the two judgements are not side by side")
		}
	}
	// The verification was left as it was.
	if got := first.text(`[data-testid=detail] [data-testid=verification-summary]`); got != sentence {
		t.Errorf("after the judgements the sentence is %q", got)
	}
	if err := chromedp.Do(tab1, chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=detail] .detail-verif').scrollIntoView()`)); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, tab1, "board-verification.png")
	if err := chromedp.Do(tab1, chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=detail] [data-testid=attribution]').scrollIntoView()`)); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, tab1, "board-attribution.png")
}

// sideBySide says whether the elements sel finds, two at least, stand in
// one row: the same top, each to the right of the one before.
func sideBySide(t *testing.T, b *board, sel string) bool {
	t.Helper()
	return evaluate[bool](t, b.ctx, fmt.Sprintf(`(() => {
		const rs = [...document.querySelectorAll(%q)].map((e) => e.getBoundingClientRect());
		return rs.length >= 2 && rs.every((r, i) => i === 0 || (Math.abs(r.top - rs[0].top) < 1 && r.left >= rs[i - 1].right));
	})()`, sel))
}
