package sse

import "math/rand/v2"

// Duration is a span of time in nanoseconds, as time.Duration, which this
// package cannot name: importing time adds about 37 KB (brotli) of
// runtime metrics and GODEBUG machinery to the browser build.
type Duration int64

// Units of Duration, as in package time.
const (
	Millisecond Duration = 1e6
	Second               = 1000 * Millisecond
)

// Backoff defaults, used for the zero values of Backoff's fields.
const (
	// DefaultInitialDelay is the wait before a reconnect when the server sent
	// no retry field: the reconnection time browsers commonly start with.
	DefaultInitialDelay = Second
	// DefaultMaxDelay caps the wait while attempts keep failing, so a client
	// comes back within half a minute of the server (plus jitter).
	DefaultMaxDelay = 30 * Second
	// DefaultJitter spreads reconnects: after a server restart, every open
	// page would otherwise come back in the same instant.
	DefaultJitter = 0.5
)

// Backoff is the reconnection policy: the server's retry time (or Initial),
// doubled for every consecutive failed attempt, capped at Max, plus a random
// part. The zero value uses the defaults above.
type Backoff struct {
	// Initial is the delay before the first reconnect when the server sent
	// no retry; 0 means DefaultInitialDelay.
	Initial Duration
	// Max caps the delay for repeated failures; 0 means DefaultMaxDelay.
	Max Duration
	// Jitter is the largest fraction of the delay added at random, 0..1
	// (values above 1 count as 1); 0 means DefaultJitter, a negative value
	// means none.
	Jitter float64
	// Rand returns a number in [0, 1) for the jitter; nil means math/rand/v2.
	// Tests set it to get exact delays.
	Rand func() float64
}

// Delay returns how long to wait before the next attempt. retry is the
// server's reconnection time (0 or less when it sent none: then Initial is
// used, which also keeps a "retry: 0" server from being hammered in a tight
// loop); failures is the number of consecutive failed attempts, 0 after a
// connection that went live and then dropped. The delay is doubled per
// failure and capped at Max; the jitter comes on top of the cap.
func (b Backoff) Delay(retry Duration, failures int) Duration {
	base := retry
	if base <= 0 {
		base = b.Initial
		if base <= 0 {
			base = DefaultInitialDelay
		}
	}
	limit := b.Max
	if limit <= 0 {
		limit = DefaultMaxDelay
	}
	d := base
	for i := 0; i < failures && d < limit; i++ {
		if d > limit/2 {
			d = limit
			break
		}
		d *= 2
	}
	d = min(d, limit)

	j := b.Jitter
	switch {
	case j == 0:
		j = DefaultJitter
	case j < 0:
		j = 0
	case j > 1:
		j = 1
	}
	if j > 0 {
		rnd := b.Rand
		if rnd == nil {
			rnd = rand.Float64
		}
		f := rnd()
		f = max(0, min(f, 1)) // a bad Rand must not make a negative or runaway delay
		d += Duration(float64(d) * j * f)
	}
	return d
}
