// Package browser is the wasm client's glue to the browser's fetch and
// timers: requests and event streams through fetch, promises awaited from
// a goroutine, sleeps through setTimeout. It imports neither net/http nor
// time nor context, each of which would weigh more in the download than
// all of this glue.
//
// Every file but this one is built for js/wasm only.
package browser
