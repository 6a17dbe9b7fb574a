package app_test

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// bulletinIncident posts a shelling report in aleppo alleging party-b,
// has co-chair A confirm its alert, find the allegation substantiated and
// ask party-b which unit fired, and co-chair B dispute it; it returns the
// alert's id.
func bulletinIncident(t *testing.T, a *app.App) string {
	t.Helper()
	jointPolicy(t, a)
	postReport(t, a, report{ID: "bl-1", Zone: "aleppo", Category: "shelling", Count: 4, AttributedTo: "party-b",
		Casualties: map[string]int{"killed": 1}}, 2*time.Minute)
	id := onlyAlert(t, a, "aleppo")
	for _, v := range []struct {
		who          alerting.User
		action, body string
	}{
		{coChairA, "verify", `{"status":"confirmed","note":"craters seen from OP 3"}`},
		{coChairB, "verify", `{"status":"disputed","note":"no fire heard"}`},
		{coChairA, "attribution", `{"alleged":"party-b","status":"substantiated","note":"fire came from the B positions"}`},
		{coChairA, "info-requests", `{"to":"party-b","question":"Which unit fired?","within":"24h"}`},
	} {
		if status, body := call(t, a, userToken(t, a, v.who), "POST", "/api/v1/alerts/"+id+"/"+v.action, v.body); status != http.StatusOK {
			t.Fatalf("%s: %s: %d %s", v.who.Name, v.action, status, body)
		}
	}
	return id
}

// TestDailyBulletin: the day's incidents of each zone with the co-chairs'
// views side by side, where each party stands and the regimes in force, as
// JSON, as a printable HTML page and as Atom linking each incident's CAP
// message; a bad query names every problem, and a liaison reads its zones
// only.
func TestDailyBulletin(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	id := bulletinIncident(t, a)

	status, body := call(t, a, userToken(t, a, dutyOfficer), "GET", "/api/v1/bulletins/daily?zone=aleppo,idlib", "")
	var b alerting.Bulletin
	if status != http.StatusOK || json.Unmarshal([]byte(body), &b) != nil || len(b.Zones) != 2 {
		t.Fatalf("the bulletin: %d %s", status, body)
	}
	aleppo := b.Zones[0]
	if len(aleppo.Incidents) != 1 || aleppo.Incidents[0].Alert != id {
		t.Fatalf("Aleppo's incidents %+v, want the one alert %s", aleppo.Incidents, id)
	}
	want := "Shelling, 1 report, 1 killed; the reports allege Co-chair B (1). Co-chair A confirms it; Co-chair B disputes it. " +
		"On the allegation against Co-chair B, Co-chair A finds it substantiated."
	if got := aleppo.Incidents[0].Statement; got != want {
		t.Errorf("the incident: %q\nwant %q", got, want)
	}
	var standings []string
	for _, p := range aleppo.Parties {
		standings = append(standings, p.Statement)
	}
	if want := []string{"Co-chair A confirms 1 incident.", "Co-chair B disputes 1 incident; the reports of 1 incident allege it."}; !slices.Equal(standings, want) {
		t.Errorf("where the parties stand: %q, want %q", standings, want)
	}
	if r := aleppo.Requests; len(r) != 1 || r[0].Party != "party-b" || r[0].State != alerting.InfoRequestOpen ||
		!strings.HasPrefix(r[0].Statement, `Co-chair A asked Co-chair B on `) || !strings.Contains(r[0].Statement, `"Which unit fired?"`) {
		t.Errorf("the requests unanswered: %+v", r)
	}
	if aleppo.Statement != "1 incident registered; 1 request for information unanswered; no regime in force." {
		t.Errorf("Aleppo: %q", aleppo.Statement)
	}
	if b.Zones[1].Statement != "No incidents registered; no regime in force." {
		t.Errorf("Idlib: %+v", b.Zones[1])
	}

	// The printable page, chosen by the Accept header, with the board's
	// security headers.
	req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/api/v1/bulletins/daily?zone=aleppo", nil)
	req.Header.Set("Authorization", "Bearer "+userToken(t, a, coChairB))
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
		!strings.Contains(page, "Co-chair A confirms it; Co-chair B disputes it.") || !strings.Contains(page, "no fire heard") ||
		!strings.Contains(page, "Which unit fired?") || !strings.Contains(page, "fire came from the B positions") {
		t.Errorf("the HTML bulletin: %d %v\n%s", resp.StatusCode, resp.Header, page)
	}

	// Atom: an entry per zone, linking each incident's CAP message.
	status, body = call(t, a, userToken(t, a, dutyOfficer), "GET", "/api/v1/bulletins/daily?zone=aleppo&format=atom", "")
	var feed struct {
		Entries []struct {
			Title   string `xml:"title"`
			Content string `xml:"content"`
			Links   []struct {
				Rel  string `xml:"rel,attr"`
				Type string `xml:"type,attr"`
				Href string `xml:"href,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	if status != 200 || xml.Unmarshal([]byte(body), &feed) != nil || len(feed.Entries) != 1 {
		t.Fatalf("the Atom bulletin: %d %s", status, body)
	}
	e := feed.Entries[0]
	if !strings.Contains(e.Content, want) || !slices.ContainsFunc(e.Links, func(l struct {
		Rel  string `xml:"rel,attr"`
		Type string `xml:"type,attr"`
		Href string `xml:"href,attr"`
	}) bool {
		return l.Rel == "related" && l.Type == "application/cap+xml" && strings.HasSuffix(l.Href, "/api/v1/alerts/"+id+"/cap")
	}) {
		t.Errorf("the Aleppo entry %+v: want the incident and a link to its CAP message", e)
	}

	// Every problem of a bad query is named.
	status, body = call(t, a, userToken(t, a, dutyOfficer), "GET", "/api/v1/bulletins/daily?date=yesterday&format=pdf&cutoff=25", "")
	for _, field := range []string{`"date"`, `"format"`, `"cutoff"`} {
		if status != http.StatusBadRequest || !strings.Contains(body, field) {
			t.Errorf("a bad query: %d %s, want 400 naming %s", status, body, field)
		}
	}
	// A liaison reads the zones it covers, and no other.
	liaison := userToken(t, a, alerting.User{Name: "bl-liaison", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"idlib"}})
	if status, body := call(t, a, liaison, "GET", "/api/v1/bulletins/daily?zone=aleppo", ""); status != http.StatusBadRequest {
		t.Errorf("a liaison of Idlib asks for Aleppo: %d %s", status, body)
	}
	status, body = call(t, a, liaison, "GET", "/api/v1/bulletins/daily", "")
	if status != 200 || json.Unmarshal([]byte(body), &b) != nil || len(b.Zones) != 1 || b.Zones[0].Zone != "idlib" {
		t.Errorf("a liaison of Idlib: %d %s", status, body)
	}
	if status, _ := call(t, a, "", "GET", "/api/v1/bulletins/daily", ""); status != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", status)
	}
}

// TestBoardBulletin opens the printable bulletin from the daily summary
// and reads the incident with both co-chairs' views side by side.
//
// With TRUCELINE_ARTIFACTS=dir it saves a screenshot there.
func TestBoardBulletin(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	id := bulletinIncident(t, a)

	tab := startBrowser(t)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1100, 800)); err != nil {
		t.Fatal(err)
	}
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.click("[data-testid=summary-link]")
	alertingtest.Eventually(t, boardWait, "the summary's Bulletin link", func() bool {
		href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('[data-testid=summary-bulletin]')?.getAttribute('href') ?? ''`))
		return err == nil && strings.Contains(href, "date=")
	})
	b.click("[data-testid=summary-bulletin]")
	type row struct {
		Alert string   `json:"alert"`
		Text  string   `json:"text"`
		Views []string `json:"views"`
	}
	var rows []row
	alertingtest.Eventually(t, boardWait, "the bulletin's incident", func() bool {
		var err error
		rows, err = chromedp.Run(tab, chromedp.Evaluate[[]row](`[...document.querySelectorAll('[data-testid=bulletin-zone][data-zone=aleppo] [data-testid=bulletin-incident]')].map((r) => ({
			alert: r.dataset.alert, text: r.cells[1].textContent.trim(),
			views: [...r.querySelectorAll('.bl-view')].map((v) => v.dataset.party + ': ' + v.textContent.trim()) }))`))
		return err == nil && len(rows) == 1
	})
	if rows[0].Alert != id || !strings.Contains(rows[0].Text, "the reports allege Co-chair B (1)") {
		t.Errorf("the incident row %+v", rows[0])
	}
	if want := []string{"party-a: Confirmedcraters seen from OP 3", "party-b: Disputedno fire heard"}; !slices.Equal(rows[0].Views, want) {
		t.Errorf("the views side by side %q, want %q", rows[0].Views, want)
	}
	saveArtifact(t, tab, "bulletin.png")

	// On a phone the page does not scroll sideways: the incidents stack.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(true))))`,
		chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	if wide := evaluate[int](t, tab, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); wide > 1 {
		t.Errorf("on a phone the bulletin is %d px wider than the screen", wide)
	}
	saveArtifact(t, tab, "bulletin-390.png")
}
