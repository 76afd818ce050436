// Package web holds the static assets of both pages — the PC page that runs
// the wasm client and the phone's upload page — embedded into the binary so
// that qrsync is one file to copy and run.
package web

import "embed"

// Static is the web/static directory: index.html, upload.html, their CSS
// and JS, and, after `make`, app.wasm and wasm_exec.js, and the brotli and
// gzip variants of every asset (<file>.br, <file>.gz, precompress.sums).
// Paths inside start with "static/"; the server maps /static/<file> and
// the hashed /static/<stem>.<hash><ext> to "static/<file>" (server/pages.go).
// The built files are not committed, so a fresh clone embeds the pages
// without them, serves everything uncompressed, and the PC page then says
// the client is not built.
//
//go:embed static
var Static embed.FS
