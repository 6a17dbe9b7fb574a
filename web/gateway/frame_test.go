package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

func TestFrameSeqReadsWhatChangeFrameWrites(t *testing.T) {
	t.Parallel()
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: "default"},
		&alerting.Report{ID: "r1", Zone: "aleppo", Category: alerting.CategoryShelling}, time.Now())
	alertJSON, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := alerting.ChangeBody(alerting.EventOpened, "r1", alertJSON)
	for _, seq := range []int64{1, 9, 10, 123456789012} {
		if got := frameSeq(alerting.ChangeFrame("damascus-ghouta", seq, body)); got != seq {
			t.Errorf("frameSeq = %d, want %d", got, seq)
		}
	}
	for _, bad := range []string{``, `{}`, `{"type":"snapshot","zone":"a","seq":4,`, `{"type":"alert","zone":"a","seq":`, `{"type":"alert","zone":"a","seq":12`} {
		if got := frameSeq([]byte(bad)); got != 0 {
			t.Errorf("frameSeq(%q) = %d, want 0", bad, got)
		}
	}
}
