// Command wasm is the PC page's client, compiled to WebAssembly
// (GOOS=js GOARCH=wasm) and served as /static/app.wasm.
//
// It creates a session, shows its QR code and upload link, and keeps a live
// gallery of the photos the phone sends, fed by the session's event stream
// (DESIGN §4) read through the browser's fetch and decoded by package
// eventsource.
//
// The code is split so that almost all of it is plain Go, built and tested
// natively: the gallery view model (gallery.go) decides what changed and
// hands the DOM layer a short list of operations, and the small helpers for
// sizes, labels and addresses live beside it. Only the files that touch
// syscall/js carry the `js && wasm` build tag, and they stay thin: they do
// fetch, DOM and nothing that needs a test of its own.
//
// The client never imports net/http, Hertz or storage: net/http alone would
// add about 2 MB gzipped to every page load.
package main
