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
	"qrsync/locale"
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
	// The terminal speaks the language of the person's locale; flags,
	// their help and the log stay English, the operator's lingua franca.
	cat := locale.FromEnv(getenv)
	if len(args) > 0 && args[0] == "watch" {
		return runWatch(ctx, args[1:], cat, stdout, stderr)
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
	return serve(ctx, c, cat, stdout, stderr)
}

// memoryHeadroom is what the process may use besides the decode budget
// (the runtime, buffers of connections and streams, the catalog's pages)
// before the Go runtime collects harder to stay under its limit.
const memoryHeadroom = 128 << 20

func serve(ctx context.Context, c config, cat *locale.Catalog, stdout, stderr io.Writer) error {
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
		OnImage:            newReceiver(stdout, cat, c.SaveTo, log).received,
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
	printWelcome(stdout, cat, urls, reachable, sess, c)
	return srv.Serve(ctx, ln)
}

// printWelcome shows the terminal's session: the address that opens it on
// the PC, and a QR code of its upload link drawn so that it scans on light
// and dark terminal themes alike.
func printWelcome(w io.Writer, cat *locale.Catalog, urls []string, reachable bool, sess api.Session, c config) {
	fmt.Fprintf(w, "\n%s\n\n", cat.T("term.running"))
	if err := termqr.Write(w, sess.UploadURL); err != nil {
		fmt.Fprintln(w, cat.T("term.noQR", "err", err.Error()))
	}
	fmt.Fprintf(w, "\n    %s\n\n", sess.UploadURL)
	fmt.Fprintf(w, "%s\n\n    %s\n\n", cat.T("term.seeThem"), api.PageURL(urls[0], sess.ID))
	fmt.Fprintln(w, cat.T("term.key"))
	fmt.Fprintln(w, cat.T("term.until",
		"time", sess.UploadExpiresAt.Local().Format("15:04"), "keep", humanDuration(cat, c.Keep)))
	if c.SaveTo != "" {
		fmt.Fprintln(w, cat.T("term.savedUnder", "dir", c.SaveTo))
	}
	for _, u := range urls[1:] {
		fmt.Fprintln(w, cat.T("term.alsoAt", "url", u))
	}
	if !reachable {
		fmt.Fprintln(w, cat.T("term.noLAN"))
	}
	fmt.Fprintln(w, cat.T("term.stop"))
}

// humanDuration says a duration as a person would: "7 days", "2h0m0s".
func humanDuration(cat *locale.Catalog, d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return cat.N("term.days", int(d/day))
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
