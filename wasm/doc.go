// Command wasm is the PC page's client, compiled to WebAssembly
// (GOOS=js GOARCH=wasm) and served as /static/app.wasm.
//
// It keeps one session per browser (its id in localStorage under
// StorageKey, never in the address bar, since the id is the viewer's secret
// and the screen may be shared), shows its QR code, upload link and how
// long they and the photos last, and keeps a live gallery of the photos the
// phone sends, with placeholders for files still arriving, fed by the
// session's event stream (DESIGN §4) read through the browser's fetch and
// decoded by package eventsource/sse. Photos open in an in-page viewer, never
// a new tab, and go out through archive.zip or one by one.
//
// The code is split so that almost all of it is plain Go, built and tested
// natively:
//   - gallery.go, the view model: tiles in upload order, placeholders and
//     their timeouts, the viewer's place, the session's fields; it hands
//     the DOM layer a short list of operations;
//   - clock.go, the texts about time ("Code works until 20:04");
//   - session.go, which session to open and what an answer means;
//   - messages.go, every text the page shows, for translation;
//   - instant.go, time as Unix milliseconds and its calendar: the client
//     imports neither time nor context (nor package api, which holds
//     time.Time fields; it reads api/wire), since those alone would add
//     about a tenth to the download;
//   - format.go and addresses.go, small helpers.
//
// Only the files that touch syscall/js carry the `js && wasm` build tag
// (main_js.go: the session's life; dom_js.go: applying operations; ui_js.go:
// listeners, dialogs, copying, storage), and they stay thin; the fetch and
// timer glue they share with any client of the stream is package browser.
//
// The binary is the page's download, so the code is written for size as
// well: tables rather than code per field (messages.go, jsondec.go), and
// //go:noinline on small helpers called from many places, since every
// inlined copy is its own code in the wasm.
//
// The client never imports net/http, Hertz or storage: net/http alone would
// add about 2 MB gzipped to every page load.
package main
