package eventsource

import "qrsync/eventsource/sse"

// BufferLens returns the lengths of d's buffers. FuzzDecoder checks them
// against the size limit; it is an external test (it uses ssecases, which
// imports eventsource), so it cannot read them itself.
func BufferLens(d *Decoder) (line, data, typ, fix int) { return sse.BufferLens(&d.Decoder) }
