package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/common/ut"
)

// Secrets shaped as newSecret makes them, fixed so a failure reads the same
// every time.
const (
	testSession = "Yq3_x9LmP0aZ-kR7tW2eN5bC"
	testImage   = "aB3dE6gH9jK2mN5pQ8sT1vW4"
	testSHA     = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func TestLoggingRedactSecrets(t *testing.T) {
	t.Parallel()
	for _, s := range []string{testSession, testImage, newSecret()} {
		if len(s) != secretLen {
			t.Fatalf("%q is not a secret's length", s)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"session " + testSession + " ended", "session [redacted] ended"},
		{testSession, "[redacted]"},
		{"open sessions/" + testSession + "/" + testImage + ".thumb.jpg: no such file",
			"open sessions/[redacted]/[redacted].thumb.jpg: no such file"},
		{"/api/sessions/" + testSession + "/events", "/api/sessions/[redacted]/events"},
		{"http://192.168.1.20:8080/u/" + testSession, "http://192.168.1.20:8080/u/[redacted]"},
		{"?lastEventId=17&id=" + testSession, "?lastEventId=17&id=[redacted]"},
		{"é" + testSession + "…", "é[redacted]…"}, // non-ASCII bounds a run too
		{`"` + testSession + `"`, `"[redacted]"`},
		// Not secrets: other lengths, a sha256, words, request ids.
		{"sha256 " + testSHA, "sha256 " + testSHA},
		{testSession[:23], testSession[:23]},
		{testSession + "x", testSession + "x"},
		{testSession + testImage, testSession + testImage},
		{"connection_reset_by_peer", "connection_reset_by_peer"}, // 24, one class
		{"ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWX"},
		{"123456789012345678901234", "123456789012345678901234"},
		{"the quick brown fox jumps over the lazy dog", "the quick brown fox jumps over the lazy dog"},
		{newRequestID(), ""}, // "" means: unchanged
		{"", ""},
	} {
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := redactSecrets(c.in); got != want {
			t.Errorf("redactSecrets(%q) = %q, want %q", c.in, got, want)
		}
	}
	if got := redactSecrets("id " + newSecret()); got != "id [redacted]" {
		t.Errorf("a fresh secret came out as %q", got)
	}
}

// secretText is a value whose text form holds a secret.
type secretText struct{}

func (secretText) MarshalText() ([]byte, error) { return []byte("key " + testSession), nil }

func TestLoggingRedactingHandler(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log, err := NewLogger(&buf, format, slog.LevelDebug)
			if err != nil {
				t.Fatal(err)
			}
			key := "sessions/" + testSession + "/" + testImage + ".thumb.jpg"
			storageErr := fmt.Errorf("open %s: %w", key, fs.ErrNotExist)
			log.With("session", testSession).WithGroup("g").Info("upload to "+testSession+" failed",
				"err", storageErr,
				"path", "/api/upload/"+testSession,
				slog.Group("inner", "key", key, "n", 3),
				"struct", struct{ ID string }{testSession},
				"bytes", []byte(testImage),
				"text", secretText{},
				"sha", testSHA,
				"count", 42,
			)
			out := buf.String()
			for _, s := range []string{testSession, testImage} {
				if strings.Contains(out, s) {
					t.Errorf("secret %s in the log:\n%s", s, out)
				}
			}
			for _, s := range []string{testSHA, "[redacted]", ".thumb.jpg", "file does not exist", "upload to [redacted] failed"} {
				if !strings.Contains(out, s) {
					t.Errorf("%q missing from the log:\n%s", s, out)
				}
			}
			if format != "json" {
				return
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("%v in %s", err, out)
			}
			g, _ := line["g"].(map[string]any)
			if g["count"] != float64(42) {
				t.Errorf("a number lost its type: %v", g["count"])
			}
			if inner, _ := g["inner"].(map[string]any); inner["n"] != float64(3) {
				t.Errorf("a group lost its structure: %v", g["inner"])
			}
		})
	}
}

func TestLoggingNewLoggerRejectsUnknownFormat(t *testing.T) {
	t.Parallel()
	if _, err := NewLogger(&bytes.Buffer{}, "xml", slog.LevelInfo); err == nil {
		t.Error("NewLogger accepted format xml")
	}
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "text", slog.LevelWarn)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("below the level")
	if buf.Len() != 0 {
		t.Errorf("a line below the level was written: %s", buf.String())
	}
}

// accessLines decodes the JSON log lines in b.
func accessLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range bytes.Lines(b) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%v in %q", err, l)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLoggingAccessLog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	// No redaction here: the middleware itself must keep paths out.
	s := &Server{log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	e := testEngine()
	e.Use(s.accessLog)
	e.GET("/api/sessions/:id/events", func(ctx context.Context, c *app.RequestContext) {
		s.logFor(c).Info("handler's own line")
		c.Data(200, "text/plain", []byte("hello"))
	})
	e.GET("/healthz", func(ctx context.Context, c *app.RequestContext) { c.SetStatusCode(204) })

	w1 := ut.PerformRequest(e, "GET", "/api/sessions/"+testSession+"/events?lastEventId="+testImage, nil)
	w2 := ut.PerformRequest(e, "GET", "/u/"+testSession+"/nothing-here", nil)
	w3 := ut.PerformRequest(e, "GET", "/healthz", nil)

	out := buf.String()
	for _, s := range []string{testSession, testImage} {
		if strings.Contains(out, s) {
			t.Errorf("the raw path is in the log:\n%s", out)
		}
	}
	lines := accessLines(t, buf.Bytes())
	if len(lines) != 4 {
		t.Fatalf("%d lines, want the handler's and one per request:\n%s", len(lines), out)
	}
	own, lines := lines[0], lines[1:]
	want := []struct {
		w      *ut.ResponseRecorder
		level  string
		route  string
		status float64
		bytes  float64
	}{
		{w1, "INFO", "/api/sessions/:id/events", 200, 5},
		{w2, "INFO", unmatchedRoute, 404, -1},
		{w3, "DEBUG", "/healthz", 204, 0},
	}
	ids := map[string]bool{}
	for i, c := range want {
		l := lines[i]
		id := c.w.Header().Get("X-Request-Id")
		if id == "" || l["request_id"] != id {
			t.Errorf("request %d: logged id %v, header X-Request-Id %q", i, l["request_id"], id)
		}
		ids[id] = true
		if l["msg"] != "request" || l["level"] != c.level || l["method"] != "GET" || l["route"] != c.route || l["status"] != c.status {
			t.Errorf("request %d: got %v, want %s GET %s %v", i, l, c.level, c.route, c.status)
		}
		if c.bytes >= 0 && l["bytes"] != c.bytes {
			t.Errorf("request %d: bytes %v, want %v", i, l["bytes"], c.bytes)
		}
		if d, ok := l["duration"].(float64); !ok || d <= 0 {
			t.Errorf("request %d: duration %v", i, l["duration"])
		}
		if ip, ok := l["ip"].(string); !ok || net.ParseIP(ip) == nil && ip != "" {
			t.Errorf("request %d: ip %v", i, l["ip"])
		}
	}
	if len(ids) != 3 {
		t.Errorf("request ids are not distinct: %v", ids)
	}
	if own["msg"] != "handler's own line" || own["request_id"] != lines[0]["request_id"] {
		t.Errorf("logFor's line %v does not carry its request's id %v", own, lines[0]["request_id"])
	}
}

func TestLoggingLogForWithoutAccessLog(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	s := &Server{log: log}
	if got := s.logFor(ut.CreateUtRequestContext("GET", "/", nil)); got != log {
		t.Error("logFor of a request without an id should be the server's logger itself")
	}
}
