package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"qrsync/lanaddr"
	"qrsync/netguard"
	"qrsync/server"
)

// config is everything `qrsync serve` is told by flags and environment.
type config struct {
	Addr         string
	Data         string
	PublicURL    string
	UploadTTL    time.Duration
	Keep         time.Duration
	SaveTo       string
	Version      bool
	MaxFileSize  byteSize
	MaxPixels    int64
	MaxImages    int
	MaxSession   byteSize
	KeepMetadata bool
	Blob         string
	Catalog      string

	DecodeMemory      byteSize
	MaxDisk           byteSize
	MaxSessions       int
	SessionsPerMinute int
	UploadsPerAddr    int
	MaxConns          int
	MaxConnsPerAddr   int
	HeaderTimeout     time.Duration
	ShutdownGrace     time.Duration
	OrphanGrace       time.Duration
	AllowHosts        hostList
	LogFormat         string
	TLSCert, TLSKey   string
}

// Defaults of the command that depend on the machine, not the server.
const (
	// maxDefaultDecodeMemory caps the default decode budget: more buys
	// nothing for photos within --max-pixels.
	maxDefaultDecodeMemory = 2 << 30
	// defaultMinFree is the free space the embedded blob store keeps on
	// its disk when --max-disk is not given.
	defaultMinFree = 1 << 30
)

// envPrefix makes every flag's environment twin: --max-file-size is
// QRSYNC_MAX_FILE_SIZE. A flag on the command line wins over its twin.
const envPrefix = "QRSYNC_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseServe reads flags, then fills every flag not given from its env twin.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{
		Addr:        ":8080",
		Data:        "./data",
		UploadTTL:   server.DefaultUploadTTL,
		Keep:        server.DefaultKeep,
		MaxFileSize: server.DefaultMaxFileSize,
		MaxPixels:   server.DefaultMaxPixels,
		MaxImages:   server.DefaultMaxImages,
		MaxSession:  server.DefaultMaxSessionBytes,

		DecodeMemory:      byteSize(defaultDecodeMemory()),
		MaxSessions:       server.DefaultMaxSessions,
		SessionsPerMinute: server.DefaultSessionsPerMinute,
		UploadsPerAddr:    server.DefaultUploadsPerAddress,
		MaxConns:          netguard.DefaultMaxConns,
		MaxConnsPerAddr:   netguard.DefaultMaxConnsPerIP,
		HeaderTimeout:     netguard.DefaultHeaderTimeout,
		ShutdownGrace:     server.DefaultShutdownGrace,
		OrphanGrace:       server.DefaultOrphanGrace,
		LogFormat:         "text",
	}
	fs := flag.NewFlagSet("qrsync serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address")
	fs.StringVar(&c.Data, "data", c.Data, "data directory for the embedded backends")
	fs.StringVar(&c.PublicURL, "public-url", "", "base URL put in QR codes (default: the best LAN address)")
	fs.DurationVar(&c.UploadTTL, "upload-ttl", c.UploadTTL, "how long an upload link (QR code) takes photos; the PC page can make a new one")
	fs.DurationVar(&c.Keep, "keep", c.Keep, "how long photos are kept after a session's last activity")
	fs.StringVar(&c.SaveTo, "save-to", "", "also write every photo received into this folder, a folder per session")
	fs.Var(&c.MaxFileSize, "max-file-size", "largest accepted file (e.g. 50MiB)")
	fs.Int64Var(&c.MaxPixels, "max-pixels", c.MaxPixels, "largest accepted width×height")
	fs.IntVar(&c.MaxImages, "max-images", c.MaxImages, "most images in one session")
	fs.Var(&c.MaxSession, "max-session-bytes", "most bytes in one session (e.g. 2GiB)")
	fs.BoolVar(&c.KeepMetadata, "keep-metadata", false, "keep GPS and other location tags in stored originals")
	fs.StringVar(&c.Blob, "blob", "", "blob store URL (default: files under --data)")
	fs.StringVar(&c.Catalog, "catalog", "", "catalog URL (default: bbolt under --data)")
	fs.Var(&c.DecodeMemory, "decode-memory", "one memory budget for all decodes at once; the default is a quarter of this machine's memory, at most 2GiB")
	fs.Var(&c.MaxDisk, "max-disk", "bytes the stored photos may take (default: keep 1GiB of the disk free)")
	fs.IntVar(&c.MaxSessions, "max-sessions", c.MaxSessions, "most sessions held at once")
	fs.IntVar(&c.SessionsPerMinute, "sessions-per-minute", c.SessionsPerMinute, "most sessions one address may open in a minute")
	fs.IntVar(&c.UploadsPerAddr, "uploads-per-address", c.UploadsPerAddr, "most uploads one address may run at once")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "most open connections (lowered to fit the process's file limit)")
	fs.IntVar(&c.MaxConnsPerAddr, "max-conns-per-address", c.MaxConnsPerAddr, "most open connections from one address")
	fs.DurationVar(&c.HeaderTimeout, "header-timeout", c.HeaderTimeout, "how long a request's headers may take to arrive")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long a stop waits for uploads in flight")
	fs.DurationVar(&c.OrphanGrace, "orphan-grace", c.OrphanGrace, "how old a stored file no photo owns must be before it is removed")
	fs.Var(&c.AllowHosts, "allow-host", "another host name the server answers to (repeat, or separate with commas)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate file (PEM), with --tls-key")
	fs.StringVar(&c.TLSKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: qrsync [serve] [flags]\n       qrsync watch [--delete] [--quiet] <session-url> <dir>  (qrsync watch -h says more)\n\nEvery serve flag also reads %s<NAME>, e.g. %s.\n\n", envPrefix, envName("max-file-size"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: %w", c.Addr, err)
	}
	if c.Data == "" {
		return errors.New("--data must name a directory")
	}
	if c.UploadTTL <= 0 || c.Keep <= 0 || c.MaxFileSize <= 0 || c.MaxPixels <= 0 || c.MaxImages <= 0 || c.MaxSession <= 0 {
		return errors.New("--upload-ttl, --keep, --max-file-size, --max-pixels, --max-images and --max-session-bytes must be positive")
	}
	if c.DecodeMemory <= 0 || c.MaxSessions <= 0 || c.SessionsPerMinute <= 0 || c.UploadsPerAddr <= 0 ||
		c.MaxConns <= 0 || c.MaxConnsPerAddr <= 0 || c.HeaderTimeout <= 0 || c.ShutdownGrace < 0 || c.OrphanGrace < 0 {
		return errors.New("--decode-memory, --max-sessions, --sessions-per-minute, --uploads-per-address, --max-conns, --max-conns-per-address and --header-timeout must be positive")
	}
	if c.MaxDisk < 0 {
		return errors.New("--max-disk must not be negative")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--public-url %q must be an absolute http(s) URL", c.PublicURL)
		}
	}
	return nil
}

// defaultDecodeMemory is a quarter of the machine's memory, at most
// maxDefaultDecodeMemory.
func defaultDecodeMemory() int64 {
	total := machineMemory()
	if total <= 0 {
		return server.DefaultDecodeMemory
	}
	return min(total/4, maxDefaultDecodeMemory)
}

// machineMemory reads MemTotal from /proc/meminfo (Linux), or 0.
func machineMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// hostList is a repeatable flag of host names, commas allowed.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(s string) error {
	for name := range strings.SplitSeq(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*h = append(*h, name)
		}
	}
	return nil
}

// publicURLs is where a phone can reach us, best first: --public-url
// alone when given; otherwise every LAN candidate on the listen port.
func (c config) publicURLs(ln net.Addr, https bool) ([]string, bool) {
	if c.PublicURL != "" {
		return []string{strings.TrimRight(c.PublicURL, "/")}, true
	}
	port := "8080"
	if tcp, ok := ln.(*net.TCPAddr); ok {
		port = strconv.Itoa(tcp.Port)
	}
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	host, _, _ := net.SplitHostPort(c.Addr)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		// Bound to one address: that is the only one that can answer.
		return []string{scheme + net.JoinHostPort(host, port)}, !ip.IsLoopback()
	}
	var urls []string
	for _, cand := range lanaddr.Candidates() {
		urls = append(urls, scheme+net.JoinHostPort(cand.IP.String(), port))
	}
	if len(urls) == 0 {
		return []string{scheme + "localhost:" + port}, false
	}
	return urls, true
}

// dataPath is a file or directory under --data.
func (c config) dataPath(name string) string { return filepath.Join(c.Data, name) }

// byteSize is a flag value that reads "50MiB", "2GB", "1048576".
type byteSize int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// String shows a size as a person writes it: 50MiB, not 52428800.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	v := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size like 50MiB", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// ensureDir makes the data directory, private to this user: it holds
// other people's photos.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}
