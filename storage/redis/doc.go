// Package redis is the catalog for several instances behind a load
// balancer: sessions, their images and each session's event log live in
// one Redis, so that any instance can take any request, and a viewer's
// stream on one instance hears of an upload that landed on another.
//
// Open takes redis://[user:password@]host:port[/db][?prefix=qrsync:]
// (rediss:// for TLS, and go-redis's own URL parameters). Every key and
// pub/sub channel starts with the prefix, so several deployments can share
// one Redis; pub/sub ignores the database number, so the prefix is what
// keeps their news apart.
//
// # Layout
//
// With P the prefix and {id} a session id as a hash tag (all of one
// session's keys then share a slot):
//
//	P s:{id}     hash    the record: id token created upexp exp images bytes,
//	                     seq (the gallery's insertion counter), ended ("1")
//	P i:{id}     hash    image id → storage.Image as JSON
//	P o:{id}     zset    image ids scored by seq: the gallery, oldest first
//	P h:{id}     hash    sha256 → image id, for duplicates
//	P z:{id}     zset    image ids scored by size (sessions made before
//	                     it have none until their gallery is empty again)
//	P k:{id}     set     every upload token the session ever had
//	P e:{id}     stream  the event log: fields t (type) and d (the record)
//	P x:{id}     hash    the tombstone of a deleted session: ended, until
//	P t:<token>  string  session id, for every token (RenewUploadLink adds one)
//	P expiry     zset    session ids not yet deleted, scored by ExpiresAt in
//	                     ms; an ended session scores -inf (due whatever now)
//	P tombstones zset    tombstoned ids scored by their time, for PurgeTombstones
//	P hub:<rand> stream  one handle's control stream (see Live delivery)
//	P n:{id}     channel the session's news (pub/sub)
//
// Times are stored as fixed-width UTC strings with nanoseconds, so they
// round-trip exactly and compare byte by byte inside Lua; scores are
// milliseconds, an expiry rounded up and the caller's now rounded down, so
// nothing is listed before its time. The catalog never judges a time by
// any clock but the caller's.
//
// # Atomic steps
//
// Every change that touches a session or its gallery and appends an event
// is one Lua script (go-redis runs EVALSHA and falls back to EVAL): the
// live check, the duplicate check, the quota, the write, the counts and the
// XADD of AddImage cannot interleave with another writer on any instance,
// and the log and the gallery never disagree. Reads that must see several
// keys at one moment are scripts too: Images and the log's last id; Read's
// session state, the check that afterID is in the log, and the XRANGE.
//
// # Event ids
//
// An event's id is its stream entry's id ("1733100000000-0"), so it is
// meaningful to every instance and a browser's Last-Event-ID resumes
// anywhere. Read after an id the stream does not hold (never issued, or
// trimmed by the log's MAXLEN ~ bound) is storage.ErrEventGone: the
// stream answers XRANGE id id with nothing.
//
// # Live delivery
//
// A blocked Read holds no connection. Each handle has one hub: a goroutine
// with a connection of its own that runs
//
//	XREAD BLOCK 1000 COUNT 1 STREAMS <control> k1 k2 ... <ctlpos> id1 id2 ...
//
// over every stream this process has waiters on, each from the earliest id
// any of its waiters last saw. When a stream gets an entry, the hub wakes
// all its waiters at once (closing a channel, which never blocks the hub
// however slow a waiter is), and each looks at the log again through the
// ordinary pool. Nothing can be missed between a waiter's look and its
// wait, because the hub reads from the id the waiter saw, not from "now":
// an entry appended in between answers the hub's next XREAD at once. When
// the set of watched streams grows, the handle XADDs to its control
// stream, which ends the BLOCK in flight so the new stream is covered
// immediately; that is for latency only, correctness does not rest on it.
//
// EndSession appends an "ended" entry, which wakes readers on every
// instance; they then answer storage.ErrExpired. DeleteSession removes the
// log's entries but keeps its key for a few minutes with one "ended"
// entry, because a blocked XREAD wakes for an entry, not for its key being
// deleted.
//
// When the hub's XREAD fails (its connection killed, Redis restarted or
// gone), it wakes every waiter and retries with a short backoff while
// go-redis redials. Each waiter looks again: if Redis answers, it finds
// whatever it missed or waits again; if not, Read returns the outage as a
// wrapped error. Its read deadline is the BLOCK plus two seconds, so even
// a Redis that falls silent without closing the connection is noticed
// within seconds.
//
// # News
//
// Catalog.News carries upload progress between instances by pub/sub, a
// channel per session, all on one pub/sub connection per handle, fanned out
// in-process. Subscribe never waits on the network (one goroutine brings
// the subscriptions up to date, in order), and go-redis remakes the
// connection and subscribes again after a failure. It is lossy by design.
//
// # Connections
//
// A handle holds at most its pool (pool_size, 16 by default), one
// connection for the hub and one for News once used: 18 per instance,
// whether it serves ten streams or ten thousand. Commands have a 2 s dial,
// read and write timeout and honour ctx, so an outage answers within a
// few seconds instead of hanging, with an error that wraps
// storage.ErrUnavailable (the server answers 503): in about one second
// when Redis is down (refused), two for a command and five for a blocked
// Read when the network falls silent. Commands are not retried (a script
// whose reply was lost may have run); the pool checks an idle connection
// before use, so one that Redis closed is redialled rather than failed.
//
// # Lifetimes
//
// Redis TTLs are a backstop, never the rule. A session's keys expire
// (PEXPIREAT) a day (WithGrace) after its ExpiresAt, and ExtendSession
// moves them with it, so the record that names the blobs outlives its end
// long enough for a sweep to list it (ExpiredSessions), delete its blobs
// and then its data (DeleteSession). If the keys lapse anyway, the expiry
// set still lists the id and DeleteSession finishes the job. A tombstone
// and the tokens it keeps answering expire an hour after its time, should
// PurgeTombstones not run.
//
// # Limits
//
// This is a design for one Redis primary (with replicas or Sentinel if
// wanted), not Redis Cluster: the hub's XREAD names streams of many
// sessions, and the scripts reach token keys they read from a session's
// token set. The hash tags keep the per-session keys ready for a sharded
// variant. Redis 6.2 or later is required (exclusive XRANGE).
package redis
