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
	"qrsync/server"
)

// config is everything `qrsync serve` is told by flags and environment.
type config struct {
	Addr         string
	Data         string
	PublicURL    string
	SessionTTL   time.Duration
	MaxFileSize  byteSize
	MaxPixels    int64
	MaxImages    int
	MaxSession   byteSize
	KeepMetadata bool
	Blob         string
	Catalog      string
}

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
		SessionTTL:  server.DefaultSessionTTL,
		MaxFileSize: server.DefaultMaxFileSize,
		MaxPixels:   server.DefaultMaxPixels,
		MaxImages:   server.DefaultMaxImages,
		MaxSession:  server.DefaultMaxSessionBytes,
	}
	fs := flag.NewFlagSet("qrsync serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address")
	fs.StringVar(&c.Data, "data", c.Data, "data directory for the embedded backends")
	fs.StringVar(&c.PublicURL, "public-url", "", "base URL put in QR codes (default: the best LAN address)")
	fs.DurationVar(&c.SessionTTL, "session-ttl", c.SessionTTL, "how long a session lives")
	fs.Var(&c.MaxFileSize, "max-file-size", "largest accepted file (e.g. 50MiB)")
	fs.Int64Var(&c.MaxPixels, "max-pixels", c.MaxPixels, "largest accepted width×height")
	fs.IntVar(&c.MaxImages, "max-images", c.MaxImages, "most images in one session")
	fs.Var(&c.MaxSession, "max-session-bytes", "most bytes in one session (e.g. 2GiB)")
	fs.BoolVar(&c.KeepMetadata, "keep-metadata", false, "keep GPS and other location tags in stored originals")
	fs.StringVar(&c.Blob, "blob", "", "blob store URL (default: files under --data)")
	fs.StringVar(&c.Catalog, "catalog", "", "catalog URL (default: bbolt under --data)")
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
	if c.SessionTTL <= 0 || c.MaxFileSize <= 0 || c.MaxPixels <= 0 || c.MaxImages <= 0 || c.MaxSession <= 0 {
		return errors.New("--session-ttl, --max-file-size, --max-pixels, --max-images and --max-session-bytes must be positive")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--public-url %q must be an absolute http(s) URL", c.PublicURL)
		}
	}
	return nil
}

// publicURLs is where a phone can reach us, best first: --public-url
// alone when given; otherwise every LAN candidate on the listen port.
func (c config) publicURLs(ln net.Addr) ([]string, bool) {
	if c.PublicURL != "" {
		return []string{strings.TrimRight(c.PublicURL, "/")}, true
	}
	port := "8080"
	if tcp, ok := ln.(*net.TCPAddr); ok {
		port = strconv.Itoa(tcp.Port)
	}
	host, _, _ := net.SplitHostPort(c.Addr)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		// Bound to one address: that is the only one that can answer.
		return []string{"http://" + net.JoinHostPort(host, port)}, !ip.IsLoopback()
	}
	var urls []string
	for _, cand := range lanaddr.Candidates() {
		urls = append(urls, "http://"+net.JoinHostPort(cand.IP.String(), port))
	}
	if len(urls) == 0 {
		return []string{"http://localhost:" + port}, false
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

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

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
