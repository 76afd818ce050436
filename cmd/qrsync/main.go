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
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/cloudwego/hertz/pkg/common/hlog"

	"qrsync/api"
	"qrsync/hertzslog"
	"qrsync/server"
	"qrsync/termqr"
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
	if c.Version {
		fmt.Fprintln(stdout, versionLine())
		return nil
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
	b, err := openBackends(ctx, c, log)
	if err != nil {
		return err
	}
	defer b.Close()

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	urls, reachable := c.publicURLs(ln.Addr(), tlsCfg != nil)
	srv, err := server.New(server.Config{
		PublicURLs:         urls,
		UploadTTL:          c.UploadTTL,
		Keep:               c.Keep,
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
		OnImage:            newReceiver(stdout, c.SaveTo, log).received,
		News:               b.news,
	}, b.blobs, b.cat)
	if err != nil {
		ln.Close()
		return err
	}
	// The terminal's own session: its page URL for the PC, and its upload
	// link as a QR code, so that a phone scanning the terminal lands on
	// the upload page.
	sess, err := srv.NewSession(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	printWelcome(stdout, urls, reachable, sess, c)
	return srv.Serve(ctx, ln)
}

// printWelcome shows the terminal's session: the address that opens it on
// the PC, and a QR code of its upload link drawn so that it scans on light
// and dark terminal themes alike.
func printWelcome(w io.Writer, urls []string, reachable bool, sess api.Session, c config) {
	fmt.Fprintf(w, "\nqrsync is running. Scan this with your phone to send photos:\n\n")
	if err := termqr.Write(w, sess.UploadURL); err != nil {
		fmt.Fprintf(w, "(no QR code: %v)\n", err)
	}
	fmt.Fprintf(w, "\n    %s\n\n", sess.UploadURL)
	fmt.Fprintf(w, "See them arrive on this computer:\n\n    %s\n\n", api.PageURL(urls[0], sess.ID))
	fmt.Fprintf(w, "That address is this session's key: whoever has it can see and delete its photos.\n")
	fmt.Fprintf(w, "The code takes photos until %s; photos are kept %s after the last activity.\n",
		sess.UploadExpiresAt.Local().Format("15:04"), humanDuration(c.Keep))
	if c.SaveTo != "" {
		fmt.Fprintf(w, "Every photo received is also saved under %s.\n", c.SaveTo)
	}
	for _, u := range urls[1:] {
		fmt.Fprintf(w, "Also reachable at %s/\n", u)
	}
	if !reachable {
		fmt.Fprintln(w, "No LAN address was found: a phone cannot reach localhost. Use --public-url to say where it can.")
	}
	fmt.Fprintln(w, "Press Ctrl+C to stop.")
}

// humanDuration says a duration as a person would: "7 days", "2h0m0s".
func humanDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		if n := d / (24 * time.Hour); n != 1 {
			return fmt.Sprintf("%d days", n)
		}
		return "1 day"
	}
	return d.String()
}

// versionLine is what --version prints: the module version when built
// from a tagged module, and the commit when built from a checkout.
func versionLine() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev
		if dirty {
			v += "+changes"
		}
	}
	return "qrsync " + v + " " + runtime.Version()
}
