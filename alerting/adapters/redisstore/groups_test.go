package redisstore

import (
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestGroupCacheTrust: an alert this process committed for a group is
// trusted; once a commit finds it stale the group is distrusted for a
// while, even through later commits of this process; an action's change
// replaces the group's entry only when the entry holds that alert.
func TestGroupCacheTrust(t *testing.T) {
	t.Parallel()
	var c groupCache
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	v1 := &alerting.Alert{ID: "al-1", GroupKey: "g", Version: 1}
	c.committed(alerting.AlertChange{Alert: v1, GroupKey: "g"}, t0)
	if a, trusted := c.get("g"); a != v1 || !trusted {
		t.Fatalf("after this process's commit: %v trusted %v", a, trusted)
	}
	// A person acknowledges the alert through this process.
	v2 := &alerting.Alert{ID: "al-1", GroupKey: "g", Version: 2}
	c.committed(alerting.AlertChange{Alert: v2}, t0)
	if a, trusted := c.get("g"); a != v2 || !trusted {
		t.Fatalf("after an action: %v trusted %v", a, trusted)
	}
	// Another alert of no cached group changes nothing.
	c.committed(alerting.AlertChange{Alert: &alerting.Alert{ID: "al-9", GroupKey: "h", Version: 4}}, t0)
	if a, _ := c.get("h"); a != nil {
		t.Fatalf("an action on an uncached group cached %v", a)
	}
	// Another writer moved the alert: a commit found the entry stale.
	c.doubt(alerting.AlertChange{Alert: v2}, t0)
	if _, trusted := c.get("g"); trusted {
		t.Fatal("still trusted after a stale commit")
	}
	v3 := &alerting.Alert{ID: "al-1", GroupKey: "g", Version: 3}
	c.committed(alerting.AlertChange{Alert: v3, GroupKey: "g"}, t0.Add(distrustFor/2))
	if a, trusted := c.get("g"); a != v3 || trusted {
		t.Fatalf("within the distrust period: %v trusted %v, want v3 untrusted", a, trusted)
	}
	c.committed(alerting.AlertChange{Alert: v3, GroupKey: "g"}, t0.Add(distrustFor))
	if _, trusted := c.get("g"); !trusted {
		t.Fatal("not trusted again after the distrust period")
	}
	// A read from Redis is never trusted.
	c.put("g", v3, false, t0.Add(2*distrustFor))
	if _, trusted := c.get("g"); trusted {
		t.Fatal("an alert read from Redis is trusted")
	}
}
