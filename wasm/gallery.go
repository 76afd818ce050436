package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"qrsync/api"
)

// Connection states, spelled exactly as eventsource.State.String() spells
// them, so that the page's data-state attribute, the view model and the
// browser tests share one vocabulary without this file importing the
// decoder.
const (
	StateConnecting   = "connecting"
	StateLive         = "live"
	StateReconnecting = "reconnecting"
	StateEnded        = "ended"
)

// EndedMessage is shown once the session is over, whether the stream said
// `expired` or the server answered 404/410: the QR code is dead either way
// and only a new page load makes a new one.
const EndedMessage = "This session has ended — reload for a new code"

// OpKind says what one Op asks the DOM layer to do.
type OpKind int

// The operations the DOM layer knows. They are the smallest set that lets
// the page follow the model without ever rebuilding a tile that is already
// on screen: a rebuilt <img> would flash and refetch its thumbnail.
const (
	// OpAdd: build a tile for Image and insert it before the tile Before
	// ("" means at the end).
	OpAdd OpKind = iota + 1
	// OpRemove: take the tile ID off the page.
	OpRemove
	// OpMove: move the existing tile ID before the tile Before ("" means
	// to the end). Only a snapshot that reorders known images needs it.
	OpMove
	// OpState: the connection state changed to State.
	OpState
)

// String names the kind, for test failures and console logs.
func (k OpKind) String() string {
	switch k {
	case OpAdd:
		return "add"
	case OpRemove:
		return "remove"
	case OpMove:
		return "move"
	case OpState:
		return "state"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Op is one change the DOM layer applies, in order. Applying a list of ops
// to a page that matched the model before makes it match the model after;
// that is the whole contract, and it keeps the syscall/js code trivial.
type Op struct {
	Kind OpKind
	// ID is the image the op is about (OpAdd, OpRemove, OpMove).
	ID string
	// Image is the image to draw (OpAdd only).
	Image api.Image
	// Before is the id of the tile to insert in front of; "" means at the
	// end of the gallery (OpAdd, OpMove).
	Before string
	// Arrived is true when the image just came in on a live `image` event
	// rather than as part of a snapshot, so the page may draw the eye to it.
	Arrived bool
	// State is the new connection state (OpState only).
	State string
}

// Gallery is the PC page's view model: the images on show, newest first, and
// the connection state. It is fed the decoded events of the stream and
// answers each with the ops that bring the page up to date. It is not safe
// for concurrent use; the client calls it from the one goroutine that reads
// the stream, plus state changes from that same client.
type Gallery struct {
	order     []string             // ids in display order, newest first
	images    map[string]api.Image // by id
	state     string
	expiresAt time.Time
}

// NewGallery returns an empty gallery in the connecting state.
func NewGallery() *Gallery {
	return &Gallery{images: map[string]api.Image{}, state: StateConnecting}
}

// State returns the connection state, one of the State constants.
func (g *Gallery) State() string { return g.state }

// Len returns how many images are on show.
func (g *Gallery) Len() int { return len(g.order) }

// IDs returns the ids on show in display order, newest first.
func (g *Gallery) IDs() []string { return slices.Clone(g.order) }

// Image returns the image with the given id, if it is on show.
func (g *Gallery) Image(id string) (api.Image, bool) {
	img, ok := g.images[id]
	return img, ok
}

// ExpiresAt returns the session's end as last told by a snapshot (zero
// until one arrives); the page shows it next to the QR code.
func (g *Gallery) ExpiresAt() time.Time { return g.expiresAt }

// errNoID rejects an image or removal without an id: such an image could
// never be matched by a later removed event or deduplicated on replay.
var errNoID = errors.New("event without an image id")

// Apply takes one event of the session stream, by its type and raw data,
// and returns the ops that show its effect. Unknown event types are ignored
// (a newer server may send more); malformed data is an error and changes
// nothing. After the session has ended every event is ignored.
func (g *Gallery) Apply(eventType string, data []byte) ([]Op, error) {
	if g.state == StateEnded {
		return nil, nil
	}
	switch eventType {
	case api.EventSnapshot:
		var s api.Snapshot
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("snapshot event: %w", err)
		}
		if !s.ExpiresAt.IsZero() {
			g.expiresAt = s.ExpiresAt
		}
		return g.Snapshot(s.Images), nil
	case api.EventImage:
		var img api.Image
		if err := json.Unmarshal(data, &img); err != nil {
			return nil, fmt.Errorf("image event: %w", err)
		}
		if img.ID == "" {
			return nil, fmt.Errorf("image event: %w", errNoID)
		}
		return g.Add(img), nil
	case api.EventRemoved:
		var r api.Removed
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("removed event: %w", err)
		}
		if r.ID == "" {
			return nil, fmt.Errorf("removed event: %w", errNoID)
		}
		return g.Remove(r.ID), nil
	case api.EventExpired:
		return g.Expire(), nil
	}
	return nil, nil
}

// Snapshot replaces the whole gallery with images (oldest first, as the
// server lists them). Tiles that vanished are removed, new ones are added in
// place, and images already on show are kept as they are, so a reconnect
// that falls back to a snapshot causes no flicker.
func (g *Gallery) Snapshot(images []api.Image) []Op {
	if g.state == StateEnded {
		return nil
	}
	next := make([]string, 0, len(images))
	nextImages := make(map[string]api.Image, len(images))
	for i := len(images) - 1; i >= 0; i-- { // newest first
		img := images[i]
		if img.ID == "" {
			continue
		}
		if _, dup := nextImages[img.ID]; dup {
			continue
		}
		nextImages[img.ID] = img
		next = append(next, img.ID)
	}

	var ops []Op
	kept := make([]string, 0, len(g.order)) // in the current order
	for _, id := range g.order {
		if _, ok := nextImages[id]; ok {
			kept = append(kept, id)
		} else {
			ops = append(ops, Op{Kind: OpRemove, ID: id})
		}
	}
	keptNext := make([]string, 0, len(kept)) // in the new order
	for _, id := range next {
		if _, had := g.images[id]; had {
			keptNext = append(keptNext, id)
		}
	}
	// Kept tiles normally stay in their relative order (images are listed
	// by arrival); only if they do not is anything moved.
	inOrder := slices.Equal(kept, keptNext)

	// Walk from the end: each tile goes right before its successor, which
	// is already in its final place, so the page ends up in `next` order.
	before := ""
	for i := len(next) - 1; i >= 0; i-- {
		id := next[i]
		if _, had := g.images[id]; !had {
			ops = append(ops, Op{Kind: OpAdd, ID: id, Image: nextImages[id], Before: before})
		} else if !inOrder {
			ops = append(ops, Op{Kind: OpMove, ID: id, Before: before})
		}
		before = id
	}
	g.order, g.images = next, nextImages
	return ops
}

// Add shows a newly arrived image at the front. An image already on show is
// ignored, so the overlap of a replay after a reconnect never shows a photo
// twice.
func (g *Gallery) Add(img api.Image) []Op {
	if g.state == StateEnded || img.ID == "" {
		return nil
	}
	if _, ok := g.images[img.ID]; ok {
		return nil
	}
	before := ""
	if len(g.order) > 0 {
		before = g.order[0]
	}
	g.images[img.ID] = img
	g.order = slices.Insert(g.order, 0, img.ID)
	return []Op{{Kind: OpAdd, ID: img.ID, Image: img, Before: before, Arrived: true}}
}

// Remove takes an image off the gallery; an id not on show is harmless.
func (g *Gallery) Remove(id string) []Op {
	if g.state == StateEnded {
		return nil
	}
	if _, ok := g.images[id]; !ok {
		return nil
	}
	delete(g.images, id)
	g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == id })
	return []Op{{Kind: OpRemove, ID: id}}
}

// Expire ends the session for good. The tiles stay on the page (their
// thumbnails are already loaded) but the state is ended and nothing changes
// the gallery afterwards.
func (g *Gallery) Expire() []Op {
	return g.SetState(StateEnded)
}

// SetState records a connection state reported by the stream client and
// returns an OpState if it changed. Ended is final: a late "reconnecting"
// from the client cannot bring a dead session back to life on screen.
func (g *Gallery) SetState(state string) []Op {
	if g.state == StateEnded || g.state == state {
		return nil
	}
	g.state = state
	return []Op{{Kind: OpState, State: state}}
}
