package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// webhookError waits for the error of the zone's alert's webhook
// notification, as every viewer of the alert reads it, and returns it with
// the notification's state.
func webhookError(t *testing.T, a *app.App, zone string) (msg, state string) {
	t.Helper()
	alertingtest.Eventually(t, 20*time.Second, "the webhook to fail", func() bool {
		for _, al := range alerts(t, a, zone) {
			for _, n := range al.Notifications {
				if n.Kind == alerting.MethodWebhook && n.Error != "" {
					msg, state = n.Error, n.State
					return true
				}
			}
		}
		return false
	})
	return msg, state
}

// TestWebhookAnswersStayWithTheDestination: what a destination answers
// (its error page may name internal hosts, or worse) is not shown to the
// alert's viewers: the status alone is.
func TestWebhookAnswersStayWithTheDestination(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	leaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("internal admin console at 10.1.2.3:8443; session hunter2"))
	}))
	t.Cleanup(leaky.Close)
	if err := a.ApplyConfig(context.Background(), notifyAtOnce([]alerting.Contact{webhookContact("liaison-a", "party-a", leaky.URL+"/hook")}, "liaison-a")); err != nil {
		t.Fatal(err)
	}
	post(t, a, "/api/v1/reports", reportJSON("leak-1", "aleppo", "shelling"))
	msg, _ := webhookError(t, a, "aleppo")
	if !strings.Contains(msg, "403 Forbidden") || strings.Contains(msg, "hunter2") || strings.Contains(msg, "10.1.2.3") {
		t.Errorf("the notification's error reads %q; want the status and nothing of the answer", msg)
	}
}

// TestWebhooksDoNotReachPrivateAddresses: a webhook to a private or local
// address is refused, without a request, unless its network is allowed.
func TestWebhooksDoNotReachPrivateAddresses(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.WebhookAllowNetworks = nil
	a := start(t, cfg)
	var requests atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { requests.Add(1) }))
	t.Cleanup(inside.Close)
	if err := a.ApplyConfig(context.Background(), notifyAtOnce([]alerting.Contact{webhookContact("liaison-a", "party-a", inside.URL+"/hook")}, "liaison-a")); err != nil {
		t.Fatal(err)
	}
	post(t, a, "/api/v1/reports", reportJSON("inside-1", "aleppo", "shelling"))
	msg, state := webhookError(t, a, "aleppo")
	if !strings.Contains(msg, "not allowed for webhooks") || state != alerting.NotificationGaveUp {
		t.Errorf("a webhook to loopback: %s, %q; want it given up at once as not allowed", state, msg)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the loopback receiver got %d requests, want none", n)
	}
}

// TestAPartysPendingPagesStopWhenItAcknowledges: a page to a party's
// contact that is still being retried when that party acknowledges is
// cancelled, though the alert still waits for the other party.
func TestAPartysPendingPagesStopWhenItAcknowledges(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	in := newReceiver(t)
	in.down.Store(true) // answers 503: the page is retried
	if err := a.ApplyConfig(context.Background(), notifyAtOnce([]alerting.Contact{webhookContact("liaison-a", "party-a", in.URL+"/a")}, "liaison-a", "party-a", "party-b")); err != nil {
		t.Fatal(err)
	}
	post(t, a, "/api/v1/reports", reportJSON("pair-1", "aleppo", "shelling"))
	page := func() alerting.Notification { return pageOf(t, a, "aleppo", "liaison-a") }
	alertingtest.Eventually(t, 20*time.Second, "the page to fail once", func() bool { return page().State == alerting.NotificationFailed })
	dutyA := userToken(t, a, alerting.User{Name: "duty-a", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	if status, resp := postAs(t, a, dutyA, "/api/v1/alerts/"+firstAlert(t, a, "aleppo").ID+"/ack", []byte(`{"note":"party A has it"}`)); status != http.StatusOK {
		t.Fatalf("party A's acknowledgement: %d %v", status, resp)
	}
	// At its next attempt, which the backoff may put some tens of seconds
	// away on a slow machine.
	alertingtest.Eventually(t, 90*time.Second, "the page to be cancelled", func() bool { return page().State == alerting.NotificationCancelled })
	if n := page(); !strings.Contains(n.Error, "party-a acknowledged") {
		t.Errorf("the cancelled page says %q", n.Error)
	}
	if al := firstAlert(t, a, "aleppo"); al.State != alerting.StateOpen {
		t.Errorf("the alert is %s, want open: party B has not acknowledged", al.State)
	}
}

// TestContactsArePagedOnlyForTheirZones: a contact with zones, like a
// party's liaison team, is paged for alerts in those zones only: the step
// of an alert elsewhere names it as not covering the zone, and a page
// still waiting when its zones change is cancelled. A contact naming an
// unknown zone is refused.
func TestContactsArePagedOnlyForTheirZones(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	in := newReceiver(t)
	liaison := webhookContact("party-a-liaison", "party-a", in.URL+"/a")
	liaison.Zones = []string{"aleppo", "idlib"}
	centre := webhookContact("centre", "", in.URL+"/centre")
	cfg := notifyAtOnce([]alerting.Contact{liaison, centre}, "centre")
	cfg.Policies[0].Steps[0].Notify = []string{"board", "party-a-liaison", "centre"}
	if err := a.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	post(t, a, "/api/v1/reports", reportJSON("zone-1", "damascus-ghouta", "shelling"))
	post(t, a, "/api/v1/reports", reportJSON("zone-2", "aleppo", "shelling"))
	alertingtest.Eventually(t, 20*time.Second, "three pages: the centre twice, the liaison once", func() bool {
		return len(in.rc.Received()) == 3
	})
	if c := in.counts(); len(c) != 3 {
		t.Errorf("pages by key: %v", c)
	}
	ghouta := firstAlert(t, a, "damascus-ghouta")
	for _, n := range ghouta.Notifications {
		if n.Contact == "party-a-liaison" {
			t.Errorf("the Ghouta alert has a notification for the liaison team: %+v", n)
		}
	}
	if !slices.ContainsFunc(ghouta.Timeline, func(e alerting.Entry) bool {
		return e.Action == alerting.EventEscalated && strings.Contains(e.Note, "not party-a-liaison (not covering damascus-ghouta)")
	}) {
		t.Errorf("the Ghouta alert's timeline does not say why the liaison team was not paged: %+v", ghouta.Timeline)
	}

	// A page waiting for its retry when the contact stops covering the zone.
	in.down.Store(true)
	post(t, a, "/api/v1/reports", reportJSON("zone-3", "idlib", "shelling"))
	page := func() alerting.Notification { return pageOf(t, a, "idlib", "party-a-liaison") }
	alertingtest.Eventually(t, 20*time.Second, "the page to fail once", func() bool { return page().State == alerting.NotificationFailed })
	liaison.Zones = []string{"aleppo"}
	if err := a.ApplyConfig(context.Background(), alerting.Config{Contacts: []alerting.Contact{liaison}}); err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 90*time.Second, "the page to be cancelled", func() bool { return page().State == alerting.NotificationCancelled })
	if n := page(); !strings.Contains(n.Error, "does not cover zone idlib") {
		t.Errorf("the cancelled page says %q", n.Error)
	}

	liaison.Zones = []string{"kyiv"}
	doc, err := json.Marshal(liaison)
	if err != nil {
		t.Fatal(err)
	}
	status, body := call(t, a, signIn(t, a), "PUT", "/api/v1/contacts/party-a-liaison", string(doc))
	if status != http.StatusBadRequest || !strings.Contains(body, `unknown zone \"kyiv\"`) {
		t.Errorf("a contact in an unknown zone: %d %s", status, body)
	}
}

// pageOf is the notification of contact on the first alert of zone.
func pageOf(t *testing.T, a *app.App, zone, contact string) alerting.Notification {
	t.Helper()
	for _, n := range firstAlert(t, a, zone).Notifications {
		if n.Contact == contact {
			return n
		}
	}
	return alerting.Notification{}
}
