package eventsource

import (
	"time"

	"qrsync/eventsource/sse"
)

// Backoff defaults, used for the zero values of Backoff's fields.
const (
	// DefaultInitialDelay is the wait before a reconnect when the server sent
	// no retry field: the reconnection time browsers commonly start with.
	DefaultInitialDelay = time.Duration(sse.DefaultInitialDelay)
	// DefaultMaxDelay caps the wait while attempts keep failing, so a client
	// comes back within half a minute of the server (plus jitter).
	DefaultMaxDelay = time.Duration(sse.DefaultMaxDelay)
	// DefaultJitter spreads reconnects: after a server restart, every open
	// page would otherwise come back in the same instant.
	DefaultJitter = sse.DefaultJitter
)

// Backoff is the reconnection policy: the server's retry time (or Initial),
// doubled for every consecutive failed attempt, capped at Max, plus a random
// part. The zero value uses the defaults above. It is sse.Backoff with
// time.Duration fields.
type Backoff struct {
	// Initial is the delay before the first reconnect when the server sent
	// no retry; 0 means DefaultInitialDelay.
	Initial time.Duration
	// Max caps the delay for repeated failures; 0 means DefaultMaxDelay.
	Max time.Duration
	// Jitter is the largest fraction of the delay added at random, 0..1
	// (values above 1 count as 1); 0 means DefaultJitter, a negative value
	// means none.
	Jitter float64
	// Rand returns a number in [0, 1) for the jitter; nil means math/rand/v2.
	// Tests set it to get exact delays.
	Rand func() float64
}

// Delay returns how long to wait before the next attempt, as
// sse.Backoff.Delay does.
func (b Backoff) Delay(retry time.Duration, failures int) time.Duration {
	return time.Duration(b.sse().Delay(sse.Duration(retry), failures))
}

func (b Backoff) sse() sse.Backoff {
	return sse.Backoff{Initial: sse.Duration(b.Initial), Max: sse.Duration(b.Max), Jitter: b.Jitter, Rand: b.Rand}
}
