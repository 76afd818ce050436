//go:build js && wasm

// Command streamonly is the smallest client of a session's event stream:
// it follows the stream at the page's address, through the same fetch glue
// and decoder as the PC client, and logs each event to the console. The
// benchmark table builds it beside the empty program to show how much of
// the client's download the stream alone takes, before any gallery, text
// or page logic.
package main

import (
	"syscall/js"

	"qrsync/eventsource/sse"
	"qrsync/wasm/browser"
)

func main() {
	console := js.Global().Get("console")
	s := &sse.Stream{
		Connect: browser.EventStream(js.Global().Get("location").Get("href").String(), nil),
		Sleep:   func(d sse.Duration) error { return browser.Sleep(nil, int64(d/sse.Millisecond)) },
		OnEvent: func(ev sse.Event) error {
			console.Call("log", ev.Type, ev.Data)
			return nil
		},
		OnState: func(st sse.State, err error) { console.Call("log", st.String()) },
	}
	if err := s.Run(); err != nil {
		console.Call("warn", err.Error())
	}
}
