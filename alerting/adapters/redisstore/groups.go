package redisstore

import (
	"sync"
	"time"

	"github.com/truceline/truceline/alerting"
)

// groupCacheSize bounds the group cache: a few thousand decoded alerts,
// some megabytes, cover every group that reports are arriving for at once.
const groupCacheSize = 4096

// distrustFor is how long a group whose trusted entry turned out stale (an
// alert another replica, the escalator or a person changed) is confirmed
// in Redis before every use.
const distrustFor = 30 * time.Second

// groupCache remembers, per group key, the alert this process last read or
// committed for it, so that reading a group's alert costs no round trip
// (an entry this process committed itself, trusted) or one small round trip
// that checks the binding and the version, instead of reading and decoding
// the alert's JSON. The commit script checks the version and the binding
// again, so a stale entry is harmless: the commit fails as stale, the entry
// is distrusted, and the engine reads again. A group that turns out stale is
// distrusted for a while, so that replicas working on the same zone do not
// waste commits on each other's changes.
//
// Cached alerts are shared: callers must not modify them. alerting.Alert's
// methods return changed copies, and the engine never changes one in place.
type groupCache struct {
	mu sync.Mutex
	m  map[string]groupEntry
}

type groupEntry struct {
	alert         *alerting.Alert
	trusted       bool      // committed by this process since the last doubt
	distrustUntil time.Time // until then, never trusted
}

func (c *groupCache) get(key string) (a *alerting.Alert, trusted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	return e.alert, e.trusted
}

// put remembers a, trusted when this process committed it (unless the
// group is distrusted); when the cache is full, an arbitrary entry makes
// room.
func (c *groupCache) put(key string, a *alerting.Alert, committed bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]groupEntry)
	}
	e, ok := c.m[key]
	if !ok && len(c.m) >= groupCacheSize {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	e.alert, e.trusted = a, committed && !now.Before(e.distrustUntil)
	c.m[key] = e
}

// committed remembers an alert change this process committed. A change
// that binds a group (a report's) is trusted for it; a change that does not
// (an action, an escalation) updates the entry of the group the alert was
// opened for, when that entry holds this alert.
func (c *groupCache) committed(ac alerting.AlertChange, now time.Time) {
	if ac.GroupKey != "" {
		c.put(ac.GroupKey, ac.Alert, true, now)
		return
	}
	key := ac.Alert.GroupKey
	if key == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.alert.ID == ac.Alert.ID {
		e.alert = ac.Alert
		c.m[key] = e
	}
}

// doubt distrusts the group of an alert change a commit found stale.
func (c *groupCache) doubt(ac alerting.AlertChange, now time.Time) {
	key := ac.GroupKey
	if key == "" {
		key = ac.Alert.GroupKey
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		e.trusted, e.distrustUntil = false, now.Add(distrustFor)
		c.m[key] = e
	}
}
