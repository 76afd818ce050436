package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/app/server"
	"github.com/cloudwego/hertz/pkg/network/standard"
	"github.com/cloudwego/hertz/pkg/route"

	"qrsync/api"
	"qrsync/netguard"
	"qrsync/storage"
)

// Defaults that protect the machine (DESIGN §7). They are named here so the
// command line, the docs and the tests all speak of the same numbers.
const (
	// DefaultUploadTTL is how long an upload link (the QR code) takes
	// photos; the page makes a new one on request.
	DefaultUploadTTL = time.Hour
	// DefaultKeep is how long photos are kept after a session's last
	// activity: an upload, or a viewer connected.
	DefaultKeep = 7 * 24 * time.Hour
	// DefaultTombstone is how long an ended session keeps answering 410
	// rather than 404, across restarts: long enough for a page left open
	// over a weekend, or an old printed code, to say "ended".
	DefaultTombstone       = 7 * 24 * time.Hour
	DefaultMaxFileSize     = 50 << 20
	DefaultMaxPixels       = 100_000_000
	DefaultMaxImages       = 500
	DefaultMaxSessionBytes = 2 << 30
	DefaultRetry           = 2 * time.Second
	// DefaultKeepAlive is below the 20 s the design promises so that a
	// comment still goes out in time when the wait wakes a little late.
	DefaultKeepAlive = 15 * time.Second
	// DefaultSweepEvery is how often ended sessions are looked for: an
	// ended session's photos are gone within seconds (DESIGN §3).
	DefaultSweepEvery = 5 * time.Second
	// DefaultStreamWriteTimeout is how long a stream write may stall
	// before its viewer is cut off; it reconnects and catches up.
	DefaultStreamWriteTimeout = 30 * time.Second
	// DefaultDecodeMemory is the decode budget when the composition root
	// names none; it derives the real default from the machine's memory.
	DefaultDecodeMemory = 512 << 20
	// DefaultShutdownGrace is how long a stopping server waits for
	// uploads in flight to finish.
	DefaultShutdownGrace = 30 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection that sends no new
	// request for this long; streams are requests, so it never cuts one.
	DefaultIdleTimeout = time.Minute
)

// Config is everything the server needs besides its backends. Zero values
// take the defaults above; New rejects values that make no sense.
type Config struct {
	// PublicURLs are the base URLs a phone may reach the server at, best
	// first. The first one goes into QR codes unless the page picks another.
	PublicURLs []string
	// UploadTTL is how long an upload link takes photos.
	UploadTTL time.Duration
	// Keep is how long a session and its photos live after its last
	// activity (an upload, or a viewer connected).
	Keep time.Duration
	// Tombstone is how long an ended session answers 410.
	Tombstone time.Duration
	// OnImage, when set, is told of every photo stored, after its image
	// event: the command prints a line and writes --save-to copies. It
	// runs on the upload's goroutine, so it must not block for long.
	OnImage func(ctx context.Context, stored StoredImage)
	// MaxFileSize bounds one uploaded file, in bytes.
	MaxFileSize int64
	// MaxPixels bounds width×height, checked from the header before decoding.
	MaxPixels int64
	// MaxImages and MaxSessionBytes bound one session.
	MaxImages       int
	MaxSessionBytes int64
	// KeepMetadata keeps GPS and other location tags in stored originals.
	KeepMetadata bool
	// ThumbWorkers bounds how many images are decoded at once.
	ThumbWorkers int
	// Retry is sent to stream clients as the reconnect delay.
	Retry time.Duration
	// KeepAlive is the longest a stream stays silent.
	KeepAlive time.Duration
	// StreamWriteTimeout cuts off a viewer whose connection takes no
	// write for this long.
	StreamWriteTimeout time.Duration
	// SweepEvery is how often ended sessions are removed.
	SweepEvery time.Duration
	// DecodeMemory is the one budget, in bytes, that all decodes at once
	// share, each weighted by its cost from the header.
	DecodeMemory int64
	// MaxSessions caps the sessions held at once (503 beyond);
	// SessionsPerMinute caps how many one address opens (429 beyond).
	MaxSessions       int
	SessionsPerMinute int
	// UploadsPerAddress caps one address's uploads in flight (429 beyond).
	UploadsPerAddress int
	// MissesPerMinute caps one address's unknown ids and tokens (429
	// beyond); a valid one always passes.
	MissesPerMinute int
	// MaxConns, MaxConnsPerAddress and HeaderTimeout guard the listener
	// (see netguard); zero takes netguard's defaults.
	MaxConns           int
	MaxConnsPerAddress int
	HeaderTimeout      time.Duration
	// AllowHosts are more host names the server answers to, besides its
	// public URLs, loopback, its own addresses and host name.
	AllowHosts []string
	// TLS, when set, serves HTTPS with it.
	TLS *tls.Config
	// ShutdownGrace bounds how long Serve waits for uploads in flight
	// once it is told to stop.
	ShutdownGrace time.Duration
	// OrphanGrace is how old a blob no image owns must be before it is
	// removed (DefaultOrphanGrace).
	OrphanGrace time.Duration
	// News carries upload progress to the streams; nil means in-process.
	News News
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

func (c *Config) applyDefaults() error {
	if len(c.PublicURLs) == 0 {
		return errors.New("server: at least one public URL is needed for QR codes")
	}
	for i, u := range c.PublicURLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("server: public URL %q must be an absolute http(s) URL", u)
		}
		c.PublicURLs[i] = strings.TrimRight(u, "/")
	}
	setDefault(&c.UploadTTL, DefaultUploadTTL)
	setDefault(&c.Keep, DefaultKeep)
	setDefault(&c.Tombstone, DefaultTombstone)
	setDefault(&c.MaxFileSize, DefaultMaxFileSize)
	setDefault(&c.MaxPixels, DefaultMaxPixels)
	setDefault(&c.MaxImages, DefaultMaxImages)
	setDefault(&c.MaxSessionBytes, DefaultMaxSessionBytes)
	setDefault(&c.ThumbWorkers, runtime.GOMAXPROCS(0))
	setDefault(&c.Retry, DefaultRetry)
	setDefault(&c.KeepAlive, DefaultKeepAlive)
	setDefault(&c.SweepEvery, DefaultSweepEvery)
	setDefault(&c.StreamWriteTimeout, DefaultStreamWriteTimeout)
	setDefault(&c.DecodeMemory, DefaultDecodeMemory)
	setDefault(&c.MaxSessions, DefaultMaxSessions)
	setDefault(&c.SessionsPerMinute, DefaultSessionsPerMinute)
	setDefault(&c.UploadsPerAddress, DefaultUploadsPerAddress)
	setDefault(&c.MissesPerMinute, DefaultMissesPerMinute)
	setDefault(&c.ShutdownGrace, DefaultShutdownGrace)
	setDefault(&c.OrphanGrace, DefaultOrphanGrace)
	if c.StreamWriteTimeout < 0 || c.UploadTTL < 0 || c.Keep < 0 || c.Tombstone < 0 || c.MaxFileSize < 0 || c.MaxPixels < 0 || c.MaxImages < 0 ||
		c.MaxSessionBytes < 0 || c.ThumbWorkers < 0 || c.Retry < 0 || c.KeepAlive < 0 || c.SweepEvery < 0 ||
		c.DecodeMemory < 0 || c.MaxSessions < 0 || c.SessionsPerMinute < 0 || c.UploadsPerAddress < 0 ||
		c.MissesPerMinute < 0 || c.MaxConns < 0 || c.MaxConnsPerAddress < 0 || c.HeaderTimeout < 0 || c.ShutdownGrace < 0 || c.OrphanGrace < 0 {
		return errors.New("server: limits and durations must not be negative")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Server is the qrsync HTTP application. Create it with New, then Serve.
type Server struct {
	cfg   Config
	blobs storage.BlobStore
	// The catalog, by the part each route uses, and whole for what is
	// asked of it as a whole (a ping, a count).
	sessions sessionStore
	images   imageStore
	eventLog eventReader
	cat      Catalog
	log      *slog.Logger
	decode   chan struct{} // semaphore: the bounded decoding pool
	budget   *decodeBudget // the memory all decodes share
	hosts    *hostGuard
	news     News

	sessionRate *windowCounter   // sessions opened, per address
	misses      *windowCounter   // unknown ids and tokens, per address
	uploadsByIP *inFlightCounter // uploads running, per address
	diskFullLog logLimiter
	metrics     *metrics

	// streams are the event streams running on connections taken from
	// Hertz, which therefore does not wait for them.
	streams sync.WaitGroup
	// tails read each watched session's log once for all its streams.
	tails tails
	// streamsEnded counts streams ended since memory was last trimmed.
	streamsEnded atomic.Int64
	// diskFullAt is when a write last failed for want of space (Unix
	// nanoseconds; 0 once a photo was stored since), for /readyz.
	diskFullAt atomic.Int64
	// life ends when Serve begins to shut down; streams end with it.
	life     context.Context
	shutdown context.CancelFunc
}

// New checks cfg and wires the server to its backends.
func New(cfg Config, blobs storage.BlobStore, cat Catalog) (*Server, error) {
	if blobs == nil || cat == nil {
		return nil, errors.New("server: a blob store and a catalog are required")
	}
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	life, shutdown := context.WithCancel(context.Background())
	s := &Server{
		cfg:         cfg,
		blobs:       blobs,
		sessions:    cat,
		images:      cat,
		eventLog:    cat,
		cat:         cat,
		log:         cfg.Logger,
		decode:      make(chan struct{}, cfg.ThumbWorkers),
		budget:      newDecodeBudget(cfg.DecodeMemory),
		hosts:       newHostGuard(cfg.PublicURLs, cfg.AllowHosts),
		news:        cfg.News,
		sessionRate: newWindowCounter(cfg.SessionsPerMinute),
		misses:      newWindowCounter(cfg.MissesPerMinute),
		uploadsByIP: newInFlightCounter(cfg.UploadsPerAddress),
		diskFullLog: logLimiter{every: time.Minute},
		life:        life,
		shutdown:    shutdown,
	}
	if s.news == nil {
		s.news = newLocalNews()
	}
	s.metrics = newMetrics(s)
	s.tails.s = s
	return s, nil
}

// Serve runs the server on ln until ctx ends, then shuts down gracefully:
// it stops accepting, ends the streams so their clients reconnect (to
// another instance, or to this one once it is back), waits up to
// ShutdownGrace for uploads in flight, and returns nil once they are done.
// It also sweeps ended sessions while it runs.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	guard, err := netguard.Wrap(ln, netguard.Config{
		MaxConns:      s.cfg.MaxConns,
		MaxConnsPerIP: s.cfg.MaxConnsPerAddress,
		HeaderTimeout: s.cfg.HeaderTimeout,
		Refuse:        refuseConn,
		OnEvent:       s.connEvent,
		Logger:        s.log,
	})
	if err != nil {
		return err
	}
	var l net.Listener = guard
	if s.cfg.TLS != nil {
		l = tls.NewListener(l, s.cfg.TLS)
	}
	l = answerListener{l}
	s.metrics.setConnsOpen(guard.Open)

	h := server.New(
		server.WithListener(l),
		// Go's net, not netpoll (Hertz's default on Linux): netpoll reads a
		// socket into its own buffers however slowly the handler consumes
		// it, so 8 parallel 50 MB uploads cost ~130 MiB more peak memory
		// (TestMemoryBoundedParallelUploads). Hertz's docs advise go net
		// with streaming for bodies over 1 MB.
		server.WithTransport(standard.NewTransporter),
		// Disconnection sensing is off on purpose: on Go's net transport it
		// races in Hertz v0.10.4 (see watchViewer), which does the same job
		// for streams, the only handlers that wait on their viewer. Uploads
		// notice a vanished phone by their body read failing.
		server.WithSenseClientDisconnection(false),
		// Uploads are read as a stream: Hertz prefetches at most 8 KiB and
		// never buffers or pre-parses the body; --max-file-size is enforced
		// by the upload handler itself, per file.
		server.WithStreamBody(true),
		server.WithDisablePreParseMultipartForm(true),
		server.WithExitWaitTime(s.cfg.ShutdownGrace),
		server.WithDisablePrintRoute(true),
		server.WithHandleMethodNotAllowed(true),
		// A request's head is bounded by netguard and its body by the
		// upload's minimum rate; Hertz's own per-read timeout would cut
		// streams and slow downloads alike.
		server.WithIdleTimeout(DefaultIdleTimeout),
		server.WithReadTimeout(0),
		server.WithOnAccept(onAccept),
	)
	s.Routes(h.Engine)
	s.reconcile(ctx) // then once per OrphanGrace, from the sweep

	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go s.sweep(sweepCtx)
	go s.trimMemory(sweepCtx)

	errc := make(chan error, 1)
	go func() { errc <- h.Run() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.shutdown() // streams never finish by themselves: end them first
	// Hertz closes the listener (netguard then closes the idle
	// connections) and waits up to its exit wait, ShutdownGrace, for the
	// requests in flight: uploads half-way across are finished, not cut.
	if err := h.Shutdown(context.Background()); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown", "err", err)
	}
	s.streams.Wait()
	return nil
}

// refuseConn is what a connection over netguard's caps is told before it
// is closed: the JSON error, like every other answer.
func refuseConn(w io.Writer, r netguard.Reason) {
	if r == netguard.ReasonPerIP {
		w.Write(rawErrorAnswer(http.StatusTooManyRequests, api.CodeTooMany, "error.connPerIP"))
		return
	}
	w.Write(rawErrorAnswer(http.StatusServiceUnavailable, api.CodeUnavailable, "error.connLimit"))
}

// connEvent counts what netguard refused.
func (s *Server) connEvent(e netguard.Event) {
	switch {
	case e.Kind == netguard.EventRefused && e.Reason == netguard.ReasonPerIP:
		s.refused(reasonConnPerIP)
	case e.Kind == netguard.EventRefused:
		s.refused(reasonConnTotal)
	case e.Kind == netguard.EventHeadTimeout:
		s.refused(reasonHeaderTimeout)
	}
}

// trimEvery and trimAfter say when memory is handed back to the system:
// when this many streams have ended since the last look. A burst of
// viewers (a thousand that never read, say) leaves their buffers as
// garbage the runtime would otherwise keep, and the process's RSS with it,
// until long after they left.
const (
	trimEvery = 5 * time.Second
	trimAfter = 32
)

func (s *Server) trimMemory(ctx context.Context) {
	t := time.NewTicker(trimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.streamsEnded.Swap(0) >= trimAfter {
				debug.FreeOSMemory()
			}
		}
	}
}

// Routes registers every route of DESIGN §3 on e.
func (s *Server) Routes(e *route.Engine) {
	e.Use(s.connState, s.accessLog, s.securityHeaders, s.checkHost, s.closeWhenStopping)
	e.NoRoute(func(_ context.Context, c *app.RequestContext) { s.writeError(c, errNoRoute) })
	e.NoMethod(func(_ context.Context, c *app.RequestContext) {
		s.writeError(c, newUserError(errBadRequest, "error.method"))
		c.SetStatusCode(http.StatusMethodNotAllowed)
	})
	// Every GET route answers HEAD too (DESIGN §3); Hertz leaves the body
	// out of a HEAD answer by itself.
	get := func(path string, h app.HandlerFunc) {
		e.GET(path, h)
		e.HEAD(path, h)
	}
	get("/", s.pcPage)
	get("/static/*file", s.static)
	get(api.UploadPathMark+":token", s.phonePage)
	get("/healthz", s.healthz)
	get("/readyz", s.readyz)
	get("/metrics", s.metricsHandler)

	get("/api/addresses", s.addresses)
	e.POST("/api/sessions", s.createSession)
	get("/api/sessions/:id", s.getSession)
	e.DELETE("/api/sessions/:id", s.deleteSession)
	e.POST("/api/sessions/:id/upload-link", s.renewUploadLink)
	get("/api/sessions/:id/archive.zip", s.archive)
	get("/api/sessions/:id/qr.png", s.qrCode)
	get("/api/sessions/:id/events", s.events)
	get("/api/sessions/:id/images/:image", s.original)
	get("/api/sessions/:id/images/:image/thumb", s.thumbnail)
	get("/api/sessions/:id/images/:image/display", s.display)
	e.DELETE("/api/sessions/:id/images/:image", s.deleteImage)
	e.POST(api.UploadAPIPath+":token", s.upload)
}

// connState tells netguard where a connection is: its request head has
// been read, and once the handler returns the next bytes are a new head.
func (s *Server) connState(ctx context.Context, c *app.RequestContext) {
	g := netguard.FromContext(ctx)
	g.HeadDone()
	defer func() { // deferred: a handler that panics still re-arms it
		if !answerConnOf(ctx).wanted() {
			g.AwaitHead() // a stream's connection carries no next head
		}
	}()
	c.Next(ctx)
}

// errNoRoute answers paths no route serves.
var errNoRoute = fmt.Errorf("%w: no such route", storage.ErrNotFound)
