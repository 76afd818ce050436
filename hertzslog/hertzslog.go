// Package hertzslog sends Hertz's own log lines (package hlog) to a
// *slog.Logger, so that they come out in the application's format, at its
// level, through the same handler (and so the same redaction) as its own.
package hertzslog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"

	"github.com/cloudwego/hertz/pkg/common/hlog"
)

// slog has no trace, notice or fatal; these sit between and beyond its
// levels so that order is kept and a handler's level still filters them
// (they print as DEBUG-4, INFO+2 and ERROR+4).
const (
	LevelTrace  = slog.LevelDebug - 4
	LevelNotice = slog.LevelInfo + 2
	LevelFatal  = slog.LevelError + 4
)

// systemPrefix is what Hertz puts before its own messages; the logger
// attribute says the same thing without cluttering the message.
const systemPrefix = "HERTZ: "

// Logger is an hlog.FullLogger that writes to a *slog.Logger. Every line
// carries logger=hertz. It is safe for concurrent use, SetLevel included.
type Logger struct {
	log   *slog.Logger
	level atomic.Int32 // an hlog.Level: lines below it are dropped
	exit  func(code int)
}

var _ hlog.FullLogger = (*Logger)(nil)

// New returns a Logger writing to l. It passes every level on (hlog's
// LevelTrace) and leaves the filtering to l's handler until SetLevel says
// otherwise.
func New(l *slog.Logger) *Logger {
	lg := &Logger{log: l.With(slog.String("logger", "hertz")), exit: os.Exit}
	lg.level.Store(int32(hlog.LevelTrace))
	return lg
}

// Install makes l the destination of every hlog line, Hertz's own
// included, and drops those below level. Like hlog.SetLogger it is not
// safe to call while servers run: call it once, at start.
func Install(l *slog.Logger, level hlog.Level) {
	hlog.SetLogger(New(l))
	hlog.SetLevel(level)
}

// SlogLevel is the slog level an hlog level is written at.
func SlogLevel(lv hlog.Level) slog.Level {
	switch {
	case lv <= hlog.LevelTrace:
		return LevelTrace
	case lv == hlog.LevelDebug:
		return slog.LevelDebug
	case lv == hlog.LevelInfo:
		return slog.LevelInfo
	case lv == hlog.LevelNotice:
		return LevelNotice
	case lv == hlog.LevelWarn:
		return slog.LevelWarn
	case lv == hlog.LevelError:
		return slog.LevelError
	}
	return LevelFatal
}

// emit formats and writes one line. Formatting waits until the line is
// known to be wanted. Fatal exits even when filtered out, as hlog's
// callers do not expect it to return.
func (l *Logger) emit(ctx context.Context, lv hlog.Level, format *string, v []any) {
	if lv == hlog.LevelFatal {
		defer l.exit(1)
	}
	if lv < hlog.Level(l.level.Load()) {
		return
	}
	sl := SlogLevel(lv)
	if !l.log.Enabled(ctx, sl) {
		return
	}
	var msg string
	switch {
	case format == nil:
		msg = fmt.Sprint(v...)
	case len(v) == 0:
		msg = *format
	default:
		msg = fmt.Sprintf(*format, v...)
	}
	l.log.Log(ctx, sl, strings.TrimPrefix(msg, systemPrefix))
}

// SetLevel drops lines below lv from now on.
func (l *Logger) SetLevel(lv hlog.Level) { l.level.Store(int32(lv)) }

// SetOutput does nothing: where lines go is the slog handler's business,
// and writing around it would bypass its format and redaction.
func (l *Logger) SetOutput(io.Writer) {}

// Trace logs at LevelTrace.
func (l *Logger) Trace(v ...any) { l.emit(context.Background(), hlog.LevelTrace, nil, v) }

// Debug logs at slog.LevelDebug.
func (l *Logger) Debug(v ...any) { l.emit(context.Background(), hlog.LevelDebug, nil, v) }

// Info logs at slog.LevelInfo.
func (l *Logger) Info(v ...any) { l.emit(context.Background(), hlog.LevelInfo, nil, v) }

// Notice logs at LevelNotice.
func (l *Logger) Notice(v ...any) { l.emit(context.Background(), hlog.LevelNotice, nil, v) }

// Warn logs at slog.LevelWarn.
func (l *Logger) Warn(v ...any) { l.emit(context.Background(), hlog.LevelWarn, nil, v) }

// Error logs at slog.LevelError.
func (l *Logger) Error(v ...any) { l.emit(context.Background(), hlog.LevelError, nil, v) }

// Fatal logs at LevelFatal, then exits the process with status 1.
func (l *Logger) Fatal(v ...any) { l.emit(context.Background(), hlog.LevelFatal, nil, v) }

// Tracef logs at LevelTrace.
func (l *Logger) Tracef(format string, v ...any) {
	l.emit(context.Background(), hlog.LevelTrace, &format, v)
}

// Debugf logs at slog.LevelDebug.
func (l *Logger) Debugf(format string, v ...any) {
	l.emit(context.Background(), hlog.LevelDebug, &format, v)
}

// Infof logs at slog.LevelInfo.
func (l *Logger) Infof(format string, v ...any) {
	l.emit(context.Background(), hlog.LevelInfo, &format, v)
}

// Noticef logs at LevelNotice.
func (l *Logger) Noticef(format string, v ...any) {
	l.emit(context.Background(), hlog.LevelNotice, &format, v)
}

// Warnf logs at slog.LevelWarn.
func (l *Logger) Warnf(format string, v ...any) {
	l.emit(context.Background(), hlog.LevelWarn, &format, v)
}

// Errorf logs at slog.LevelError.
func (l *Logger) Errorf(format string, v ...any) {
	l.emit(context.Background(), hlog.LevelError, &format, v)
}

// Fatalf logs at LevelFatal, then exits the process with status 1.
func (l *Logger) Fatalf(format string, v ...any) {
	l.emit(context.Background(), hlog.LevelFatal, &format, v)
}

// CtxTracef logs at LevelTrace, passing ctx to the handler.
func (l *Logger) CtxTracef(ctx context.Context, format string, v ...any) {
	l.emit(ctx, hlog.LevelTrace, &format, v)
}

// CtxDebugf logs at slog.LevelDebug, passing ctx to the handler.
func (l *Logger) CtxDebugf(ctx context.Context, format string, v ...any) {
	l.emit(ctx, hlog.LevelDebug, &format, v)
}

// CtxInfof logs at slog.LevelInfo, passing ctx to the handler.
func (l *Logger) CtxInfof(ctx context.Context, format string, v ...any) {
	l.emit(ctx, hlog.LevelInfo, &format, v)
}

// CtxNoticef logs at LevelNotice, passing ctx to the handler.
func (l *Logger) CtxNoticef(ctx context.Context, format string, v ...any) {
	l.emit(ctx, hlog.LevelNotice, &format, v)
}

// CtxWarnf logs at slog.LevelWarn, passing ctx to the handler.
func (l *Logger) CtxWarnf(ctx context.Context, format string, v ...any) {
	l.emit(ctx, hlog.LevelWarn, &format, v)
}

// CtxErrorf logs at slog.LevelError, passing ctx to the handler.
func (l *Logger) CtxErrorf(ctx context.Context, format string, v ...any) {
	l.emit(ctx, hlog.LevelError, &format, v)
}

// CtxFatalf logs at LevelFatal, passing ctx to the handler, then exits the
// process with status 1.
func (l *Logger) CtxFatalf(ctx context.Context, format string, v ...any) {
	l.emit(ctx, hlog.LevelFatal, &format, v)
}
