//go:build !(js && wasm)

package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// main runs the cases natively, so that `go build ./...` works on the host
// and the same code can be tried without a browser:
//
//	go run ./internal/ssecheck eventsource/testdata/cases.json
//
// It prints the report as JSON and exits 1 if a case failed.
func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ssecheck CASES.json (in a browser: build with GOOS=js GOARCH=wasm and call ssecheckRun)")
		os.Exit(2)
	}
	in, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rep, err := Run(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.Encode(rep)
	if rep.Passed != rep.Cases {
		os.Exit(1)
	}
}
