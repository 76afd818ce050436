package hertzslog

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/cloudwego/hertz/pkg/common/hlog"
)

// line is one record as the handler saw it.
type line struct {
	level slog.Level
	msg   string
	attrs map[string]string
	ctx   context.Context
}

// recorder is a slog.Handler that keeps what it is given.
type recorder struct {
	min   slog.Level
	mu    *sync.Mutex
	lines *[]line
	attrs []slog.Attr
}

func newRecorder(min slog.Level) *recorder {
	return &recorder{min: min, mu: new(sync.Mutex), lines: new([]line)}
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.min }

func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	ln := line{level: rec.Level, msg: rec.Message, attrs: map[string]string{}, ctx: ctx}
	for _, a := range r.attrs {
		ln.attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool { ln.attrs[a.Key] = a.Value.String(); return true })
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.lines = append(*r.lines, ln)
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(append([]slog.Attr{}, r.attrs...), as...)
	return &c
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

func (r *recorder) got() []line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]line(nil), *r.lines...)
}

func TestLevelsMapToSlog(t *testing.T) {
	t.Parallel()
	rec := newRecorder(LevelTrace)
	l := New(slog.New(rec))
	exits := 0
	l.exit = func(int) { exits++ }

	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "mine")
	calls := []struct {
		log  func()
		want slog.Level
		msg  string
	}{
		{func() { l.Trace("t", 1) }, LevelTrace, "t1"},
		{func() { l.Debug("d") }, slog.LevelDebug, "d"},
		{func() { l.Info("i") }, slog.LevelInfo, "i"},
		{func() { l.Notice("n") }, LevelNotice, "n"},
		{func() { l.Warn("w") }, slog.LevelWarn, "w"},
		{func() { l.Error("e") }, slog.LevelError, "e"},
		{func() { l.Fatal("f") }, LevelFatal, "f"},
		{func() { l.Tracef("t%d", 2) }, LevelTrace, "t2"},
		{func() { l.Debugf("d%d", 2) }, slog.LevelDebug, "d2"},
		{func() { l.Infof("i%d", 2) }, slog.LevelInfo, "i2"},
		{func() { l.Noticef("n%d", 2) }, LevelNotice, "n2"},
		{func() { l.Warnf("w%d", 2) }, slog.LevelWarn, "w2"},
		{func() { l.Errorf("e%d", 2) }, slog.LevelError, "e2"},
		{func() { l.Fatalf("f%d", 2) }, LevelFatal, "f2"},
		{func() { l.CtxTracef(ctx, "t%d", 3) }, LevelTrace, "t3"},
		{func() { l.CtxDebugf(ctx, "d%d", 3) }, slog.LevelDebug, "d3"},
		{func() { l.CtxInfof(ctx, "i%d", 3) }, slog.LevelInfo, "i3"},
		{func() { l.CtxNoticef(ctx, "n%d", 3) }, LevelNotice, "n3"},
		{func() { l.CtxWarnf(ctx, "w%d", 3) }, slog.LevelWarn, "w3"},
		{func() { l.CtxErrorf(ctx, "e%d", 3) }, slog.LevelError, "e3"},
		{func() { l.CtxFatalf(ctx, "f%d", 3) }, LevelFatal, "f3"},
		{func() { l.Infof("100%") }, slog.LevelInfo, "100%"}, // no args: not a format
	}
	for _, c := range calls {
		c.log()
	}
	got := rec.got()
	if len(got) != len(calls) {
		t.Fatalf("%d lines for %d calls", len(got), len(calls))
	}
	for i, c := range calls {
		g := got[i]
		if g.level != c.want || g.msg != c.msg {
			t.Errorf("call %d: got %v %q, want %v %q", i, g.level, g.msg, c.want, c.msg)
		}
		if g.attrs["logger"] != "hertz" {
			t.Errorf("call %d: attrs %v lack logger=hertz", i, g.attrs)
		}
		if i >= 14 && i < 21 && g.ctx.Value(ctxKey{}) != "mine" {
			t.Errorf("call %d: the context did not reach the handler", i)
		}
	}
	if exits != 3 {
		t.Errorf("fatal calls exited %d times, want 3", exits)
	}
}

func TestLevelFilters(t *testing.T) {
	t.Parallel()
	// The slog handler filters...
	rec := newRecorder(slog.LevelWarn)
	l := New(slog.New(rec))
	l.Info("dropped by slog")
	l.Warn("kept")
	// ...and so does SetLevel, in hlog's terms.
	l.SetLevel(hlog.LevelError)
	l.Warnf("dropped by %s", "hlog")
	l.Errorf("kept %d", 2)
	exits := 0
	l.exit = func(int) { exits++ }
	l.SetLevel(hlog.LevelFatal + 1)
	l.Fatal("filtered, but still exits")

	got := rec.got()
	if len(got) != 2 || got[0].msg != "kept" || got[1].msg != "kept 2" {
		t.Errorf("got %+v, want the two kept lines", got)
	}
	if exits != 1 {
		t.Errorf("a filtered Fatal exited %d times, want 1", exits)
	}
}

// TestInstall is the only test that touches hlog's globals.
func TestInstall(t *testing.T) {
	t.Parallel()
	rec := newRecorder(LevelTrace)
	Install(slog.New(rec), hlog.LevelInfo)
	hlog.Debug("below the level")
	hlog.Infof("user %s", "line")
	// Hertz's own lines go through its system logger, which prefixes them.
	hlog.SystemLogger().Warnf("engine %s", "line")
	hlog.SystemLogger().Error("engine", " error")

	got := rec.got()
	want := []struct {
		level slog.Level
		msg   string
	}{
		{slog.LevelInfo, "user line"},
		{slog.LevelWarn, "engine line"},
		{slog.LevelError, "engine error"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i, w := range want {
		if got[i].level != w.level || got[i].msg != w.msg {
			t.Errorf("line %d: got %v %q, want %v %q", i, got[i].level, got[i].msg, w.level, w.msg)
		}
	}
}
