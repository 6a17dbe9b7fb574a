package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
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
	d := startDeps(t)
	a := start(t, d.config(t))
	in := newReceiver(t)
	in.down.Store(true) // answers 503: the page is retried
	if err := a.ApplyConfig(context.Background(), notifyAtOnce([]alerting.Contact{webhookContact("liaison-a", "party-a", in.URL+"/a")}, "liaison-a", "party-a", "party-b")); err != nil {
		t.Fatal(err)
	}
	post(t, a, "/api/v1/reports", reportJSON("pair-1", "aleppo", "shelling"))
	page := func() alerting.Notification {
		for _, n := range firstAlert(t, a, "aleppo").Notifications {
			if n.Contact == "liaison-a" {
				return n
			}
		}
		return alerting.Notification{}
	}
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
