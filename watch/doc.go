// Package watch mirrors a qrsync session into a local folder as photos
// arrive: the engine of `qrsync watch <session-url> <dir>`. It reads the
// session's event stream with the same eventsource.Client as the PC page,
// over whatever Fetcher it is given (qrsync's is Hertz's client, in
// qrsync/watch/hertzfetch), and for each `image` event downloads the
// original into the folder.
//
// # Nothing half-done is ever visible
//
// An original is downloaded into a hidden temporary file (.qrsync-*.part)
// in the folder itself, checked against the size and SHA-256 the event
// announced, synced to disk, and only then given its name — by a hard link,
// which fails rather than replace a file that took the name meanwhile (a
// rename after a check where links are not supported) — and the folder is
// synced so the new name survives a crash. A photo therefore appears whole
// or not at all, and nothing already in the folder is ever overwritten.
// Temporary files a crash left behind are removed at the next start.
//
// # Resume
//
// The watcher remembers, in the folder's StateFile, the id of the last
// event whose effects are on disk and which file holds which image. The
// event id is recorded only after the event's file is in place and the
// stream client moves past an event only once it has been applied, so after
// a dropped connection (the client reconnects with Last-Event-ID) or a
// restart of the watcher (it starts from the saved id) the server replays
// exactly what was missed: each photo is fetched once. An event replayed
// anyway (one applied just before a crash, before its id was saved) finds
// its image already mapped and changes nothing.
//
// A snapshot — the first answer when there is no usable id, or when the id
// is too old for the server to replay — is reconciled with the folder:
// images without a file are fetched, files of images no longer in the
// session count as removed. If a mapped file is missing at start (deleted
// by hand, or lost in a crash), the watcher asks for a snapshot, so the
// folder is completed again. Before downloading, a file already present
// under the image's name (or a numbered variant) with exactly its bytes is
// taken as its copy, so a lost state file, or a crash between placing a
// file and saving the state, never leads to a duplicate.
//
// The state file names sessions by a hash of their id, not by the id, which
// is the viewer's secret. One folder can collect several sessions in turn;
// a session that ended keeps only a marker, so the file does not grow
// without end. A lock file keeps two watchers out of one folder.
//
// # Names
//
// File names come from the names the phone sent, made safe by photoname.Safe
// (no path separators, hidden or reserved names, control or invisible
// characters; bounded length; an extension that matches the bytes), and
// unique: a name already taken, in the folder or by another image of the
// state, gets " (2)", " (3)"… before its extension. Each file's times are
// set to when the photo reached the server.
//
// # Removal and the end of a session
//
// A `removed` event deletes the image's file only with Config.Delete, and
// only if the file still holds the bytes that were downloaded; otherwise
// the removal is reported and the file kept. The session is over on an
// `expired` event, or when the server answers 410, or 404 for a session the
// folder or this run had already seen: Run then returns nil. A 404 for a
// session never seen is ErrNoSession, most likely a mistyped URL.
package watch
