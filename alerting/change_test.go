package alerting_test

import (
	"encoding/json"
	"testing"

	"github.com/truceline/truceline/alerting"
)

func openedBody(t *testing.T) (body []byte, alertAt int) {
	t.Helper()
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: alerting.DefaultRule}, report("r1", testNow), testNow)
	alertJSON, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return alerting.ChangeBody(alerting.EventOpened, "r1", alertJSON)
}

func TestChangeFrameRoundTrip(t *testing.T) {
	t.Parallel()
	body, _ := openedBody(t)
	c, err := alerting.DecodeChange(alerting.ChangeFrame("aleppo", 42, body))
	if err != nil {
		t.Fatal(err)
	}
	if c.Zone != "aleppo" || c.Seq != 42 || c.Event != alerting.EventOpened || c.ReportID != "r1" || c.Alert.ID != "al-1" {
		t.Errorf("decoded %+v", c)
	}
}

func TestFrameSeqReadsWhatChangeFrameWrites(t *testing.T) {
	t.Parallel()
	body, _ := openedBody(t)
	for _, seq := range []int64{1, 9, 10, 123456789012} {
		if got := alerting.FrameSeq(alerting.ChangeFrame("damascus-ghouta", seq, body)); got != seq {
			t.Errorf("FrameSeq = %d, want %d", got, seq)
		}
	}
	for _, bad := range []string{``, `{}`, `{"type":"snapshot","zone":"a","seq":4,`, `{"type":"alert","zone":"a","seq":`,
		`{"type":"alert","zone":"a","seq":12`, `{"type":"alert","zone":"A","seq":12,`, `{"type":"alert","zone":"a","seq":0,`,
		`{"type":"alert","zone":"","seq":3,`, `{"type":"alert","seq":3,"zone":"a",`} {
		if got := alerting.FrameSeq([]byte(bad)); got != 0 {
			t.Errorf("FrameSeq(%q) = %d, want 0", bad, got)
		}
	}
}

func TestFrameBodyIsWhatChangeBodyMade(t *testing.T) {
	t.Parallel()
	body, at := openedBody(t)
	frame := alerting.ChangeFrame("aleppo", 7, body)
	got, gotAt, ok := alerting.FrameBody("aleppo", 7, frame)
	if !ok || string(got) != string(body) || gotAt != at {
		t.Fatalf("FrameBody = %q, %d, %v; want %q, %d", got, gotAt, ok, body, at)
	}
	for _, other := range []struct {
		zone string
		seq  int64
	}{{"aleppo", 8}, {"idlib", 7}, {"alepp", 7}} {
		if _, _, ok := alerting.FrameBody(other.zone, other.seq, frame); ok {
			t.Errorf("FrameBody(%s, %d) of a frame of aleppo/7 is ok", other.zone, other.seq)
		}
	}
	if _, _, ok := alerting.FrameBody("aleppo", 7, alerting.ChangeFrame("aleppo", 7, []byte(`"event":"opened"}`))); ok {
		t.Error("FrameBody of a frame without an alert is ok")
	}
}
