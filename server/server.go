package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/cloudwego/hertz/pkg/app/server"
	"github.com/cloudwego/hertz/pkg/common/hlog"
	"github.com/cloudwego/hertz/pkg/network/standard"
	"github.com/cloudwego/hertz/pkg/route"

	"qrsync/storage"
)

// Defaults that protect the machine (DESIGN §7). They are named here so the
// command line, the docs and the tests all speak of the same numbers.
const (
	DefaultSessionTTL      = time.Hour
	DefaultMaxFileSize     = 50 << 20
	DefaultMaxPixels       = 100_000_000
	DefaultMaxImages       = 500
	DefaultMaxSessionBytes = 2 << 30
	DefaultRetry           = 2 * time.Second
	// DefaultKeepAlive is below the 20 s the design promises so that a
	// comment still goes out in time when the wait wakes a little late.
	DefaultKeepAlive = 15 * time.Second
	// DefaultSweepEvery is how often ended sessions are looked for.
	DefaultSweepEvery = time.Minute
	// DefaultStreamWriteTimeout is how long a stream write may stall
	// before its viewer is cut off; it reconnects and catches up.
	DefaultStreamWriteTimeout = 30 * time.Second
)

// Config is everything the server needs besides its backends. Zero values
// take the defaults above; New rejects values that make no sense.
type Config struct {
	// PublicURLs are the base URLs a phone may reach the server at, best
	// first. The first one goes into QR codes unless the page picks another.
	PublicURLs []string
	// SessionTTL is how long a session lives after it is created.
	SessionTTL time.Duration
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
	setDefault(&c.SessionTTL, DefaultSessionTTL)
	setDefault(&c.MaxFileSize, DefaultMaxFileSize)
	setDefault(&c.MaxPixels, DefaultMaxPixels)
	setDefault(&c.MaxImages, DefaultMaxImages)
	setDefault(&c.MaxSessionBytes, DefaultMaxSessionBytes)
	setDefault(&c.ThumbWorkers, runtime.GOMAXPROCS(0))
	setDefault(&c.Retry, DefaultRetry)
	setDefault(&c.KeepAlive, DefaultKeepAlive)
	setDefault(&c.SweepEvery, DefaultSweepEvery)
	setDefault(&c.StreamWriteTimeout, DefaultStreamWriteTimeout)
	if c.StreamWriteTimeout < 0 || c.SessionTTL < 0 || c.MaxFileSize < 0 || c.MaxPixels < 0 || c.MaxImages < 0 ||
		c.MaxSessionBytes < 0 || c.ThumbWorkers < 0 || c.Retry < 0 || c.KeepAlive < 0 || c.SweepEvery < 0 {
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
	cfg    Config
	blobs  storage.BlobStore
	cat    storage.Catalog
	log    *slog.Logger
	decode chan struct{} // semaphore: the bounded decoding pool
	limits *tokenLimiter
	// life ends when Serve begins to shut down; streams end with it.
	life     context.Context
	shutdown context.CancelFunc
}

// New checks cfg and wires the server to its backends.
func New(cfg Config, blobs storage.BlobStore, cat storage.Catalog) (*Server, error) {
	if blobs == nil || cat == nil {
		return nil, errors.New("server: a blob store and a catalog are required")
	}
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	life, shutdown := context.WithCancel(context.Background())
	return &Server{
		cfg:      cfg,
		blobs:    blobs,
		cat:      cat,
		log:      cfg.Logger,
		decode:   make(chan struct{}, cfg.ThumbWorkers),
		limits:   newTokenLimiter(cfg.Now),
		life:     life,
		shutdown: shutdown,
	}, nil
}

// Serve runs the server on ln until ctx ends, then shuts down gracefully.
// It also sweeps ended sessions while it runs.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hlog.SetLevel(hlog.LevelWarn)
	h := server.New(
		server.WithListener(ln),
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
		server.WithExitWaitTime(2*time.Second),
		server.WithDisablePrintRoute(true),
		// Streams are long-lived; an idle keep-alive connection is not.
		server.WithIdleTimeout(2*time.Minute),
		server.WithReadTimeout(0),
	)
	s.Routes(h.Engine)
	s.reconcile(ctx) // before serving: blobs of uploads in flight look orphaned

	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go s.sweep(sweepCtx)

	errc := make(chan error, 1)
	go func() { errc <- h.Run() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.shutdown() // streams never finish by themselves: end them first
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.Shutdown(shutdownCtx)
}

// Routes registers every route of DESIGN §3 on e.
func (s *Server) Routes(e *route.Engine) {
	e.Use(s.securityHeaders)
	e.GET("/", s.pcPage)
	e.GET("/static/*file", s.static)
	e.GET("/u/:token", s.phonePage)
	e.GET("/healthz", s.healthz)

	e.GET("/api/addresses", s.addresses)
	e.POST("/api/sessions", s.createSession)
	e.GET("/api/sessions/:id", s.getSession)
	e.DELETE("/api/sessions/:id", s.deleteSession)
	e.GET("/api/sessions/:id/qr.png", s.qrCode)
	e.GET("/api/sessions/:id/events", s.events)
	e.GET("/api/sessions/:id/images/:image", s.original)
	e.GET("/api/sessions/:id/images/:image/thumb", s.thumbnail)
	e.DELETE("/api/sessions/:id/images/:image", s.deleteImage)
	e.POST("/api/upload/:token", s.upload)
}
