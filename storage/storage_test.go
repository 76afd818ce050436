package storage_test

import (
	"errors"
	"testing"

	"qrsync/storage"
)

func TestCheckKey(t *testing.T) {
	for _, key := range []string{"sessions/abc/img", "sessions/a-b_c/x.thumb.jpg", "a"} {
		if err := storage.CheckKey(key); err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", key, err)
		}
	}
	for _, key := range []string{"", "/a", "a/", "a//b", ".a", "a/..", "a/./b", "a b", "a/é", "a\\b", "a\x00"} {
		if err := storage.CheckKey(key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}
