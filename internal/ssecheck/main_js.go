//go:build js && wasm

package main

import (
	"encoding/json"
	"syscall/js"
)

// main publishes globalThis.ssecheckRun and then waits forever: the
// function dies with the Go program.
func main() {
	js.Global().Set("ssecheckRun", js.FuncOf(run))
	<-make(chan struct{})
}

// run is globalThis.ssecheckRun(cases): cases is the bytes of cases.json as
// a Uint8Array (exact bytes) or a string; the answer is the Report as JSON,
// or {"error": "..."}.
func run(_ js.Value, args []js.Value) any {
	if len(args) != 1 {
		return errorJSON("ssecheckRun takes one argument, the bytes of cases.json")
	}
	var in []byte
	switch a := args[0]; {
	case a.Type() == js.TypeString:
		in = []byte(a.String())
	case a.InstanceOf(js.Global().Get("Uint8Array")):
		in = make([]byte, a.Get("length").Int())
		js.CopyBytesToGo(in, a)
	default:
		return errorJSON("ssecheckRun wants a Uint8Array or a string")
	}
	rep, err := Run(in)
	if err != nil {
		return errorJSON(err.Error())
	}
	out, err := json.Marshal(rep)
	if err != nil {
		return errorJSON(err.Error())
	}
	return string(out)
}

func errorJSON(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b)
}
