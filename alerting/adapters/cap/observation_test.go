package cap_test

import (
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
	"github.com/truceline/truceline/alerting/adapters/cap/captest"
)

// observedFire adds the parameters of observed fire to the partner's
// message.
func observedFire(params string) string {
	return strings.Replace(partnerCAP, `<parameter><valueName>other-system-id</valueName>`, params+`<parameter><valueName>other-system-id</valueName>`, 1)
}

func param(name, value string) string {
	return `<parameter><valueName>` + name + `</valueName><value>` + value + `</value></parameter>`
}

// TestDecodeObservedFire: the parameters truceline-observed-until,
// -observer, -direction-deg, -distance-m, -weapon-calibre and -impacts
// become the report's fields, and the report's validation names the
// parameter a bad value came from.
func TestDecodeObservedFire(t *testing.T) {
	t.Parallel()
	doc := observedFire(param("truceline-observed-until", "2026-11-23T17:08:00+03:00") + param("truceline-observer", "34.9,36.65") +
		param("truceline-direction-deg", "42.5") + param("truceline-distance-m", "3000-5000") +
		param("truceline-weapon-calibre", "7.62mm") + param("truceline-impacts", "0"))
	captest.Validate(t, []byte(doc))
	d, err := cap.Decode([]byte(doc), zones)
	if err != nil {
		t.Fatal(err)
	}
	r := d.Report
	if r.ObservedUntil == nil || !r.ObservedUntil.Equal(time.Date(2026, 11, 23, 14, 8, 0, 0, time.UTC)) ||
		r.Observer == nil || *r.Observer != (alerting.Position{Lat: 34.9, Lon: 36.65}) || r.DirectionDeg == nil || *r.DirectionDeg != 42.5 ||
		r.DistanceM == nil || *r.DistanceM != (alerting.DistanceRange{Min: 3000, Max: 5000}) || r.WeaponCalibre != "7.62mm" ||
		r.Impacts == nil || *r.Impacts != 0 {
		t.Errorf("report %+v", r)
	}
	cat := alerting.MustCatalog(1, alerting.Config{Zones: zones})
	if err := r.Validate(cat, time.Date(2026, 11, 23, 14, 10, 0, 0, time.UTC)); err != nil {
		t.Errorf("the report does not validate: %v", err)
	}

	one, err := cap.Decode([]byte(observedFire(param("truceline-distance-m", "800"))), zones)
	if err != nil || one.Report.DistanceM == nil || *one.Report.DistanceM != (alerting.DistanceRange{Min: 800, Max: 800}) {
		t.Errorf("one distance: %v %+v", err, one)
	}

	// Values that do not parse are the decoder's problems; values out of
	// range the report's, named by their parameter.
	_, err = cap.Decode([]byte(observedFire(param("truceline-observed-until", "later")+param("truceline-observer", "north")+
		param("truceline-direction-deg", "NE")+param("truceline-distance-m", "far")+param("truceline-impacts", "-1"))), zones)
	got := problemsOf(t, err, alerting.EINVALID)
	for i, want := range []string{"is not a CAP dateTime", `"north" is not a point`, `"NE" is not a number`, `"far" is not a distance`, "must be an integer from 0"} {
		if field := "info[1].parameter[" + string(rune('3'+i)) + "]"; !strings.Contains(got[field], want) {
			t.Errorf("%s: %q, want it to say %q (all: %v)", field, got[field], want, got)
		}
	}
	d, err = cap.Decode([]byte(observedFire(param("truceline-direction-deg", "400")+param("truceline-distance-m", "9-3"))), zones)
	if err != nil {
		t.Fatal(err)
	}
	got = problemsOf(t, d.Explain(d.Report.Validate(cat, time.Date(2026, 11, 23, 14, 10, 0, 0, time.UTC))), alerting.EINVALID)
	if !strings.Contains(got["info[1].parameter[3]"], "true north) (report field direction_deg)") ||
		!strings.Contains(got["info[1].parameter[4]"], "min must not be more than max (report field distance_m)") {
		t.Errorf("explained: %v", got)
	}
}

// TestObservedFireIsInTheExportedNote: the CAP message of the change a
// report made says what its monitor recorded of the fire, in its note.
func TestObservedFireIsInTheExportedNote(t *testing.T) {
	t.Parallel()
	r := report("unmo-7", t0.Add(-10*time.Minute))
	until, bearing, impacts := t0.Add(-3*time.Minute), 45.0, 24
	r.ObservedUntil, r.Observer, r.DirectionDeg, r.DistanceM = &until, &alerting.Position{Lat: 36.2, Lon: 37.1}, &bearing, &alerting.DistanceRange{Min: 3000, Max: 5000}
	r.Weapon, r.WeaponCalibre, r.Impacts = "MLRS", "122mm", &impacts
	a := alerting.OpenAlert(alerting.Opening{ID: "al-7", ZoneName: "Aleppo", Rule: alerting.DefaultRule, GroupKey: "default:aleppo:shelling"}, r, t0)
	m := cap.Latest(a, aleppo, opts)
	encode(t, m)
	want := "report unmo-7 (24 impacts), MLRS 122mm, observed for 7m0s, bearing 45° from the observer, 3–5 km"
	if !strings.Contains(m.Note, want) {
		t.Errorf("note %q, want it to say %q", m.Note, want)
	}
}
