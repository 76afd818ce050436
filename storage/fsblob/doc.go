// Package fsblob is the embedded default storage.BlobStore: every blob is a
// plain file under one directory, so originals and thumbnails can be read,
// backed up and served with ordinary tools.
//
// A blob is written to a temporary file in the directory of its final path
// and only renamed into place by Commit, after the file has been fsynced;
// the directory is fsynced after the rename. Rename within one directory is
// atomic, so a reader sees either no blob or the whole blob, never a prefix,
// and a blob that Commit reported stored survives a power cut.
//
// Temporary files are named ".tmp-<random>", with a leading dot. Keys may not
// have a segment that starts with a dot, so a temporary file can never be
// mistaken for a blob: List skips them and New removes the ones a crash
// left behind.
//
// New locks the directory (a lock file, ".lock") for as long as the store
// is open. Removing leftovers is only safe if no other store is writing to
// the directory; without the lock, a second qrsync started by mistake on
// the same --data would delete the first one's uploads in progress.
//
// Every file operation goes through an os.Root opened on the directory, so
// even a key that slipped past validation, or a symlink planted inside the
// directory, cannot reach a file outside it.
//
// A disk budget (WithMaxBytes, WithMinFree) keeps photos from filling the
// disk: New counts the blobs' bytes once, Commit and Delete keep the count,
// and Create and Write refuse with storage.ErrInsufficientStorage what
// would go past the budget. The file system's own ENOSPC and EDQUOT, from
// any step, are storage.ErrInsufficientStorage as well. Either way the
// writer is discarded whole: a blob is stored complete or not at all.
// Usage reports the count and the limit, for readiness and metrics.
package fsblob
