//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main exists only so that `go build ./...` and `go vet ./...` work on the
// host; the real entry point is in main_js.go.
func main() {
	fmt.Fprintln(os.Stderr, "qrsync/wasm is the browser client: build it with GOOS=js GOARCH=wasm (see the Makefile)")
	os.Exit(2)
}
