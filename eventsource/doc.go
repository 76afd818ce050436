// Package eventsource reads Server-Sent Events streams: a Decoder that turns
// the bytes of an event stream into events, and a Client that keeps a stream
// open across drops the way a browser's EventSource does. qrsync uses it in
// two places, the PC page (compiled to WebAssembly, reading through fetch)
// and the `qrsync watch` command (native, reading through Hertz's client), so
// that both see exactly the same events and reconnect the same way.
//
// # Decoder
//
// The Decoder follows the WHATWG HTML "Interpreting an event stream" rules to
// the letter: UTF-8 decoding with U+FFFD for invalid bytes (one per maximal
// subpart, as TextDecoder does), LF, CR and CRLF line ends (also when a CRLF
// is cut between two reads), one leading BOM dropped, comments, fields with
// and without a colon, one optional space after the colon, data lines joined
// by LF, an empty event not dispatched but its id still committed, an id
// with NUL ignored, an empty id resetting the last event ID, retry taken
// only when it is all ASCII digits, and an unfinished event at the end of
// the stream dropped. The cases in testdata/cases.json, most of them taken
// from web-platform-tests, pin this down; a fuzz test compares the Decoder
// with a plain whole-input reference.
//
// It is a pull decoder over an io.Reader (call Next for each event) rather
// than a callback or channel API, for three reasons. It works with whatever
// produces bytes — a fetch ReadableStream wrapped as an io.Reader, an HTTP
// body, a bytes.Reader in a test — with no goroutine of its own, which
// matters in a browser where every goroutine shares one thread. Reading is
// driven by the consumer, so a slow consumer slows the reads (and TCP pushes
// back on the server) instead of events piling up in memory. And errors come
// back where the caller is, in order with the events.
//
// It is built to be cheap in a browser: one read buffer per Decoder, reused
// across reconnects; lines are parsed in place in that buffer (copied only
// when a line spans two reads); buffers for the event's data and type are
// reused; a repeated event type costs no allocation. The steady state is one
// allocation per event for its data string and one for a new id. Memory is
// bounded: a line or an event's data past the maximum size (1 MiB by
// default) fails with ErrEventTooLarge instead of growing.
//
// # Client
//
// The Client is transport-agnostic: it does not make HTTP requests itself
// but calls a Connector, which returns a status, a content type and a body.
// The browser build supplies one based on fetch (net/http would add
// megabytes to the .wasm, and syscall/js cannot be used natively), the
// native build one based on Hertz; tests supply an in-memory one. Everything
// that decides behaviour — when to reconnect and after how long, which id to
// resend, which answers end the stream, what state to show — lives here, in
// plain Go tested natively, and is identical in both builds.
//
// The Client reconnects after any drop (end of stream, read error, network
// error, 5xx, an event too large), waiting for the server's retry time plus
// jitter and backing off exponentially while attempts keep failing. It
// resends the last event ID, honours a reset of it by the stream, and stops
// for good on 204, 404, 410 and other 4xx answers and on a 200 that is not
// text/event-stream, reporting each change through OnState so the page can
// show live, reconnecting or ended.
//
// The Decoder and the reconnect loop live in package sse, which imports
// neither time nor context: the browser build uses sse.Stream, the same
// client stopped by closing a channel, because those two packages would cost
// more of its download than the client itself. This package wraps them for
// a context and time.Duration; both builds run the same code.
package eventsource
