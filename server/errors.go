package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cloudwego/hertz/pkg/app"

	"qrsync/api"
	"qrsync/photo"
	"qrsync/storage"
)

// Errors the handlers raise themselves; storage and photo errors are mapped
// alongside them in statusOf.
var (
	errBadRequest  = errors.New("bad request")
	errTooLarge    = errors.New("too large")
	errTooMany     = errors.New("too many requests")
	errUnavailable = errors.New("unavailable")
)

// errMisdirected is a request for a host this server does not serve.
var errMisdirected = errors.New("misdirected request")

// statusOf is the one place that turns an error into an HTTP status, an
// error code and a message a person can read. Unknown errors are 500 and
// their text is not shown (it may name files or internals).
func statusOf(err error) (int, string, string) {
	switch {
	case errors.Is(err, photo.ErrUnsupported):
		return http.StatusUnsupportedMediaType, api.CodeUnsupported, "That file is not a photo qrsync accepts: send JPEG, PNG, GIF, WebP or HEIC."
	case errors.Is(err, photo.ErrTooManyPixels):
		return http.StatusUnprocessableEntity, api.CodeBadImage, messageOf(err, "That image has too many pixels for this server.")
	case errors.Is(err, photo.ErrCorrupt):
		return http.StatusUnprocessableEntity, api.CodeBadImage, "That image is damaged or incomplete and cannot be read."
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge, api.CodeTooLarge, messageOf(err, "That file is too large.")
	case errors.Is(err, storage.ErrQuota):
		return http.StatusTooManyRequests, api.CodeTooMany, "This session is full: start a new one on the PC."
	case errors.Is(err, errTooMany):
		return http.StatusTooManyRequests, api.CodeTooMany, messageOf(err, "Too many requests: wait a moment and try again.")
	case errors.Is(err, storage.ErrExpired):
		return http.StatusGone, api.CodeExpired, messageOf(err, "This session has ended: scan a new QR code.")
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, api.CodeNotFound, "Not found: the link may be wrong or the session may have ended."
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, api.CodeBadRequest, messageOf(err, "The request was not understood.")
	case errors.Is(err, storage.ErrInsufficientStorage):
		return http.StatusInsufficientStorage, api.CodeNoSpace, "The server's storage is full: delete photos on the computer, or ask whoever runs qrsync to free some space."
	case errors.Is(err, storage.ErrUnavailable):
		return http.StatusServiceUnavailable, api.CodeUnavailable, "The server cannot reach its storage just now: try again in a moment."
	case errors.Is(err, errUnavailable):
		return http.StatusServiceUnavailable, api.CodeUnavailable, messageOf(err, "The server is busy: try again in a moment.")
	case errors.Is(err, errMisdirected):
		return http.StatusMisdirectedRequest, api.CodeMisdirected, "This server does not answer to that name: open it by the address it shows."
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, api.CodeUnavailable, "The request was cancelled: try again."
	}
	return http.StatusInternalServerError, api.CodeInternal, "Something went wrong on the server."
}

// userError carries a message meant for a person alongside the sentinel
// that decides the status.
type userError struct {
	kind error
	msg  string
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.kind }

// newUserError makes an error of kind whose message is shown as is.
func newUserError(kind error, format string, args ...any) error {
	return &userError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func messageOf(err error, fallback string) string {
	var ue *userError
	if errors.As(err, &ue) {
		return ue.msg
	}
	return fallback
}

// writeError answers with the JSON error body of DESIGN §3. Server faults
// are logged, under the route's pattern: the path itself carries secrets.
// A full disk is logged once a minute at most, however many requests it
// refuses.
func (s *Server) writeError(c *app.RequestContext, err error) {
	status, code, msg := statusOf(err)
	switch {
	case status == http.StatusInsufficientStorage:
		s.refused(reasonDiskFull)
		s.diskFullAt.Store(time.Now().UnixNano())
		if s.diskFullLog.allow() {
			s.logFor(c).Error("storage is full: refusing writes until space frees", "route", c.FullPath(), "err", err)
		}
	case status >= 500 && status != http.StatusServiceUnavailable:
		s.logFor(c).Error("request failed", "method", string(c.Method()), "route", c.FullPath(), "err", err)
	}
	writeJSON(c, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg}})
}

// logLimiter lets a log line through at most once per interval.
type logLimiter struct {
	every time.Duration
	mu    sync.Mutex
	last  time.Time
}

func (l *logLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.last) >= l.every {
		l.last = now
		return true
	}
	return false
}

// writeJSON uses encoding/json rather than Hertz's renderer so the bytes on
// the wire are exactly what the api package's tags say, on every platform.
func writeJSON(c *app.RequestContext, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode response", "err", err)
		c.SetStatusCode(http.StatusInternalServerError)
		return
	}
	c.Data(status, "application/json; charset=utf-8", b)
}
