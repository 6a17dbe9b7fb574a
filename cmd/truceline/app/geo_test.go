package app_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

func getBody(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := adminClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, []byte(b.String())
}

// TestGeoJSON exports the zones and imports them back, and lists reports
// as Point features filtered by zone and time, for the zones the caller may
// see.
func TestGeoJSON(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	base := "http://" + a.HTTPAddr()
	status, header, body := getBody(t, base+"/api/v1/zones.geojson")
	var zones struct {
		Type     string
		Features []struct {
			Type       string
			ID         string
			Geometry   json.RawMessage
			Properties struct{ ID, Name string }
		}
	}
	if status != 200 || header.Get("Content-Type") != "application/geo+json" || json.Unmarshal(body, &zones) != nil ||
		zones.Type != "FeatureCollection" || len(zones.Features) != 6 || !strings.Contains(string(zones.Features[0].Geometry), "Polygon") {
		t.Fatalf("zones: %d %s", status, body)
	}
	// Import: the same collection with one renamed zone and one new one.
	imported := strings.Replace(string(body), `"name":"Aleppo"`, `"name":"Aleppo city"`, 1)
	imported = strings.Replace(imported, `"features":[`, `"features":[{"type":"Feature","id":"raqqa","geometry":{"type":"Point","coordinates":[39.0,35.95]},"properties":{"name":"Raqqa"}},`, 1)
	req, _ := http.NewRequest("POST", base+"/api/v1/zones.geojson", strings.NewReader(imported))
	req.Header.Set("Content-Type", "application/geo+json")
	resp, err := adminClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("import: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if _, body := get(t, a, "/api/v1/zones/aleppo"); body["name"] != "Aleppo city" {
		t.Errorf("after import: %v", body)
	}
	req, _ = http.NewRequest("POST", base+"/api/v1/zones.geojson", strings.NewReader(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{"name":"x"}}]}`))
	req.Header.Set("Content-Type", "application/geo+json")
	if resp, _ := adminClient.Do(req); resp.StatusCode != 400 {
		t.Errorf("a feature without id: %d", resp.StatusCode)
	}

	now := time.Now().UTC().Add(-time.Minute)
	for i, zone := range []string{"aleppo", "aleppo", "idlib"} {
		body := fmt.Sprintf(`{"id":"g-%d","zone":%q,"category":"shelling","observed_at":%q,"reported_by":"OP 1","location":{"lat":36.2,"lon":37.1}}`, i, zone, now.Format(time.RFC3339))
		if i == 1 {
			body = strings.Replace(body, `,"location":{"lat":36.2,"lon":37.1}`, "", 1)
		}
		if status, b := post(t, a, "/api/v1/reports", []byte(body)); status != 202 {
			t.Fatalf("report: %d %v", status, b)
		}
	}
	var fc struct {
		Features []struct {
			ID       string
			Geometry *struct {
				Type        string
				Coordinates []float64
			}
			Properties struct{ Zone string }
		}
	}
	alertingtest.Eventually(t, 10*time.Second, "the reports in the collection", func() bool {
		_, _, body := getBody(t, base+"/api/v1/reports.geojson?zone=aleppo")
		return json.Unmarshal(body, &fc) == nil && len(fc.Features) == 2
	})
	if g := fc.Features[0].Geometry; g == nil || g.Type != "Point" || g.Coordinates[0] != 37.1 || g.Coordinates[1] != 36.2 || fc.Features[1].Geometry != nil {
		t.Errorf("features %+v", fc.Features)
	}
	if _, _, body := getBody(t, base+"/api/v1/reports.geojson?zone=aleppo&from="+now.Add(time.Minute).Format(time.RFC3339)); strings.Contains(string(body), "g-0") {
		t.Errorf("the time filter let an earlier report through: %s", body)
	}
	liaison := userToken(t, a, alerting.User{Name: "geo-liaison", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"idlib"}})
	if status, body := call(t, a, liaison, "GET", "/api/v1/reports.geojson", ""); status != 200 || strings.Contains(body, "aleppo") || !strings.Contains(body, "g-2") {
		t.Errorf("a liaison's reports: %d %s", status, body)
	}
	if status, _ := call(t, a, liaison, "GET", "/api/v1/reports.geojson?zone=aleppo", ""); status != 400 {
		t.Errorf("a liaison asking for a hidden zone: %d", status)
	}
}

// TestDailySummary counts a zone's reports of the day by category and
// severity, beside the day before, as JSON and CSV.
func TestDailySummary(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	now := time.Now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	// Today's reports at 00:30, or halfway to now when it is earlier.
	today := midnight.Add(min(30*time.Minute, now.Sub(midnight)/2))
	yesterday := midnight.AddDate(0, 0, -1).Add(30 * time.Minute)
	for i, r := range []struct {
		at       time.Time
		category string
		extra    string
	}{
		{today, "shelling", `,"count":40`},
		{today, "shelling", `,"count":2,"casualties":{"killed":1,"injured":0}`},
		{today, "small_arms", ``},
		{yesterday, "shelling", `,"count":10`},
	} {
		body := fmt.Sprintf(`{"id":"s-%d","zone":"daraa","category":%q,"observed_at":%q,"reported_by":"OP 2"%s}`, i, r.category,
			r.at.Format(time.RFC3339), r.extra)
		if status, b := post(t, a, "/api/v1/reports", []byte(body)); status != 202 {
			t.Fatalf("report %d: %d %v", i, status, b)
		}
	}
	day := today.Format(time.DateOnly)
	var s struct {
		Zones []alerting.DailySummary
	}
	alertingtest.Eventually(t, 10*time.Second, "the day's reports counted", func() bool {
		_, _, body := getBody(t, "http://"+a.HTTPAddr()+"/api/v1/summary?zone=daraa&day="+day)
		return json.Unmarshal(body, &s) == nil && len(s.Zones) == 1 && s.Zones[0].Total.Tally.Reports == 3 && s.Zones[0].Total.Previous.Reports == 1
	})
	z := s.Zones[0]
	if z.Total.Tally.Events != 43 || z.Total.Tally.Killed != 1 || z.Total.Change != 33 || z.ByCategory[0].Key != "shelling" || z.ByCategory[0].Tally.Events != 42 {
		t.Errorf("summary %+v", z)
	}
	status, header, body := getBody(t, "http://"+a.HTTPAddr()+"/api/v1/summary?zone=daraa&format=csv&day="+day)
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if status != 200 || !strings.HasPrefix(header.Get("Content-Type"), "text/csv") || err != nil || len(rows) < 4 || rows[1][5] != "total" || rows[1][9] != "43" {
		t.Errorf("csv: %d %v %q", status, err, body)
	}
	if status, _ := get(t, a, "/api/v1/summary?day=yesterday&cutoff=25"); status != 400 {
		t.Errorf("a bad day and cut-off: %d", status)
	}
}
