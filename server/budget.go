package server

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/semaphore"

	"qrsync/photo"
)

// decodeBudget is the one memory budget all decodes share: a semaphore of
// bytes, each decode weighted by the cost photo works out from its header.
// A bound per decode alone let sixteen parallel 380 KB PNG bombs take the
// process to 2 GiB; with one budget they take turns. The semaphore only
// keeps the books: what keeps the process's RSS near them is the Go
// runtime's memory limit, which the composition root sets just above the
// budget, so freed decode buffers are collected before new ones are taken
// from the system.
type decodeBudget struct {
	sem   *semaphore.Weighted
	total int64
	inUse atomic.Int64
}

func newDecodeBudget(total int64) *decodeBudget {
	return &decodeBudget{sem: semaphore.NewWeighted(total), total: total}
}

// errDecodeBusy ends a decode that was only worth starting at once: the
// budget is taken, or the bytes come too slowly to keep it. The upload is
// then stored first and decoded from storage when its turn comes.
var errDecodeBusy = errors.New("decode deferred")

// errNeverFits is a decode larger than the whole budget: it could never
// run, so waiting for it would be a lie.
var errNeverFits = newUserError(photo.ErrTooManyPixels, "error.neverFits")

// tryAdmit is photo.Options.Admit for a decode that runs while the upload
// arrives: it never waits.
func (b *decodeBudget) tryAdmit(cost int64) (func(), error) {
	if cost > b.total {
		return nil, errNeverFits
	}
	if !b.sem.TryAcquire(cost) {
		return nil, errDecodeBusy
	}
	return b.took(cost), nil
}

// admit is photo.Options.Admit for a decode from storage: it waits its
// turn until ctx ends (the phone gave up, or the server stops).
func (b *decodeBudget) admit(ctx context.Context) func(int64) (func(), error) {
	return func(cost int64) (func(), error) {
		if cost > b.total {
			return nil, errNeverFits
		}
		if err := b.sem.Acquire(ctx, cost); err != nil {
			return nil, err
		}
		return b.took(cost), nil
	}
}

// collectAfter is the cost past which giving a decode's memory back
// first runs a collection: the next decode admitted in its place would
// otherwise allocate beside the garbage, and RSS would pass the budget
// before the runtime's limit caught up (16 parallel bombs of ~100 MB
// peaked 167 MiB over a 256 MiB budget without it). A collection with
// only pixel buffers live takes a millisecond or two; photos of usual size
// never pay it.
const collectAfter = 32 << 20

func (b *decodeBudget) took(cost int64) func() {
	b.inUse.Add(cost)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			if cost >= collectAfter {
				runtime.GC()
			}
			b.inUse.Add(-cost)
			b.sem.Release(cost)
		}
	}
}

// used is the bytes admitted right now, for the metric.
func (b *decodeBudget) used() int64 { return b.inUse.Load() }
