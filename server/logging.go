package server

import (
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/protocol"
)

// requestIDKey is where accessLog leaves the request id on the
// RequestContext, for logFor.
const requestIDKey = "qrsync.request_id"

// unmatchedRoute stands in the log for a request no route matched: its
// path is the client's text and may be anything, a guessed token included.
const unmatchedRoute = "<unmatched>"

// quietRoutes are logged at DEBUG: probes and scrapes come every few
// seconds and would bury the requests a person did.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// newRequestID is 64 random bits in hex: enough to tell requests apart in
// a log, short enough to read out, and never mistaken for a secret by the
// redactor (which looks for 24 base64url characters).
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
	return hex.EncodeToString(b[:])
}

// routeOf is the route pattern that matched, never the raw path: paths
// carry session ids and upload tokens, which are capabilities.
func routeOf(c *app.RequestContext) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return unmatchedRoute
}

// accessLog writes one line per request once the handler returns, with a
// request id that is also sent back as X-Request-Id, so that a person
// reporting a failure can quote it. A stream's line comes when the stream
// ends. It must run first, so that its duration covers everything else.
func (s *Server) accessLog(ctx context.Context, c *app.RequestContext) {
	start := time.Now() // the real clock: cfg.Now may be a test's frozen one
	id := newRequestID()
	c.Set(requestIDKey, id)
	c.Response.Header.Set("X-Request-Id", id)

	c.Next(ctx)

	route := routeOf(c)
	level := slog.LevelInfo
	if quietRoutes[route] {
		level = slog.LevelDebug
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	s.log.LogAttrs(ctx, level, "request",
		slog.String("request_id", id),
		slog.String("method", string(c.Method())),
		slog.String("route", route),
		slog.Int("status", c.Response.StatusCode()),
		slog.Duration("duration", time.Since(start)),
		slog.Int64("bytes", responseBytes(&c.Response)),
		slog.String("ip", remoteIP(c)),
	)
}

// responseBytes is the size of the answer's body, or -1 when the handler
// wrote it to the connection itself (event streams) or streamed it with
// no length: then it is not known here.
func responseBytes(r *protocol.Response) int64 {
	if r.GetHijackWriter() != nil {
		return -1
	}
	if r.IsBodyStream() {
		// Reading the body to measure it would consume it.
		if n := r.Header.ContentLength(); n >= 0 {
			return int64(n)
		}
		return -1
	}
	return int64(len(r.BodyBytes()))
}

// logFor is the server's logger with the request's id attached, for a
// handler's own lines about this request.
func (s *Server) logFor(c *app.RequestContext) *slog.Logger {
	if id := c.GetString(requestIDKey); id != "" {
		return s.log.With(slog.String("request_id", id))
	}
	return s.log
}

// NewLogger builds the logger the server should be given: format is
// "text" or "json", lines below level are dropped, and every line passes
// through a redactor that blanks anything shaped like a session id, upload
// token or image id, as a safety net under the rule that handlers never
// log them.
func NewLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return slog.New(redactingHandler{h}), nil
}

// redactedText replaces a secret in a log line.
const redactedText = "[redacted]"

// secretLen is the length of newSecret's output: 18 bytes in base64url.
const secretLen = 24

// redactingHandler wraps a slog.Handler and redacts secrets in the message
// and in every attribute: strings, errors (their text), groups, and any
// other value whose printed form holds one. Storage errors, for one, name
// keys like sessions/<id>/<image>.
type redactingHandler struct {
	h slog.Handler
}

// Enabled defers to the wrapped handler.
func (r redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return r.h.Enabled(ctx, l)
}

// Handle passes on a copy of rec with its message and attributes redacted.
func (r redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, redactSecrets(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

// WithAttrs redacts attrs once, here, rather than on every line.
func (r redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redactAttr(a)
	}
	return redactingHandler{r.h.WithAttrs(clean)}
}

// WithGroup keeps the redaction on the grouped handler.
func (r redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{r.h.WithGroup(name)}
}

// redactAttr returns a with its value redacted. Values other than strings
// keep their type (so JSON keeps its structure) unless their printed form
// holds a secret; errors always become their redacted text, which is what
// handlers print for them anyway.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redactSecrets(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		clean := make([]slog.Attr, len(attrs))
		for i, g := range attrs {
			clean[i] = redactAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	case slog.KindAny:
		var text string
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, redactSecrets(fmt.Sprint(x)))
		case []byte:
			text = string(x)
		case encoding.TextMarshaler:
			b, err := x.MarshalText()
			if err != nil {
				return slog.Attr{Key: a.Key, Value: v}
			}
			text = string(b)
		default:
			text = fmt.Sprintf("%+v", x)
		}
		if clean := redactSecrets(text); clean != text {
			return slog.String(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactSecrets replaces each run of exactly secretLen base64url
// characters (bounded by other characters or the string's ends) that mixes
// character classes. Longer runs, such as a 64-digit sha256 in hex, are
// left alone, and so are runs of one class, such as a snake_case word: a
// random secret lacks two of the three classes with probability ~5e-9.
func redactSecrets(s string) string {
	if len(s) < secretLen {
		return s
	}
	var out []byte
	last := 0
	for i := 0; i < len(s); {
		if !isBase64URL(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isBase64URL(s[j]) {
			j++
		}
		if j-i == secretLen && mixesClasses(s[i:j]) {
			out = append(out, s[last:i]...)
			out = append(out, redactedText...)
			last = j
		}
		i = j
	}
	if out == nil {
		return s
	}
	return string(append(out, s[last:]...))
}

func isBase64URL(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}

// mixesClasses reports whether s has characters of at least two of the
// classes upper case, lower case and digit.
func mixesClasses(s string) bool {
	var upper, lower, digit int
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'A' <= b && b <= 'Z':
			upper = 1
		case 'a' <= b && b <= 'z':
			lower = 1
		case '0' <= b && b <= '9':
			digit = 1
		}
	}
	return upper+lower+digit >= 2
}
