package redisstore

import (
	"sync"

	"github.com/truceline/truceline/alerting"
)

// groupCacheSize bounds the group cache: a few thousand decoded alerts,
// some megabytes, cover every group that reports are arriving for at once.
const groupCacheSize = 4096

// groupCache remembers, per group key, the alert this process last read or
// committed for it. Reading a group's alert then costs one small round trip
// that checks the binding and the version instead of reading
// and decoding the alert's JSON. The version check makes a stale entry
// harmless: another replica's change, or a person's action, only means the
// JSON is read after all.
//
// Cached alerts are shared: callers must not modify them. alerting.Alert's
// methods return changed copies, and the engine never changes one in place.
type groupCache struct {
	mu sync.Mutex
	m  map[string]*alerting.Alert
}

func (c *groupCache) get(key string) *alerting.Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

// put remembers a; when the cache is full, an arbitrary entry makes room.
func (c *groupCache) put(key string, a *alerting.Alert) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*alerting.Alert)
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= groupCacheSize {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = a
}
