// Package sse is the core of package eventsource without package time or
// package context: the spec-exact Decoder, and Stream, the reconnecting
// client that eventsource.Client wraps for a context. The PC page's wasm
// client uses it directly, since importing time (its GODEBUG settings pull
// in the runtime's metrics) or context adds a large part of the client's
// download; see package eventsource for how both behave.
package sse
