package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cloudwego/hertz/pkg/app"

	"qrsync/api"
	"qrsync/locale"
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
// error code and a message a person can read (a catalog key: each request
// hears it in its own language, see writeError). Unknown errors are 500
// and their text is not shown (it may name files or internals).
func statusOf(err error) (int, string, message) {
	switch {
	case errors.Is(err, photo.ErrUnsupported):
		return http.StatusUnsupportedMediaType, api.CodeUnsupported, msg("error.unsupported")
	case errors.Is(err, photo.ErrTooManyPixels):
		return http.StatusUnprocessableEntity, api.CodeBadImage, messageOf(err, "error.tooManyPixels")
	case errors.Is(err, photo.ErrCorrupt):
		return http.StatusUnprocessableEntity, api.CodeBadImage, msg("error.corrupt")
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge, api.CodeTooLarge, messageOf(err, "error.tooLarge")
	case errors.Is(err, storage.ErrQuota):
		return http.StatusTooManyRequests, api.CodeTooMany, msg("error.sessionFull")
	case errors.Is(err, errTooMany):
		return http.StatusTooManyRequests, api.CodeTooMany, messageOf(err, "error.tooMany")
	case errors.Is(err, storage.ErrExpired):
		return http.StatusGone, api.CodeExpired, messageOf(err, "error.expired")
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, api.CodeNotFound, msg("error.notFound")
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, api.CodeBadRequest, messageOf(err, "error.badRequest")
	case errors.Is(err, storage.ErrInsufficientStorage):
		return http.StatusInsufficientStorage, api.CodeNoSpace, msg("error.noSpace")
	case errors.Is(err, storage.ErrUnavailable):
		return http.StatusServiceUnavailable, api.CodeUnavailable, msg("error.storageDown")
	case errors.Is(err, errUnavailable):
		return http.StatusServiceUnavailable, api.CodeUnavailable, messageOf(err, "error.busy")
	case errors.Is(err, errMisdirected):
		return http.StatusMisdirectedRequest, api.CodeMisdirected, msg("error.misdirected")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, api.CodeUnavailable, msg("error.cancelled")
	}
	return http.StatusInternalServerError, api.CodeInternal, msg("error.internal")
}

// message is a text for a person before it has a language: a key of the
// catalogs (locale/*.json) and the values of its slots, as name, value
// pairs.
type message struct {
	key  string
	args []string
}

func msg(key string, args ...string) message { return message{key, args} }

// in is the message in c's language.
func (m message) in(c *locale.Catalog) string { return c.T(m.key, m.args...) }

// userError carries a message meant for a person alongside the sentinel
// that decides the status.
type userError struct {
	kind error
	msg  message
}

// Error is the message in English, for logs.
func (e *userError) Error() string { return e.msg.in(locale.English) }
func (e *userError) Unwrap() error { return e.kind }

// newUserError makes an error of kind whose message is key, with args as
// its slots' name, value pairs.
func newUserError(kind error, key string, args ...string) error {
	return &userError{kind: kind, msg: msg(key, args...)}
}

func messageOf(err error, fallback string) message {
	var ue *userError
	if errors.As(err, &ue) {
		return ue.msg
	}
	return msg(fallback)
}

// langCookie holds the language a person picked on a page; it outranks
// Accept-Language. The pages' language switch sets it (they are handed its
// name, see pageData), so it is named here alone.
const langCookie = "qrsync-lang"

type catalogKey struct{}

// withCatalog carries a request's language into work that outlives its
// RequestContext's reach (an upload's progress news).
func withCatalog(ctx context.Context, c *locale.Catalog) context.Context {
	return context.WithValue(ctx, catalogKey{}, c)
}

// catalogFrom is the language withCatalog put in ctx, or English.
func catalogFrom(ctx context.Context) *locale.Catalog {
	if c, ok := ctx.Value(catalogKey{}).(*locale.Catalog); ok {
		return c
	}
	return locale.English
}

// catalogFor is the language a request is answered in: the one its person
// picked, else the best its Accept-Language matches, else English.
func catalogFor(c *app.RequestContext) *locale.Catalog {
	return locale.Match(string(c.Cookie(langCookie)), string(c.GetHeader("Accept-Language")))
}

// writeError answers with the JSON error body of DESIGN §3. Server faults
// are logged, under the route's pattern: the path itself carries secrets.
// A full disk is logged once a minute at most, however many requests it
// refuses.
func (s *Server) writeError(c *app.RequestContext, err error) {
	status, code, m := statusOf(err)
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
	writeJSON(c, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: m.in(catalogFor(c))}})
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
