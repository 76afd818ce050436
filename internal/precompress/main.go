// Command precompress writes, beside every static asset in a directory,
// its brotli (quality 11) and gzip (-9) variants, <name>.br and <name>.gz,
// and a precompress.sums file with the SHA-256 of each source, which the
// server checks before it uses a variant (server/pages.go): a variant
// made from an older copy of a file is never served for the new one.
//
//	go run ./internal/precompress web/static
//
// `make wasm` runs it. Pages (*.html) are left out: the server rewrites
// them at start-up and compresses the result itself. A variant that would
// not be smaller than its source is not kept. Up-to-date variants (the
// sums match) are not made again, so a rebuild that changed one file
// compresses only that one. Every file is written to a temporary name and
// renamed, so a server embedding the directory never sees half a file.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

const sumsFile = "precompress.sums"

// compressible are the extensions worth compressing: text and wasm.
// Images and archives are compressed already.
var compressible = map[string]bool{
	".wasm": true, ".js": true, ".mjs": true, ".css": true, ".svg": true,
	".json": true, ".txt": true, ".map": true, ".xml": true, ".ico": true,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: precompress DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "precompress:", err)
		os.Exit(1)
	}
}

type result struct {
	name, sum string
	err       error
}

func run(dir string) error {
	old := readSums(filepath.Join(dir, sumsFile))
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if compressible[filepath.Ext(rel)] && !strings.HasPrefix(filepath.Base(rel), ".") {
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	results := make([]result, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			sum, err := one(filepath.Join(dir, filepath.FromSlash(name)), old[name])
			results[i] = result{name, sum, err}
		}()
	}
	wg.Wait()
	var sums bytes.Buffer
	for _, r := range results {
		if r.err != nil {
			return fmt.Errorf("%s: %w", r.name, r.err)
		}
		fmt.Fprintf(&sums, "%s  %s\n", r.sum, r.name)
	}
	return writeFile(filepath.Join(dir, sumsFile), sums.Bytes())
}

// one makes the variants of the file at p, unless the ones there were
// made from the same bytes (oldSum), and returns the file's SHA-256.
func one(p, oldSum string) (string, error) {
	src, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(src)
	sum := hex.EncodeToString(h[:])
	if sum == oldSum && (exists(p+".br") || exists(p+".gz")) {
		return sum, nil
	}
	var br bytes.Buffer
	bw := brotli.NewWriterOptions(&br, brotli.WriterOptions{Quality: 11, LGWin: 24})
	if _, err := bw.Write(src); err != nil {
		return "", err
	}
	if err := bw.Close(); err != nil {
		return "", err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := zw.Write(src); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	for _, v := range []struct {
		path string
		b    []byte
	}{{p + ".br", br.Bytes()}, {p + ".gz", gz.Bytes()}} {
		if len(v.b) >= len(src) {
			if err := os.Remove(v.path); err != nil && !os.IsNotExist(err) {
				return "", err
			}
			continue
		}
		if err := writeFile(v.path, v.b); err != nil {
			return "", err
		}
	}
	return sum, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// writeFile writes b to p through a temporary file and a rename.
func writeFile(p string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".precompress-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

func readSums(p string) map[string]string {
	sums := map[string]string{}
	f, err := os.Open(p)
	if err != nil {
		return sums
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sum, name, ok := strings.Cut(sc.Text(), "  "); ok {
			sums[name] = sum
		}
	}
	return sums
}
