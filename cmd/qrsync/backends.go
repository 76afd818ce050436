package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"qrsync/server"
	"qrsync/storage"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
	"qrsync/storage/redis"
	"qrsync/storage/s3blob"
)

// openTimeout bounds the check that a networked backend answers at start:
// one that does not stops the command with a message naming it, rather
// than a server that looks up and answers 503 to everything.
const openTimeout = 10 * time.Second

// backends are what the server runs on, opened from the command line.
type backends struct {
	blobs storage.BlobStore
	cat   server.Catalog
	// news carries upload progress between the instances that share the
	// catalog; nil (in-process) for the embedded one.
	news    server.News
	closers []io.Closer
	log     *slog.Logger
}

// Close releases every backend, the catalog last.
func (b *backends) Close() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i].Close())
	}
	return errors.Join(errs...)
}

// openBackends is the only place that names a concrete backend. Empty
// URLs mean the embedded defaults under --data.
func openBackends(ctx context.Context, c config, log *slog.Logger) (*backends, error) {
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	b := &backends{log: log}
	cat, err := openCatalog(ctx, c, b)
	if err != nil {
		return nil, err
	}
	b.cat = cat
	blobs, err := openBlobs(ctx, c)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.blobs = blobs
	if cl, ok := blobs.(io.Closer); ok {
		b.closers = append(b.closers, cl)
	}
	return b, nil
}

func openBlobs(ctx context.Context, c config) (storage.BlobStore, error) {
	budget := fsblob.WithMinFree(defaultMinFree)
	if c.MaxDisk > 0 {
		budget = fsblob.WithMaxBytes(int64(c.MaxDisk))
	}
	if c.Blob == "" {
		return fsblob.New(c.dataPath("blobs"), budget)
	}
	u, err := parseURL(c.Blob)
	if err != nil {
		return nil, fmt.Errorf("--blob: %w", err)
	}
	switch u.Scheme {
	case "file":
		return fsblob.New(u.Path, budget)
	case "s3":
		s, err := s3blob.Open(ctx, c.Blob)
		if err != nil {
			return nil, fmt.Errorf("--blob: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("--blob: unknown scheme %q (this build knows file:// and s3://)", u.Scheme)
}

func openCatalog(ctx context.Context, c config, b *backends) (server.Catalog, error) {
	if c.Catalog == "" {
		cat, err := boltdb.Open(c.dataPath("catalog.db"))
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, cat)
		return cat, nil
	}
	u, err := parseURL(c.Catalog)
	if err != nil {
		return nil, fmt.Errorf("--catalog: %w", err)
	}
	switch u.Scheme {
	case "bolt":
		cat, err := boltdb.Open(u.Path)
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, cat)
		return cat, nil
	case "redis", "rediss":
		goredis.SetLogger(redisLog{b.log})
		cat, err := redis.Open(ctx, c.Catalog)
		if err != nil {
			return nil, fmt.Errorf("--catalog: %w", err)
		}
		b.closers = append(b.closers, cat)
		// Instances that share the catalog share upload progress too.
		b.news = cat.News()
		return cat, nil
	}
	return nil, fmt.Errorf("--catalog: unknown scheme %q (this build knows bolt:// and redis://)", u.Scheme)
}

// parseURL is url.Parse without the URL in its error: a backend URL may
// carry a password, and the error goes to the terminal and the logs.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	var ue *url.Error
	if errors.As(err, &ue) {
		return nil, fmt.Errorf("not a URL: %w", ue.Err)
	}
	return u, err
}

// redisLog sends go-redis's own messages (a failed dial while Redis is
// down, once per attempt) to the server's log at debug level: the outage
// itself is reported by the requests that fail and by /readyz.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
