package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"qrsync/api"
	"qrsync/locale"
)

// Hertz answers a request it cannot parse (a malformed head, a head too
// large, a read timeout) itself, before any route or middleware runs, with
// a plain-text body and none of our headers; it has no hook to change that.
// These answers are therefore rewritten on their way to the socket: a
// connection's write that is exactly such an answer becomes the JSON error
// of DESIGN §3 with the security headers. The match is on Hertz's own fixed
// body texts in a text/plain 4xx, which no handler of ours ever writes.
var hertzDefaults = []struct {
	body   string
	status int
	code   string
	msg    string // a catalog key
}{
	{"Error when parsing request", http.StatusBadRequest, api.CodeBadRequest, "error.badRequest"},
	{"Request Header Fields Too Large", http.StatusRequestHeaderFieldsTooLarge, api.CodeTooLarge, "error.headTooLarge"},
	{"Request timeout", http.StatusRequestTimeout, api.CodeBadRequest, "error.slowHead"},
	{"Request Entity Too Large", http.StatusRequestEntityTooLarge, api.CodeTooLarge, "error.requestTooLarge"},
}

// maxDefaultAnswer bounds the writes inspected: Hertz's answers are a few
// hundred bytes, so a large write is never one and costs no look.
const maxDefaultAnswer = 1 << 10

// rewriteDefault returns the JSON answer that replaces p, or nil when p is
// not one of Hertz's own error answers.
func rewriteDefault(p []byte) []byte {
	if len(p) > maxDefaultAnswer || !bytes.HasPrefix(p, []byte("HTTP/1.")) {
		return nil
	}
	head, body, ok := bytes.Cut(p, []byte("\r\n\r\n"))
	if !ok || !bytes.Contains(head, []byte("text/plain")) {
		return nil
	}
	for _, d := range hertzDefaults {
		if string(body) == d.body {
			return rawErrorAnswer(d.status, d.code, d.msg)
		}
	}
	return nil
}

// rawErrorAnswer is a whole HTTP/1.1 answer, for writing straight to a
// socket: the JSON error, the security headers, and Connection: close.
// Its message (key, a catalog key) is English: no request has been read,
// so there is no Accept-Language to follow.
func rawErrorAnswer(status int, code, key string) []byte {
	body, _ := json.Marshal(api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: locale.English.T(key)}})
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	b.WriteString("Content-Type: application/json; charset=utf-8\r\n")
	fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	for _, h := range securityHeaderList {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("Cache-Control: no-store\r\nConnection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

// answerListener hands Hertz connections that rewrite its own error
// answers (see hertzDefaults).
type answerListener struct{ net.Listener }

func (l answerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &answerConn{Conn: c}, nil
}

// answerConn is the connection Hertz sees. An event stream may take it
// from Hertz (see detach.go); owner says who has it.
type answerConn struct {
	net.Conn
	owner atomic.Int32
}

func (c *answerConn) Write(p []byte) (int, error) {
	if repl := rewriteDefault(p); repl != nil {
		if _, err := c.Conn.Write(repl); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// ReadFrom keeps the connection's own ReadFrom (sendfile for blob files)
// in reach of io.Copy; what it copies is never one of Hertz's answers.
func (c *answerConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// NetConn is the connection underneath, for code that looks for a
// particular layer (netguard.FromContext).
func (c *answerConn) NetConn() net.Conn { return c.Conn }
