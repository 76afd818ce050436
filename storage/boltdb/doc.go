// Package boltdb is the embedded default catalog: sessions, images
// and each session's event log in one bbolt file, with live fan-out to
// waiters inside this process.
//
// # Layout
//
//	sessions/                 bucket
//	  <sessionID>/            bucket per session
//	    meta                  JSON of the session record
//	    images/  seq → JSON storage.Image (8-byte big-endian insertion sequence)
//	    imgidx/  imageID → seq
//	    sha/     sha256 → imageID
//	    sizes/   size (8-byte big-endian) ‖ imageID → nothing
//	    events/  seq → type NUL JSON record (8-byte big-endian event sequence)
//	tokens/     uploadToken → sessionID
//
// Every change to a session is one bbolt read-write transaction, committed
// with fsync (bbolt's default, kept on purpose: an "image" event promises
// the image is stored). bbolt runs one writer at a time, which is what
// makes duplicate and quota checks race-free without further locking.
//
// # Event ids
//
// An event id is the decimal form of the event's sequence in its session's
// events bucket (bbolt's NextSequence, persisted with the bucket), so ids
// start at "1", grow by one per event, survive a restart and are never
// reused within a session. Events are never trimmed, so any id the session
// issued can be replayed from; anything else is storage.ErrEventGone.
//
// # Waiting
//
// Each session that has waiters has one channel; an append closes it and
// forgets it, and the next waiter makes a new one. Closing a channel wakes
// every waiter at once and never blocks the writer, however slow a
// subscriber is. A waiter takes the channel before it reads the log, so an
// event committed after its read always closes the channel it holds: no
// wakeup is lost. Entries exist only while someone waits, so the map does
// not grow with sessions nobody watches.
//
// # A full disk
//
// A write that fails for want of space is storage.ErrInsufficientStorage.
// Removing sessions and images is how the server frees a full disk, so
// those must still work then; but bbolt writes every change to fresh
// pages, and the spare pages at the end of its file are holes that need
// new disk space when first written. So the catalog keeps a reserve: it
// allocates (fallocate, on Linux) a mebibyte of its file beyond what bbolt
// uses, topping it up as bbolt grows, and when the disk is too full to
// top it up it refuses new sessions and images, keeping what is left for
// removals. Elsewhere it relies on the slack bbolt leaves in its file.
//
// # A damaged file
//
// Open reads the whole file and runs bbolt's consistency check, and every
// method turns a panic of bbolt (it panics on pages it cannot make sense
// of) into an error wrapping ErrCorrupt, which names the file and says
// what to do: move it aside and start again. Photos are not in the file,
// so nothing but the open sessions is lost.
package boltdb
