// Command ssecheck runs the SSE decoding cases of
// eventsource/testdata/cases.json through eventsource.Decoder and reports,
// case by case, whether the events, the last event ID, the retry time and
// the error are the expected ones.
//
// It exists to run those cases where the PC page runs the decoder: built
// with GOOS=js GOARCH=wasm, it sets globalThis.ssecheckRun(cases) in the
// browser, which takes the bytes of cases.json (a Uint8Array, or a string)
// and returns the report as JSON. The interop tests build it, load it in
// headless Chromium and Firefox, and require every case to pass in both.
//
// Each case is read the way the native test in package eventsource reads
// it (both take the readings, the decoding and the expected outcome from
// qrsync/eventsource/ssecases), because a browser's fetch hands the decoder
// the body in pieces of any size: whole, one byte per read, half of what is
// asked per read, with the last bytes and io.EOF together, and split in two
// at every byte position.
//
// On other platforms, `go run ./internal/ssecheck FILE` runs the same code
// natively and prints the report.
package main
