package main

import (
	"fmt"
	"io"
	"net/url"

	"qrsync/server"
	"qrsync/storage"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
)

// catalog is a catalog backend as the command holds it: what the server
// asks of it, and a Close for when the command ends.
type catalog interface {
	server.Catalog
	io.Closer
}

// openBackends is the only place that names a concrete backend. Empty
// URLs mean the embedded defaults under --data.
func openBackends(c config) (storage.BlobStore, catalog, error) {
	blobs, err := openBlobs(c)
	if err != nil {
		return nil, nil, err
	}
	cat, err := openCatalog(c)
	if err != nil {
		if cl, ok := blobs.(io.Closer); ok {
			cl.Close()
		}
		return nil, nil, err
	}
	return blobs, cat, nil
}

func openBlobs(c config) (storage.BlobStore, error) {
	budget := fsblob.WithMinFree(defaultMinFree)
	if c.MaxDisk > 0 {
		budget = fsblob.WithMaxBytes(int64(c.MaxDisk))
	}
	if c.Blob == "" {
		return fsblob.New(c.dataPath("blobs"), budget)
	}
	u, err := url.Parse(c.Blob)
	if err != nil {
		return nil, fmt.Errorf("--blob %q: %w", c.Blob, err)
	}
	switch u.Scheme {
	case "file":
		return fsblob.New(u.Path, budget)
	}
	return nil, fmt.Errorf("--blob %q: unknown scheme %q (this build knows file://)", c.Blob, u.Scheme)
}

func openCatalog(c config) (catalog, error) {
	if c.Catalog == "" {
		return boltdb.Open(c.dataPath("catalog.db"))
	}
	u, err := url.Parse(c.Catalog)
	if err != nil {
		return nil, fmt.Errorf("--catalog %q: %w", c.Catalog, err)
	}
	switch u.Scheme {
	case "bolt":
		return boltdb.Open(u.Path)
	}
	return nil, fmt.Errorf("--catalog %q: unknown scheme %q (this build knows bolt://)", c.Catalog, u.Scheme)
}
