package main

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseServe(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if c.Addr != ":8080" || c.Data != "./data" || c.MaxFileSize != 50<<20 || c.MaxImages != 500 || c.UploadTTL != time.Hour || c.Keep != 7*24*time.Hour {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "flags", args: []string{"--addr", "127.0.0.1:9000", "--max-file-size", "10MiB", "--upload-ttl", "5m", "--keep-metadata"},
			check: func(t *testing.T, c config) {
				if c.Addr != "127.0.0.1:9000" || c.MaxFileSize != 10<<20 || c.UploadTTL != 5*time.Minute || !c.KeepMetadata {
					t.Errorf("flags: %+v", c)
				}
			}},
		{name: "env twins", env: map[string]string{"QRSYNC_MAX_FILE_SIZE": "2MB", "QRSYNC_PUBLIC_URL": "https://photos.example", "QRSYNC_MAX_IMAGES": "7"},
			check: func(t *testing.T, c config) {
				if c.MaxFileSize != 2_000_000 || c.PublicURL != "https://photos.example" || c.MaxImages != 7 {
					t.Errorf("env: %+v", c)
				}
			}},
		{name: "flag beats env", args: []string{"--max-images", "3"}, env: map[string]string{"QRSYNC_MAX_IMAGES": "7"},
			check: func(t *testing.T, c config) {
				if c.MaxImages != 3 {
					t.Errorf("max images %d, want the flag's 3", c.MaxImages)
				}
			}},
		{name: "serve is the default subcommand's flags", args: []string{"--data", "/tmp/x"}, check: func(t *testing.T, c config) {
			if c.Data != "/tmp/x" {
				t.Errorf("data %q", c.Data)
			}
		}},
		{name: "bad size", args: []string{"--max-file-size", "lots"}, wantErr: "size"},
		{name: "bad env", env: map[string]string{"QRSYNC_KEEP": "forever"}, wantErr: "QRSYNC_KEEP"},
		{name: "relative public url", args: []string{"--public-url", "photos.example"}, wantErr: "absolute"},
		{name: "bad addr", args: []string{"--addr", "8080"}, wantErr: "--addr"},
		{name: "zero ttl", args: []string{"--upload-ttl", "0s"}, wantErr: "positive"},
		{name: "zero keep", args: []string{"--keep", "0s"}, wantErr: "positive"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestPublicURLs(t *testing.T) {
	ln := &net.TCPAddr{IP: net.IPv4zero, Port: 8123}
	c := config{Addr: ":8123", PublicURL: "https://photos.example/"}
	if urls, ok := c.publicURLs(ln, false); len(urls) != 1 || urls[0] != "https://photos.example" || !ok {
		t.Errorf("--public-url must win: %v", urls)
	}
	c = config{Addr: "127.0.0.1:8123"}
	if urls, ok := c.publicURLs(ln, false); len(urls) != 1 || urls[0] != "http://127.0.0.1:8123" || ok {
		t.Errorf("bound to loopback: %v %v", urls, ok)
	}
	c = config{Addr: ":8123"}
	urls, _ := c.publicURLs(ln, false)
	for _, u := range urls {
		if strings.Contains(u, "127.0.0.1") {
			t.Errorf("loopback offered to the phone: %v", urls)
		}
		if !strings.HasSuffix(u, ":8123") {
			t.Errorf("%s lacks the listen port", u)
		}
	}
}
