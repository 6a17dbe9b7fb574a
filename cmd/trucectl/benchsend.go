package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// sender is one simulated reporter's connection to truceline. send
// records in the tracker whether the report was accepted; close waits for
// the answers still due and closes the connection.
type sender interface {
	send(ctx context.Context, i int, id, subject string, body []byte)
	close()
}

// natsMaxPending bounds each NATS reporter's unacknowledged publishes: as
// fast as possible means as fast as JetStream acknowledges.
const natsMaxPending = 1024

var benchCategories = []alerting.Category{alerting.CategoryShelling, alerting.CategorySmallArms, alerting.CategoryExplosion, alerting.CategoryAirstrike}

// benchSubject is report i's zone and category: zones round-robin, and the
// category changing with every round.
func benchSubject(zones []string, i int) (string, alerting.Category) {
	return zones[i%len(zones)], benchCategories[(i/len(zones))%len(benchCategories)]
}

// appendReport appends a valid schema-v1 exercise report. The strings are
// ids, zones and the bench's own names: Go quoting is JSON quoting for them.
func appendReport(b []byte, id, zone string, c alerting.Category, reporter string, at time.Time) []byte {
	return fmt.Appendf(b, `{"id":%q,"zone":%q,"category":%q,"observed_at":%q,"reported_by":%q,"exercise":true}`,
		id, zone, c, at.UTC().Format(time.RFC3339), reporter)
}

func reporterName(r int) string { return "trucectl bench reporter " + strconv.Itoa(r+1) }

// openSenders connects every reporter before the load starts.
func (b *benchRun) openSenders(ctx context.Context, vias []via, tr *tracker) ([]sender, error) {
	senders := make([]sender, 0, len(vias))
	for r, v := range vias {
		var s sender
		var err error
		if v == viaNATS {
			s, err = newNATSSender(ctx, b.cfg, r, tr)
		} else {
			s, err = newHTTPSender(ctx, b.cfg, tr)
		}
		if err != nil {
			closeSenders(senders)
			return nil, fmt.Errorf("reporter %d: %w", r+1, err)
		}
		senders = append(senders, s)
	}
	return senders, nil
}

func closeSenders(senders []sender) {
	for _, s := range senders {
		s.close()
	}
}

// send runs every reporter until its share of the reports is sent, then
// waits for their answers.
func (b *benchRun) send(ctx context.Context, senders []sender, tr *tracker) {
	start := time.Now()
	var wg sync.WaitGroup
	for r, s := range senders {
		wg.Go(func() {
			defer s.close()
			b.report(ctx, r, s, tr, start)
		})
	}
	wg.Wait()
}

// report is reporter r's loop: reports r, r+n, r+2n… of the run, each at
// its time on the run's schedule when there is a rate (catching up in a
// burst when behind), else one after the other.
func (b *benchRun) report(ctx context.Context, r int, s sender, tr *tracker, start time.Time) {
	cfg := b.cfg
	name := reporterName(r)
	for i := r; i < cfg.total; i += cfg.reporters {
		sentAt := time.Now()
		if cfg.rate > 0 {
			sentAt = start.Add(time.Duration(float64(i) / cfg.rate * float64(time.Second)))
			if !sleepUntil(ctx, sentAt) {
				return
			}
		} else if ctx.Err() != nil || (cfg.sendFor > 0 && time.Since(start) >= cfg.sendFor) {
			return
		}
		zone, c := benchSubject(cfg.zones, i)
		id := reportID(cfg.run, i)
		if cfg.uniqueReporters {
			name = "trucectl bench reporter of " + id
		}
		body := appendReport(nil, id, zone, c, name, time.Now())
		tr.sentAt(i, sentAt)
		s.send(ctx, i, id, "violations."+zone+"."+string(c), body)
	}
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// natsSender publishes with JetStream async publish on a connection of
// its own; a goroutine collects the acknowledgements in order.
type natsSender struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	tr   *tracker
	acks chan pendingAck
	done chan struct{}
}

type pendingAck struct {
	i   int
	fut jetstream.PubAckFuture
}

func newNATSSender(ctx context.Context, cfg benchConfig, r int, tr *tracker) (*natsSender, error) {
	nc, err := nats.Connect(cfg.natsURL, nats.Name("trucectl-bench-reporter-"+strconv.Itoa(r+1)))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.natsURL, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(natsMaxPending), jetstream.WithPublishAsyncTimeout(cfg.grace))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("JetStream: %w", err)
	}
	s := &natsSender{nc: nc, js: js, tr: tr, acks: make(chan pendingAck, natsMaxPending), done: make(chan struct{})}
	go s.collect(ctx)
	return s, nil
}

func (s *natsSender) send(ctx context.Context, i int, id, subject string, body []byte) {
	for {
		fut, err := s.js.PublishAsync(subject, body, jetstream.WithMsgID(id))
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) && ctx.Err() == nil {
			continue // back-pressure: wait for acknowledgements
		}
		if err != nil {
			s.tr.rejected(i, natsReason(err))
			return
		}
		select {
		case s.acks <- pendingAck{i, fut}:
		case <-ctx.Done():
		}
		return
	}
}

func (s *natsSender) collect(ctx context.Context) {
	defer close(s.done)
	for p := range s.acks {
		select {
		case ack := <-p.fut.Ok():
			s.tr.accepted(p.i, ack.Duplicate)
		case err := <-p.fut.Err():
			s.tr.rejected(p.i, natsReason(err))
		case <-ctx.Done():
			return
		}
	}
}

func (s *natsSender) close() {
	close(s.acks)
	<-s.done
	s.nc.Close()
}

// natsReason is a short class of a publish error, for counting.
func natsReason(err error) string {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr):
		return fmt.Sprintf("nats: API error %d", apiErr.ErrorCode)
	case errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return "nats: ack timeout"
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return "nats: no stream response"
	case errors.Is(err, nats.ErrDisconnected):
		return "nats: disconnected"
	case errors.Is(err, nats.ErrConnectionClosed):
		return "nats: connection closed"
	case errors.Is(err, nats.ErrTimeout):
		return "nats: timeout"
	case errors.Is(err, nats.ErrMaxPayload):
		return "nats: payload too large"
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		return "nats: stalled"
	}
	msg := strings.TrimPrefix(err.Error(), "nats: ")
	return "nats: " + msg[:min(len(msg), 40)]
}

// httpSender posts reports one at a time on a keep-alive connection of
// its own, with the token.
type httpSender struct {
	client *http.Client
	url    string
	header http.Header // shared by its requests, never changed
	tr     *tracker
	buf    bytes.Buffer
}

func newHTTPSender(ctx context.Context, cfg benchConfig, tr *tracker) (*httpSender, error) {
	transport := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, IdleConnTimeout: time.Minute, DisableCompression: true}
	s := &httpSender{client: &http.Client{Transport: transport, Timeout: 30 * time.Second}, url: cfg.server + "/api/v1/reports",
		header: authHeader(cfg.token), tr: tr}
	s.header.Set("Content-Type", "application/json")
	// Open the connection now, so that the first report does not pay for it.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.server+"/healthz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("truceline at %s: %w", cfg.server, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return s, nil
}

func (s *httpSender) send(ctx context.Context, i int, _, _ string, body []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		s.tr.rejected(i, "http: "+err.Error())
		return
	}
	req.Header = s.header
	resp, err := s.client.Do(req)
	if err != nil {
		s.tr.rejected(i, httpReason(err))
		return
	}
	s.buf.Reset()
	_, _ = s.buf.ReadFrom(io.LimitReader(resp.Body, 64<<10)) // read to the end, to keep the connection
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		s.tr.rejected(i, strconv.Itoa(resp.StatusCode))
		return
	}
	var answer struct {
		ID        string `json:"id"`
		Duplicate bool   `json:"duplicate"`
	}
	_ = json.Unmarshal(s.buf.Bytes(), &answer)
	if answer.ID != "" {
		s.tr.keyed(i, answer.ID)
	}
	s.tr.accepted(i, answer.Duplicate)
}

func (s *httpSender) close() { s.client.CloseIdleConnections() }

// httpReason is a short class of a failed HTTP exchange, for counting.
func httpReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "http: canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "http: connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "http: connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "http: connection closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "http: timeout"
	}
	return "http: error"
}
