package watch

import (
	"strconv"
	"strings"
	"unicode"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/locale"
	"qrsync/photoname"
)

// ReportKind says what a Report is about.
type ReportKind int

// The kinds of Report, in roughly the order a run meets them.
const (
	// ReportState: the connection state changed (State); Err says why it
	// dropped when State is reconnecting. The end of Run is not reported
	// here: ReportEnded or Run's error says it.
	ReportState ReportKind = iota + 1
	// ReportSynced: a snapshot was applied; the folder holds Count images
	// of the session.
	ReportSynced
	// ReportImage: an image event arrived (Image), before anything is
	// fetched: the order of these is the order of the stream. Not printed.
	ReportImage
	// ReportSaved: Image was downloaded to File.
	ReportSaved
	// ReportFound: File, already in the folder, holds exactly Image's
	// bytes and was taken as its copy instead of downloading it again.
	ReportFound
	// ReportRetry: fetching Image failed (Err) and will be tried again.
	ReportRetry
	// ReportSkipped: Image was removed from the server before it could be
	// fetched.
	ReportSkipped
	// ReportDeleted: File was deleted because its image was removed from
	// the session (only with Config.Delete).
	ReportDeleted
	// ReportKept: File's image was removed from the session but the file
	// stays: Config.Delete is off, or (Err set) the file changed since it
	// was downloaded or could not be deleted.
	ReportKept
	// ReportProblem: something was wrong but the watch goes on (Err), such
	// as an event whose data could not be read.
	ReportProblem
	// ReportEnded: the session is over; Run is about to return nil.
	ReportEnded
)

// Report is one thing a watcher did or saw, handed to Config.Report on the
// watcher's goroutine, in order. A report of a change to the folder comes
// after the state file recording it is saved, so a caller reacting to it
// finds the folder settled.
type Report struct {
	Kind ReportKind
	// State is the new connection state (ReportState).
	State eventsource.State
	// Image is the image concerned, when there is one.
	Image api.Image
	// File is the file concerned, relative to the folder.
	File string
	// Count is the number of images in the session (ReportSynced).
	Count int
	// Err says what went wrong, when something did.
	Err error
}

// String is the report as one line in English; see Text.
func (r Report) String() string { return r.Text(locale.English) }

// Text is the report as one line for a person, in cat's language, as
// `qrsync watch` prints it, or "" for reports that are not meant to be
// shown (ReportImage). The errors it quotes are Go's own, in English.
func (r Report) Text(cat *locale.Catalog) string {
	switch r.Kind {
	case ReportState:
		if r.State == eventsource.StateReconnecting && r.Err != nil {
			return cat.T("term.watch.reconnectingWhy", "err", r.Err.Error())
		}
		return cat.T("term.watch." + r.State.String())
	case ReportSynced:
		return cat.N("term.watch.inSync", r.Count)
	case ReportSaved:
		return cat.T("term.watch.saved", "file", display(r.File))
	case ReportFound:
		return cat.T("term.watch.found", "file", display(r.File))
	case ReportRetry:
		return cat.T("term.watch.retrying", "name", display(r.Image.Name), "err", errText(cat, r.Err))
	case ReportSkipped:
		if r.Err != nil {
			return cat.T("term.watch.skipped", "name", display(r.Image.Name), "err", r.Err.Error())
		}
		return cat.T("term.watch.skippedGone", "name", display(r.Image.Name))
	case ReportDeleted:
		return cat.T("term.watch.deleted", "file", display(r.File))
	case ReportKept:
		if r.Err != nil {
			return cat.T("term.watch.keptWhy", "file", display(r.File), "err", r.Err.Error())
		}
		return cat.T("term.watch.kept", "file", display(r.File))
	case ReportProblem:
		return cat.T("term.watch.warning", "err", errText(cat, r.Err))
	case ReportEnded:
		return cat.T("term.watch.sessionEnded")
	}
	return ""
}

// display shows a name as is when it is plain text, and quoted with escapes
// otherwise: an image's name comes from the phone, and a terminal must not
// be handed its control sequences (or text that hides how it reads).
func display(name string) string {
	if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' || photoname.IsInvisible(r) }) < 0 {
		return name
	}
	return strconv.QuoteToGraphic(name)
}

func errText(cat *locale.Catalog, err error) string {
	if err == nil {
		return cat.T("term.watch.unknownError")
	}
	return err.Error()
}
