package s3blob

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"qrsync/storage"
)

const (
	// PartSize is the size of a writer's buffer and of every part of a
	// multipart upload but the last. It is S3's minimum part size: any
	// less and CompleteMultipartUpload refuses the upload, any more costs
	// memory per upload in progress for nothing. A blob of up to PartSize
	// bytes is a single PutObject.
	PartSize = 5 << 20
	// MaxParts is S3's limit on the parts of one upload: with PartSize
	// parts a blob can reach about 48 GiB, far beyond the largest photo.
	MaxParts = 10000
	// MaxKeyLen is S3's limit on an object's name, the prefix included.
	MaxKeyLen = 1024

	// callTimeout bounds each metadata call, retries included: a healthy
	// store answers in milliseconds, and a request that waits on a dead
	// one must fail while the person behind it is still there.
	callTimeout = 5 * time.Second
	// partTimeout bounds sending one part or a small blob, and completing
	// an upload, retries included: PartSize in two minutes is about
	// 44 KB/s, slower than any link an object store is reached by. It
	// is the last resort against a store that takes the bytes at a
	// trickle; one that stops taking them fails sooner, by writeTimeout.
	partTimeout = 2 * time.Minute
	// dialTimeout bounds connecting: a store that is down either refuses
	// at once or, behind a dead route, never answers at all.
	dialTimeout = 2 * time.Second
	// responseHeaderTimeout bounds the wait for an answer once a request
	// is sent. For the data calls, which callTimeout does not cover, it is
	// what fails a store that stopped answering; PutObject and
	// CompleteMultipartUpload answer once the data is stored, which a
	// healthy store does in well under a second.
	responseHeaderTimeout = 5 * time.Second
	// writeTimeout bounds each write to a connection: a store that stops
	// reading a request body fails the request this long after, however
	// long the body (see progressConn).
	writeTimeout = 10 * time.Second
	// tlsHandshakeTimeout bounds the TLS handshake, for the same reason
	// as dialTimeout.
	tlsHandshakeTimeout = 5 * time.Second
	// maxRetries is how many times minio-go tries a request: enough to
	// ride out a dropped keep-alive connection or one 503, few enough
	// that its backoff (0.6 s at most in all) stays well inside
	// callTimeout. Its default, 10, backs off for up to 7 s.
	maxRetries = 3
	// deleteBatch is S3's limit on keys in one DeleteObjects request.
	deleteBatch = 1000

	defaultRegion = "us-east-1"
	// awsEndpoint is Amazon S3; minio-go turns it into the regional
	// endpoint for the region.
	awsEndpoint = "s3.amazonaws.com"
)

// ErrInvalidKey is returned (wrapped, with the reason) for a key outside
// storage.CheckKey's rule, or longer than MaxKeyLen with the prefix; it is
// storage.ErrInvalidKey.
var ErrInvalidKey = storage.ErrInvalidKey

// Store is a storage.BlobStore on an S3 bucket. It is safe for concurrent
// use.
type Store struct {
	core      *minio.Core
	transport *http.Transport
	bucket    string
	prefix    string
	// endpoint is the server as the URL gave it (or Amazon's), for
	// messages.
	endpoint string
}

// Store provides what the server needs (and Ping, which its readiness
// check looks for).
var _ storage.BlobStore = (*Store)(nil)

// Option changes how Open connects.
type Option func(*options)

type options struct {
	accessKey, secretKey string
	haveKeys             bool
}

// WithCredentials makes the store sign with these keys instead of those in
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: for tests, which run in
// parallel and so cannot set the environment, and for callers that keep
// the keys elsewhere.
func WithCredentials(accessKey, secretKey string) Option {
	return func(o *options) { o.accessKey, o.secretKey, o.haveKeys = accessKey, secretKey, true }
}

// config is what a --blob URL says.
type config struct {
	bucket, prefix, region string
	// endpoint is the server's URL, for messages; host is its host:port,
	// as minio-go takes it.
	endpoint, host string
	secure         bool
	lookup         minio.BucketLookupType
}

// Open connects to the bucket that rawURL names,
//
//	s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1&prefix=p/
//
// and returns once the bucket has answered, within a few seconds. Without
// endpoint the store is Amazon S3, over HTTPS, with virtual-host requests
// (path-style only for a bucket with a dot in its name, which would not
// match Amazon's certificate); with one, requests are path-style, as
// S3-compatible servers expect, and the endpoint's scheme chooses HTTP or
// HTTPS. region defaults to us-east-1. prefix, if any, is put in front of
// every key. Any other parameter is an error, so that a typo is not
// silently ignored. The credentials come from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and, if set, AWS_SESSION_TOKEN, unless
// WithCredentials gives them.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	creds, err := o.credentials()
	if err != nil {
		return nil, err
	}
	tr := newTransport()
	core, err := minio.NewCore(cfg.host, &minio.Options{
		Creds:     creds,
		Secure:    cfg.secure,
		Transport: tr,
		// A region given up front also spares a GetBucketLocation
		// round trip before the first request.
		Region:       cfg.region,
		BucketLookup: cfg.lookup,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: endpoint %s: %w", cfg.endpoint, err)
	}
	s := &Store{core: core, transport: tr, bucket: cfg.bucket, prefix: cfg.prefix, endpoint: cfg.endpoint}
	if err := s.Ping(ctx); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return s, nil
}

// parseURL reads a --blob URL; see Open.
func parseURL(rawURL string) (config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return config{}, fmt.Errorf("s3blob: %w", err)
	}
	bad := func(format string, args ...any) (config, error) {
		return config{}, fmt.Errorf("s3blob: %s: %s", redacted(u), fmt.Sprintf(format, args...))
	}
	switch {
	case u.Scheme != "s3":
		return bad("the scheme must be s3")
	case u.Opaque != "":
		return bad("want s3://bucket")
	case u.User != nil:
		// Credentials in a URL end up in logs and in ps.
		return bad("credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case u.Host == "":
		return bad("no bucket (want s3://bucket)")
	case u.Port() != "":
		return bad("a bucket has no port: give the server as endpoint=http://host:port")
	case u.Path != "" && u.Path != "/":
		return bad("the URL has a path %q: give a key prefix as prefix=", u.Path)
	case u.Fragment != "":
		return bad("the URL has a fragment")
	}
	cfg := config{bucket: u.Host, region: defaultRegion}
	if err := s3utils.CheckValidBucketName(cfg.bucket); err != nil {
		return bad("bucket %q: %v", cfg.bucket, err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query: %v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch name {
		case "endpoint", "region", "prefix":
		default:
			return bad("unknown parameter %q (want endpoint, region or prefix)", name)
		}
		if len(q[name]) != 1 {
			return bad("%s given %d times", name, len(q[name]))
		}
		if q.Get(name) == "" && name != "prefix" {
			return bad("%s is empty", name)
		}
	}
	if r := q.Get("region"); r != "" {
		// It goes into every signature, unescaped.
		if strings.ContainsFunc(r, func(c rune) bool { return !storage.IsKeyChar(c) || c == '.' }) {
			return bad("region %q: want letters, digits, '-' and '_'", r)
		}
		cfg.region = r
	}
	if p := q.Get("prefix"); p != "" {
		// A prefix is the start of a key: a key after it must still be a
		// valid key as a whole.
		if err := checkKey(p + "x"); err != nil {
			return bad("prefix %q: %v", p, err)
		}
		cfg.prefix = p
	}
	ep := q.Get("endpoint")
	if ep == "" {
		cfg.endpoint, cfg.host, cfg.secure = "https://"+awsEndpoint, awsEndpoint, true
		// Auto is virtual-host style on Amazon, but path-style for a
		// bucket whose dots would not match Amazon's certificate.
		cfg.lookup = minio.BucketLookupAuto
		return cfg, nil
	}
	e, err := url.Parse(ep)
	if err != nil {
		return bad("endpoint: %v", err)
	}
	switch {
	case e.Scheme != "http" && e.Scheme != "https":
		return bad("endpoint %q: want http://host:port or https://host:port", ep)
	case e.Host == "":
		return bad("endpoint %q has no host", ep)
	case e.User != nil:
		return bad("endpoint: credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case e.Path != "" && e.Path != "/", e.RawQuery != "", e.Fragment != "":
		// minio-go addresses buckets from the root of the host.
		return bad("endpoint %q: want only scheme, host and port", ep)
	}
	cfg.endpoint, cfg.host, cfg.secure = e.Scheme+"://"+e.Host, e.Host, e.Scheme == "https"
	// S3-compatible servers seldom have a DNS name per bucket.
	cfg.lookup = minio.BucketLookupPath
	return cfg, nil
}

// redacted is u for a message: without a password, neither its own nor
// one in the endpoint parameter.
func redacted(u *url.URL) string {
	r := *u
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		r.RawQuery = "…"
	} else if e, err := url.Parse(q.Get("endpoint")); err == nil && e.User != nil {
		q.Set("endpoint", e.Redacted())
		r.RawQuery = q.Encode()
	}
	return r.Redacted()
}

// credentials returns the keys WithCredentials gave, or those of the
// environment. minio-go's own EnvAWS would sign anonymously when they are
// missing, and the store would fail later and less clearly.
func (o options) credentials() (*credentials.Credentials, error) {
	if o.haveKeys {
		if o.accessKey == "" || o.secretKey == "" {
			return nil, errors.New("s3blob: WithCredentials: empty access key or secret")
		}
		return credentials.NewStaticV4(o.accessKey, o.secretKey, ""), nil
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	var missing []string
	if id == "" {
		missing = append(missing, "AWS_ACCESS_KEY_ID")
	}
	if secret == "" {
		missing = append(missing, "AWS_SECRET_ACCESS_KEY")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("s3blob: no credentials: set %s", strings.Join(missing, " and "))
	}
	return credentials.NewStaticV4(id, secret, os.Getenv("AWS_SESSION_TOKEN")), nil
}

// newTransport is an HTTP transport whose every wait is bounded, so that
// a store that stops answering makes requests fail, not hang.
func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return progressConn{c}, nil
		},
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          64,
		// Uploads and downloads run in parallel; keeping their
		// connections spares a handshake per request.
		MaxIdleConnsPerHost: 32,
		// A blob is bytes, never to be decoded on the way: and a
		// transparently gunzipped body would lose its Content-Length,
		// which Open reports as the blob's size.
		DisableCompression: true,
	}
}

// progressConn fails a write that makes no progress for writeTimeout.
// http.Transport bounds the wait for an answer but not the sending of a
// body, which blocks for good once a store that stopped reading has let
// the socket buffers fill. Reads get no deadline here: a connection idle
// in the pool waits in a read, and a deadline set then would cut off the
// answer to its next request.
type progressConn struct{ net.Conn }

func (c progressConn) Write(p []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// Close releases the store's idle connections. Blobs and writers still
// open keep working; the store must not be used afterwards.
func (s *Store) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// Ping reports whether the bucket answers (a HEAD of it), within a few
// seconds, for readiness: an error names the endpoint and the bucket.
func (s *Store) Ping(ctx context.Context) error {
	var exists bool
	err := s.bounded(ctx, callTimeout, func(ctx context.Context) error {
		var err error
		exists, err = s.core.BucketExists(ctx, s.bucket)
		return err
	})
	if err != nil {
		return fmt.Errorf("s3blob: bucket %q at %s: %w", s.bucket, s.endpoint, describe(err))
	}
	if !exists {
		// A HEAD has no body to say why, and some servers (versitygw)
		// answer 404 to an unknown access key too: a listing of one key
		// tells a missing bucket from refused credentials.
		err = s.bounded(ctx, callTimeout, func(ctx context.Context) error {
			for obj := range s.core.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{MaxKeys: 1}) {
				return obj.Err
			}
			return ctx.Err()
		})
		switch {
		case err == nil:
			return nil // it lists, so it is there
		case isCode(err, minio.NoSuchBucket):
			return fmt.Errorf("s3blob: bucket %q at %s: no such bucket", s.bucket, s.endpoint)
		}
		return fmt.Errorf("s3blob: bucket %q at %s: %w", s.bucket, s.endpoint, describe(err))
	}
	return nil
}

// bounded runs call with a context that ends after d, and reports a
// deadline of its own as the store not answering, naming it.
func (s *Store) bounded(ctx context.Context, d time.Duration, call func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := call(cctx)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		return s.noAnswer(d)
	}
	return err
}

// noAnswer is the error of a call the store did not answer within d.
func (s *Store) noAnswer(d time.Duration) error {
	return fmt.Errorf("no answer from %s within %v: %w (%w)", s.endpoint, d, storage.ErrUnavailable, context.DeadlineExceeded)
}

// name is the object name of key.
func (s *Store) name(key string) string { return s.prefix + key }

// Create starts a blob at key. Nothing is sent until the first part fills
// or Commit; nothing is visible under key until Commit returns nil. The
// uploads run under ctx: when it ends, the writer fails and leaves
// nothing behind.
func (s *Store) Create(ctx context.Context, key string) (storage.BlobWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	return &writer{s: s, ctx: ctx, key: key, name: s.name(key)}, nil
}

// Open returns the committed blob at key, or an error wrapping
// storage.ErrNotFound. It is one GET, whose answer gives the size; the
// answer must start within a few seconds, and then the body streams for as
// long as ctx allows.
func (s *Store) Open(ctx context.Context, key string) (storage.Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	// Not context.WithTimeout: the deadline is for the answer to start,
	// and must not cut the body off once it streams.
	rctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(callTimeout, func() { cancel(s.noAnswer(callTimeout)) })
	body, info, _, err := s.core.GetObject(rctx, s.bucket, s.name(key), minio.GetObjectOptions{})
	if !timer.Stop() {
		// The deadline came first; whatever GET returned is cut off.
		if err == nil {
			_ = body.Close()
		}
		cancel(nil)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("s3blob: open %s: %w", key, ctx.Err())
		}
		return nil, fmt.Errorf("s3blob: open %s: %w", key, s.noAnswer(callTimeout))
	}
	if err != nil {
		cancel(nil)
		if isNotFound(err) {
			return nil, fmt.Errorf("s3blob: %s: %w", key, storage.ErrNotFound)
		}
		return nil, s.opErr("open", key, err)
	}
	if info.Size < 0 {
		_ = body.Close()
		cancel(nil)
		return nil, fmt.Errorf("s3blob: open %s: the answer has no Content-Length", key)
	}
	return &blob{ReadCloser: body, size: info.Size, cancel: cancel}, nil
}

// blob is an object being read: the GET's body, and its length.
type blob struct {
	io.ReadCloser
	size   int64
	cancel context.CancelCauseFunc // releases the GET's context
}

// Size is the length of the object, from the GET's Content-Length.
func (b *blob) Size() int64 { return b.size }

// Close ends the GET.
func (b *blob) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// Delete removes the blobs at keys; missing keys are fine. An invalid key
// fails the call before anything is removed. One key is one DELETE; more
// go in DeleteObjects requests of up to 1000 keys, each bounded on its
// own.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, key := range keys {
		if err := s.checkKey(key); err != nil {
			return err
		}
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	if len(keys) == 1 {
		err := s.bounded(ctx, callTimeout, func(ctx context.Context) error {
			return s.core.RemoveObject(ctx, s.bucket, s.name(keys[0]), minio.RemoveObjectOptions{})
		})
		if err != nil && !isNotFound(err) {
			return s.opErr("delete", keys[0], err)
		}
		return nil
	}
	for batch := range slices.Chunk(keys, deleteBatch) {
		if err := s.deleteBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// deleteBatch removes up to deleteBatch keys in one DeleteObjects.
func (s *Store) deleteBatch(ctx context.Context, keys []string) error {
	objects := make([]minio.ObjectInfo, len(keys))
	for i, key := range keys {
		objects[i].Key = s.name(key)
	}
	var failed string // the first key that could not be removed
	err := s.bounded(ctx, callTimeout, func(ctx context.Context) error {
		results, err := s.core.RemoveObjectsWithIter(ctx, s.bucket, slices.Values(objects), minio.RemoveObjectsOptions{})
		if err != nil {
			return err
		}
		for r := range results {
			if r.Err != nil && !isNotFound(r.Err) {
				failed = strings.TrimPrefix(r.ObjectName, s.prefix)
				return r.Err
			}
		}
		// The results end quietly when ctx does.
		return ctx.Err()
	})
	if err != nil {
		if failed == "" {
			failed = fmt.Sprintf("%s and %d more", keys[0], len(keys)-1)
		}
		return s.opErr("delete", failed, err)
	}
	return nil
}

// List returns the committed blobs whose keys start with prefix (a plain
// string prefix), sorted by key, with each object's size and Last-Modified.
// An upload in progress is no object yet, so it is never listed. Objects
// under the store's prefix whose names are no valid key (nothing this
// store wrote) are skipped. Each page of the listing must come within a
// few seconds.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.checkPrefix(prefix); err != nil {
		return nil, err
	}
	// The deadline is per page, not for the whole listing, which may be
	// long: it starts again with every object that arrives.
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(callTimeout, func() { cancel(s.noAnswer(callTimeout)) })
	defer timer.Stop()
	noOwner := false
	blobs := []storage.BlobInfo{}
	var err error
	for obj := range s.core.ListObjectsIter(lctx, s.bucket, minio.ListObjectsOptions{
		Prefix:     s.name(prefix),
		Recursive:  true,
		FetchOwner: &noOwner,
	}) {
		if obj.Err != nil {
			err = obj.Err
			break
		}
		timer.Reset(callTimeout)
		key, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || checkKey(key) != nil {
			continue
		}
		blobs = append(blobs, storage.BlobInfo{Key: key, Size: obj.Size, ModTime: obj.LastModified})
	}
	// The listing ends quietly, without an error, when lctx does.
	if lctx.Err() != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("s3blob: list %s: %w", prefix, ctx.Err())
		}
		return nil, fmt.Errorf("s3blob: list %s: %w", prefix, context.Cause(lctx))
	}
	if err != nil {
		return nil, s.opErr("list", prefix, err)
	}
	// S3 lists in key order already; a server that does not must not
	// break the contract.
	slices.SortFunc(blobs, func(a, b storage.BlobInfo) int { return strings.Compare(a.Key, b.Key) })
	return blobs, nil
}

// checkKey enforces the key alphabet and S3's length limit; see
// ErrInvalidKey.
func (s *Store) checkKey(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(s.prefix)+len(key) > MaxKeyLen {
		return fmt.Errorf("%w %q: longer than %d bytes with the prefix %q", ErrInvalidKey, key, MaxKeyLen, s.prefix)
	}
	return nil
}

// checkPrefix accepts a List prefix: the start of a valid key.
func (s *Store) checkPrefix(prefix string) error {
	if strings.ContainsFunc(prefix, func(r rune) bool { return r != '/' && !storage.IsKeyChar(r) }) {
		return fmt.Errorf("s3blob: list: %w: prefix %q has a character outside [A-Za-z0-9._-/]", ErrInvalidKey, prefix)
	}
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		if err := checkKey(prefix[:i]); err != nil {
			return fmt.Errorf("s3blob: list: prefix: %w", err)
		}
	}
	if len(s.prefix)+len(prefix) > MaxKeyLen {
		return fmt.Errorf("s3blob: list: %w: prefix %q is longer than %d bytes with the store's prefix", ErrInvalidKey, prefix, MaxKeyLen)
	}
	return nil
}

// checkKey is storage.CheckKey with S3's limit on length.
func checkKey(key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	}
	return storage.CheckKey(key)
}

// isNotFound: the object (not the bucket) does not exist.
func isNotFound(err error) bool {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	return er.Code == minio.NoSuchKey || er.StatusCode == http.StatusNotFound && er.Code != minio.NoSuchBucket
}

// isCode: err is an S3 error with code.
func isCode(err error, code string) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == code
}

// noSpaceCodes are the S3 error codes for a store that is full or over a
// quota: Amazon's and Ceph's QuotaExceeded, versitygw's InsufficientStorage
// (ENOSPC) and QuotaExceeded (EDQUOT), and MinIO's own. EntityTooLarge is
// not one: it is a limit on one object, which freeing space would not
// lift.
var noSpaceCodes = []string{
	"InsufficientStorage",
	"QuotaExceeded",
	"XMinioStorageFull",
	"XMinioAdminBucketQuotaExceeded",
}

// opErr wraps an error of op on key: with storage.ErrInsufficientStorage
// if the store is full, and with the S3 error code, which minio-go's
// message leaves out.
//
// A store that did not answer (refused, cut off, timed out) or answered
// that it is in trouble (a 5xx) is storage.ErrUnavailable, so the server
// answers 503 and the phone tries again; the caller's own cancellation is
// left as it is.
func (s *Store) opErr(op, key string, err error) error {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		if errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
			return fmt.Errorf("s3blob: %s %s: %w", op, key, err)
		}
		return fmt.Errorf("s3blob: %s %s: %w (%w)", op, key, storage.ErrUnavailable, err)
	}
	if slices.Contains(noSpaceCodes, er.Code) || er.StatusCode == http.StatusInsufficientStorage {
		return fmt.Errorf("s3blob: %s %s: %w (%w)", op, key, storage.ErrInsufficientStorage, describe(err))
	}
	if er.StatusCode >= 500 {
		return fmt.Errorf("s3blob: %s %s: %w (%w)", op, key, storage.ErrUnavailable, describe(err))
	}
	return fmt.Errorf("s3blob: %s %s: %w", op, key, describe(err))
}

// describe puts an S3 error's code in front of its message.
func describe(err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.Code != "" && !strings.Contains(err.Error(), er.Code) {
		return fmt.Errorf("%s: %w", er.Code, err)
	}
	return err
}
