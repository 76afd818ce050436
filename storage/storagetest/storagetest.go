// Package storagetest is the conformance suite every storage backend runs:
// TestBlobStore for a storage.BlobStore, TestCatalog for a catalog (its
// Catalog interface is the whole contract), and TestSharedCatalog for a
// catalog that several instances share. A backend's own test calls them
// with a function that opens a fresh handle on the backend under test:
//
//	func TestConformance(t *testing.T) {
//		storagetest.TestCatalog(t, func(t *testing.T) storagetest.Catalog {
//			c, err := boltdb.Open(filepath.Join(t.TempDir(), "qrsync.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { c.Close() })
//			return c
//		})
//	}
//
// The suite assumes nothing about a backend beyond the contracts in package
// storage, so that the embedded backends and the networked ones (S3,
// Redis) are held to the same behaviour:
//
//   - open is called once per subtest, with the subtest's t, and must be
//     safe to call from parallel subtests. Handles may share one server;
//     every subtest uses its own random session ids and blob keys, so
//     leftovers of earlier runs and parallel subtests do not interfere.
//   - Event ids are opaque: the suite compares them only for equality and
//     by their position in the log, never as numbers.
//   - Nothing depends on timing except generous timeouts that only fire
//     when a backend hangs.
//   - Expiry is tested with sessions created already expired, not by
//     controlling a clock: a catalog reads none, every time is the
//     caller's.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"
)

// hangTimeout bounds every call that must return on its own. It is far
// beyond anything a healthy backend needs, even a networked one under
// -race on a loaded machine; reaching it means the backend hangs.
const hangTimeout = 30 * time.Second

// randomID returns 128 random bits in hex: a session id, token or image id
// no other run or subtest will ever use, and valid in any blob key.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// testContext is a context that ends when the test does or after
// hangTimeout, whichever comes first.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), hangTimeout)
	t.Cleanup(cancel)
	return ctx
}
