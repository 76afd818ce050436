// Package s3blob is the scale-out storage.BlobStore: every blob is an
// object in one S3 bucket (Amazon S3 or any S3-compatible server), so that
// several qrsync instances can serve the same originals and thumbnails.
//
// Open takes the --blob URL of DESIGN §6,
//
//	s3://bucket?endpoint=http://host:port&region=us-east-1&prefix=p/
//
// and checks that the bucket answers before it returns, so that a store
// that is down or misnamed at start is a clear error naming the endpoint
// and the bucket, not a failure at the first upload. The credentials come
// from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN
// if set), never from the URL, which ends up in logs and in ps. Ping makes
// the same check for the server's readiness endpoint.
//
// # Writing
//
// S3 has no rename, so "invisible until Commit" comes from the protocol
// itself: an object exists only once a PutObject or a
// CompleteMultipartUpload has succeeded. A writer buffers one part
// (PartSize) in memory. A blob that ends within it, as thumbnails and most
// photos do, is one PutObject at Commit. A longer one becomes a multipart
// upload: the first full part starts it, each part is sent as the next one
// begins, and Commit sends the last part and completes the upload. Either
// way memory per writer is one part, whatever the blob's size, and the
// part buffers are pooled across writers.
//
// A failed Write or Commit, and Abort, abort the multipart upload, so that
// no parts are left behind (S3 keeps, and bills, the parts of an upload
// that is neither completed nor aborted). A process that dies mid-upload
// cannot abort: give the bucket a lifecycle rule with
// AbortIncompleteMultipartUpload (a day is plenty) to sweep those. The
// parts of an unfinished upload are never listed or readable as a blob.
//
// An answer lost on the way back is the one case S3 leaves open: a
// PutObject or CompleteMultipartUpload that the server carried out but
// whose answer never arrived makes Commit fail although the object exists.
// Its key is one the catalog never recorded, so the server's sweep of
// blobs without a catalog entry removes it after its grace period.
//
// # Bounded calls
//
// A store that stops answering must make requests fail promptly, never
// hang (DESIGN §6). Connections are dialled within 2 s, an answer must
// start within 5 s of a request being sent, a write to a connection that
// makes no progress for 10 s fails, and minio-go tries a request at most
// three times. On top of that each metadata call (the check in Open and
// Ping, the start of a read, each page of a listing, a delete, starting or
// aborting an upload) has a deadline of 5 s, retries included. Sending a
// part or a small blob, and completing an upload, may take longer on a
// slow link, up to two minutes; a store that stops answering fails them
// after its three tries of 5 s. Once a read has its answer, the body
// streams for as long as the caller's context allows, since a slow viewer
// is no fault of the store.
//
// # Keys
//
// Keys are checked like fsblob's, segments of [A-Za-z0-9._-] joined by
// '/'. S3 itself would take any key, but a posix-backed server maps keys
// onto paths, and a key that no other backend accepts must not work here
// either. The prefix of the URL is put in front of every key and taken off
// again by List, so that one bucket can hold other data, or several
// deployments, side by side.
package s3blob
