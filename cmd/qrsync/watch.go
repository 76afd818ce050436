package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/cloudwego/hertz/pkg/common/hlog"

	"qrsync/locale"
	"qrsync/watch"
	"qrsync/watch/hertzfetch"
)

// watchUsage explains `qrsync watch`, including what its exit status means.
const watchUsage = `Usage: qrsync watch [--delete] [--quiet] <session-url> <dir>

Mirrors a session into a folder as photos arrive: each photo is saved under
the name the phone gave it (made safe, and unique in the folder), and the
watch resumes where it stopped after a dropped connection or a restart.
<session-url> is the session's URL, http://host:8080/api/sessions/<id>, or
its events URL. <dir> is created if needed.

It prints one line per file saved and each change of connection state, and
runs until the session ends or Ctrl+C. Exit status: 0 when the session has
ended or the watch was stopped; 1 on an error, including a session the
server does not know.

Flags:
`

// parseWatch reads the arguments of `qrsync watch`; flags may come before,
// between or after the two positional arguments.
func parseWatch(args []string, stderr io.Writer) (watch.Config, bool, error) {
	var cfg watch.Config
	var quiet bool
	fs := flag.NewFlagSet("qrsync watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&cfg.Delete, "delete", false, "delete a photo's file when the photo is removed from the session (only if the file is unchanged)")
	fs.BoolVar(&quiet, "quiet", false, "print nothing but errors")
	fs.Usage = func() {
		fmt.Fprint(stderr, watchUsage)
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return cfg, false, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...) // everything after -- is positional
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if len(pos) != 2 {
		fs.Usage()
		return cfg, false, fmt.Errorf("watch needs a session URL and a folder, got %d argument(s)", len(pos))
	}
	cfg.SessionURL, cfg.Dir = pos[0], pos[1]
	return cfg, quiet, nil
}

// runWatch is `qrsync watch`: it parses the arguments, wires the watcher
// to Hertz's client and prints what it reports.
func runWatch(ctx context.Context, args []string, cat *locale.Catalog, stdout, stderr io.Writer) error {
	cfg, quiet, err := parseWatch(args, stderr)
	if err != nil {
		return err
	}
	// Hertz's client warns about every pooled connection it finds closed
	// and retries; the watcher handles drops itself and says so.
	hlog.SetLevel(hlog.LevelError)
	f, err := hertzfetch.New(hertzfetch.Options{})
	if err != nil {
		return err
	}
	defer f.Close()
	cfg.Fetcher = f
	if !quiet {
		cfg.Report = func(r watch.Report) {
			if line := r.Text(cat); line != "" {
				fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), line)
			}
		}
	}
	w, err := watch.New(cfg)
	if err != nil {
		return err
	}
	err = w.Run(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		if !quiet {
			fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), cat.T("term.watch.stopped"))
		}
		return nil
	}
	return err
}
