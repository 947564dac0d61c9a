package scaler

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// logLimiter lets a repeated log record through at most once per interval
// per key. Keys are 64-bit hashes, so an entry's size does not depend on the
// request or the error. It keeps at most maxEntries keys and drops the one
// logged longest ago to admit a new one. sweep removes keys that were silent
// for two intervals; the server calls it on every request, so that entries
// expire even when no warning follows.
type logLimiter struct {
	interval   time.Duration
	maxEntries int
	seed       maphash.Seed
	// nextSweep is the earliest time, in Unix nanoseconds, at which sweep
	// scans the entries again. It lets most calls skip the mutex.
	nextSweep atomic.Int64

	mu      sync.Mutex
	entries map[uint64]*limitEntry
}

type limitEntry struct {
	loggedAt   time.Time
	suppressed int
}

func newLogLimiter(interval time.Duration, maxEntries int) *logLimiter {
	return &logLimiter{
		interval:   interval,
		maxEntries: maxEntries,
		seed:       maphash.MakeSeed(),
		entries:    map[uint64]*limitEntry{},
	}
}

// key returns the hash that identifies a record made of parts. The random
// seed keeps clients from choosing colliding keys on purpose.
func (l *logLimiter) key(parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	var length [8]byte
	for _, part := range parts {
		// The length keeps ("ab", "c") and ("a", "bc") apart.
		binary.LittleEndian.PutUint64(length[:], uint64(len(part)))
		h.Write(length[:])
		h.WriteString(part)
	}
	return h.Sum64()
}

// allow reports whether a record for key may be logged at now and, if so, how
// many records for key it suppressed since the last one.
func (l *logLimiter) allow(key uint64, now time.Time) (ok bool, suppressed int) {
	l.sweep(now)

	l.mu.Lock()
	defer l.mu.Unlock()
	e, found := l.entries[key]
	if found && now.Sub(e.loggedAt) < l.interval {
		e.suppressed++
		return false, 0
	}
	if !found {
		if len(l.entries) >= l.maxEntries {
			l.evictOldest()
		}
		e = &limitEntry{}
		l.entries[key] = e
	}
	suppressed = e.suppressed
	*e = limitEntry{loggedAt: now}
	return true, suppressed
}

// sweep removes the entries last logged two intervals or more before now. It
// scans the entries about once per interval, and other calls return at once.
func (l *logLimiter) sweep(now time.Time) {
	if now.UnixNano() < l.nextSweep.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// A key that repeats more often than the interval is logged again within
	// two intervals, so only silent keys are older than that.
	for k, e := range l.entries {
		if now.Sub(e.loggedAt) >= 2*l.interval {
			delete(l.entries, k)
		}
	}
	l.nextSweep.Store(now.Add(l.interval).UnixNano())
}

// evictOldest removes the entry logged longest ago. It scans every entry,
// which happens only while more than maxEntries keys are logged within two
// intervals.
func (l *logLimiter) evictOldest() {
	var oldest uint64
	var oldestAt time.Time
	first := true
	for k, e := range l.entries {
		if first || e.loggedAt.Before(oldestAt) {
			oldest, oldestAt, first = k, e.loggedAt, false
		}
	}
	delete(l.entries, oldest)
}
