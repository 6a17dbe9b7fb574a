package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/broker/natstest"
)

// BenchmarkCompact writes batches of 512 alerts of about 2 KB into the
// compacted record, as the compactor does after a surge.
//
//	go test -run '^$' -bench Compact -benchtime 20x ./broker/
func BenchmarkCompact(b *testing.B) {
	const batch = 512
	br := newBroker(b, natstest.Start(b))
	pad := strings.Repeat("r", 1800)
	alerts := make([]alerting.CompactAlert, batch)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for j := range alerts {
			id := fmt.Sprintf("al-%d-%d", i, j)
			body, _ := json.Marshal(map[string]string{"id": id, "zone": "aleppo", "title": pad})
			alerts[j] = alerting.CompactAlert{Alert: body, Reports: []string{"r-" + id}, ID: id}
		}
		b.StartTimer()
		if err := br.Compact(ctx, "aleppo", int64(i), time.Now(), alerts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/alert")
}
