// Command qrsync moves photos from a phone to this computer: it serves a
// page that shows a QR code, the phone scans it and uploads, and the
// photos appear on the page as they land. It is the one composition root:
// the only code that reads flags and environment and picks backends.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/cloudwego/hertz/pkg/common/hlog"
	qrcode "github.com/skip2/go-qrcode"

	"qrsync/hertzslog"
	"qrsync/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "qrsync:", err)
		os.Exit(1)
	}
}

// run dispatches the subcommand; `qrsync` alone is `qrsync serve`.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "watch" {
		return runWatch(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	c, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, c, stdout, stderr)
}

// memoryHeadroom is what the process may use besides the decode budget
// (the runtime, buffers of connections and streams, the catalog's pages)
// before the Go runtime collects harder to stay under its limit.
const memoryHeadroom = 128 << 20

func serve(ctx context.Context, c config, stdout, stderr io.Writer) error {
	log, err := server.NewLogger(stderr, c.LogFormat, slog.LevelInfo)
	if err != nil {
		return err
	}
	hertzslog.Install(log, hlog.LevelWarn)
	// The decode budget keeps the books of what decodes take; the runtime's
	// memory limit makes RSS follow them, since Go otherwise keeps freed
	// heap until its next collection and RSS could reach twice the budget.
	// GOMEMLIMIT, when set, is the operator's word and wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(c.DecodeMemory) + memoryHeadroom)
	}
	var tlsCfg *tls.Config
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	if err := ensureDir(c.Data); err != nil {
		return err
	}
	blobs, cat, err := openBackends(c)
	if err != nil {
		return err
	}
	defer cat.Close()
	if cl, ok := blobs.(io.Closer); ok {
		defer cl.Close()
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	urls, reachable := c.publicURLs(ln.Addr(), tlsCfg != nil)
	srv, err := server.New(server.Config{
		PublicURLs:         urls,
		SessionTTL:         c.SessionTTL,
		MaxFileSize:        int64(c.MaxFileSize),
		MaxPixels:          c.MaxPixels,
		MaxImages:          c.MaxImages,
		MaxSessionBytes:    int64(c.MaxSession),
		KeepMetadata:       c.KeepMetadata,
		DecodeMemory:       int64(c.DecodeMemory),
		MaxSessions:        c.MaxSessions,
		SessionsPerMinute:  c.SessionsPerMinute,
		UploadsPerAddress:  c.UploadsPerAddr,
		MaxConns:           c.MaxConns,
		MaxConnsPerAddress: c.MaxConnsPerAddr,
		HeaderTimeout:      c.HeaderTimeout,
		ShutdownGrace:      c.ShutdownGrace,
		OrphanGrace:        c.OrphanGrace,
		AllowHosts:         c.AllowHosts,
		TLS:                tlsCfg,
		Logger:             log,
	}, blobs, cat)
	if err != nil {
		ln.Close()
		return err
	}
	printWelcome(stdout, urls, reachable)
	return srv.Serve(ctx, ln)
}

// printWelcome shows where to point the PC's browser, as text and as a
// QR code drawn with block characters.
func printWelcome(w io.Writer, urls []string, reachable bool) {
	fmt.Fprintf(w, "\nqrsync is running. Open this on your computer:\n\n    %s/\n\n", urls[0])
	if q, err := qrcode.New(urls[0]+"/", qrcode.Medium); err == nil {
		fmt.Fprintln(w, q.ToSmallString(false))
	}
	for _, u := range urls[1:] {
		fmt.Fprintf(w, "Also reachable at %s/\n", u)
	}
	if !reachable {
		fmt.Fprintln(w, "No LAN address was found: a phone cannot reach localhost. Use --public-url to say where it can.")
	}
	fmt.Fprintln(w, "Press Ctrl+C to stop.")
}
