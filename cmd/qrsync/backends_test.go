package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// A networked backend that does not answer at start stops the command
// with a message naming it, promptly, instead of a server that answers
// 503 to everything; a URL's password never reaches that message.
func TestBackendDownAtStart(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-never-shown")
	down := deadAddr(t)
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"redis", []string{"--catalog", "redis://:hunter2@" + down + "/0"}, []string{"--catalog", down}},
		{"s3", []string{"--blob", "s3://photos?endpoint=http://" + down + "&region=us-east-1"}, []string{"--blob", down, "photos"}},
		{"bad url", []string{"--catalog", "redis://:hunter2@[::1"}, []string{"--catalog", "not a URL"}},
		{"unknown scheme", []string{"--catalog", "mongodb://" + down}, []string{"--catalog", "unknown scheme", "redis://"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, tt.args...)
			var out, errOut bytes.Buffer
			start := time.Now()
			err := run(context.Background(), args, noEnv, &out, &errOut)
			if err == nil {
				t.Fatal("qrsync started on a backend that does not answer")
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v to give up", d)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, secret := range []string{"hunter2", "secret-never-shown"} {
				if strings.Contains(err.Error()+errOut.String(), secret) {
					t.Errorf("the error shows a secret: %q", err)
				}
			}
		})
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
