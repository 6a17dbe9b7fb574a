package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
)

// CAP 1.2 over HTTP (docs/CAP.md): an alert's messages, a zone's Atom feed
// of them, and reports sent as CAP.

// answerCAP answers the alert's latest CAP message when the request's
// Accept prefers CAP to JSON, and says whether it did.
func (h *Handler) answerCAP(w http.ResponseWriter, r *http.Request, a *alerting.Alert) bool {
	w.Header().Add("Vary", "Accept")
	if !prefersCAP(r.Header.Get("Accept")) {
		return false
	}
	h.writeCAP(w, r, cap.Latest(a, h.capZone(a.Zone), h.capOptions(r)))
	return true
}

// alertCAP answers one CAP message of an alert: ?message=KEY (the last part
// of its identifier), or else the latest.
func (h *Handler) alertCAP(w http.ResponseWriter, r *http.Request) {
	a, err := h.visibleAlert(r, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ms := cap.Messages(a, h.capZone(a.Zone), h.capOptions(r))
	key := r.URL.Query().Get("message")
	if key == "" {
		h.writeCAP(w, r, ms[len(ms)-1])
		return
	}
	for _, m := range ms {
		if m.Key() == key {
			h.writeCAP(w, r, m)
			return
		}
	}
	h.writeError(w, r, alerting.Errorf(alerting.ENOTFOUND, "alert %s has no CAP message %s", a.ID, strconv.Quote(key)))
}

// zoneCAPFeed answers the Atom feed of the CAP messages of a zone's alerts,
// newest first. A zone the caller may not see is not found, like one that
// does not exist.
func (h *Handler) zoneCAPFeed(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("zone")
	z, ok := h.opts.Catalog.Catalog().Zone(id)
	if !ok || !principal(r).SeesZone(id) {
		h.writeError(w, r, alerting.Errorf(alerting.ENOTFOUND, "zone %s not found", strconv.Quote(id)))
		return
	}
	var problems []alerting.FieldProblem
	limit := intParam(r, "limit", 100, 1, 1000, &problems)
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad query", Fields: problems})
		return
	}
	alerts, err := h.opts.Alerts.Alerts(r.Context(), alerting.AlertFilter{Zones: []string{id}, Limit: 200})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	o := h.capOptions(r)
	var messages []*cap.Message
	for _, a := range alerts {
		messages = append(messages, cap.Messages(a, z, o)...)
	}
	base := strings.TrimRight(h.opts.PublicURL, "/")
	self := base + "/api/v1/zones/" + url.PathEscape(id) + "/cap.atom"
	feedID := self
	if base == "" {
		feedID = cap.NameURN("cap feed " + senderHost(h.opts.PublicURL, r) + " zone " + id)
	}
	feed := cap.Feed(messages, cap.FeedOptions{ID: feedID, Title: "truceline: CAP messages of " + z.Name, Self: self, Limit: limit,
		Updated: time.Now(), Link: func(alert, key string) string {
			return base + "/api/v1/alerts/" + url.PathEscape(alert) + "/cap?message=" + url.QueryEscape(key)
		}})
	doc, err := feed.Marshal()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeXML(w, cap.AtomMediaType, doc)
}

func (h *Handler) writeCAP(w http.ResponseWriter, r *http.Request, m *cap.Message) {
	doc, err := m.Marshal()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeXML(w, cap.MediaType, doc)
}

func writeXML(w http.ResponseWriter, contentType string, doc []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// capZone is the zone for a message's area; a zone removed since the alert
// opened is still named by its id.
func (h *Handler) capZone(id string) alerting.Zone {
	if z, ok := h.opts.Catalog.Catalog().Zone(id); ok {
		return z
	}
	return alerting.Zone{ID: id, Name: id}
}

// capOptions: the sender is truceline@ the public URL's host (or, without
// one, the host the request reached); links point at the public URL, or
// are relative; parties are named by their configured names.
func (h *Handler) capOptions(r *http.Request) cap.Options {
	catalog := h.opts.Catalog.Catalog()
	return cap.Options{Sender: "truceline@" + senderHost(h.opts.PublicURL, r), BoardURL: h.opts.PublicURL,
		PartyName: func(id string) string { p, _ := catalog.Party(id); return p.Name }}
}

func senderHost(publicURL string, r *http.Request) string {
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" {
		return "localhost"
	}
	return host
}

// prefersCAP reports whether an Accept header asks for CAP rather than
// JSON: application/cap+xml with a higher quality than JSON gets, or the
// same quality when JSON is reached only by a wildcard.
func prefersCAP(accept string) bool {
	capQ, jsonQ, jsonSpecific := 0.0, 0.0, -1
	for _, part := range strings.Split(accept, ",") {
		params := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(params[0]))
		q := 1.0
		for _, p := range params[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		specific := map[string]int{"*/*": 0, "application/*": 1, "application/json": 2}
		switch s, ok := specific[mt]; {
		case mt == cap.MediaType:
			capQ = max(capQ, q)
		case ok && s > jsonSpecific:
			jsonQ, jsonSpecific = q, s
		case ok && s == jsonSpecific:
			jsonQ = max(jsonQ, q)
		}
	}
	return capQ > 0 && (capQ > jsonQ || capQ == jsonQ && jsonSpecific < 2)
}

// reportBody reads a report's body. JSON is taken as it is; a CAP 1.2
// message (Content-Type application/cap+xml) is decoded into a report and
// encoded as JSON, so that both take the same path from there. For CAP, the
// Decoded names the CAP elements in the report's validation problems; it is
// nil for JSON.
func (h *Handler) reportBody(w http.ResponseWriter, r *http.Request) ([]byte, *cap.Decoded, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != cap.MediaType {
		data, err := readBody(w, r, alerting.MaxReportBytes)
		return data, nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cap.MaxBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, nil, alerting.Errorf(alerting.ETOOLARGE, "request body exceeds %d bytes", cap.MaxBytes)
	case err != nil:
		return nil, nil, alerting.Errorf(alerting.EINVALID, "cannot read request body: %v", err)
	}
	// Only the zones the caller may see or report on can be named: to it,
	// the others do not exist.
	p := principal(r)
	var zones []alerting.Zone
	for _, z := range h.opts.Catalog.Catalog().Zones() {
		if p.SeesZone(z.ID) || p.Submits(z.ID) {
			zones = append(zones, z)
		}
	}
	d, err := cap.Decode(data, zones)
	if err != nil {
		return nil, nil, err
	}
	js, err := json.Marshal(d.Report)
	if err != nil {
		return nil, nil, err
	}
	return js, d, nil
}
