package broker

import "sync"

// lanes hands items to a fixed set of workers so that items of one key are
// handled one at a time, in the order they were pushed, and items of
// different keys at once. Unlike hashing keys onto workers, no key ever
// waits behind another key's backlog, and pushing never blocks: what bounds
// the backlog is JetStream's MaxAckPending.
type lanes[T any] struct {
	mu     sync.Mutex
	cond   sync.Cond
	queues map[string][]T  // waiting items per key
	busy   map[string]bool // keys a worker is handling an item of
	ready  []string        // keys with waiting items and no worker on them
	closed bool
}

func newLanes[T any]() *lanes[T] {
	l := &lanes[T]{queues: map[string][]T{}, busy: map[string]bool{}}
	l.cond.L = &l.mu
	return l
}

// push queues item under key.
func (l *lanes[T]) push(key string, item T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queues[key]
	if len(q) == 0 && !l.busy[key] {
		l.ready = append(l.ready, key)
		l.cond.Signal()
	}
	l.queues[key] = append(q, item)
}

// next waits for items whose key no other worker is handling, takes up to
// max of them, in order, and marks the key busy until done(key). ok is
// false once the lanes are closed and empty.
func (l *lanes[T]) next(max int) (key string, items []T, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.ready) == 0 {
		if l.closed {
			return "", nil, false
		}
		l.cond.Wait()
	}
	key, l.ready = l.ready[0], l.ready[1:]
	q := l.queues[key]
	n := min(max, len(q))
	items = append([]T(nil), q[:n]...)
	clear(q[:n]) // for the garbage collector
	l.queues[key] = q[n:]
	l.busy[key] = true
	return key, items, true
}

// done ends the handling of key's items: the key's next items, if any,
// become ready.
func (l *lanes[T]) done(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.busy, key)
	if len(l.queues[key]) > 0 {
		l.ready = append(l.ready, key)
		l.cond.Signal()
	} else {
		delete(l.queues, key)
	}
}

// close lets the workers finish what is queued and then stop.
func (l *lanes[T]) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.cond.Broadcast()
}
